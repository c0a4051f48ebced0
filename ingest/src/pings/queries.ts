/**
 * The ping query kinds over SQLite: `pings` (series per target and metric) and `ping_summary` (one row per target),
 * and the `targets` value list. Parameters arrive validated (normalizeQuery); every value reaches SQL as a bound
 * parameter, and the only text spliced into SQL comes from the fixed tables below.
 */
import type Database from 'better-sqlite3';
import { NetwatchError } from '../protocol/errors';
import { column, frame, type Frame } from '../protocol/frame';

export type PingMetric = 'latency_ms' | 'packet_loss' | 'jitter_ms' | 'ttl';

const METRIC_SOURCE: Record<PingMetric, { table: 'pings' | 'ping_metadata'; unit: string }> = {
  latency_ms: { table: 'pings', unit: 'ms' },
  packet_loss: { table: 'ping_metadata', unit: 'percent' },
  jitter_ms: { table: 'ping_metadata', unit: 'ms' },
  ttl: { table: 'ping_metadata', unit: 'none' },
};
const AGGREGATES = { avg: 'avg', min: 'min', max: 'max', sum: 'sum' } as const;

/** Points per series at most: a month at one-second steps is folded into wider buckets. */
export const MAX_POINTS = 10_000;

export interface PingSeriesOptions {
  fromMs: number;
  toMs: number;
  targets: readonly string[];
  metrics: readonly PingMetric[];
  intervalMs?: number;
  maxDataPoints?: number;
  aggregate: keyof typeof AGGREGATES;
}

function targetFilter(targets: readonly string[]): { sql: string; params: string[] } {
  if (targets.length === 0) return { sql: '', params: [] };
  return { sql: ` AND target IN (${targets.map(() => '?').join(', ')})`, params: [...targets] };
}

/** Seconds per bucket: the asked interval, or the range over maxDataPoints, never finer than 1 s or than MAX_POINTS allows. */
export function bucketSeconds(fromMs: number, toMs: number, intervalMs?: number, maxDataPoints?: number): number {
  const rangeSec = Math.max(1, (toMs - fromMs) / 1000);
  let b = intervalMs !== undefined ? intervalMs / 1000 : maxDataPoints ? rangeSec / maxDataPoints : 1;
  b = Math.max(b, rangeSec / MAX_POINTS, 1);
  return Math.ceil(b);
}

export function queryPingSeries(db: Database.Database, o: PingSeriesOptions): Frame[] {
  const fromSec = Math.ceil(o.fromMs / 1000);
  const toSec = Math.floor(o.toMs / 1000);
  const b = bucketSeconds(o.fromMs, o.toMs, o.intervalMs, o.maxDataPoints);
  const f = targetFilter(o.targets);
  const agg = AGGREGATES[o.aggregate];
  const frames: Frame[] = [];
  const byTarget = new Map<string, Frame[]>();
  for (const metric of o.metrics) {
    // `%` works on integers in SQLite (a bound JS number arrives as REAL, which `/` would keep fractional).
    // The metric names the column spliced into SQL: only the fixed ones pass.
    const src = Object.hasOwn(METRIC_SOURCE, metric) ? METRIC_SOURCE[metric] : undefined;
    if (!src) throw new NetwatchError('NETWATCH_ERR_VALIDATION', `unknown metric "${metric}" for pings`);
    const rows = db
      .prepare(
        `SELECT target, ts - ts % ? AS bucket, ${agg}(${metric}) AS v FROM ${src.table}
         WHERE ts >= ? AND ts <= ?${f.sql} GROUP BY target, bucket ORDER BY target, bucket`,
      )
      .raw()
      .all(b, fromSec, toSec, ...f.params) as Array<[string, number, number | null]>;
    let i = 0;
    while (i < rows.length) {
      const target = rows[i][0];
      const times: number[] = [];
      const values: Array<number | null> = [];
      for (; i < rows.length && rows[i][0] === target; i++) {
        times.push(rows[i][1] * 1000);
        values.push(rows[i][2]);
      }
      const fr = frame(`${target} ${metric}`, [column('time', 'time', times), column(metric, 'number', values, { labels: { target }, config: { unit: src.unit } })]);
      const list = byTarget.get(target);
      if (list) list.push(fr);
      else byTarget.set(target, [fr]);
    }
  }
  // Frames grouped by target, metrics in the order asked.
  for (const t of [...byTarget.keys()].sort()) frames.push(...byTarget.get(t)!);
  return frames;
}

export interface SummaryRow {
  target: string;
  avg_ms: number | null;
  min_ms: number | null;
  max_ms: number | null;
  p95_ms: number | null;
  loss: number | null;
  jitter_ms: number | null;
  last_success: number | null;
  ttl: number | null;
  cert_days_left: number | null;
  last_error: string | null;
}

/**
 * One row per target over the range. Latency statistics are over the rounds' medians; p95 is the nearest-rank
 * 95th percentile. last_success looks back before the range too (a target down all range still shows when it was
 * last up); ttl and cert_days_left are the latest seen; last_error is the reason of the target's latest round if
 * that round failed in part or whole.
 */
export function pingSummaryRows(db: Database.Database, fromMs: number, toMs: number, targets: readonly string[], configured: readonly string[]): SummaryRow[] {
  const fromSec = Math.ceil(fromMs / 1000);
  const toSec = Math.floor(toMs / 1000);
  const f = targetFilter(targets);
  const present = db
    .prepare(`SELECT DISTINCT target FROM pings WHERE ts >= ? AND ts <= ?${f.sql}`)
    .pluck()
    .all(fromSec, toSec, ...f.params) as string[];
  const wanted = new Set(targets);
  const names = new Set(present);
  for (const c of configured) if (targets.length === 0 || wanted.has(c)) names.add(c);

  const stats = db.prepare(
    'SELECT avg(latency_ms), min(latency_ms), max(latency_ms), count(latency_ms) FROM pings WHERE target = ? AND ts >= ? AND ts <= ?',
  );
  const nth = db.prepare('SELECT latency_ms FROM pings WHERE target = ? AND ts >= ? AND ts <= ? AND latency_ms IS NOT NULL ORDER BY latency_ms LIMIT 1 OFFSET ?').pluck();
  const meta = db.prepare('SELECT avg(packet_loss), avg(jitter_ms) FROM ping_metadata WHERE target = ? AND ts >= ? AND ts <= ?');
  const ttl = db.prepare('SELECT ttl FROM ping_metadata WHERE target = ? AND ts >= ? AND ts <= ? AND ttl IS NOT NULL ORDER BY ts DESC LIMIT 1').pluck();
  const lastOk = db.prepare('SELECT max(ts) FROM pings WHERE target = ? AND ts <= ? AND success = 1').pluck();
  const lastTs = db.prepare('SELECT max(ts) FROM pings WHERE target = ? AND ts >= ? AND ts <= ?').pluck();
  const cert = db.prepare('SELECT cert_days_left FROM ping_probes WHERE target = ? AND ts >= ? AND ts <= ? AND cert_days_left IS NOT NULL ORDER BY ts DESC LIMIT 1').pluck();
  const err = db.prepare('SELECT error FROM ping_probes WHERE target = ? AND ts = ?').pluck();

  return [...names].sort().map((target) => {
    const [avg, min, max, n] = stats.raw().get(target, fromSec, toSec) as [number | null, number | null, number | null, number];
    const [loss, jitter] = meta.raw().get(target, fromSec, toSec) as [number | null, number | null];
    const p95 = n > 0 ? (nth.get(target, fromSec, toSec, Math.ceil(0.95 * n) - 1) as number) : null;
    const last = lastTs.get(target, fromSec, toSec) as number | null;
    const ok = lastOk.get(target, toSec) as number | null;
    return {
      target,
      avg_ms: avg === null ? null : Math.round(avg * 1000) / 1000,
      min_ms: min,
      max_ms: max,
      p95_ms: p95,
      loss: loss === null ? null : Math.round(loss * 100) / 100,
      jitter_ms: jitter === null ? null : Math.round(jitter * 1000) / 1000,
      last_success: ok === null ? null : ok * 1000,
      ttl: (ttl.get(target, fromSec, toSec) as number | undefined) ?? null,
      cert_days_left: (cert.get(target, fromSec, toSec) as number | undefined) ?? null,
      last_error: last === null ? null : ((err.get(target, last) as string | null | undefined) ?? null),
    };
  });
}

export function queryPingSummary(db: Database.Database, fromMs: number, toMs: number, targets: readonly string[], configured: readonly string[]): Frame[] {
  const rows = pingSummaryRows(db, fromMs, toMs, targets, configured);
  const col = <K extends keyof SummaryRow>(k: K) => rows.map((r) => r[k]);
  return [
    frame('ping_summary', [
      column('target', 'string', col('target')),
      column('avg_ms', 'number', col('avg_ms'), { config: { unit: 'ms' } }),
      column('min_ms', 'number', col('min_ms'), { config: { unit: 'ms' } }),
      column('max_ms', 'number', col('max_ms'), { config: { unit: 'ms' } }),
      column('p95_ms', 'number', col('p95_ms'), { config: { unit: 'ms' } }),
      column('loss', 'number', col('loss'), { config: { unit: 'percent' } }),
      column('jitter_ms', 'number', col('jitter_ms'), { config: { unit: 'ms' } }),
      column('last_success', 'time', col('last_success')),
      column('ttl', 'number', col('ttl')),
      column('cert_days_left', 'number', col('cert_days_left')),
      column('last_error', 'string', col('last_error')),
    ]),
  ];
}

/**
 * Every target with rows, plus the configured ones (which may have none yet), sorted. The stored names are read
 * with a skip scan over the (target, ts) index: one seek per distinct target instead of a pass over every row.
 */
export function listTargets(db: Database.Database, configured: readonly string[]): string[] {
  const stored = db
    .prepare(
      `WITH RECURSIVE t(name) AS (
         SELECT min(target) FROM pings
         UNION ALL
         SELECT (SELECT min(target) FROM pings WHERE target > t.name) FROM t WHERE t.name IS NOT NULL
       ) SELECT name FROM t WHERE name IS NOT NULL LIMIT 100000`,
    )
    .pluck()
    .all() as string[];
  return [...new Set([...stored, ...configured])].sort();
}
