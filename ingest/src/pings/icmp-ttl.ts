/**
 * The reply TTL (IPv6: hop limit) where the echo mechanism cannot see it: an IPv6 raw socket never delivers the
 * IPv6 header (RFC 3542 §3) and raw-socket has no recvmsg for IPV6_RECVHOPLIMIT ancillary data, and fping 5.1
 * (Debian 12) cannot print TTLs (`--print-ttl` came in 5.2, for IPv4 only).
 *
 * A companion echo per target and round, sent at the round's start beside the burst, by a tool that reads the TTL
 * or hop limit from its socket's ancillary data (IP_RECVTTL / IPV6_RECVHOPLIMIT) and that Debian installs with
 * cap_net_raw, so it needs no privilege from us:
 *
 *  - oping (liboping): one process per round for every address of the round (`oping -c 1 -w T A B C`).
 *  - ping(8) (iputils): one process per address and round (`ping -n -c 1 -W T A`), when oping is missing.
 *
 * The burst itself stays with the mechanism (raw sockets or the long-running fping), so its timing, loss and jitter
 * are unchanged; neither tool can replace it (measured, see docs/pings.md): oping waits for every reply of a probe
 * before the next probe, so one silent host stretches every host's spacing to the timeout, and ping(8) drifts by
 * 2-4 ms per probe, exits 2 x max RTT after its last probe and costs a process per target per round.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { BurstOptions, IcmpPinger } from './icmp';
import type { ProbeResult } from './round';
import { canonicalIPv6 } from './targets';

export type TtlTool = 'oping' | 'ping';
export const TTL_TOOL_NAME: Record<TtlTool, string> = { oping: 'oping', ping: 'ping(8)' };

/** Calls within this window share one oping process (a round's targets ask within a few ms of each other). */
const BATCH_WINDOW_MS = 10;
/** How long after its timeout a round waits for its companion's answer (the tools exit at their timeout). */
const COMPANION_GRACE_MS = 50;
/** A companion still running this long after its timeout is killed; what it printed still counts. */
const KILL_SLACK_MS = 1000;
/** Addresses per oping process, as for fping. */
const MAX_ADDRESSES_PER_PROCESS = 500;
/** ping(8) processes at once; more wait in a queue of at most MAX_QUEUED, beyond which a round goes without TTL. */
const MAX_PING_PROCESSES = 64;
const MAX_QUEUED = 4096;
/** Output kept per process: oping prints about 150 bytes per address. */
const MAX_OUTPUT = 1 << 20;

export interface OpingLine {
  address: string;
  seq: number;
  /** null for a timeout, or when liboping could not read the TTL (it prints -1). */
  ttl: number | null;
  rttMs: number | null;
}

/**
 * One per-probe line of oping 1.10:
 * `56 bytes from HOST (ADDR): icmp_seq=1 ttl=64 [qos=0x00 ]time=0.04 ms` or
 * `echo reply from HOST (ADDR): icmp_seq=1 timeout`. liboping reports no ICMP errors: a probe answered by one is a
 * timeout, and it drops duplicates itself.
 */
export function parseOpingLine(line: string): OpingLine | null {
  let m = /^\d+ bytes from \S+ \(([^)\s]+)\): icmp_seq=(\d+) ttl=(-?\d+) (?:qos=\S+ )?time=(\d+(?:\.\d+)?) ms$/.exec(line);
  if (m) {
    const ttl = Number(m[3]);
    return { address: m[1], seq: Number(m[2]), ttl: ttl >= 0 ? ttl : null, rttMs: Number(m[4]) };
  }
  m = /^echo reply from \S+ \(([^)\s]+)\): icmp_seq=(\d+) timeout$/.exec(line);
  return m ? { address: m[1], seq: Number(m[2]), ttl: null, rttMs: null } : null;
}

/** The TTL of the first reply of each address in oping's output; addresses without a reply map to null. */
export function opingTtls(text: string, addresses: readonly string[]): Map<string, number | null> {
  const out = new Map<string, number | null>(addresses.map((a) => [canonical(a), null]));
  for (const line of text.split('\n')) {
    const p = parseOpingLine(line);
    if (!p || p.rttMs === null) continue;
    const a = canonical(p.address);
    if (out.has(a) && out.get(a) === null) out.set(a, p.ttl);
  }
  return out;
}

export type PingLine =
  | { what: 'reply'; address: string; seq: number; ttl: number | null; rttMs: number | null; duplicate: boolean }
  | { what: 'error'; from: string; seq: number; reason: string };

/**
 * One line of iputils ping(8) with -n (and optionally -D): a reply
 * `64 bytes from ADDR: icmp_seq=1 ttl=64 time=0.040 ms[ (DUP!)]`, or an ICMP error about one of its probes
 * `From ADDR icmp_seq=1 Destination Host Unreachable`. Replies flagged BAD CHECKSUM or DIFFERENT ADDRESS are not
 * answers from the target, and redirects and source quench are not errors: all null, as are headers and statistics.
 * A lost probe prints nothing.
 */
export function parsePingLine(line: string): PingLine | null {
  const l = line.replace(/^\[\d+(?:\.\d+)?\] /, '');
  let m = /^\d+ bytes from (\S+?)(?: \((\S+)\))?: icmp_seq=(\d+)(?: ttl=(\d+))?(?: time=(\d+(?:\.\d+)?) ms)?(.*)$/.exec(l);
  if (m) {
    const tail = m[6];
    if (/BAD CHECKSUM|DIFFERENT ADDRESS/.test(tail)) return null;
    return { what: 'reply', address: m[2] ?? m[1], seq: Number(m[3]), ttl: m[4] === undefined ? null : Number(m[4]), rttMs: m[5] === undefined ? null : Number(m[5]), duplicate: tail.includes('(DUP!)') };
  }
  m = /^From (\S+)(?: \(\S+\))? icmp_seq=(\d+) (.+)$/.exec(l);
  if (!m || /^(Redirect|Source Quench)/.test(m[3])) return null;
  return { what: 'error', from: m[1], seq: Number(m[2]), reason: m[3].trim() };
}

/**
 * The probes of one ping(8) run to `address`, sequence 1..count: the first reply of each (duplicates dropped), an
 * ICMP error's reason, or a timeout for a sequence that printed nothing or whose reply came after `timeoutMs`.
 */
export function pingProbes(text: string, address: string, count: number, timeoutMs: number): ProbeResult[] {
  const out: Array<ProbeResult | undefined> = new Array(count);
  const want = canonical(address);
  for (const line of text.split('\n')) {
    const p = parsePingLine(line);
    if (!p || p.seq < 1 || p.seq > count || out[p.seq - 1]) continue;
    if (p.what === 'error') out[p.seq - 1] = { rttMs: null, ttl: null, error: `${p.reason.toLowerCase()} from ${p.from}` };
    else if (!p.duplicate && canonical(p.address) === want) {
      out[p.seq - 1] = p.rttMs !== null && p.rttMs > timeoutMs ? { rttMs: null, ttl: null, error: 'timeout' } : { rttMs: p.rttMs, ttl: p.ttl };
    }
  }
  return Array.from(out, (r) => r ?? { rttMs: null, ttl: null, error: 'timeout' });
}

function canonical(a: string): string {
  if (!a.includes(':')) return a;
  try {
    return canonicalIPv6(a);
  } catch {
    // Not an address (a zone index, garbage in a line): compared as printed.
    return a;
  }
}

function seconds(ms: number): string {
  return String(Math.max(0.001, ms / 1000));
}

function opingArgs(addresses: readonly string[], timeoutMs: number): string[] {
  return ['-c', '1', '-w', seconds(timeoutMs), ...addresses];
}

function pingArgs(address: string, family: 4 | 6, timeoutMs: number): string[] {
  return ['-n', `-${family}`, '-c', '1', '-W', seconds(timeoutMs), address];
}

export interface TtlStep {
  tool: TtlTool;
  ok: boolean;
  why: string;
}

/**
 * Whether `tool` reads reply TTLs here: one echo each to 127.0.0.1 and ::1. ok when every family in `need` answered
 * with a TTL; the reason names what each answered.
 */
export function proveTtlTool(tool: TtlTool, bin: string, need: ReadonlyArray<4 | 6>, timeoutMs = 1000): TtlStep {
  const name = TTL_TOOL_NAME[tool];
  const got: Record<4 | 6, number | null> = { 4: null, 6: null };
  let failure = '';
  const run = (args: string[]) => {
    const r = spawnSync(bin, args, { encoding: 'utf8', timeout: timeoutMs + KILL_SLACK_MS + 1000 });
    if (r.error) failure = `cannot run ${bin}: ${r.error.message}`;
    else if (!failure && r.stderr.trim()) failure = `${bin}: ${r.stderr.trim().split('\n')[0]}`;
    return r.stdout ?? '';
  };
  if (tool === 'oping') {
    const ttls = opingTtls(run(opingArgs(['127.0.0.1', '::1'], timeoutMs)), ['127.0.0.1', '::1']);
    got[4] = ttls.get('127.0.0.1') ?? null;
    got[6] = ttls.get('::1') ?? null;
  } else {
    for (const [a, f] of [['127.0.0.1', 4], ['::1', 6]] as const) got[f] = pingProbes(run(pingArgs(a, f, timeoutMs)), a, 1, timeoutMs)[0].ttl;
  }
  const seen = `127.0.0.1 answered with TTL ${got[4] ?? 'none'}, ::1 with hop limit ${got[6] ?? 'none'}`;
  const missing = need.filter((f) => got[f] === null);
  if (missing.length === 0) return { tool, ok: true, why: `${name} reads reply TTLs: ${seen}` };
  return { tool, ok: false, why: failure ? `${failure} (${seen})` : `${name} read no TTL: ${seen}` };
}

interface Waiter {
  address: string;
  resolve: (ttl: number | null) => void;
}

/** Sends the companion echoes with one tool and hands each caller its reply's TTL (null without reply). */
export class TtlCompanion {
  readonly tool: TtlTool;
  private readonly bin: string;
  /** oping: calls waiting for the batch window to close, per timeout. */
  private readonly batches = new Map<number, Waiter[]>();
  private batchTimer: NodeJS.Timeout | undefined;
  /** ping(8): calls waiting for a free process slot. */
  private readonly queue: Array<{ address: string; family: 4 | 6; timeoutMs: number; resolve: (ttl: number | null) => void }> = [];
  private running = 0;
  private readonly children = new Set<ReturnType<typeof spawn>>();
  private closed = false;
  private readonly c = { processes: 0, asked: 0, answered: 0, unanswered: 0, refused: 0, process_failures: 0 };

  constructor(tool: TtlTool, bin: string = tool) {
    this.tool = tool;
    this.bin = bin;
  }

  ttl(address: string, family: 4 | 6, timeoutMs: number): Promise<number | null> {
    return new Promise((resolve) => {
      if (this.closed) return resolve(null);
      this.c.asked++;
      const done = (ttl: number | null) => {
        if (ttl === null) this.c.unanswered++;
        else this.c.answered++;
        resolve(ttl);
      };
      if (this.tool === 'oping') {
        const list = this.batches.get(timeoutMs) ?? [];
        list.push({ address: canonical(address), resolve: done });
        this.batches.set(timeoutMs, list);
        this.batchTimer ??= setTimeout(() => this.flushBatches(), BATCH_WINDOW_MS);
        return;
      }
      if (this.running + this.queue.length >= MAX_PING_PROCESSES + MAX_QUEUED) {
        this.c.refused++;
        return done(null);
      }
      this.queue.push({ address, family, timeoutMs, resolve: done });
      this.drain();
    });
  }

  counters(): Record<string, number> {
    return { ...this.c, running: this.children.size };
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    for (const list of this.batches.values()) for (const w of list) w.resolve(null);
    this.batches.clear();
    for (const q of this.queue.splice(0)) q.resolve(null);
    for (const child of this.children) child.kill('SIGTERM');
  }

  private flushBatches(): void {
    this.batchTimer = undefined;
    for (const [timeoutMs, waiters] of this.batches) {
      const addresses = [...new Set(waiters.map((w) => w.address))];
      for (let i = 0; i < addresses.length; i += MAX_ADDRESSES_PER_PROCESS) {
        const part = addresses.slice(i, i + MAX_ADDRESSES_PER_PROCESS);
        const mine = new Set(part);
        this.run(opingArgs(part, timeoutMs), timeoutMs, (text) => {
          const ttls = opingTtls(text, part);
          for (const w of waiters) if (mine.has(w.address)) w.resolve(ttls.get(w.address) ?? null);
        });
      }
    }
    this.batches.clear();
  }

  private drain(): void {
    while (this.running < MAX_PING_PROCESSES && this.queue.length > 0) {
      const q = this.queue.shift()!;
      this.running++;
      this.run(pingArgs(q.address, q.family, q.timeoutMs), q.timeoutMs, (text) => {
        this.running--;
        q.resolve(pingProbes(text, q.address, 1, q.timeoutMs)[0].ttl);
        this.drain();
      });
    }
  }

  /** Runs the tool once; `done` gets its stdout when it exits, fails or is killed past its timeout. */
  private run(args: string[], timeoutMs: number, done: (stdout: string) => void): void {
    this.c.processes++;
    let out = '';
    let finished = false;
    const child = spawn(this.bin, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    this.children.add(child);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs + KILL_SLACK_MS);
    const finish = (failed: boolean) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      this.children.delete(child);
      if (failed) this.c.process_failures++;
      done(out);
    };
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      if (out.length < MAX_OUTPUT) out += d;
    });
    child.on('error', () => finish(true));
    child.on('close', (code, signal) => finish(signal !== null || (code !== 0 && out === '')));
  }
}

/**
 * An echo mechanism with the TTL of the families it cannot read filled in by a companion echo of the same round:
 * every reply of the burst gets the companion's TTL (the burst and the companion go to the same address at the
 * same moment); a burst without reply stays without TTL.
 */
export class TtlFilledPinger implements IcmpPinger {
  readonly mechanism: IcmpPinger['mechanism'];
  private readonly inner: IcmpPinger;
  private readonly companion: TtlCompanion;
  private readonly families: ReadonlySet<4 | 6>;

  constructor(inner: IcmpPinger, companion: TtlCompanion, families: ReadonlyArray<4 | 6>) {
    this.inner = inner;
    this.mechanism = inner.mechanism;
    this.companion = companion;
    this.families = new Set(families);
  }

  async echoBurst(address: string, family: 4 | 6, opts: BurstOptions): Promise<ProbeResult[]> {
    if (!this.families.has(family)) return this.inner.echoBurst(address, family, opts);
    const start = performance.now();
    const companion = this.companion.ttl(address, family, opts.timeoutMs);
    const probes = await this.inner.echoBurst(address, family, opts);
    // The companion's echo left at the start and waits one timeout, like the burst's first probe: a round is not
    // held past its burst for a companion later than that (its tool is then killed by its own timer).
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<null>((r) => (timer = setTimeout(() => r(null), start + opts.timeoutMs + COMPANION_GRACE_MS - performance.now())));
    const ttl = await Promise.race([companion, late]);
    clearTimeout(timer);
    if (ttl === null) return probes;
    return probes.map((p) => (p.rttMs !== null && p.ttl === null ? { ...p, ttl } : p));
  }

  counters(): Record<string, number> {
    const out = { ...this.inner.counters() };
    for (const [k, v] of Object.entries(this.companion.counters())) out[`ttl_${k}`] = v;
    return out;
  }

  close(): void {
    this.inner.close();
    this.companion.close();
  }
}
