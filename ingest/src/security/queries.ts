/**
 * The security query kinds over SQLite: `traces`, `threats`, `threat_scores` (scores and detected patterns) and `annotations`. Every statement is
 * parameterized; addresses are filtered by CIDR in code (they are stored as text), before the limit applies.
 */
import type Database from 'better-sqlite3';
import type { QueryContext } from '../api/registry';
import { KIND_INFO, PATTERN_TYPES, cidrListMatchesV4, cidrListMatchesV6, column, frame, parseIp, type Cidr, type Frame, type NormalizedQuery, type PatternType } from '../protocol';
import { decayScore, roundScore } from './score';
import type { ReputationRow } from './reputation';
import { parseStoredJson } from './stored-json';
import { SEVERITY_FLOOR, severityLabel } from './traces';

const DEFAULT_TRACE_LIMIT = 1000;
const DEFAULT_THREAT_LIMIT = 100;
const DEFAULT_SERIES_LIMIT = 20;
const DEFAULT_ANNOTATION_LIMIT = 1000;
/** Addresses considered by one threat_scores query at most (the most recently seen first). */
const MAX_SERIES_CANDIDATES = 10_000;
const MAX_SERIES_POINTS = 2000;
/** Pattern episodes read by one threat_scores query at most (the most recent first). */
const MAX_PATTERN_ROWS = 100_000;

export function ipMatches(list: readonly Cidr[], ip: string | null): boolean {
  if (list.length === 0) return true;
  if (!ip) return false;
  const p = parseIp(ip);
  if (!p) return false;
  return p.family === 4 ? cidrListMatchesV4(list, p.words[0]) : cidrListMatchesV6(list, p.words[0], p.words[1], p.words[2], p.words[3]);
}

function sec(ms: number): number {
  return Math.floor(ms / 1000);
}

function placeholders(n: number): string {
  return Array(n).fill('?').join(', ');
}

interface TraceDbRow {
  id: number;
  event_id: number | null;
  timestamp: number;
  source: string | null;
  ip: string | null;
  severity_score: number;
  causality_chain: string | null;
  related_services: string | null;
  root_cause: string | null;
  trace_metadata: string | null;
  message: string | null;
}

/** `traces`: newest first, at least `minSeverity`, by address block and source. */
export function queryTraces(db: Database.Database, q: NormalizedQuery, ctx: QueryContext): Frame[] {
  const params: unknown[] = [sec(ctx.fromMs), sec(ctx.toMs), q.minSeverity ? SEVERITY_FLOOR[q.minSeverity] : 0];
  let sql =
    'SELECT t.id, t.event_id, t.timestamp, t.source, t.ip, t.severity_score, t.causality_chain, t.related_services, t.root_cause, t.trace_metadata, e.message ' +
    'FROM event_traces t LEFT JOIN log_events e ON e.id = t.event_id WHERE t.timestamp BETWEEN ? AND ? AND t.severity_score >= ?';
  if (q.source.length > 0) {
    sql += ` AND t.source IN (${placeholders(q.source.length)})`;
    params.push(...q.source);
  }
  sql += ' ORDER BY t.timestamp DESC, t.id DESC';
  const limit = q.limit ?? DEFAULT_TRACE_LIMIT;
  const cols = {
    time: column('time', 'time'),
    severity_score: column('severity_score', 'number', [], { config: { min: 0, max: 100 } }),
    severity: column('severity', 'string'),
    source: column('source', 'string'),
    ip: column('ip', 'string'),
    action: column('action', 'string'),
    user: column('user', 'string'),
    root_cause: column('root_cause', 'string'),
    chain: column('chain', 'string'),
    related_services: column('related_services', 'string'),
    threat_score: column('threat_score', 'number'),
    message: column('message', 'string'),
    trace_id: column('trace_id', 'number'),
    event_id: column('event_id', 'number'),
  };
  let n = 0;
  for (const r of db.prepare(sql).iterate(...params) as IterableIterator<TraceDbRow>) {
    if (!ipMatches(q.cidr, r.ip)) continue;
    const meta = parseStoredJson<Record<string, unknown>>(r.trace_metadata, {});
    cols.time.values.push(r.timestamp * 1000);
    cols.severity_score.values.push(r.severity_score);
    cols.severity.values.push(severityLabel(r.severity_score));
    cols.source.values.push(r.source);
    cols.ip.values.push(r.ip);
    cols.action.values.push(typeof meta.action === 'string' ? meta.action : null);
    cols.user.values.push(typeof meta.user === 'string' ? meta.user : null);
    cols.root_cause.values.push(r.root_cause);
    cols.chain.values.push(typeof meta.chain === 'string' ? meta.chain : null);
    cols.related_services.values.push(parseStoredJson<string[]>(r.related_services, []).join(','));
    cols.threat_score.values.push(typeof meta.threat_score === 'number' ? meta.threat_score : null);
    cols.message.values.push(r.message);
    cols.trace_id.values.push(r.id);
    cols.event_id.values.push(r.event_id);
    if (++n >= limit) break;
  }
  return [frame('traces', Object.values(cols), { preferredVisualisationType: 'table', kindDescription: KIND_INFO.traces.description })];
}

/**
 * `threats`: addresses seen in the range, their score decayed to the end of the range (or now, if earlier).
 * The stored score is the score at updated_at and only decays after it, so `threat_score >= minScore` is a
 * valid pre-filter in SQL.
 */
export function queryThreats(db: Database.Database, q: NormalizedQuery, ctx: QueryContext, halfLifeSeconds: number): Frame[] {
  const at = sec(Math.min(ctx.toMs, ctx.nowMs));
  const minScore = q.minScore ?? 0;
  const rows = db
    .prepare('SELECT ip, first_seen, last_seen, threat_score, failures, invalid_users, bans, scans, accepted, country, asn, updated_at FROM ip_reputation WHERE last_seen >= ? AND first_seen <= ? AND threat_score >= ?')
    .all(sec(ctx.fromMs), sec(ctx.toMs), minScore) as Array<Omit<ReputationRow, 'metadata'>>;
  const scored = rows
    .filter((r) => ipMatches(q.cidr, r.ip))
    .map((r) => ({ r, score: roundScore(decayScore(r.threat_score, at - r.updated_at, halfLifeSeconds)) }))
    .filter((x) => x.score >= minScore);
  const by = q.orderBy ?? 'threat_score';
  scored.sort((a, b) => {
    const d = by === 'last_seen' ? b.r.last_seen - a.r.last_seen : by === 'failures' ? b.r.failures - a.r.failures : b.score - a.score;
    return d !== 0 ? d : a.r.ip < b.r.ip ? -1 : 1;
  });
  const top = scored.slice(0, q.limit ?? DEFAULT_THREAT_LIMIT);
  return [
    frame(
      'threats',
      [
        column('ip', 'string', top.map((x) => x.r.ip)),
        column('threat_score', 'number', top.map((x) => x.score), { config: { min: 0, max: 100 } }),
        column('first_seen', 'time', top.map((x) => x.r.first_seen * 1000)),
        column('last_seen', 'time', top.map((x) => x.r.last_seen * 1000)),
        column('failures', 'number', top.map((x) => x.r.failures)),
        column('invalid_users', 'number', top.map((x) => x.r.invalid_users)),
        column('bans', 'number', top.map((x) => x.r.bans)),
        column('scans', 'number', top.map((x) => x.r.scans)),
        column('accepted', 'number', top.map((x) => x.r.accepted)),
        column('country', 'string', top.map((x) => x.r.country)),
        column('asn', 'number', top.map((x) => x.r.asn)),
      ],
      { preferredVisualisationType: 'table', kindDescription: KIND_INFO.threats.description },
    ),
  ];
}

/** The score changes of one address: (time in seconds, score right after), ascending. */
type Change = [number, number];

/**
 * The value of each point of a score series: the highest score of the address over (t - step, t], the score
 * decaying between its changes. A point is therefore never lower than the score at its own time, and "the last
 * point above 80" holds exactly while the address's score is above 80 in the last step, which is what an alert
 * rule reducing with `last` (or `max`) over its query range needs.
 */
export function seriesValues(changes: readonly Change[], times: readonly number[], stepSec: number, halfLifeSeconds: number): number[] {
  const out: number[] = [];
  let i = 0;
  // The latest change at or before the start of the current step.
  let base: Change | null = null;
  for (const t of times) {
    const start = t - stepSec;
    while (i < changes.length && changes[i][0] <= start) base = changes[i++];
    let max = base ? decayScore(base[1], start - base[0], halfLifeSeconds) : 0;
    let j = i;
    while (j < changes.length && changes[j][0] <= t) {
      if (changes[j][1] > max) max = changes[j][1];
      j++;
    }
    out.push(roundScore(max));
  }
  return out;
}

/** The time grid of `threat_scores`: regular steps of `stepSec` ending exactly at the end of the range. */
export interface SeriesGrid {
  /** Point times, Unix seconds (fractional when the range ends within a second), ascending. */
  times: number[];
  stepSec: number;
}

/** The grid of a range: `intervalMs` rounded up to whole seconds, else about `maxDataPoints` (300) points. */
export function seriesGrid(q: NormalizedQuery, ctx: QueryContext): SeriesGrid {
  const fromS = ctx.fromMs / 1000;
  const toS = ctx.toMs / 1000;
  const span = Math.max(1, toS - fromS);
  const points = Math.min(MAX_SERIES_POINTS, q.maxDataPoints ?? 300);
  const stepSec = Math.max(1, q.intervalMs !== undefined ? Math.ceil(q.intervalMs / 1000) : Math.ceil(span / points));
  const n = Math.min(MAX_SERIES_POINTS, Math.floor(span / stepSec) + 1);
  const times: number[] = [];
  for (let k = n - 1; k >= 0; k--) times.push(toS - k * stepSec);
  return { times, stepSec };
}

/**
 * `threat_scores`: one series per address on the grid of {@link seriesGrid}, so the last point is the address's
 * current state. `metric` (default `threat_score`) selects the score series, labelled `ip`, and the detected
 * pattern series, labelled `ip` and `pattern` ({@link patternSeries}); both may be asked for in one query, and
 * the `limit` applies to each.
 */
export function queryThreatScores(db: Database.Database, q: NormalizedQuery, ctx: QueryContext, halfLifeSeconds: number): Frame[] {
  const metrics = q.metric.length > 0 ? q.metric : ['threat_score'];
  const grid = seriesGrid(q, ctx);
  const out: Frame[] = [];
  if (metrics.includes('threat_score')) out.push(...scoreSeries(db, q, grid, halfLifeSeconds));
  const types = metrics.includes('patterns') ? [...PATTERN_TYPES] : PATTERN_TYPES.filter((t) => metrics.includes(t));
  if (types.length > 0) out.push(...patternSeries(db, q, grid, types));
  return out;
}

/**
 * The score series. The history comes from the score each trace of the address recorded
 * (trace_metadata.threat_score), plus the reputation row for addresses whose traces are older than the range.
 * Addresses whose highest point stays under `minScore` (default 0.1) are left out; the `limit` highest remain.
 */
function scoreSeries(db: Database.Database, q: NormalizedQuery, grid: SeriesGrid, halfLifeSeconds: number): Frame[] {
  const { times, stepSec } = grid;
  const toS = times[times.length - 1];
  const minScore = q.minScore ?? 0.1;
  // A score of 100 decays below minScore after this long: addresses last seen before that cannot reach it.
  const horizon = halfLifeSeconds * Math.log2(100 / Math.max(0.05, minScore));
  const firstStart = Math.floor(times[0] - stepSec);
  const candidates = db
    .prepare('SELECT ip, threat_score, updated_at FROM ip_reputation WHERE last_seen >= ? AND first_seen <= ? ORDER BY last_seen DESC LIMIT ?')
    .all(Math.floor(firstStart - horizon), Math.ceil(toS), MAX_SERIES_CANDIDATES) as Array<{ ip: string; threat_score: number; updated_at: number }>;
  const before = db.prepare(
    "SELECT timestamp, json_extract(trace_metadata, '$.threat_score') AS s FROM event_traces WHERE ip = ? AND timestamp < ? AND json_extract(trace_metadata, '$.threat_score') IS NOT NULL ORDER BY timestamp DESC, id DESC LIMIT 1",
  );
  const within = db.prepare(
    "SELECT timestamp, json_extract(trace_metadata, '$.threat_score') AS s FROM event_traces WHERE ip = ? AND timestamp >= ? AND timestamp <= ? AND json_extract(trace_metadata, '$.threat_score') IS NOT NULL ORDER BY timestamp, id",
  );
  const series: Array<{ ip: string; values: number[]; max: number }> = [];
  for (const c of candidates) {
    if (!ipMatches(q.cidr, c.ip)) continue;
    const changes: Change[] = [];
    const prev = before.get(c.ip, firstStart) as { timestamp: number; s: number } | undefined;
    if (prev) changes.push([prev.timestamp, prev.s]);
    else if (c.updated_at < firstStart) changes.push([c.updated_at, c.threat_score]);
    for (const r of within.all(c.ip, firstStart, Math.ceil(toS)) as Array<{ timestamp: number; s: number }>) changes.push([r.timestamp, r.s]);
    if (changes.length === 0) continue;
    const values = seriesValues(changes, times, stepSec, halfLifeSeconds);
    const max = Math.max(...values);
    if (max < minScore) continue;
    series.push({ ip: c.ip, values, max });
  }
  series.sort((a, b) => b.max - a.max || (a.ip < b.ip ? -1 : 1));
  const timeMs = times.map((t) => Math.round(t * 1000));
  return series.slice(0, q.limit ?? DEFAULT_SERIES_LIMIT).map((s) =>
    frame(s.ip, [column('time', 'time', timeMs), column('threat_score', 'number', s.values, { labels: { ip: s.ip }, config: { min: 0, max: 100, displayNameFromDS: s.ip } })], {
      kindDescription: KIND_INFO.threat_scores.description,
      intervalMs: stepSec * 1000,
    }),
  );
}

/** A detected pattern's episode: Unix seconds of its first and last evidence. */
type Episode = [first: number, last: number];

/**
 * The value of each point of a pattern series: how many episodes of the pattern were active in (t - step, t],
 * i.e. began at or before t and had evidence after t - step. A point is 1 (or the number of hosts scanned, or of
 * ports swept, at once) while the pattern goes on, and 0 once its last evidence is a whole step old, so an alert
 * rule reducing with `max` over its range (or `last`) fires while an address is detected and resolves after it
 * stops. Summing points over a range counts episode-steps, not episodes.
 */
export function patternValues(episodes: readonly Episode[], times: readonly number[], stepSec: number): number[] {
  const n = times.length;
  // Smallest k with times[k] >= x (n when none): the grid is regular, so divide, then step past rounding error.
  const firstAtOrAfter = (x: number): number => {
    let k = Math.min(n, Math.max(0, Math.ceil((x - times[0]) / stepSec)));
    while (k > 0 && times[k - 1] >= x) k--;
    while (k < n && times[k] < x) k++;
    return k;
  };
  const diff = new Int32Array(n + 1);
  for (const [first, last] of episodes) {
    // Active at t when first <= t and t < last + step.
    const from = firstAtOrAfter(first);
    const to = firstAtOrAfter(last + stepSec);
    if (from >= to) continue;
    diff[from]++;
    diff[to]--;
  }
  const out: number[] = [];
  let v = 0;
  for (let k = 0; k < n; k++) out.push((v += diff[k]));
  return out;
}

/**
 * The pattern series, from `trace_patterns`: one per address and pattern type with an episode overlapping the
 * range ({@link patternValues}), the number field named after the type and labelled `ip` and `pattern`. The
 * `limit` highest (then longest-lasting) remain; `minScore` does not apply. At most MAX_PATTERN_ROWS episodes
 * are read, the most recent first; past that a notice says the series are incomplete.
 */
function patternSeries(db: Database.Database, q: NormalizedQuery, grid: SeriesGrid, types: readonly PatternType[]): Frame[] {
  const { times, stepSec } = grid;
  const toS = times[times.length - 1];
  const rows = db
    .prepare(
      `SELECT pattern_type, ip, first_seen, last_seen FROM trace_patterns WHERE last_seen > ? AND first_seen <= ? AND ip IS NOT NULL AND pattern_type IN (${placeholders(types.length)}) ` +
        'ORDER BY last_seen DESC, id DESC LIMIT ?',
    )
    .all(Math.floor(times[0] - stepSec), Math.ceil(toS), ...types, MAX_PATTERN_ROWS + 1) as Array<{ pattern_type: string; ip: string; first_seen: number; last_seen: number }>;
  const truncated = rows.length > MAX_PATTERN_ROWS;
  if (truncated) rows.length = MAX_PATTERN_ROWS;
  const groups = new Map<string, { ip: string; pattern: string; episodes: Episode[] }>();
  for (const r of rows) {
    if (!ipMatches(q.cidr, r.ip)) continue;
    const key = `${r.pattern_type} ${r.ip}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { ip: r.ip, pattern: r.pattern_type, episodes: [] }));
    g.episodes.push([r.first_seen, r.last_seen]);
  }
  const series: Array<{ ip: string; pattern: string; values: number[]; max: number; total: number }> = [];
  for (const g of groups.values()) {
    const values = patternValues(g.episodes, times, stepSec);
    const max = Math.max(...values);
    if (max === 0) continue;
    series.push({ ip: g.ip, pattern: g.pattern, values, max, total: values.reduce((a, b) => a + b, 0) });
  }
  series.sort((a, b) => b.max - a.max || b.total - a.total || (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : a.pattern < b.pattern ? -1 : 1));
  const timeMs = times.map((t) => Math.round(t * 1000));
  const meta: Record<string, unknown> = { kindDescription: KIND_INFO.threat_scores.description, intervalMs: stepSec * 1000 };
  if (truncated) meta.notices = [{ severity: 'warning', text: `more than ${MAX_PATTERN_ROWS} pattern episodes in the range: only the most recent are counted; narrow the range or the CIDR` }];
  return series.slice(0, q.limit ?? DEFAULT_SERIES_LIMIT).map((s) => {
    const name = `${s.ip} ${s.pattern}`;
    return frame(name, [column('time', 'time', timeMs), column(s.pattern, 'number', s.values, { labels: { ip: s.ip, pattern: s.pattern }, config: { min: 0, decimals: 0, displayNameFromDS: name } })], meta);
  });
}

interface Annotation {
  time: number;
  timeEnd: number | null;
  title: string;
  text: string;
  tags: string;
  source: string;
  ip: string | null;
}

/**
 * `annotations`: fail2ban bans (a region up to the matching unban when there is one), unbans, and detected
 * patterns (a region from first to last seen). `source` selects among fail2ban, auth (log patterns) and flows
 * (scans).
 */
export function queryAnnotations(db: Database.Database, q: NormalizedQuery, ctx: QueryContext): Frame[] {
  const from = sec(ctx.fromMs);
  const to = sec(ctx.toMs);
  const wants = (s: string) => q.source.length === 0 || q.source.includes(s);
  const out: Annotation[] = [];
  if (wants('fail2ban')) {
    const bans = db
      .prepare("SELECT timestamp, ip, message, action, metadata FROM log_events WHERE timestamp BETWEEN ? AND ? AND action IN ('f2b_ban', 'f2b_unban', 'f2b_restore_ban') ORDER BY timestamp, id")
      .all(from, to) as Array<{ timestamp: number; ip: string | null; message: string | null; action: string; metadata: string | null }>;
    const unbanAfter = db.prepare("SELECT min(timestamp) FROM log_events WHERE ip = ? AND action = 'f2b_unban' AND timestamp >= ?").pluck();
    for (const b of bans) {
      if (!ipMatches(q.cidr, b.ip)) continue;
      const jailValue = parseStoredJson<Record<string, unknown>>(b.metadata, {}).jail;
      const jail = typeof jailValue === 'string' ? jailValue : null;
      const ip = b.ip ?? 'an address';
      const inJail = jail ? ` jail ${jail}` : '';
      if (b.action === 'f2b_unban') {
        out.push({ time: b.timestamp * 1000, timeEnd: null, title: `Unban ${ip}`, text: `fail2ban${inJail} lifted its ban of ${ip}`, tags: ['unban', jail].filter(Boolean).join(','), source: 'fail2ban', ip: b.ip });
        continue;
      }
      const end = b.ip ? (unbanAfter.get(b.ip, b.timestamp) as number | null) : null;
      const restored = b.action === 'f2b_restore_ban';
      out.push({
        time: b.timestamp * 1000,
        timeEnd: end !== null ? end * 1000 : null,
        title: `${restored ? 'Restored ban' : 'Ban'} ${ip}`,
        text: `fail2ban${inJail} ${restored ? 'restored its ban of' : 'banned'} ${ip}`,
        tags: ['ban', jail].filter(Boolean).join(','),
        source: 'fail2ban',
        ip: b.ip,
      });
    }
  }
  const patterns = db
    .prepare('SELECT pattern_type, ip, first_seen, last_seen, count, severity, description FROM trace_patterns WHERE last_seen >= ? AND first_seen <= ? ORDER BY first_seen, id')
    .all(from, to) as Array<{ pattern_type: string; ip: string | null; first_seen: number; last_seen: number; count: number; severity: number; description: string | null }>;
  for (const p of patterns) {
    const source = p.pattern_type === 'port_scan' || p.pattern_type === 'address_scan' ? 'flows' : 'auth';
    if (!wants(source) || !ipMatches(q.cidr, p.ip)) continue;
    out.push({
      time: p.first_seen * 1000,
      timeEnd: p.last_seen > p.first_seen ? p.last_seen * 1000 : null,
      title: `Pattern: ${p.pattern_type.replace(/_/g, ' ')}${p.ip ? ` from ${p.ip}` : ''}`,
      text: p.description ?? `${p.count} events`,
      tags: ['pattern', p.pattern_type, severityLabel(p.severity)].join(','),
      source,
      ip: p.ip,
    });
  }
  out.sort((a, b) => a.time - b.time);
  const top = out.slice(0, q.limit ?? DEFAULT_ANNOTATION_LIMIT);
  return [
    frame(
      'annotations',
      [
        column('time', 'time', top.map((a) => a.time)),
        column('timeEnd', 'time', top.map((a) => a.timeEnd)),
        column('title', 'string', top.map((a) => a.title)),
        column('text', 'string', top.map((a) => a.text)),
        column('tags', 'string', top.map((a) => a.tags)),
        column('source', 'string', top.map((a) => a.source)),
        column('ip', 'string', top.map((a) => a.ip)),
      ],
      { kindDescription: KIND_INFO.annotations.description },
    ),
  ];
}
