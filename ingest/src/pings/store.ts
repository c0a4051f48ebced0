/**
 * What the pings component writes: per target and round one `pings` row and one `ping_metadata` row, and a
 * `ping_probes` row for HTTP(S) rounds (their status, phases and certificate) and for any round that failed in
 * part or whole (its reason). Three batch writers, all INSERT OR REPLACE keyed by (ts, target).
 */
import { BatchWriter, type Store } from '../store';
import { summarizeRound, type RoundResult } from './round';

export interface PingWriters {
  pings: BatchWriter<RoundResult>;
  metadata: BatchWriter<RoundResult>;
  probes: BatchWriter<RoundResult>;
  /** Queues the rows of one round; false when a writer dropped one (queue full), which it counts. */
  write(r: RoundResult): boolean;
  flush(): void;
}

export interface PingWriterOptions {
  batchSize?: number;
  flushIntervalMs?: number;
}

/** Milliseconds as stored: three decimals (microseconds) is what the probes can resolve; more is noise. */
function ms(v: number | null | undefined): number | null {
  return v === null || v === undefined ? null : Math.round(v * 1000) / 1000;
}

export function createPingWriters(store: Store, opts: PingWriterOptions = {}): PingWriters {
  // The summary is computed once per round and shared by the two writers that need it.
  const summaries = new WeakMap<RoundResult, ReturnType<typeof summarizeRound>>();
  const summary = (r: RoundResult) => {
    let s = summaries.get(r);
    if (!s) summaries.set(r, (s = summarizeRound(r.probes)));
    return s;
  };
  const pings = new BatchWriter<RoundResult>(store, {
    name: 'pings',
    sql: 'INSERT OR REPLACE INTO pings (ts, target, latency_ms, success) VALUES (?, ?, ?, ?)',
    toParams: (r) => {
      const s = summary(r);
      return [r.ts, r.target, ms(s.latencyMs), s.success ? 1 : 0];
    },
    ...opts,
  });
  const metadata = new BatchWriter<RoundResult>(store, {
    name: 'ping_metadata',
    sql: 'INSERT OR REPLACE INTO ping_metadata (ts, target, ttl, packet_loss, jitter_ms) VALUES (?, ?, ?, ?, ?)',
    toParams: (r) => {
      const s = summary(r);
      return [r.ts, r.target, s.ttl, Math.round(s.packetLoss * 100) / 100, ms(s.jitterMs)];
    },
    ...opts,
  });
  const probes = new BatchWriter<RoundResult>(store, {
    name: 'ping_probes',
    sql: `INSERT OR REPLACE INTO ping_probes (ts, target, kind, status_code, total_ms, connect_ms, tls_handshake_ms, cert_days_left, cert_issuer, tls_version, error)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    toParams: (r) => {
      const h = r.http;
      return [r.ts, r.target, r.kind, h?.statusCode ?? null, ms(h?.totalMs), ms(h?.connectMs), ms(h?.tlsHandshakeMs), h?.certDaysLeft ?? null, h?.certIssuer ?? null, h?.tlsVersion ?? null, r.error];
    },
    ...opts,
  });
  return {
    pings,
    metadata,
    probes,
    write(r) {
      let ok = pings.push(r);
      ok = metadata.push(r) && ok;
      if (r.http || r.error !== null) ok = probes.push(r) && ok;
      return ok;
    },
    flush() {
      pings.flush();
      metadata.flush();
      probes.flush();
    },
  };
}
