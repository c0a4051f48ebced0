/**
 * Runs each target's rounds: every interval, resolve the host name (anew each round, so a moved service is
 * followed), send the burst with the target's prober, and hand the round to `onRound`.
 *
 * Rounds are due at start + k × interval on the monotonic clock (no drift from timer lateness); all targets share
 * the start, so the ICMP bursts of one round go out together (and one fping loop keeps their phase in fping mode).
 * A round that is still running when its next one is due makes that next one skipped and counted, never overlap.
 */
import dns from 'node:dns';
import { httpProbe } from './http';
import { sleep, type IcmpPinger } from './icmp';
import { median, probesError, summarizeRound, type HttpDetails, type ProbeResult, type RoundResult } from './round';
import type { PingTarget } from './targets';
import { tcpConnect } from './tcp';

export type Resolver = (host: string, family: 4 | 6 | undefined, timeoutMs: number) => Promise<{ address: string; family: 4 | 6 }>;

/** getaddrinfo (so /etc/hosts and the system's resolver order apply), bounded by the probe timeout. */
export const systemResolver: Resolver = (host, family, timeoutMs) => {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('timeout'), { code: 'ETIMEOUT' })), timeoutMs);
  });
  const lookup = dns.promises.lookup(host, { family: family ?? 0, verbatim: true }).then((r) => ({ address: r.address, family: r.family as 4 | 6 }));
  return Promise.race([lookup, timeout]).finally(() => clearTimeout(timer));
};

export interface SchedulerDeps {
  /** ICMP mechanism, or null with the reason in icmpUnavailable. */
  icmp: IcmpPinger | null;
  icmpUnavailable?: string;
  resolve?: Resolver;
  /** Wall clock, epoch ms (round timestamps, certificate days). */
  now: () => number;
  onRound: (r: RoundResult) => void;
}

export interface TargetState {
  target: PingTarget;
  rounds: number;
  lastTs: number | null;
  lastSuccessTs: number | null;
  lastError: string | null;
  consecutiveFailures: number;
}

interface Slot {
  state: TargetState;
  timer?: NodeJS.Timeout;
  running?: Promise<void>;
  k: number;
  lastTsSec: number;
}

export class PingScheduler {
  private readonly slots: Slot[];
  private readonly deps: SchedulerDeps;
  private readonly resolve: Resolver;
  private readonly abort = new AbortController();
  private startedAt = 0;
  private accepting = false;
  private readonly c = { rounds: 0, rounds_failed: 0, rounds_partial: 0, probes_sent: 0, probes_lost: 0, resolve_failures: 0, rounds_skipped: 0, rounds_abandoned: 0 };

  constructor(targets: readonly PingTarget[], deps: SchedulerDeps) {
    this.deps = deps;
    this.resolve = deps.resolve ?? systemResolver;
    this.slots = targets.map((target) => ({
      state: { target, rounds: 0, lastTs: null, lastSuccessTs: null, lastError: null, consecutiveFailures: 0 },
      k: 0,
      lastTsSec: -1,
    }));
  }

  start(): void {
    this.startedAt = performance.now();
    this.accepting = true;
    for (const slot of this.slots) this.arm(slot);
  }

  /**
   * Stops scheduling; rounds in flight may finish within graceMs and are recorded, later ones are abandoned
   * (counted): a cut burst would record loss that did not happen.
   */
  async stop(graceMs: number): Promise<void> {
    for (const slot of this.slots) clearTimeout(slot.timer);
    const running = this.slots.map((s) => s.running).filter((p): p is Promise<void> => p !== undefined);
    if (running.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(running), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
    }
    this.accepting = false;
    this.c.rounds_abandoned += this.slots.filter((s) => s.running !== undefined).length;
    this.abort.abort();
  }

  states(): readonly TargetState[] {
    return this.slots.map((s) => s.state);
  }

  counters(): Record<string, number> {
    return { ...this.c, targets: this.slots.length };
  }

  /** Runs one round of a target now (tests, and the timer). */
  async runRound(target: PingTarget, tsSec: number): Promise<RoundResult> {
    const opts = { count: target.count, spacingMs: target.spacingMs, timeoutMs: target.timeoutMs, intervalMs: target.intervalMs };
    const base: Omit<RoundResult, 'probes' | 'error'> = { ts: tsSec, target: target.name, kind: target.kind, address: null };
    let address: string;
    let family: 4 | 6;
    if (target.literal) {
      address = target.host;
      family = target.literal;
    } else {
      try {
        ({ address, family } = await this.resolve(target.host, target.family, target.timeoutMs));
      } catch (err) {
        this.c.resolve_failures++;
        const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        const error = `resolve ${target.host}: ${code}`;
        return { ...base, probes: lost(target.count, error), error };
      }
    }
    const r: RoundResult = { ...base, address, probes: [], error: null };
    const signal = this.abort.signal;
    switch (target.kind) {
      case 'icmp':
        r.probes = this.deps.icmp ? await this.deps.icmp.echoBurst(address, family, opts) : lost(target.count, this.deps.icmpUnavailable ?? 'no ICMP mechanism');
        break;
      case 'tcp':
        r.probes = await spaced(target.count, target.spacingMs, signal, () => tcpConnect(address, target.port!, family, target.timeoutMs));
        break;
      case 'http':
      case 'https': {
        const results = await spaced(target.count, target.spacingMs, signal, () => httpProbe({ url: target.url!, insecure: target.insecure }, address, family, target.timeoutMs, this.deps.now));
        r.probes = results.map((x) => x.result);
        r.http = mergeHttp(results.map((x) => x.details));
        break;
      }
    }
    r.error = probesError(r.probes);
    return r;
  }

  private arm(slot: Slot): void {
    if (!this.accepting) return;
    const due = this.startedAt + slot.k * slot.state.target.intervalMs;
    slot.timer = setTimeout(() => this.fire(slot), Math.max(0, due - performance.now()));
  }

  private fire(slot: Slot): void {
    if (!this.accepting) return;
    const target = slot.state.target;
    const dueWall = this.deps.now();
    slot.k++;
    // Catch up after a stall (suspended VM, blocked loop) without a burst of back-to-back rounds.
    const behind = Math.floor((performance.now() - this.startedAt) / target.intervalMs) + 1;
    if (behind > slot.k) {
      this.c.rounds_skipped += behind - slot.k;
      slot.k = behind;
    }
    if (slot.running) {
      this.c.rounds_skipped++;
      this.arm(slot);
      return;
    }
    // Rounds are at least a second apart (interval >= 1 s), but the key (ts, target) must stay unique even if the
    // wall clock steps back.
    const ts = Math.max(Math.floor(dueWall / 1000), slot.lastTsSec + 1);
    slot.lastTsSec = ts;
    const run = this.runRound(target, ts).then(
      (r) => this.record(slot, r),
      (err: unknown) => this.record(slot, { ts, target: target.name, kind: target.kind, address: null, probes: lost(target.count, String(err)), error: `probe failed: ${String(err)}` }),
    );
    slot.running = run.finally(() => {
      slot.running = undefined;
    });
    this.arm(slot);
  }

  private record(slot: Slot, r: RoundResult): void {
    if (!this.accepting) return;
    const s = summarizeRound(r.probes);
    const st = slot.state;
    this.c.rounds++;
    this.c.probes_sent += r.probes.length;
    const lostCount = r.probes.filter((p) => p.rttMs === null).length;
    this.c.probes_lost += lostCount;
    if (!s.success) this.c.rounds_failed++;
    else if (lostCount > 0) this.c.rounds_partial++;
    st.rounds++;
    st.lastTs = r.ts;
    st.lastError = r.error;
    if (s.success) {
      st.lastSuccessTs = r.ts;
      st.consecutiveFailures = 0;
    } else st.consecutiveFailures++;
    this.deps.onRound(r);
  }
}

/** Starts fn at 0, spacing, 2 × spacing, ... (not waiting for earlier probes), and collects the results in order. */
async function spaced<T>(count: number, spacingMs: number, signal: AbortSignal, fn: () => Promise<T>): Promise<T[]> {
  const started: Array<Promise<T>> = [];
  for (let i = 0; i < count; i++) {
    if (i > 0) await sleep(spacingMs, signal);
    // Stopping: the round is being abandoned, so the rest of the burst is not sent at once.
    if (signal.aborted) break;
    started.push(fn());
  }
  return Promise.all(started);
}

function lost(count: number, error: string): ProbeResult[] {
  return Array.from({ length: count }, () => ({ rttMs: null, ttl: null, error }));
}

function medianOf(xs: Array<number | null>): number | null {
  const v = xs.filter((x): x is number => x !== null).sort((a, b) => a - b);
  return v.length > 0 ? median(v) : null;
}

function lastOf<T>(xs: Array<T | null>): T | null {
  for (let i = xs.length - 1; i >= 0; i--) if (xs[i] !== null) return xs[i];
  return null;
}

/** One ping_probes row for the round: medians of the timings, the last status and certificate seen. */
export function mergeHttp(ds: HttpDetails[]): HttpDetails {
  return {
    statusCode: lastOf(ds.map((d) => d.statusCode)),
    totalMs: medianOf(ds.map((d) => d.totalMs)),
    connectMs: medianOf(ds.map((d) => d.connectMs)),
    tlsHandshakeMs: medianOf(ds.map((d) => d.tlsHandshakeMs)),
    certDaysLeft: lastOf(ds.map((d) => d.certDaysLeft)),
    certIssuer: lastOf(ds.map((d) => d.certIssuer)),
    tlsVersion: lastOf(ds.map((d) => d.tlsVersion)),
  };
}
