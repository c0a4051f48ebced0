/**
 * Port scan and address sweep detection, after Zeek's policy/misc/scan.zeek: a source that fails to connect to
 * more than `portThreshold` (15) distinct ports of one host is a port scan; one that fails to connect to one port
 * on more than `hostThreshold` (25) distinct hosts is an address scan (a sweep); both over `windowMs` (5 min).
 * Only failed attempts count (no answer, or refused), so a busy client of one server never trips it.
 *
 * This is the pure part: it is fed attempts (source, destination, port, protocol, answered, time) in roughly
 * time order and answers with findings. flow-scan.ts turns the flow table into attempts.
 *
 * An episode is reported once when it crosses its threshold and then updated while the scanner goes on, as
 * Zeek's SumStats reports a key once per epoch; a new episode begins once the scanner has been quiet for a
 * window. State is bounded per source, per target and in sources, each eviction counted.
 */
import { BoundedMap } from './lru';

export interface ConnectionAttempt {
  src: string;
  dst: string;
  dstPort: number;
  /** IANA protocol number. */
  proto: number;
  /** The responder answered and the connection was not refused or reset before any data. */
  answered: boolean;
  /** When the attempt was made, epoch ms. */
  timeMs: number;
  /** A readable key of the flow, kept as evidence. */
  flowKey?: string;
}

export type ScanType = 'port_scan' | 'address_scan';

export interface ScanFinding {
  type: ScanType;
  /** The scanner. */
  src: string;
  proto: number;
  /** The host scanned (port scan). */
  dst?: string;
  /** The port swept (address scan). */
  port?: number;
  /** Distinct ports (port scan) or hosts (address scan) failed within the window at the latest attempt. */
  distinct: number;
  /** Failed attempts counted in the episode. */
  attempts: number;
  firstMs: number;
  lastMs: number;
  /** Ports or hosts of the episode, the first `evidenceLimit`. */
  targets: Array<number | string>;
  /** Flow keys of the episode, the first `evidenceLimit`. */
  flowKeys: string[];
  /** True the first time the episode is reported, false for later updates. */
  isNew: boolean;
  /** Distinguishes the episodes of one source. */
  episode: number;
}

export interface ScanConfig {
  /** More than this many distinct ports of one host: a port scan. Default 15 (Zeek's port_scan_threshold). */
  portThreshold: number;
  /** More than this many distinct hosts on one port: an address scan. Default 25 (Zeek's addr_scan_threshold). */
  hostThreshold: number;
  /** Default 300,000 (Zeek's port_scan_interval and addr_scan_interval, 5 min). */
  windowMs: number;
  /** Scanning sources tracked at once. Default 10,000. */
  maxSources: number;
  /** Targets (hosts, ports) tracked per source. Default 4,096. */
  maxTargetsPerSource: number;
  /** Ports or hosts and flow keys kept as evidence per episode. Default 50. */
  evidenceLimit: number;
}

export const SCAN_DEFAULTS: Readonly<ScanConfig> = Object.freeze({
  portThreshold: 15,
  hostThreshold: 25,
  windowMs: 300_000,
  maxSources: 10_000,
  maxTargetsPerSource: 4096,
  evidenceLimit: 50,
});

export interface ScanCounters {
  attempts: number;
  failedAttempts: number;
  findings: number;
  updates: number;
  sourcesTracked: number;
  sourceEvictions: number;
  targetEvictions: number;
}

/** The distinct items (ports or hosts) one source failed on, with the time of the latest failure of each. */
class Distinct<T> {
  readonly last = new Map<T, number>();
  /** The flow key of each item's latest failure, for evidence. */
  readonly flowKey = new Map<T, string>();

  /** Records a failure; then drops items older than the window, and the oldest beyond `max`. Returns how many it dropped for room. */
  add(item: T, timeMs: number, flowKey: string | undefined, windowMs: number, max: number): number {
    const prev = this.last.get(item);
    if (prev !== undefined) this.last.delete(item);
    this.last.set(item, prev !== undefined && prev > timeMs ? prev : timeMs);
    if (flowKey !== undefined) this.flowKey.set(item, flowKey);
    let evicted = 0;
    // Insertion order is recency order, near enough: the oldest are at the front.
    for (const [k, t] of this.last) {
      if (t >= timeMs - windowMs && this.last.size <= max) break;
      this.last.delete(k);
      this.flowKey.delete(k);
      if (t >= timeMs - windowMs) evicted++;
    }
    return evicted;
  }

  countSince(sinceMs: number): number {
    let n = 0;
    for (const t of this.last.values()) if (t >= sinceMs) n++;
    return n;
  }
}

interface Episode {
  finding: ScanFinding;
}

interface SourceState {
  /** Per host ("proto|dst"): distinct ports failed. */
  ports: Map<string, Distinct<number>>;
  /** Per port ("proto|port"): distinct hosts failed. */
  hosts: Map<string, Distinct<string>>;
  episodes: Map<string, Episode>;
  episodeSeq: number;
}

export class ScanDetector {
  readonly config: Readonly<ScanConfig>;
  private readonly sources: BoundedMap<string, SourceState>;
  private readonly c = { attempts: 0, failedAttempts: 0, findings: 0, updates: 0, targetEvictions: 0 };

  constructor(config: Partial<ScanConfig> = {}) {
    this.config = { ...SCAN_DEFAULTS, ...config };
    const k = this.config;
    if (!(k.portThreshold >= 1) || !(k.hostThreshold >= 1) || !(k.windowMs > 0)) {
      throw new RangeError(`scan thresholds must be >= 1 and the window > 0, got ports ${k.portThreshold}, hosts ${k.hostThreshold}, window ${k.windowMs} ms`);
    }
    this.sources = new BoundedMap(k.maxSources);
  }

  counters(): ScanCounters {
    return { ...this.c, sourcesTracked: this.sources.size, sourceEvictions: this.sources.evictions };
  }

  /** Feeds one attempt; returns the findings it starts or updates (at most one port scan and one address scan). */
  observe(a: ConnectionAttempt): ScanFinding[] {
    this.c.attempts++;
    if (a.answered) return [];
    this.c.failedAttempts++;
    const k = this.config;
    let s = this.sources.get(a.src);
    if (!s) {
      s = { ports: new Map(), hosts: new Map(), episodes: new Map(), episodeSeq: 0 };
      this.sources.set(a.src, s);
    }
    const since = a.timeMs - k.windowMs;
    const out: ScanFinding[] = [];

    const hostKey = `${a.proto}|${a.dst}`;
    const ports = this.distinct(s.ports, hostKey);
    this.c.targetEvictions += ports.add(a.dstPort, a.timeMs, a.flowKey, k.windowMs, k.portThreshold * 4 + 2);
    const nPorts = ports.countSince(since);
    const ps = this.track(s, `p|${hostKey}`, nPorts > k.portThreshold, a, nPorts, 'port_scan', a.dstPort);
    if (ps) out.push(ps);

    const portKey = `${a.proto}|${a.dstPort}`;
    const hosts = this.distinct(s.hosts, portKey);
    this.c.targetEvictions += hosts.add(a.dst, a.timeMs, a.flowKey, k.windowMs, k.hostThreshold * 4 + 2);
    const nHosts = hosts.countSince(since);
    const as = this.track(s, `a|${portKey}`, nHosts > k.hostThreshold, a, nHosts, 'address_scan', a.dst);
    if (as) out.push(as);
    return out;
  }

  /** Starts, continues or ends the episode of one key; returns the finding to report, if any. */
  private track(s: SourceState, key: string, over: boolean, a: ConnectionAttempt, distinct: number, type: ScanType, target: number | string): ScanFinding | null {
    const k = this.config;
    let ep = s.episodes.get(key);
    if (ep && a.timeMs - ep.finding.lastMs > k.windowMs) {
      s.episodes.delete(key);
      ep = undefined;
    }
    if (ep) {
      const f = ep.finding;
      f.attempts++;
      if (a.timeMs > f.lastMs) f.lastMs = a.timeMs;
      if (a.timeMs < f.firstMs) f.firstMs = a.timeMs;
      f.distinct = Math.max(f.distinct, distinct);
      if (f.targets.length < k.evidenceLimit && !f.targets.includes(target)) f.targets.push(target);
      if (a.flowKey && f.flowKeys.length < k.evidenceLimit) f.flowKeys.push(a.flowKey);
      f.isNew = false;
      this.c.updates++;
      return f;
    }
    if (!over) return null;
    if (s.episodes.size >= k.maxTargetsPerSource) this.forgetOldest(s.episodes);
    const f: ScanFinding = {
      type,
      src: a.src,
      proto: a.proto,
      ...(type === 'port_scan' ? { dst: a.dst } : { port: a.dstPort }),
      distinct,
      attempts: distinct,
      firstMs: a.timeMs,
      lastMs: a.timeMs,
      targets: [],
      flowKeys: [],
      isNew: true,
      episode: ++s.episodeSeq,
    };
    // The evidence of the crossing: every target failed within the window so far, with the flow of its latest failure.
    const since = a.timeMs - k.windowMs;
    const d = (type === 'port_scan' ? s.ports.get(key.slice(2)) : s.hosts.get(key.slice(2))) as Distinct<number | string> | undefined;
    if (d) {
      let first = a.timeMs;
      for (const [item, t] of d.last) {
        if (t < since) continue;
        if (t < first) first = t;
        if (f.targets.length >= k.evidenceLimit) continue;
        f.targets.push(item);
        const fk = d.flowKey.get(item);
        if (fk !== undefined) f.flowKeys.push(fk);
      }
      f.firstMs = first;
    }
    s.episodes.set(key, { finding: f });
    this.c.findings++;
    return f;
  }

  /** The distinct targets under `key` of one source, a new set when there is none (the oldest forgotten at the bound). */
  private distinct<T>(m: Map<string, Distinct<T>>, key: string): Distinct<T> {
    let d = m.get(key);
    if (!d) {
      if (m.size >= this.config.maxTargetsPerSource) this.forgetOldest(m);
      m.set(key, (d = new Distinct<T>()));
    }
    return d;
  }

  private forgetOldest(m: Map<string, unknown>): void {
    const first = m.keys().next();
    if (!first.done) {
      m.delete(first.value);
      this.c.targetEvictions++;
    }
  }
}
