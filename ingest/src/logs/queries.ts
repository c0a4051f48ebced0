/**
 * The `logs` query kind over `log_events`: newest first, by source, level, address block and text. Statements
 * are parameterized; addresses are stored as text, so CIDR blocks are matched in code, before the limit applies
 * (the rows are read newest first through the timestamp index and reading stops once the limit is reached).
 */
import type Database from 'better-sqlite3';
import type { QueryContext } from '../api/registry';
import { cidrListMatchesV4, cidrListMatchesV6, column, frame, parseIp, type Cidr, type Frame, type NormalizedQuery } from '../protocol';

export const DEFAULT_LOGS_LIMIT = 1000;
/** Rows examined at most by one query with a CIDR filter (the newest first), so a rare block cannot scan the table. */
export const MAX_LOGS_SCANNED = 1_000_000;

interface Row {
  timestamp: number;
  source: string;
  level: string | null;
  message: string | null;
  ip: string | null;
  user: string | null;
  service: string | null;
  action: string | null;
}

function ipIn(list: readonly Cidr[], ip: string | null): boolean {
  if (!ip) return false;
  const p = parseIp(ip);
  if (!p) return false;
  return p.family === 4 ? cidrListMatchesV4(list, p.words[0]) : cidrListMatchesV6(list, p.words[0], p.words[1], p.words[2], p.words[3]);
}

/** LIKE pattern for "contains", with LIKE's own wildcards escaped. */
function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export function queryLogs(db: Database.Database, q: NormalizedQuery, ctx: QueryContext): Frame[] {
  const where = ['timestamp >= ?', 'timestamp <= ?'];
  const params: unknown[] = [Math.floor(ctx.fromMs / 1000), Math.floor(ctx.toMs / 1000)];
  if (q.source.length > 0) {
    where.push(`source IN (${q.source.map(() => '?').join(', ')})`);
    params.push(...q.source);
  }
  if (q.level.length > 0) {
    where.push(`level IN (${q.level.map(() => '?').join(', ')})`);
    params.push(...q.level);
  }
  if (q.text !== undefined) {
    // LIKE is case-insensitive for ASCII, as a user typing "failed password" expects.
    where.push(`message LIKE ? ESCAPE '\\'`);
    params.push(containsPattern(q.text));
  }
  // Single addresses are exact matches the ip index answers; blocks are matched in code.
  const exact = q.cidr.length > 0 && q.cidr.every((c) => c.prefix === (c.family === 4 ? 32 : 128));
  if (exact) {
    where.push(`ip IN (${q.cidr.map(() => '?').join(', ')})`);
    params.push(...q.cidr.map((c) => c.text.slice(0, c.text.indexOf('/'))));
  } else if (q.cidr.length > 0) {
    where.push('ip IS NOT NULL');
  }
  const limit = q.limit ?? DEFAULT_LOGS_LIMIT;
  const sql = `SELECT timestamp, source, level, message, ip, user, service, action FROM log_events WHERE ${where.join(' AND ')} ORDER BY timestamp DESC, id DESC`;
  const cols = { time: [] as number[], source: [] as string[], level: [] as (string | null)[], message: [] as (string | null)[], ip: [] as (string | null)[], user: [] as (string | null)[], service: [] as (string | null)[], action: [] as (string | null)[] };
  let scanned = 0;
  let truncated = false;
  const filterInCode = q.cidr.length > 0 && !exact;
  const stmt = db.prepare(filterInCode ? sql : `${sql} LIMIT ?`);
  const rows = (filterInCode ? stmt.iterate(...params) : stmt.iterate(...params, limit)) as IterableIterator<Row>;
  for (const r of rows) {
    if (filterInCode) {
      if (++scanned > MAX_LOGS_SCANNED) {
        truncated = true;
        break;
      }
      if (!ipIn(q.cidr, r.ip)) continue;
    }
    cols.time.push(r.timestamp * 1000);
    cols.source.push(r.source);
    cols.level.push(r.level);
    cols.message.push(r.message);
    cols.ip.push(r.ip);
    cols.user.push(r.user);
    cols.service.push(r.service);
    cols.action.push(r.action);
    if (cols.time.length >= limit) break;
  }
  if (typeof (rows as { return?: () => void }).return === 'function') (rows as { return: () => void }).return();
  const meta: Record<string, unknown> = { preferredVisualisationType: 'logs' };
  if (truncated) meta.notices = [{ severity: 'warning', text: `address filter stopped after the newest ${MAX_LOGS_SCANNED} events` }];
  return [
    frame(
      'logs',
      [
        column('time', 'time', cols.time),
        column('source', 'string', cols.source),
        column('level', 'string', cols.level),
        column('message', 'string', cols.message),
        column('ip', 'string', cols.ip),
        column('user', 'string', cols.user),
        column('service', 'string', cols.service),
        column('action', 'string', cols.action),
      ],
      meta,
    ),
  ];
}

/** Distinct sources of stored events (for the `log_sources` template variable), plus the configured ones. */
export function listLogSources(db: Database.Database, configured: readonly string[]): string[] {
  // A skip scan of the (source, timestamp) index: one lookup per distinct source instead of one per event.
  const stored = db
    .prepare('WITH RECURSIVE s(x) AS (SELECT min(source) FROM log_events UNION ALL SELECT (SELECT min(source) FROM log_events WHERE source > x) FROM s WHERE x IS NOT NULL) SELECT x FROM s WHERE x IS NOT NULL')
    .pluck()
    .all() as string[];
  return [...new Set([...configured, ...stored])].sort();
}
