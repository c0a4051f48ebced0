/**
 * The security engine: every log event goes through `ingest()`; the security-relevant ones become event traces
 * (with process, network and error traces where they apply), move the reputation of their address, and feed
 * the log patterns (ssh brute force, user enumeration). Scan findings from the flow table come in through
 * `ingestScanFindings()`. Synchronous and bounded: per-address and per-user state lives in LRUs, rows go to
 * batch writers.
 *
 * Ids. A trace references its log event (`event_traces.event_id`), and process/network/error traces reference
 * the trace. The log event writer numbers events as it queues them (LogEvent.id), this engine numbers traces and
 * patterns itself (continuing after the largest stored id: it is their only writer), and each writer lists the
 * writer of the rows it references in `flushFirst`, so a row is always committed after what it points to.
 *
 * Failures. What counts as a failed login is what fail2ban's sshd filter counts, which the log parsers mark with
 * `metadata.f2b_failure: true`; a process is snapshotted from `metadata.pid`; fail2ban's jail is `metadata.jail`.
 *
 * Time. Windows and decay run on event time (the log line's timestamp), so a replayed file gives the same
 * patterns as the live lines did. Process and socket snapshots only make sense for events that are happening
 * now: they are taken for events within `liveWindowSeconds` of the wall clock.
 */
import type Database from 'better-sqlite3';
import type { LogEvent } from '../logs/events';
import { BatchWriter, type Store } from '../store';
import { analyzeError, type ErrorAnalysis } from './error-rules';
import { EVIDENCE_ACCEPTED, EVIDENCE_BAN, EVIDENCE_FAILURE, EVIDENCE_INVALID_USER, EVIDENCE_RESTORED_BAN, logEvidence } from './evidence';
import { BoundedMap } from './lru';
import { readProcess, readTcpSockets, socketInvolves, type ProcessSnapshot, type TcpSocket } from './proc';
import { ReputationTable, createReputationWriter, type GeoLookup, type Reputation } from './reputation';
import { SCAN_DEFAULTS, type ScanFinding } from './scan';
import { roundScore, THREAT_WEIGHTS } from './score';
import { parseStoredJson } from './stored-json';
import {
  FAILURE_ACTIONS,
  SEVERITY_FLOOR,
  chainText,
  eventSeverity,
  isErrorLevel,
  isSecurityRelevant,
  relatedServices,
  rootCause,
  severityLabel,
  summarizeChain,
  type ChainLink,
  type ChainStep,
  type TraceContext,
} from './traces';

export interface SecurityConfig {
  /** Threat score half-life, seconds. Default 3600. */
  halfLifeSeconds: number;
  /** Earlier events of the same address or user that a trace links to, seconds back. Default 600. */
  traceWindowSeconds: number;
  /** SSH brute force: this many failures ... Default 5 (fail2ban's maxretry). */
  bruteForceFailures: number;
  /** ... within this many seconds. Default 600 (fail2ban's findtime). */
  bruteForceWindowSeconds: number;
  /** User enumeration: this many distinct invalid users ... Default 6 (CrowdSec ssh-bf_user-enum overflows at 6). */
  userEnumUsers: number;
  /** ... within this many seconds. Default 600. */
  userEnumWindowSeconds: number;
  /** Addresses (and users) whose state is kept in memory. Default 100,000. */
  maxIps: number;
  /** Events this close to the wall clock get process and socket snapshots, seconds. Default 120. */
  liveWindowSeconds: number;
  /** Event ids (or flow keys) kept as evidence per pattern. Default 100. */
  evidenceLimit: number;
}

export const SECURITY_DEFAULTS: Readonly<SecurityConfig> = Object.freeze({
  halfLifeSeconds: 3600,
  traceWindowSeconds: 600,
  bruteForceFailures: 5,
  bruteForceWindowSeconds: 600,
  userEnumUsers: 6,
  userEnumWindowSeconds: 600,
  maxIps: 100_000,
  liveWindowSeconds: 120,
  evidenceLimit: 100,
});

/** What the engine needs from outside; tests substitute the /proc readers. */
export interface EngineDeps {
  store: Store;
  /** The writer of the log events that traces reference (flushed before each flush of the traces). */
  events?: { flush(): number };
  /** Wall clock, epoch ms. */
  now: () => number;
  geo?: GeoLookup;
  readProcess?: (pid: number) => ProcessSnapshot | null;
  readSockets?: () => TcpSocket[];
}

interface TraceRow {
  id: number;
  eventId: number | null;
  timestamp: number;
  source: string;
  ip: string | null;
  severity: number;
  chain: ChainLink[];
  services: string[];
  rootCause: string;
  metadata: Record<string, unknown>;
}

interface PatternRow {
  id: number;
  type: string;
  ip: string | null;
  firstSeen: number;
  lastSeen: number;
  count: number;
  severity: number;
  evidence: { event_ids?: number[]; flow_keys?: string[]; users?: string[]; ports?: number[]; hosts?: string[]; target?: string | number; proto?: number; events?: number };
  description: string;
  /** A scan episode stored by an earlier run and continued by this one: what that run had recorded. */
  prior?: { count: number; targets: Array<number | string>; flowKeys: string[] };
}

interface ErrorRow extends ErrorAnalysis {
  traceId: number;
}

interface NetworkRow extends TcpSocket {
  traceId: number;
}

interface ProcessRow extends ProcessSnapshot {
  traceId: number;
}

/** Per address (or user) state behind chains and log patterns; memory only. */
interface Context {
  steps: ChainStep[];
  /** Times of the latest counted failures (at most bruteForceFailures). */
  failureTimes: number[];
  /** Invalid users with the time each was last tried. */
  invalidUsers: Map<string, number>;
  bruteForce: PatternRow | null;
  userEnum: PatternRow | null;
  /** Whether an episode stored by an earlier run was looked for (once per address and pattern, see logPatterns). */
  storedChecked: { bruteForce: boolean; userEnum: boolean };
}

const MAX_STEPS = 32;
const MAX_INVALID_USERS = 64;
const MAX_SOCKETS_PER_TRACE = 32;
const SOCKET_CACHE_MS = 1000;

export interface SecurityCounters {
  events: number;
  traced: number;
  ignored: number;
  processTraces: number;
  processGone: number;
  networkTraces: number;
  errorTraces: number;
  patterns: number;
  bruteForce: number;
  userEnumeration: number;
  scans: number;
  /** Episodes stored by an earlier run that this run continued instead of reporting them again. */
  patternsResumed: number;
  contexts: number;
  contextEvictions: number;
}

/** The first `limit` distinct items of `a` then `b`. */
function union<T>(a: readonly T[], b: readonly T[], limit: number): T[] {
  const out = new Set<T>();
  for (const x of a) if (out.size < limit) out.add(x);
  for (const x of b) if (out.size < limit) out.add(x);
  return [...out];
}

function scanDescription(f: ScanFinding, distinct: number, firstSec: number, lastSec: number): string {
  const what = f.type === 'port_scan' ? `${distinct} ports of ${f.dst}` : `port ${f.port} on ${distinct} hosts`;
  return `${f.type === 'port_scan' ? 'port scan' : 'address scan'}: ${f.src} failed to connect to ${what} in ${Math.round(lastSec - firstSec)}s`;
}

function maxId(db: Database.Database, table: 'event_traces' | 'trace_patterns'): number {
  return (db.prepare(`SELECT max(id) FROM ${table}`).pluck().get() as number | null) ?? 0;
}

function pidOf(e: LogEvent): number | null {
  const v = e.metadata?.pid;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,9}$/.test(v) ? Number(v) : NaN;
  return Number.isInteger(n) && n > 0 ? n : null;
}

/** Whether a process name fits the service that logged the line (a reused pid names another program). */
function sameProgram(name: string, service: string | null | undefined): boolean {
  if (!service) return true;
  const a = name.toLowerCase();
  const b = service.toLowerCase();
  // comm is cut at 15 characters.
  return a === b || a.startsWith(b) || b.startsWith(a);
}

export class SecurityEngine {
  readonly config: Readonly<SecurityConfig>;
  readonly reputation: ReputationTable;
  readonly writers: {
    traces: BatchWriter<TraceRow>;
    processes: BatchWriter<ProcessRow>;
    sockets: BatchWriter<NetworkRow>;
    errors: BatchWriter<ErrorRow>;
    patterns: BatchWriter<PatternRow>;
    reputation: BatchWriter<Reputation>;
  };
  private readonly contexts: BoundedMap<string, Context>;
  private readonly scanPatterns = new WeakMap<ScanFinding, PatternRow>();
  private readonly dirtyPatterns = new Set<PatternRow>();
  private nextTraceId: number;
  private nextPatternId: number;
  /** Patterns with a smaller id were stored by an earlier run. */
  private readonly firstPatternIdOfRun: number;
  /** Ids of stored episodes already continued by this run (each is continued once). */
  private readonly resumed: BoundedMap<number, true>;
  private readonly storedScans: Database.Statement;
  private readonly storedLogPattern: Database.Statement;
  private socketCache: { at: number; sockets: TcpSocket[] } | null = null;
  private readonly readProcess: (pid: number) => ProcessSnapshot | null;
  private readonly readSockets: () => TcpSocket[];
  private readonly c = { events: 0, traced: 0, ignored: 0, processTraces: 0, processGone: 0, networkTraces: 0, errorTraces: 0, patterns: 0, bruteForce: 0, userEnumeration: 0, scans: 0, patternsResumed: 0 };

  constructor(
    private readonly deps: EngineDeps,
    config: Partial<SecurityConfig> = {},
  ) {
    this.config = { ...SECURITY_DEFAULTS, ...config };
    const k = this.config;
    for (const key of ['halfLifeSeconds', 'traceWindowSeconds', 'bruteForceFailures', 'bruteForceWindowSeconds', 'userEnumUsers', 'userEnumWindowSeconds', 'maxIps'] as const) {
      if (!(k[key] > 0)) throw new RangeError(`security ${key} must be > 0, got ${k[key]}`);
    }
    const store = deps.store;
    const db = store.db;
    const traces = new BatchWriter<TraceRow>(store, {
      name: 'event_traces',
      sql: 'INSERT INTO event_traces (id, event_id, timestamp, source, ip, severity_score, causality_chain, related_services, root_cause, trace_metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      toParams: (t) => [t.id, t.eventId, Math.floor(t.timestamp), t.source, t.ip, t.severity, JSON.stringify(t.chain), JSON.stringify(t.services), t.rootCause, JSON.stringify(t.metadata)],
      flushFirst: deps.events ? [deps.events] : [],
    });
    const afterTraces = { flushFirst: [traces] };
    this.writers = {
      traces,
      processes: new BatchWriter<ProcessRow>(store, {
        name: 'process_traces',
        sql:
          'INSERT INTO process_traces (trace_id, pid, name, cmdline, state, ppid, rss_bytes, vms_bytes, cpu_user_seconds, cpu_system_seconds, threads, io_read_bytes, io_write_bytes, io_read_syscalls, io_write_syscalls) ' +
          'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        toParams: (p) => [p.traceId, p.pid, p.name, p.cmdline, p.state, p.ppid, p.rssBytes, p.vmsBytes, p.cpuUserSeconds, p.cpuSystemSeconds, p.threads, p.ioReadBytes, p.ioWriteBytes, p.ioReadSyscalls, p.ioWriteSyscalls],
        ...afterTraces,
      }),
      sockets: new BatchWriter<NetworkRow>(store, {
        name: 'network_traces',
        sql: 'INSERT INTO network_traces (trace_id, local_ip, local_port, remote_ip, remote_port, state, protocol) VALUES (?, ?, ?, ?, ?, ?, ?)',
        toParams: (s) => [s.traceId, s.localIp, s.localPort, s.remoteIp, s.remotePort, s.state, s.protocol],
        ...afterTraces,
      }),
      errors: new BatchWriter<ErrorRow>(store, {
        name: 'error_traces',
        sql:
          'INSERT INTO error_traces (trace_id, error_type, error_category, exception_type, severity, file_path, line_number, error_code, has_stacktrace, root_cause_hints, recovery_suggestions) ' +
          'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        toParams: (r) => [
          r.traceId,
          r.errorType,
          r.errorCategory,
          r.exceptionType,
          r.severity,
          r.filePath,
          r.lineNumber,
          r.errorCode,
          r.hasStacktrace ? 1 : 0,
          JSON.stringify(r.rootCauseHints),
          JSON.stringify(r.recoverySuggestions),
        ],
        ...afterTraces,
      }),
      patterns: new BatchWriter<PatternRow>(store, {
        name: 'trace_patterns',
        sql: 'INSERT OR REPLACE INTO trace_patterns (id, pattern_type, ip, first_seen, last_seen, count, severity, evidence, description) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        toParams: (p) => [p.id, p.type, p.ip, Math.floor(p.firstSeen), Math.floor(p.lastSeen), p.count, p.severity, JSON.stringify(p.evidence), p.description],
      }),
      reputation: createReputationWriter(store),
    };
    this.reputation = new ReputationTable(db, this.writers.reputation, { maxIps: k.maxIps, halfLifeSeconds: k.halfLifeSeconds, weights: THREAT_WEIGHTS }, deps.geo);
    this.contexts = new BoundedMap(k.maxIps);
    this.nextTraceId = maxId(db, 'event_traces') + 1;
    this.nextPatternId = maxId(db, 'trace_patterns') + 1;
    this.firstPatternIdOfRun = this.nextPatternId;
    this.resumed = new BoundedMap(k.maxIps);
    this.storedLogPattern = db.prepare(
      'SELECT id, first_seen, last_seen, count, severity, evidence FROM trace_patterns WHERE pattern_type = ? AND ip = ? AND id < ? AND last_seen >= ? AND first_seen <= ? ORDER BY last_seen DESC, id DESC LIMIT 4',
    );
    this.storedScans = db.prepare(
      "SELECT id, first_seen, last_seen, count, severity, evidence FROM trace_patterns WHERE pattern_type = ? AND ip = ? AND id < ? AND last_seen >= ? AND first_seen <= ? AND json_extract(evidence, '$.target') = ? " +
        "AND coalesce(json_extract(evidence, '$.proto'), ?) = ? ORDER BY last_seen DESC, id DESC LIMIT 16",
    );
    this.readProcess = deps.readProcess ?? ((pid) => readProcess(pid));
    this.readSockets = deps.readSockets ?? (() => readTcpSockets());
  }

  counters(): SecurityCounters {
    return { ...this.c, contexts: this.contexts.size, contextEvictions: this.contexts.evictions };
  }

  /** Processes one log event; returns the id of the trace it made, or null when it is not security-relevant. */
  ingest(e: LogEvent): number | null {
    this.c.events++;
    if (!isSecurityRelevant(e)) {
      this.c.ignored++;
      return null;
    }
    const k = this.config;
    const t = e.timestamp;
    const a = e.action ?? (isErrorLevel(e) ? 'error' : 'other');
    const key = e.ip ? e.ip : e.user ? `user:${e.user}` : null;
    const ctx = key ? this.context(key) : null;
    // The chain: earlier steps of the same address or user within the window.
    const since = t - k.traceWindowSeconds;
    const prior = ctx ? ctx.steps.filter((s) => s.t >= since && s.t <= t) : [];
    const priorFailures = prior.filter((s) => FAILURE_ACTIONS.has(s.action));
    const priorUsers = new Set(priorFailures.map((s) => s.user).filter((u): u is string => !!u));
    if (e.user && FAILURE_ACTIONS.has(a)) priorUsers.add(e.user);

    // Reputation first: the trace records the score the event leaves the address with.
    let scoreBefore = 0;
    let rep: Reputation | null = null;
    let countedFailure = false;
    if (e.ip) {
      const existing = this.reputation.peek(e.ip);
      scoreBefore = existing ? this.reputation.scoreAt(existing, t) : 0;
      ({ rep, failure: countedFailure } = this.applyEvidence(e));
    }
    const tctx: TraceContext = {
      priorFailures: priorFailures.length,
      priorUsers: priorUsers.size,
      threatScore: scoreBefore,
      bans: rep?.bans ?? 0,
      bruteForceFailures: k.bruteForceFailures,
    };
    const patterns = ctx && e.ip ? this.logPatterns(e, ctx, countedFailure) : [];

    const error = isErrorLevel(e) || a === 'error' ? analyzeError(e.message, e.level) : null;
    const step: ChainStep = { action: a, eventId: e.id ?? null, t, user: e.user ?? null, service: e.service ?? null };
    const links = summarizeChain([...prior, step]);
    const id = this.nextTraceId++;
    // An error the rule table calls critical (an OOM kill, a full disk) makes a critical trace whatever the line's level.
    const severity = error?.severity === 'critical' ? Math.max(SEVERITY_FLOOR.critical, eventSeverity(e, tctx)) : eventSeverity(e, tctx);
    const metadata: Record<string, unknown> = { action: a, severity: severityLabel(severity), chain: chainText(links) };
    if (e.user) metadata.user = e.user;
    if (e.service) metadata.service = e.service;
    if (rep) metadata.threat_score = roundScore(this.reputation.scoreAt(rep, t));
    if (patterns.length > 0) metadata.patterns = patterns.map((p) => ({ id: p.id, type: p.type }));
    if (error) metadata.error_type = error.errorType;
    const ok = this.writers.traces.push({
      id,
      eventId: e.id ?? null,
      timestamp: t,
      source: e.source,
      ip: e.ip ?? null,
      severity,
      chain: links,
      services: relatedServices(e, prior),
      rootCause: rootCause(e, links, tctx, error?.rootCauseHints[0]),
      metadata,
    });
    if (ctx) {
      ctx.steps.push(step);
      if (ctx.steps.length > MAX_STEPS) ctx.steps.splice(0, ctx.steps.length - MAX_STEPS);
    }
    if (!ok) return null;
    this.c.traced++;
    if (error) {
      this.writers.errors.push({ traceId: id, ...error });
      this.c.errorTraces++;
    }
    this.snapshots(e, id);
    return id;
  }

  /**
   * Records scan findings (new episodes and updates) from the flow scan adapter; `windowMs` is the detector's.
   *
   * Restarts. The flow table comes back from its snapshot and the adapter feeds its flows to a fresh detector
   * again, which rebuilds the detector's window (so a scan going on across the restart is still seen whole) and
   * finds again the episodes the last run reported. A new finding that continues an episode stored by an earlier
   * run (same type, source, target and protocol; its earliest attempt within a window of the stored last one, the
   * detector's own rule for one episode) updates that row instead of reporting it again: no second pattern, no
   * second scan in the reputation, no second trace. Persisting the adapter's watermark instead would not feed
   * the restored flows, and a scan half before and half after the restart would go unseen.
   */
  ingestScanFindings(findings: readonly ScanFinding[], windowMs = SCAN_DEFAULTS.windowMs): void {
    for (const f of findings) {
      const tSec = f.lastMs / 1000;
      let p = this.scanPatterns.get(f);
      if (!p) p = this.resumeScan(f, windowMs);
      if (!p) {
        p = {
          id: this.nextPatternId++,
          type: f.type,
          ip: f.src,
          firstSeen: f.firstMs / 1000,
          lastSeen: tSec,
          count: f.attempts,
          severity: f.type === 'port_scan' ? 70 : 65,
          evidence: {},
          description: '',
        };
        this.scanPatterns.set(f, p);
        this.c.patterns++;
        this.c.scans++;
        const before = this.reputation.peek(f.src);
        const scoreBefore = before ? this.reputation.scoreAt(before, tSec) : 0;
        const rep = this.reputation.record(f.src, tSec, 'scan');
        const links: ChainLink[] = [{ action: f.type, count: f.attempts, first: f.firstMs / 1000, last: tSec, users: [], event_ids: [] }];
        const severity = Math.round(Math.min(100, p.severity + Math.min(20, scoreBefore / 5)) * 10) / 10;
        this.writers.traces.push({
          id: this.nextTraceId++,
          eventId: null,
          timestamp: tSec,
          source: 'flows',
          ip: f.src,
          severity,
          chain: links,
          services: [],
          rootCause: scanDescription(f, f.distinct, f.firstMs / 1000, tSec),
          metadata: { action: f.type, severity: severityLabel(severity), chain: chainText(links), threat_score: roundScore(this.reputation.scoreAt(rep, tSec)), patterns: [{ id: p.id, type: f.type }], flow_keys: f.flowKeys.slice(0, 10) },
        });
        this.c.traced++;
      }
      p.lastSeen = Math.max(p.lastSeen, tSec);
      p.firstSeen = Math.min(p.firstSeen, f.firstMs / 1000);
      const limit = this.config.evidenceLimit;
      // A continued episode keeps what the earlier run recorded; attempts seen by both runs are not counted twice.
      const targets = p.prior ? union(p.prior.targets, f.targets, limit) : f.targets.slice(0, limit);
      const flowKeys = p.prior ? union(p.prior.flowKeys, f.flowKeys, limit) : f.flowKeys.slice(0, limit);
      p.count = p.prior ? Math.max(p.prior.count, f.attempts) : f.attempts;
      p.description = scanDescription(f, Math.max(f.distinct, p.prior ? targets.length : 0), p.firstSeen, p.lastSeen);
      p.evidence = {
        target: f.type === 'port_scan' ? f.dst : f.port,
        proto: f.proto,
        ...(f.type === 'port_scan' ? { ports: targets as number[] } : { hosts: targets as string[] }),
        flow_keys: flowKeys,
      };
      this.dirtyPatterns.add(p);
    }
  }

  /** The stored episode of an earlier run that a new finding continues, if any (see ingestScanFindings). */
  private resumeScan(f: ScanFinding, windowMs: number): PatternRow | undefined {
    if (this.firstPatternIdOfRun <= 1) return undefined;
    const target = f.type === 'port_scan' ? f.dst : f.port;
    if (target === undefined) return undefined;
    const rows = this.storedScans.all(f.type, f.src, this.firstPatternIdOfRun, Math.floor((f.firstMs - windowMs) / 1000), Math.ceil(f.lastMs / 1000), target, f.proto, f.proto) as Array<{
      id: number;
      first_seen: number;
      last_seen: number;
      count: number;
      severity: number;
      evidence: string | null;
    }>;
    const r = rows.find((x) => !this.resumed.has(x.id));
    if (!r) return undefined;
    const ev = parseStoredJson<PatternRow['evidence']>(r.evidence, {});
    const stored = (f.type === 'port_scan' ? ev.ports : ev.hosts) ?? [];
    const p: PatternRow = {
      id: r.id,
      type: f.type,
      ip: f.src,
      firstSeen: r.first_seen,
      lastSeen: r.last_seen,
      count: r.count,
      severity: r.severity,
      evidence: ev,
      description: '',
      prior: { count: r.count, targets: Array.isArray(stored) ? stored : [], flowKeys: Array.isArray(ev.flow_keys) ? ev.flow_keys : [] },
    };
    this.resumed.set(r.id, true);
    this.scanPatterns.set(f, p);
    this.c.patternsResumed++;
    return p;
  }

  /** Queues changed reputation entries and patterns for writing (the component calls it every second and at stop). */
  flush(): void {
    this.reputation.flush();
    for (const p of this.dirtyPatterns) this.writers.patterns.push(p);
    this.dirtyPatterns.clear();
  }

  /** Flushes, then writes every queued row now (queries read what was ingested). */
  flushAll(): void {
    this.flush();
    for (const w of Object.values(this.writers)) w.flush();
  }

  private context(key: string): Context {
    let ctx = this.contexts.get(key);
    if (!ctx) {
      ctx = { steps: [], failureTimes: [], invalidUsers: new Map(), bruteForce: null, userEnum: null, storedChecked: { bruteForce: false, userEnum: false } };
      this.contexts.set(key, ctx);
    }
    return ctx;
  }

  /**
   * Moves the address's reputation by the counters {@link logEvidence} gives the event: the classification the
   * offline summary (`netwatch-ingest logs --summary`) uses too, so live counters equal the summary's. Failures are
   * what fail2ban's sshd filter counts, which the log parsers mark with `metadata.f2b_failure`, so the live counts
   * equal fail2ban-regex (fail2ban's sshd filter ignores pam_unix lines: so does this count; they still make traces).
   */
  private applyEvidence(e: LogEvent): { rep: Reputation; failure: boolean } {
    const ip = e.ip!;
    const t = e.timestamp;
    const r = this.reputation;
    const ev = logEvidence(e.action, e.metadata?.f2b_failure === true);
    let rep = ev & EVIDENCE_FAILURE ? r.record(ip, t, 'failure') : r.touch(ip, t);
    if (ev & EVIDENCE_INVALID_USER) rep = r.record(ip, t, 'invalid_user');
    if (ev & EVIDENCE_BAN || (ev & EVIDENCE_RESTORED_BAN && rep.bans === 0)) rep = r.record(ip, t, 'ban');
    if (ev & EVIDENCE_ACCEPTED) rep = r.record(ip, t, 'accepted');
    return { rep, failure: (ev & EVIDENCE_FAILURE) !== 0 };
  }

  /** Brute force and user enumeration for the address of `e`; returns the patterns the event started or extended. */
  private logPatterns(e: LogEvent, ctx: Context, countedFailure: boolean): PatternRow[] {
    const k = this.config;
    const t = e.timestamp;
    const out: PatternRow[] = [];
    const a = e.action ?? '';
    if (countedFailure) {
      ctx.failureTimes.push(t);
      if (ctx.failureTimes.length > k.bruteForceFailures) ctx.failureTimes.shift();
      let bf = ctx.bruteForce;
      if (!bf && !ctx.storedChecked.bruteForce) {
        ctx.storedChecked.bruteForce = true;
        bf = ctx.bruteForce = this.resumeLogPattern('ssh_brute_force', e.ip!, t, k.bruteForceWindowSeconds);
      }
      if (bf && t - bf.lastSeen > k.bruteForceWindowSeconds) bf = ctx.bruteForce = null;
      if (bf) {
        this.extend(bf, t, e);
        bf.severity = Math.min(95, 60 + Math.min(35, bf.count - k.bruteForceFailures));
        bf.description = `ssh brute force from ${e.ip}: ${bf.count} failures in ${Math.round(bf.lastSeen - bf.firstSeen)}s`;
        out.push(bf);
      } else if (ctx.failureTimes.length >= k.bruteForceFailures && t - ctx.failureTimes[0] <= k.bruteForceWindowSeconds) {
        const ids = ctx.steps.filter((s) => FAILURE_ACTIONS.has(s.action) && s.t >= ctx.failureTimes[0] && s.eventId !== null).map((s) => s.eventId as number);
        if (e.id !== undefined) ids.push(e.id);
        bf = ctx.bruteForce = this.newPattern('ssh_brute_force', e.ip!, ctx.failureTimes[0], t, k.bruteForceFailures, 60, { event_ids: ids.slice(-k.evidenceLimit) });
        bf.description = `ssh brute force from ${e.ip}: ${k.bruteForceFailures} failures in ${Math.round(t - ctx.failureTimes[0])}s`;
        this.c.bruteForce++;
        out.push(bf);
      }
    }
    if (a === 'invalid_user' && e.user) {
      const users = ctx.invalidUsers;
      users.delete(e.user);
      users.set(e.user, t);
      if (users.size > MAX_INVALID_USERS) users.delete(users.keys().next().value as string);
      let ue = ctx.userEnum;
      if (!ue && !ctx.storedChecked.userEnum) {
        ctx.storedChecked.userEnum = true;
        ue = ctx.userEnum = this.resumeLogPattern('user_enumeration', e.ip!, t, k.userEnumWindowSeconds);
      }
      if (ue && t - ue.lastSeen > k.userEnumWindowSeconds) ue = ctx.userEnum = null;
      const recent = [...users].filter(([, ut]) => ut >= t - k.userEnumWindowSeconds).map(([u]) => u);
      if (ue) {
        this.extend(ue, t, e);
        const all = ue.evidence.users ?? [];
        if (!all.includes(e.user) && all.length < k.evidenceLimit) all.push(e.user);
        ue.evidence.users = all;
        ue.severity = Math.min(90, 55 + 2 * Math.max(0, all.length - k.userEnumUsers));
        ue.description = `user enumeration from ${e.ip}: ${all.length} distinct invalid users`;
        out.push(ue);
      } else if (recent.length >= k.userEnumUsers) {
        const ids = ctx.steps.filter((s) => s.action === 'invalid_user' && s.t >= t - k.userEnumWindowSeconds && s.eventId !== null).map((s) => s.eventId as number);
        if (e.id !== undefined) ids.push(e.id);
        const first = Math.min(...recent.map((u) => users.get(u)!));
        ue = ctx.userEnum = this.newPattern('user_enumeration', e.ip!, first, t, recent.length, 55, { event_ids: ids.slice(-k.evidenceLimit), users: recent.slice(0, k.evidenceLimit) });
        ue.description = `user enumeration from ${e.ip}: ${recent.length} distinct invalid users in ${Math.round(t - first)}s`;
        this.c.userEnumeration++;
        out.push(ue);
      }
    }
    return out;
  }

  /**
   * The brute force or user enumeration episode an earlier run stored for `ip` that an event at `t` continues
   * (its last evidence within a window before `t`), looked for at the address's first such event of this run.
   * The per-address windows are memory only: without this, an attack going on across a restart would take the
   * threshold's failures again to be seen, and then be reported as a second episode.
   */
  private resumeLogPattern(type: 'ssh_brute_force' | 'user_enumeration', ip: string, t: number, windowSec: number): PatternRow | null {
    if (this.firstPatternIdOfRun <= 1) return null;
    const rows = this.storedLogPattern.all(type, ip, this.firstPatternIdOfRun, Math.floor(t - windowSec), Math.ceil(t)) as Array<{ id: number; first_seen: number; last_seen: number; count: number; severity: number; evidence: string | null }>;
    const r = rows.find((x) => !this.resumed.has(x.id));
    if (!r) return null;
    const evidence = parseStoredJson<PatternRow['evidence']>(r.evidence, {});
    this.resumed.set(r.id, true);
    this.c.patternsResumed++;
    return { id: r.id, type, ip, firstSeen: r.first_seen, lastSeen: r.last_seen, count: r.count, severity: r.severity, evidence, description: '' };
  }

  private newPattern(type: string, ip: string, first: number, last: number, count: number, severity: number, evidence: PatternRow['evidence']): PatternRow {
    const p: PatternRow = { id: this.nextPatternId++, type, ip, firstSeen: first, lastSeen: last, count, severity, evidence, description: '' };
    this.c.patterns++;
    this.dirtyPatterns.add(p);
    return p;
  }

  private extend(p: PatternRow, t: number, e: LogEvent): void {
    p.count++;
    if (t > p.lastSeen) p.lastSeen = t;
    const ids = p.evidence.event_ids ?? (p.evidence.event_ids = []);
    if (e.id !== undefined && ids.length < this.config.evidenceLimit) ids.push(e.id);
    p.evidence.events = p.count;
    this.dirtyPatterns.add(p);
  }

  /** Process and socket snapshots for an event happening now. */
  private snapshots(e: LogEvent, traceId: number): void {
    const nowMs = this.deps.now();
    if (Math.abs(nowMs / 1000 - e.timestamp) > this.config.liveWindowSeconds) return;
    const pid = pidOf(e);
    if (pid !== null) {
      const snap = this.readProcess(pid);
      if (snap && sameProgram(snap.name, e.service)) {
        this.writers.processes.push({ traceId, ...snap });
        this.c.processTraces++;
      } else {
        this.c.processGone++;
      }
    }
    if (e.ip) {
      if (!this.socketCache || nowMs - this.socketCache.at > SOCKET_CACHE_MS) this.socketCache = { at: nowMs, sockets: this.readSockets() };
      let n = 0;
      for (const s of this.socketCache.sockets) {
        if (!socketInvolves(s, e.ip)) continue;
        this.writers.sockets.push({ traceId, ...s });
        this.c.networkTraces++;
        if (++n >= MAX_SOCKETS_PER_TRACE) break;
      }
    }
  }
}
