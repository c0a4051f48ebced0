/**
 * What the pings component writes: per target and round one `pings` row and one `ping_metadata` row, and a
 * `ping_probes` row for HTTP(S) rounds (their status, phases and certificate) and for any round that failed in
 * part or whole (its reason). Three batch writers, all INSERT OR REPLACE keyed by (ts, target).
 */
import { BatchWriter, type Store } from '../store';
import { summarizeRound, type RoundResult, type RoundSummary } from './round';

/** A round with its summary, computed once for the writers that need it. */
export interface PingRow {
  r: RoundResult;
  s: RoundSummary;
}

export interface PingWriters {
  pings: BatchWriter<PingRow>;
  metadata: BatchWriter<PingRow>;
  probes: BatchWriter<PingRow>;
  /** Queues the rows of one round; false when a writer dropped one (queue full), which it counts. */
  write(r: RoundResult): boolean;
  flush(): void;
}

export interface PingWriterOptions {
  batchSize?: number;
  flushIntervalMs?: number;
}

/**
 * Rows per transaction when rounds come faster than the flush interval. Larger than the store's default: a commit
 * rewrites into the WAL every page it touched, and a `pings` row touches three b-trees (key, (target, ts), ts), so
 * at 500 rows about 40 % of the time went to commits (profiled with `npm run bench -- pings`).
 */
export const PING_BATCH_SIZE = 5000;

export function toPingRow(r: RoundResult): PingRow {
  return { r, s: summarizeRound(r.probes) };
}

/** Milliseconds as stored: three decimals (microseconds) is what the probes can resolve; more is noise. */
function ms(v: number | null | undefined): number | null {
  return v === null || v === undefined ? null : Math.round(v * 1000) / 1000;
}

export function createPingWriters(store: Store, opts: PingWriterOptions = {}): PingWriters {
  const o = { batchSize: PING_BATCH_SIZE, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) };
  const pings = new BatchWriter<PingRow>(store, {
    name: 'pings',
    sql: 'INSERT OR REPLACE INTO pings (ts, target, latency_ms, success) VALUES (?, ?, ?, ?)',
    toParams: ({ r, s }) => [r.ts, r.target, ms(s.latencyMs), s.success ? 1 : 0],
    ...o,
  });
  const metadata = new BatchWriter<PingRow>(store, {
    name: 'ping_metadata',
    sql: 'INSERT OR REPLACE INTO ping_metadata (ts, target, ttl, packet_loss, jitter_ms) VALUES (?, ?, ?, ?, ?)',
    toParams: ({ r, s }) => [r.ts, r.target, s.ttl, Math.round(s.packetLoss * 100) / 100, ms(s.jitterMs)],
    ...o,
  });
  const probes = new BatchWriter<PingRow>(store, {
    name: 'ping_probes',
    sql: `INSERT OR REPLACE INTO ping_probes (ts, target, kind, status_code, total_ms, connect_ms, tls_handshake_ms, cert_days_left, cert_issuer, tls_version, error)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    toParams: ({ r }) => {
      const h = r.http;
      return [r.ts, r.target, r.kind, h?.statusCode ?? null, ms(h?.totalMs), ms(h?.connectMs), ms(h?.tlsHandshakeMs), h?.certDaysLeft ?? null, h?.certIssuer ?? null, h?.tlsVersion ?? null, r.error];
    },
    ...o,
  });
  return {
    pings,
    metadata,
    probes,
    write(r) {
      const row = toPingRow(r);
      let ok = pings.push(row);
      ok = metadata.push(row) && ok;
      if (r.http || r.error !== null) ok = probes.push(row) && ok;
      return ok;
    },
    flush() {
      pings.flush();
      metadata.flush();
      probes.flush();
    },
  };
}
