/**
 * The `system_metrics` and `network_metrics` query kinds. One frame per metric and label set: a time field and
 * a number field named after the metric (labelled `interface` or `mount` when the query names them), except
 * `cpu_percent_core`: one `cpu_percent` field per core, labelled `cpu`.
 *
 * The source is chosen by where the range starts: the ring buffer when it holds the whole range (the last hour,
 * at 1 s), the raw SQLite rows within their retention (plus the ring's samples not persisted yet, so the graph
 * reaches now), hourly aggregates within theirs, daily ones beyond; periods not rolled up yet are computed on the
 * fly from the rows under them. Samples are folded into `intervalMs` steps (never finer than the source, at most
 * MAX_POINTS steps) with `aggregate`: avg (default), min, max or sum.
 *
 * Gauges are served as they are. Counters (bytes, packets, errors, drops, disk I/O) are served as per-second
 * rates, their step average being the time-weighted mean rate (growth over time); `sum` gives the growth
 * itself (bytes in the step). A counter that went back restarted (a reboot) and grew by its new value; growth
 * across a gap of more than MAX_COUNTER_GAP_SEC (the service was down) is not counted.
 */
import type Database from 'better-sqlite3';
import { CPU_CORE_METRICS, NETWORK_METRICS, SYSTEM_METRICS } from '../protocol/kinds';
import { column, frame, type Frame } from '../protocol/frame';
import type { NormalizedQuery } from '../protocol/normalize';
import type { QueryContext } from '../api/registry';
import type { MetricsRing } from './ring';
import { MAX_COUNTER_GAP_SEC, type PeriodAggregate, type Rollups } from './rollup';
import {
  CAP, CAPTURE_FIELDS, CAPTURE_METRICS, CORE_FIELDS, CORE_PERCENT, COUNTER_METRICS, DISK, DISK_FIELDS, DISK_METRICS, NET, NET_FIELDS, SYS, SYS_FIELDS,
  type CaptureMetric, type DiskMetric,
} from './sample';

export const MAX_POINTS = 11_000;
const DEFAULT_POINTS = 1000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

export type MetricsSource = 'ring' | 'raw' | 'hourly' | 'daily';
type Aggregate = NormalizedQuery['aggregate'];

export interface MetricsRetention {
  rawSec: number;
  hourlySec: number;
}

/** What the query paths read; the component provides it. */
export interface MetricsQueryDeps {
  ring: MetricsRing;
  db: Database.Database;
  rollups: Rollups;
  /** Persist resolution of the raw rows, seconds. */
  resolutionSec: number;
  /** Start (Unix s) of the samples not in SQLite yet (NaN when none). */
  pendingFromSec: () => number;
  /** Commits what the writers hold, so a query sees every persisted window. */
  flushWriters: () => void;
  retention: MetricsRetention;
}

/** One series to serve: a metric of the system row, of a mount, of a CPU core, of the host network total or of an interface. */
interface SeriesSpec {
  metric: string;
  family: 'sys' | 'mount' | 'core' | 'net' | 'capture';
  /**
   * Mount point, core number or interface name; '' for the system row and the network total. A core spec is
   * asked for with '*' (every core) and expanded once the source is known.
   */
  name: string;
  labels?: Record<string, string>;
}

/** Samples of a series: times (ms) and values; for counters, values are counter readings. */
interface Points {
  t: number[];
  v: number[];
  /** Weights (samples per point) of aggregate rows; absent = 1 each. */
  w?: number[];
}

const UNITS: Record<string, string> = {
  cpu_percent: 'percent',
  cpu_percent_core: 'percent',
  memory_percent: 'percent',
  disk_percent: 'percent',
  memory_total: 'bytes',
  memory_available: 'bytes',
  disk_total: 'bytes',
  disk_used: 'bytes',
  disk_read_bytes: 'Bps',
  disk_write_bytes: 'Bps',
  bytes_sent: 'Bps',
  bytes_recv: 'Bps',
  packets_sent: 'pps',
  packets_recv: 'pps',
  errin: 'pps',
  errout: 'pps',
  dropin: 'pps',
  dropout: 'pps',
  capture_packets: 'pps',
  capture_bytes: 'Bps',
  capture_dropped: 'pps',
  capture_errors: 'short',
};

function unitOf(metric: string, agg: Aggregate): string {
  const u = UNITS[metric] ?? 'short';
  if (agg === 'sum' && COUNTER_METRICS.has(metric)) return u === 'Bps' ? 'bytes' : 'short';
  return u;
}

/** Which columns of the aggregates hold a metric, per aggregate; absent = not kept at that level. */
const AGG_COLUMN: Record<string, Partial<Record<Aggregate, string>>> = {
  cpu_percent: { avg: 'cpu_avg', min: 'cpu_min', max: 'cpu_max' },
  memory_percent: { avg: 'memory_avg', min: 'memory_min', max: 'memory_max' },
  disk_percent: { max: 'disk_percent_max' },
  load_1: { avg: 'load_1_avg', min: 'load_1_min', max: 'load_1_max' },
  bytes_sent: { avg: 'network_bytes_sent', sum: 'network_bytes_sent', min: 'network_bytes_sent', max: 'network_bytes_sent' },
  bytes_recv: { avg: 'network_bytes_recv', sum: 'network_bytes_recv', min: 'network_bytes_recv', max: 'network_bytes_recv' },
};

/**
 * How far before the ring's oldest sample a range may start and still be served from the ring: a full ring of
 * 3600 samples spans 3599 s, and Grafana's "last 1 hour" starts a moment before it.
 */
export const RING_SLACK_MS = 10_000;

export function chooseSource(deps: Pick<MetricsQueryDeps, 'ring' | 'retention'>, fromMs: number, nowMs: number): MetricsSource {
  if (deps.ring.size > 0 && fromMs >= deps.ring.oldestMs() - RING_SLACK_MS) return 'ring';
  if (fromMs >= nowMs - deps.retention.rawSec * 1000) return 'raw';
  if (fromMs >= nowMs - deps.retention.hourlySec * 1000) return 'hourly';
  return 'daily';
}

function resolutionMs(source: MetricsSource, deps: MetricsQueryDeps): number {
  switch (source) {
    case 'ring':
      return 1000;
    case 'raw':
      return deps.resolutionSec * 1000;
    case 'hourly':
      return HOUR_MS;
    case 'daily':
      return DAY_MS;
  }
}

/** The step: the query's interval (or range / maxDataPoints), a whole multiple of the source's resolution, at most MAX_POINTS steps. */
export function stepFor(q: Pick<NormalizedQuery, 'intervalMs' | 'maxDataPoints'>, fromMs: number, toMs: number, resMs: number): number {
  const span = Math.max(1, toMs - fromMs);
  let step = q.intervalMs ?? Math.ceil(span / (q.maxDataPoints ?? DEFAULT_POINTS));
  step = Math.max(step, Math.ceil(span / MAX_POINTS));
  return Math.max(resMs, Math.ceil(step / resMs) * resMs);
}

export function querySystemMetrics(deps: MetricsQueryDeps, q: NormalizedQuery, ctx: QueryContext): Frame[] {
  const metrics = q.metric.length > 0 ? q.metric : ['cpu_percent'];
  const specs: SeriesSpec[] = [];
  for (const m of metrics) {
    if ((CAPTURE_METRICS as readonly string[]).includes(m)) {
      specs.push({ metric: m, family: 'capture', name: '' });
    } else if ((CPU_CORE_METRICS as readonly string[]).includes(m)) {
      specs.push({ metric: m, family: 'core', name: '*' });
    } else if (q.mount.length > 0 && (DISK_METRICS as readonly string[]).includes(m)) {
      for (const mount of q.mount) specs.push({ metric: m, family: 'mount', name: mount, labels: { mount } });
    } else {
      specs.push({ metric: m, family: 'sys', name: '' });
    }
  }
  return run(deps, q, ctx, specs);
}

export function queryNetworkMetrics(deps: MetricsQueryDeps, q: NormalizedQuery, ctx: QueryContext): Frame[] {
  const metrics = q.metric.length > 0 ? q.metric : ['bytes_recv', 'bytes_sent'];
  const specs: SeriesSpec[] = [];
  for (const m of metrics) {
    // Connection states are host-wide: one series whatever interfaces are asked for.
    if (q.interface.length > 0 && !m.startsWith('connections_')) {
      for (const name of q.interface) specs.push({ metric: m, family: 'net', name, labels: { interface: name } });
    } else {
      specs.push({ metric: m, family: 'net', name: '' });
    }
  }
  return run(deps, q, ctx, specs);
}

function run(deps: MetricsQueryDeps, q: NormalizedQuery, ctx: QueryContext, requested: SeriesSpec[]): Frame[] {
  const { fromMs, toMs, nowMs } = ctx;
  const source = chooseSource(deps, fromMs, nowMs);
  const res = resolutionMs(source, deps);
  const step = stepFor(q, fromMs, toMs, res);
  const notices: string[] = [];
  let specs = requested;
  // Per-core series are one per core found in the source, so they are read before the specs are final.
  let cores: Map<string, Points> | undefined;
  if (specs.some((s) => s.family === 'core')) {
    if (source === 'ring') cores = ringCorePoints(deps.ring, fromMs, toMs);
    else if (source === 'raw') cores = rawCorePoints(deps, fromMs, toMs);
    specs = expandCores(specs, cores, notices);
  }
  let points: Array<Points | undefined>;
  switch (source) {
    case 'ring':
      points = specs.map((s) => (s.family === 'core' ? undefined : ringPoints(deps.ring, s, fromMs - MAX_COUNTER_GAP_SEC * 1000, toMs)));
      break;
    case 'raw':
      points = rawPoints(deps, specs, fromMs, toMs, notices);
      break;
    default:
      points = aggregatePoints(deps, source, specs, fromMs, toMs, q.aggregate, notices);
  }
  if (cores) points = points.map((p, i) => (specs[i].family === 'core' ? cores.get(specs[i].name) : p));
  const grid0 = Math.floor(fromMs / step) * step;
  const n = Math.max(0, Math.ceil((toMs - grid0) / step));
  const times = Array.from({ length: n }, (_, i) => grid0 + i * step);
  const meta = { custom: { source, stepMs: step }, ...(notices.length > 0 ? { notices: [...new Set(notices)].map((text) => ({ severity: 'warning', text })) } : {}) };
  return specs.map((s, i) => {
    const p = points[i];
    let values: Array<number | null>;
    if (!p) {
      values = new Array<number | null>(n).fill(null);
    } else if (source === 'hourly' || source === 'daily') {
      values = foldAggregates(p, s.metric, q.aggregate, grid0, step, n, source === 'hourly' ? HOUR_MS : DAY_MS, fromMs);
    } else if (COUNTER_METRICS.has(s.metric)) {
      values = foldCounter(p, q.aggregate, grid0, step, n, fromMs);
    } else {
      values = foldGauge(p, q.aggregate, grid0, step, n, fromMs);
    }
    return frame(
      s.metric,
      [column('time', 'time', times), column(s.family === 'core' ? 'cpu_percent' : s.metric, 'number', values, { ...(s.labels ? { labels: s.labels } : {}), config: { unit: unitOf(s.metric, q.aggregate) } })],
      meta,
    );
  });
}

// ---- sources ----

function ringPoints(ring: MetricsRing, s: SeriesSpec, fromMs: number, toMs: number): Points | undefined {
  let arr: Float64Array;
  let fields: number;
  let field: number;
  if (s.family === 'capture') {
    arr = ring.capture;
    fields = CAPTURE_FIELDS;
    field = CAP[s.metric as CaptureMetric];
  } else if (s.family === 'sys') {
    arr = ring.sys;
    fields = SYS_FIELDS;
    field = SYS[s.metric as keyof typeof SYS];
  } else if (s.family === 'mount') {
    const slot = ring.mount(s.name);
    if (!slot) return undefined;
    arr = slot.values;
    fields = DISK_FIELDS;
    field = DISK[s.metric as DiskMetric];
  } else if (s.family === 'core') {
    const slot = ring.core(s.name);
    if (!slot) return undefined;
    arr = slot.values;
    fields = CORE_FIELDS;
    field = CORE_PERCENT;
  } else {
    const slot = s.name === '' ? undefined : ring.interface(s.name);
    if (s.name !== '' && !slot) return undefined;
    arr = slot ? slot.values : ring.netTotal;
    fields = NET_FIELDS;
    field = NET[s.metric as keyof typeof NET];
  }
  const [a, b] = ring.range(fromMs, toMs);
  const t: number[] = [];
  const v: number[] = [];
  for (let i = a; i < b; i++) {
    const p = ring.physical(i);
    const x = arr[p * fields + field];
    if (Number.isNaN(x)) continue;
    t.push(ring.ts[p]);
    v.push(x);
  }
  return { t, v };
}

/** The raw table of each family: its name, the column naming the series, and the metric columns it has. */
const RAW_TABLES = {
  sys: { table: 'system_metrics', label: undefined, columns: SYSTEM_METRICS as readonly string[] },
  net: { table: 'network_metrics', label: 'interface', columns: NETWORK_METRICS as readonly string[] },
  mount: { table: 'disk_metrics', label: 'mount', columns: DISK_METRICS as readonly string[] },
} as const;

/** Raw rows, one SELECT per table and series name with every requested column, then the ring's unpersisted tail. */
function rawPoints(deps: MetricsQueryDeps, specs: SeriesSpec[], fromMs: number, toMs: number, notices: string[]): Array<Points | undefined> {
  deps.flushWriters();
  // Filled, not sparse: the per-core series are mapped in afterwards, and map() skips holes.
  const out: Array<Points | undefined> = new Array<Points | undefined>(specs.length).fill(undefined);
  const groups = new Map<string, number[]>();
  specs.forEach((s, i) => {
    // Per-core series are read for every core at once (rawCorePoints).
    if (s.family === 'core') return;
    const key = `${s.family}\u0000${s.name}`;
    const g = groups.get(key);
    if (g) g.push(i);
    else groups.set(key, [i]);
  });
  const resSec = deps.resolutionSec;
  const tailFromMs = unpersistedFromMs(deps);
  for (const idx of groups.values()) {
    const first = specs[idx[0]];
    if (first.family === 'capture') {
      // The capture counters live in the ring buffer only.
      notices.push(`capture counters are kept for the last ${Math.round(deps.ring.capacity / 60)} minutes only (ring buffer)`);
      for (const i of idx) out[i] = ringPoints(deps.ring, specs[i], fromMs - MAX_COUNTER_GAP_SEC * 1000, toMs);
      continue;
    }
    const { table, label, columns } = RAW_TABLES[first.family as keyof typeof RAW_TABLES];
    const cols = idx.map((i) => specs[i].metric);
    // Column names come from the protocol's metric lists (validated by normalizeQuery), never from the request text.
    if (!cols.every((c) => columns.includes(c))) throw new Error(`unknown metric column in ${cols.join(',')}`);
    const where = label === undefined ? 'ts >= ? AND ts < ?' : `${label} = ? AND ts >= ? AND ts < ?`;
    const stmt = statement(deps.db, `SELECT ts, ${cols.join(', ')} FROM ${table} WHERE ${where} ORDER BY ts`, true);
    const lo = Math.floor(fromMs / 1000) - MAX_COUNTER_GAP_SEC;
    const hi = Math.min(Math.ceil(toMs / 1000), tailFromMs / 1000);
    const rows = (label === undefined ? stmt.all(lo, hi) : stmt.all(first.name, lo, hi)) as unknown[][];
    idx.forEach((specIndex, c) => {
      const counter = COUNTER_METRICS.has(specs[specIndex].metric);
      const t: number[] = [];
      const v: number[] = [];
      for (const r of rows) {
        const x = r[c + 1];
        if (x === null || x === undefined) continue;
        // A counter row holds the last reading of its window: its time is the window's last second.
        t.push(((r[0] as number) + (counter ? resSec - 1 : 0)) * 1000);
        v.push(x as number);
      }
      if (tailFromMs < toMs) {
        const tail = ringPoints(deps.ring, specs[specIndex], tailFromMs, toMs);
        if (tail) {
          t.push(...tail.t);
          v.push(...tail.v);
        }
      }
      out[specIndex] = { t, v };
    });
  }
  return out;
}

/** Start (ms) of the samples not in SQLite yet; Infinity when every sample is. */
function unpersistedFromMs(deps: MetricsQueryDeps): number {
  const pending = deps.pendingFromSec();
  return Number.isNaN(pending) ? Infinity : pending * 1000;
}

const byCoreNumber = (a: string, b: string) => Number(a) - Number(b);

/** Every core's busy percent in the ring, by core number. */
function ringCorePoints(ring: MetricsRing, fromMs: number, toMs: number): Map<string, Points> {
  const out = new Map<string, Points>();
  for (const name of ring.coreNames()) {
    const p = ringPoints(ring, { metric: 'cpu_percent_core', family: 'core', name }, fromMs, toMs);
    if (p) out.set(name, p);
  }
  return out;
}

/** Every core's rows of cpu_metrics in one range read (the primary key's order), then the ring's unpersisted tail. */
function rawCorePoints(deps: MetricsQueryDeps, fromMs: number, toMs: number): Map<string, Points> {
  deps.flushWriters();
  const tailFromMs = unpersistedFromMs(deps);
  const rows = statement(deps.db, 'SELECT ts, cpu, cpu_percent FROM cpu_metrics WHERE ts >= ? AND ts < ? ORDER BY ts', true).all(
    Math.floor(fromMs / 1000),
    Math.min(Math.ceil(toMs / 1000), tailFromMs / 1000),
  ) as Array<[number, number, number | null]>;
  const found = new Map<string, Points>();
  const get = (name: string) => {
    let p = found.get(name);
    if (!p) found.set(name, (p = { t: [], v: [] }));
    return p;
  };
  for (const [ts, cpu, v] of rows) {
    if (v === null) continue;
    const p = get(String(cpu));
    p.t.push(ts * 1000);
    p.v.push(v);
  }
  if (tailFromMs < toMs) {
    for (const [name, tail] of ringCorePoints(deps.ring, tailFromMs, toMs)) {
      const p = get(name);
      p.t.push(...tail.t);
      p.v.push(...tail.v);
    }
  }
  return new Map([...found.keys()].sort(byCoreNumber).map((k) => [k, found.get(k)!]));
}

/** One spec per core found; without any (the cpu collector off, or an aggregate source), one unlabelled empty series. */
function expandCores(specs: SeriesSpec[], cores: Map<string, Points> | undefined, notices: string[]): SeriesSpec[] {
  return specs.flatMap((s) => {
    if (s.family !== 'core') return [s];
    if (!cores) return [{ ...s, name: '' }];
    if (cores.size === 0) {
      notices.push(`${s.metric}: no per-core samples in the range`);
      return [{ ...s, name: '' }];
    }
    return [...cores.keys()].map((name) => ({ metric: s.metric, family: 'core' as const, name, labels: { cpu: name } }));
  });
}

function aggregatePoints(
  deps: MetricsQueryDeps,
  source: 'hourly' | 'daily',
  specs: SeriesSpec[],
  fromMs: number,
  toMs: number,
  agg: Aggregate,
  notices: string[],
): Array<Points | undefined> {
  deps.flushWriters();
  const periodSec = source === 'hourly' ? 3600 : 86_400;
  const fromSec = Math.floor(fromMs / 1000 / periodSec) * periodSec;
  const toSec = Math.ceil(toMs / 1000);
  type AggRow = PeriodAggregate & { t: number };
  let rows: AggRow[];
  if (source === 'hourly') {
    rows = (statement(deps.db, 'SELECT hour_timestamp AS t, * FROM hourly_aggregates WHERE hour_timestamp >= ? AND hour_timestamp < ? ORDER BY hour_timestamp').all(fromSec, toSec) as AggRow[]);
  } else {
    const d = (sec: number) => new Date(sec * 1000).toISOString().slice(0, 10);
    rows = (statement(deps.db, 'SELECT * FROM daily_aggregates WHERE date >= ? AND date < ? ORDER BY date').all(d(fromSec), d(toSec + 86_399)) as Array<PeriodAggregate & { date: string }>).map(
      (r) => ({ ...r, t: Date.parse(`${r.date}T00:00:00Z`) / 1000 }),
    );
  }
  // Periods after the last one rolled up (the open hour or day, or ones the rollup has not reached) come from
  // the rows under them, computed now and not stored; a bounded number, newest last.
  const lastStored = rows.length > 0 ? rows[rows.length - 1].t : fromSec - periodSec;
  const openFrom = Math.max(lastStored + periodSec, fromSec, Math.floor(toSec / periodSec) * periodSec - 47 * periodSec);
  for (let p = openFrom; p < toSec; p += periodSec) {
    const a = source === 'hourly' ? deps.rollups.compute(p, p + periodSec) : deps.rollups.computeDay(p);
    if (a.samples > 0 || a.network_bytes_sent > 0 || a.network_bytes_recv > 0) rows.push({ ...a, t: p });
  }
  return specs.map((s) => {
    if (s.family === 'core') {
      notices.push(`${s.metric}: per-core CPU is not kept in the ${source} aggregates (cpu_percent has the host total)`);
      return undefined;
    }
    if (s.family === 'capture') {
      notices.push(`${s.metric}: capture counters are kept for the last ${Math.round(deps.ring.capacity / 60)} minutes only (ring buffer)`);
      return undefined;
    }
    if (s.name !== '') {
      notices.push(`${s.metric} ${JSON.stringify(s.labels)}: per-${s.family === 'mount' ? 'mount' : 'interface'} series are not kept in the ${source} aggregates (only host totals)`);
      return undefined;
    }
    const col = AGG_COLUMN[s.metric]?.[agg];
    if (!col) {
      notices.push(`${s.metric} (${agg}) is not kept in the ${source} aggregates`);
      return undefined;
    }
    const t: number[] = [];
    const v: number[] = [];
    const w: number[] = [];
    for (const r of rows) {
      const x = (r as unknown as Record<string, number | null>)[col];
      if (x === null || x === undefined) continue;
      t.push(r.t * 1000);
      v.push(x);
      w.push(r.samples);
    }
    return { t, v, w };
  });
}

const MAX_STATEMENTS = 256;
const statements = new WeakMap<Database.Database, Map<string, Database.Statement>>();

function statement(db: Database.Database, sql: string, raw = false): Database.Statement {
  let m = statements.get(db);
  if (!m) {
    m = new Map();
    statements.set(db, m);
  }
  let s = m.get(sql);
  if (!s) {
    // One statement per combination of requested columns: bounded by dropping them all past a few hundred.
    if (m.size >= MAX_STATEMENTS) m.clear();
    s = raw ? db.prepare(sql).raw(true) : db.prepare(sql);
    m.set(sql, s);
  }
  return s;
}

// ---- folding into steps ----

function foldGauge(p: Points, agg: Aggregate, grid0: number, step: number, n: number, fromMs: number): Array<number | null> {
  const sum = new Float64Array(n);
  const cnt = new Float64Array(n);
  const min = new Float64Array(n).fill(Infinity);
  const max = new Float64Array(n).fill(-Infinity);
  for (let i = 0; i < p.t.length; i++) {
    const t = p.t[i];
    if (t < fromMs) continue;
    const b = Math.floor((t - grid0) / step);
    if (b < 0 || b >= n) continue;
    const x = p.v[i];
    sum[b] += x;
    cnt[b]++;
    if (x < min[b]) min[b] = x;
    if (x > max[b]) max[b] = x;
  }
  return pick(agg, sum, cnt, min, max, sum);
}

/** Counter readings to rates: each reading's growth since the previous one over the time between them. */
function foldCounter(p: Points, agg: Aggregate, grid0: number, step: number, n: number, fromMs: number): Array<number | null> {
  const inc = new Float64Array(n);
  const dt = new Float64Array(n);
  const min = new Float64Array(n).fill(Infinity);
  const max = new Float64Array(n).fill(-Infinity);
  for (let i = 1; i < p.t.length; i++) {
    const t = p.t[i];
    if (t < fromMs) continue;
    const gap = (t - p.t[i - 1]) / 1000;
    if (!(gap > 0) || gap > MAX_COUNTER_GAP_SEC) continue;
    const b = Math.floor((t - grid0) / step);
    if (b < 0 || b >= n) continue;
    const grew = p.v[i] >= p.v[i - 1] ? p.v[i] - p.v[i - 1] : p.v[i];
    const rate = grew / gap;
    inc[b] += grew;
    dt[b] += gap;
    if (rate < min[b]) min[b] = rate;
    if (rate > max[b]) max[b] = rate;
  }
  return pick(agg, inc, dt, min, max, inc);
}

/** Aggregate rows: gauges weighted by their samples; byte totals as rates over their period (sum: the bytes). */
function foldAggregates(p: Points, metric: string, agg: Aggregate, grid0: number, step: number, n: number, periodMs: number, fromMs: number): Array<number | null> {
  const counter = COUNTER_METRICS.has(metric);
  const num = new Float64Array(n);
  const den = new Float64Array(n);
  const min = new Float64Array(n).fill(Infinity);
  const max = new Float64Array(n).fill(-Infinity);
  const total = new Float64Array(n);
  for (let i = 0; i < p.t.length; i++) {
    const t = p.t[i];
    if (t + periodMs <= fromMs) continue;
    const b = Math.floor((Math.max(t, grid0) - grid0) / step);
    if (b < 0 || b >= n) continue;
    const x = p.v[i];
    const w = counter ? periodMs / 1000 : (p.w?.[i] ?? 1);
    const value = counter ? x / w : x;
    num[b] += counter ? x : x * w;
    den[b] += w;
    total[b] += x;
    if (value < min[b]) min[b] = value;
    if (value > max[b]) max[b] = value;
  }
  return pick(agg, num, den, min, max, total);
}

function pick(agg: Aggregate, num: Float64Array, den: Float64Array, min: Float64Array, max: Float64Array, sum: Float64Array): Array<number | null> {
  const out = new Array<number | null>(num.length);
  for (let b = 0; b < num.length; b++) {
    if (!(den[b] > 0)) {
      out[b] = null;
      continue;
    }
    out[b] = agg === 'avg' ? num[b] / den[b] : agg === 'min' ? min[b] : agg === 'max' ? max[b] : sum[b];
  }
  return out;
}
