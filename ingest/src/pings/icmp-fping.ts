/**
 * ICMP echo through `fping` (Debian installs it with cap_net_raw, so it needs no privilege from us): the fallback
 * when this process cannot open raw ICMP sockets.
 *
 * One long-running fping in loop mode serves every ICMP target that shares the burst settings (normally all):
 * `fping -l -D -p INTERVAL -i GAP -t TIMEOUT A B C A B C ...` lists each address COUNT times, interleaved, so that
 * with GAP = SPACING / addresses the entries of one address go out SPACING apart: a burst per address every
 * INTERVAL, which is a round. fping numbers every entry's probes ([0], [1], ...), the same for all entries of one
 * address, so sequence k of an address is round k of the process. A caller asking at time C gets the burst whose
 * start is nearest C (k = round((C - spawned) / interval)); fping's period does not drift (measured: 1002, 2002,
 * 3002 ms), and timer lateness of either side stays far below half an interval.
 *
 * The address list is fixed when fping starts, so the process is restarted (counted) when a round asks for an
 * address it does not ping (a host name moved, a target appeared), and when an address it pings has not been
 * asked for during three intervals (a host name moved away). A restart puts the next burst at the current round.
 *
 * Lines carry the print time (-D); a reply's send time is that minus its RTT, a timeout's that minus the timeout,
 * which orders the probes of a burst as sent (timeouts are printed late, after later probes' replies).
 * fping 5.1 cannot print the reply TTL (`--print-ttl` came in 5.2), so TTLs come from a companion echo
 * (icmp-ttl.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { BurstOptions, IcmpPinger } from './icmp';
import type { ProbeResult } from './round';

/** Calls within this window are reconciled together (one restart at most for a whole round of targets). */
export const BATCH_WINDOW_MS = 10;
/** An address not asked for during this many intervals is dropped at the next restart check. */
const IDLE_INTERVALS = 3;
/** Slack over the burst's own duration before a waiter gives up on a silent fping. */
const WAIT_SLACK_MS = 2000;
/** Addresses per process: fping's argv and tables stay small; more make a second process of the same settings. */
const MAX_ADDRESSES_PER_PROCESS = 500;
/** Bytes of a partial output line kept; an fping line is under 200. */
const MAX_LINE = 4096;

/** One `[1764626000.123456] ADDR : [3], 64 bytes, 0.05 ms (...)` or `... : [3], timed out (...)` loop-mode line. */
export function parseFpingLoopLine(line: string): { printedAt: number; address: string; seq: number; rttMs: number | null } | null {
  const m = /^\[(\d+(?:\.\d+)?)\]\s+(\S+)\s+: \[(\d+)\], (?:\d+ bytes, (\d+(?:\.\d+)?) ms|timed out)/.exec(line);
  if (!m) return null;
  return { printedAt: Number(m[1]) * 1000, address: m[2], seq: Number(m[3]), rttMs: m[4] === undefined ? null : Number(m[4]) };
}

/** One `ADDR : 0.05 - 0.04` line of fping -C output (the start-up proof); null for other lines. */
export function parseFpingLine(line: string): { address: string; rtts: Array<number | null> } | null {
  const m = /^(\S+)\s+:((?:\s+(?:-|\d+(?:\.\d+)?))+)\s*$/.exec(line);
  if (!m) return null;
  const rtts = m[2]
    .trim()
    .split(/\s+/)
    .map((v) => (v === '-' ? null : Number(v)));
  return { address: m[1], rtts };
}

interface Profile {
  count: number;
  spacingMs: number;
  timeoutMs: number;
  intervalMs: number;
}

interface Call {
  address: string;
  at: number;
  resolve: (r: ProbeResult[]) => void;
}

interface Waiter {
  resolve: (r: ProbeResult[]) => void;
  timer: NodeJS.Timeout;
}

/** Probes of one burst of one address as they arrive. */
interface Burst {
  seq: number;
  probes: Array<{ sentAt: number; r: ProbeResult }>;
  waiters: Waiter[];
}

interface Proc {
  child: ChildProcess;
  addresses: Set<string>;
  spawnedAt: number;
  /** Per address: the burst being received, and the last one completed (for a caller slightly late). */
  current: Map<string, Burst>;
  done: Map<string, { seq: number; results: ProbeResult[] }>;
  stderr: string;
  exited: boolean;
}

/** One loop-mode fping per burst profile (count, spacing, timeout, interval). */
class FpingLoop {
  private readonly bin: string;
  private readonly p: Profile;
  private readonly lastAsked = new Map<string, number>();
  private calls: Call[] = [];
  private timer: NodeJS.Timeout | undefined;
  private procs: Proc[] = [];
  private closed = false;
  readonly c: Record<'processes' | 'restarts' | 'process_failures' | 'sent' | 'replies' | 'timeouts' | 'unmatched_lines', number>;

  constructor(bin: string, p: Profile, counters: FpingLoop['c']) {
    this.bin = bin;
    this.p = p;
    this.c = counters;
  }

  ask(address: string): Promise<ProbeResult[]> {
    return new Promise((resolve) => {
      if (this.closed) return resolve(lost(this.p.count, 'stopped'));
      const at = performance.now();
      this.lastAsked.set(address, at);
      this.calls.push({ address, at, resolve });
      this.timer ??= setTimeout(() => this.reconcile(), BATCH_WINDOW_MS);
    });
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    for (const call of this.calls) call.resolve(lost(this.p.count, 'stopped'));
    this.calls = [];
    for (const proc of this.procs) this.retire(proc, 'stopped');
    this.procs = [];
  }

  get running(): number {
    return this.procs.filter((p) => !p.exited).length;
  }

  get addresses(): number {
    return this.procs.filter((p) => !p.exited).reduce((n, p) => n + p.addresses.size, 0);
  }

  /** Starts or restarts fping when the asked addresses are not what it pings, then hands each call its burst. */
  private reconcile(): void {
    this.timer = undefined;
    const calls = this.calls;
    this.calls = [];
    const now = performance.now();
    const idleMs = IDLE_INTERVALS * this.p.intervalMs;
    for (const [a, t] of this.lastAsked) if (now - t > idleMs) this.lastAsked.delete(a);
    const wanted = new Set(this.lastAsked.keys());
    const pinged = new Set(this.procs.filter((p) => !p.exited).flatMap((p) => [...p.addresses]));
    const same = wanted.size === pinged.size && [...wanted].every((a) => pinged.has(a));
    if (!same) {
      if (this.procs.length > 0) this.c.restarts++;
      for (const proc of this.procs) this.retire(proc, 'fping restarted');
      const list = [...wanted].sort();
      this.procs = [];
      for (let i = 0; i < list.length; i += MAX_ADDRESSES_PER_PROCESS) this.procs.push(this.spawn(list.slice(i, i + MAX_ADDRESSES_PER_PROCESS)));
    }
    for (const call of calls) this.assign(call);
  }

  private assign(call: Call): void {
    const proc = this.procs.find((p) => p.addresses.has(call.address) && !p.exited);
    if (!proc) return call.resolve(lost(this.p.count, 'fping is not running'));
    const seq = Math.max(0, Math.round((call.at - proc.spawnedAt) / this.p.intervalMs));
    const done = proc.done.get(call.address);
    if (done && done.seq === seq) return call.resolve(done.results);
    // The burst being received is the caller's, or a later one (then it waits for that); an older, incomplete one
    // will never complete (fping prints every probe of burst k before burst k + 1 starts) and is replaced.
    let b = proc.current.get(call.address);
    if (!b || b.seq < seq) {
      b = { seq, probes: [], waiters: [] };
      proc.current.set(call.address, b);
    }
    const waiter: Waiter = {
      resolve: call.resolve,
      timer: setTimeout(() => {
        b.waiters = b.waiters.filter((w) => w !== waiter);
        call.resolve(lost(this.p.count, 'no result from fping in time'));
      }, (this.p.count - 1) * this.p.spacingMs + this.p.timeoutMs + WAIT_SLACK_MS),
    };
    b.waiters.push(waiter);
  }

  private spawn(addresses: string[]): Proc {
    const { count, spacingMs, timeoutMs, intervalMs } = this.p;
    // Entry j of address a goes out at (j × addresses + a) × gap: its probes are addresses × gap = SPACING apart.
    const gap = Math.max(1, Math.floor(spacingMs / addresses.length));
    const entries: string[] = [];
    for (let i = 0; i < count; i++) entries.push(...addresses);
    const args = ['-l', '-D', '-p', String(intervalMs), '-i', String(gap), '-t', String(timeoutMs), ...entries];
    const child = spawn(this.bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const proc: Proc = { child, addresses: new Set(addresses), spawnedAt: performance.now(), current: new Map(), done: new Map(), stderr: '', exited: false };
    this.c.processes++;
    let partial = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      const lines = (partial + d).split('\n');
      partial = lines.pop()!.slice(-MAX_LINE);
      for (const line of lines) this.onLine(proc, line);
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      // Unreachable notices and, on failure, the reason; only the tail is kept.
      proc.stderr = (proc.stderr + d).slice(-MAX_LINE);
    });
    const end = (why: string) => {
      if (proc.exited) return;
      proc.exited = true;
      if (!this.closed && this.procs.includes(proc)) {
        this.c.process_failures++;
        this.retire(proc, why);
      }
    };
    child.on('error', (err) => end(`fping: ${err.message}`));
    child.on('close', (code, signal) => {
      const msg = proc.stderr.split('\n').find((l) => l.trim() !== '' && !/^ICMP .* from /.test(l));
      end(`fping exited with ${code ?? signal}${msg ? `: ${msg.trim()}` : ''}`);
    });
    return proc;
  }

  private onLine(proc: Proc, line: string): void {
    const m = parseFpingLoopLine(line);
    if (!m || !proc.addresses.has(m.address)) {
      if (line.trim() !== '') this.c.unmatched_lines++;
      return;
    }
    this.c.sent++;
    if (m.rttMs === null) this.c.timeouts++;
    else this.c.replies++;
    let burst = proc.current.get(m.address);
    if (!burst || burst.seq < m.seq) {
      // No caller yet (its host name is still resolving, or its round was skipped): collected for a late caller.
      burst = { seq: m.seq, probes: [], waiters: [] };
      proc.current.set(m.address, burst);
    } else if (burst.seq > m.seq) return;
    const r: ProbeResult = m.rttMs === null ? { rttMs: null, ttl: null, error: 'timeout' } : { rttMs: m.rttMs, ttl: null };
    burst.probes.push({ sentAt: m.printedAt - (m.rttMs ?? this.p.timeoutMs), r });
    if (burst.probes.length < this.p.count) return;
    const results = burst.probes.sort((a, b) => a.sentAt - b.sentAt).map((x) => x.r);
    proc.current.delete(m.address);
    proc.done.set(m.address, { seq: m.seq, results });
    for (const w of burst.waiters) {
      clearTimeout(w.timer);
      w.resolve(results);
    }
  }

  /** Stops a process and fails whoever waits on it. */
  private retire(proc: Proc, why: string): void {
    for (const burst of proc.current.values()) {
      for (const w of burst.waiters) {
        clearTimeout(w.timer);
        w.resolve(lost(this.p.count, why));
      }
    }
    proc.current.clear();
    if (!proc.exited) {
      proc.exited = true;
      proc.child.kill('SIGTERM');
    }
  }
}

export class FpingPinger implements IcmpPinger {
  readonly mechanism = 'fping' as const;
  private readonly bin: string;
  private readonly loops = new Map<string, FpingLoop>();
  private readonly c = { processes: 0, restarts: 0, process_failures: 0, sent: 0, replies: 0, timeouts: 0, unmatched_lines: 0 };

  constructor(bin = 'fping') {
    this.bin = bin;
  }

  /** `opts.intervalMs` is the target's round interval, fping's loop period. */
  echoBurst(address: string, _family: 4 | 6, opts: BurstOptions): Promise<ProbeResult[]> {
    const p: Profile = { count: opts.count, spacingMs: opts.spacingMs, timeoutMs: opts.timeoutMs, intervalMs: opts.intervalMs ?? 10_000 };
    const key = `${p.count}/${p.spacingMs}/${p.timeoutMs}/${p.intervalMs}`;
    let loop = this.loops.get(key);
    if (!loop) this.loops.set(key, (loop = new FpingLoop(this.bin, p, this.c)));
    return loop.ask(address);
  }

  counters(): Record<string, number> {
    let running = 0;
    let addresses = 0;
    for (const l of this.loops.values()) {
      running += l.running;
      addresses += l.addresses;
    }
    return { ...this.c, running, addresses };
  }

  close(): void {
    for (const l of this.loops.values()) l.close();
    this.loops.clear();
  }
}

function lost(count: number, error: string): ProbeResult[] {
  return Array.from({ length: count }, () => ({ rttMs: null, ttl: null, error }));
}
