/**
 * Keeps the database bounded: rows older than each table's maximum age go, and if the file still holds more than
 * maxSizeBytes of data the oldest raw time-series rows go too, oldest first across all tables, until it is back
 * under the cap. Freed pages are returned to the file system (auto_vacuum=INCREMENTAL plus a WAL checkpoint).
 *
 * Deletes run in chunks, each its own transaction, so the WAL stays small and a writer never waits behind one huge
 * delete. Table and column names below come from this file's constants only; values are always parameters.
 */
import type Database from 'better-sqlite3';
import { StoreError } from './errors';
import type { StoreLogger } from './logger';

const DAY = 86_400;

/** Maximum age in seconds of the rows of each table; Infinity keeps them forever. */
export interface RetentionConfig {
  system_metrics: number;
  network_metrics: number;
  /** Per-mount disk space and I/O. */
  disk_metrics: number;
  /** Per-core CPU. */
  cpu_metrics: number;
  log_events: number;
  /** Also ages the process, network and error traces of each event trace. */
  event_traces: number;
  pings: number;
  ping_metadata: number;
  ping_probes: number;
  hourly_aggregates: number;
  daily_aggregates: number;
  /** By last_seen. */
  ip_reputation: number;
  /** By last_seen. */
  trace_patterns: number;
}

export type RetainedTable = keyof RetentionConfig;

export const DEFAULT_RETENTION: Readonly<RetentionConfig> = {
  system_metrics: 7 * DAY,
  network_metrics: 7 * DAY,
  disk_metrics: 7 * DAY,
  cpu_metrics: 7 * DAY,
  log_events: 30 * DAY,
  event_traces: 30 * DAY,
  pings: 30 * DAY,
  ping_metadata: 30 * DAY,
  ping_probes: 30 * DAY,
  hourly_aggregates: 90 * DAY,
  daily_aggregates: 730 * DAY,
  ip_reputation: 90 * DAY,
  trace_patterns: 90 * DAY,
};

export const DEFAULT_MAX_SIZE_BYTES = 1024 ** 3;

/** The column each table is aged by. daily_aggregates.date is text 'YYYY-MM-DD'; every other one is Unix seconds. */
const AGE_COLUMN: Readonly<Record<RetainedTable, string>> = {
  system_metrics: 'ts',
  network_metrics: 'ts',
  disk_metrics: 'ts',
  cpu_metrics: 'ts',
  log_events: 'timestamp',
  event_traces: 'timestamp',
  pings: 'ts',
  ping_metadata: 'ts',
  ping_probes: 'ts',
  hourly_aggregates: 'hour_timestamp',
  daily_aggregates: 'date',
  ip_reputation: 'last_seen',
  trace_patterns: 'last_seen',
};

// Event traces before log events, so a trace expiring on its own age is counted under its own table rather than
// as a cascade of its log event.
const AGE_ORDER: readonly RetainedTable[] = [
  'event_traces',
  'log_events',
  'system_metrics',
  'network_metrics',
  'disk_metrics',
  'cpu_metrics',
  'pings',
  'ping_metadata',
  'ping_probes',
  'hourly_aggregates',
  'daily_aggregates',
  'ip_reputation',
  'trace_patterns',
];

/** The raw time series the size cap takes rows from; aggregates and reputation are small and worth more. */
const TIME_SERIES: readonly RetainedTable[] = ['event_traces', 'log_events', 'system_metrics', 'network_metrics', 'disk_metrics', 'cpu_metrics', 'pings', 'ping_metadata', 'ping_probes'];

const TRACE_CHILDREN = ['process_traces', 'network_traces', 'error_traces'] as const;

/** Every table a retention pass can delete from, each reported in `deleted` (0 when untouched). */
export const RETENTION_REPORTED_TABLES: readonly string[] = [...AGE_ORDER, ...TRACE_CHILDREN];

const CHUNK_ROWS = 5000;
// Deleting down to 90% of the cap, not just under it, so a full database is not trimmed again at every pass.
const SIZE_CAP_TARGET = 0.9;
// The size cap advances its cutoff over the stored time span in this many steps.
const SIZE_CAP_STEPS = 50;

/** Validates user-supplied retention (from YAML, so keys and values are checked at run time too). */
export function resolveRetention(overrides: Partial<Record<string, number>> | undefined): RetentionConfig {
  const out: RetentionConfig = { ...DEFAULT_RETENTION };
  for (const [table, age] of Object.entries(overrides ?? {})) {
    if (!(table in DEFAULT_RETENTION)) {
      throw new StoreError('NETWATCH_ERR_STORE_CONFIG', `retention: unknown table "${table}" (known: ${Object.keys(DEFAULT_RETENTION).join(', ')})`);
    }
    if (age === undefined) continue;
    if (typeof age !== 'number' || Number.isNaN(age) || age <= 0) {
      throw new StoreError('NETWATCH_ERR_STORE_CONFIG', `retention.${table}: the maximum age must be a positive number of seconds (or Infinity), got ${age}`);
    }
    out[table as RetainedTable] = age;
  }
  return out;
}

/** 'YYYY-MM-DD' of a Unix time, in UTC like daily_aggregates.date. */
export function utcDate(sec: number): string {
  return new Date(sec * 1000).toISOString().slice(0, 10);
}

export class Retention {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(
    private readonly db: Database.Database,
    private readonly maxAge: Readonly<RetentionConfig>,
    private readonly maxSizeBytes: number,
    private readonly logger: StoreLogger,
  ) {}

  /** One pass: age, then size cap, then reclaiming freed pages. Returns the rows deleted per table. */
  run(nowSec: number): Record<string, number> {
    const deleted: Record<string, number> = Object.fromEntries(RETENTION_REPORTED_TABLES.map((t) => [t, 0]));
    for (const table of AGE_ORDER) {
      const age = this.maxAge[table];
      if (!Number.isFinite(age)) continue;
      const cutoff = nowSec - age;
      this.deleteBefore(table, table === 'daily_aggregates' ? utcDate(cutoff) : cutoff, deleted);
    }
    this.enforceSizeCap(deleted);
    if (this.pragmaNumber('freelist_count') > 0) {
      // In WAL mode the file only shrinks when the vacuumed pages are checkpointed, hence this order.
      this.db.pragma('incremental_vacuum');
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    }
    return deleted;
  }

  /** Bytes of pages holding data, free pages excluded: what the cap compares against, whatever the file size. */
  usedBytes(): number {
    return (this.pragmaNumber('page_count') - this.pragmaNumber('freelist_count')) * this.pragmaNumber('page_size');
  }

  private enforceSizeCap(deleted: Record<string, number>): void {
    let used = this.usedBytes();
    if (used <= this.maxSizeBytes) return;
    const before = used;
    let oldest = Infinity;
    let newest = -Infinity;
    for (const table of TIME_SERIES) {
      const col = AGE_COLUMN[table];
      // Two queries, not min() and max() in one: only a lone min or max is answered from the index.
      const lo = this.stmt(`SELECT min(${col}) FROM ${table}`).pluck().get() as number | null;
      const hi = this.stmt(`SELECT max(${col}) FROM ${table}`).pluck().get() as number | null;
      if (lo !== null) oldest = Math.min(oldest, lo);
      if (hi !== null) newest = Math.max(newest, hi);
    }
    const target = this.maxSizeBytes * SIZE_CAP_TARGET;
    const step = Math.max(1, Math.ceil((newest - oldest + 1) / SIZE_CAP_STEPS));
    let cutoff = oldest;
    while (used > target && cutoff <= newest) {
      cutoff += step;
      for (const table of TIME_SERIES) this.deleteBefore(table, cutoff, deleted);
      used = this.usedBytes();
    }
    const fields = { maxSizeBytes: this.maxSizeBytes, usedBytesBefore: before, usedBytesAfter: used, deletedBefore: Number.isFinite(cutoff) ? cutoff : null };
    if (used > this.maxSizeBytes) {
      this.logger.error(fields, 'database over its size cap even without time-series rows: raise db-max-size or shorten retention');
    } else {
      this.logger.warn(fields, 'database over its size cap: deleted the oldest time-series rows');
    }
  }

  private deleteBefore(table: RetainedTable, cutoff: number | string, deleted: Record<string, number>): void {
    if (table === 'event_traces') {
      this.deleteByIds('event_traces', cutoff, (ids) => this.deleteTraces(ids, deleted));
      return;
    }
    if (table === 'log_events') {
      // Deleted explicitly rather than by cascade, so every row removed is counted under its table.
      this.deleteByIds('log_events', cutoff, (ids) => {
        const traceIds = this.stmt('SELECT id FROM event_traces WHERE event_id IN (SELECT value FROM json_each(?))').pluck().all(ids);
        if (traceIds.length > 0) this.deleteTraces(JSON.stringify(traceIds), deleted);
        deleted.log_events += this.stmt('DELETE FROM log_events WHERE id IN (SELECT value FROM json_each(?))').run(ids).changes;
      });
      return;
    }
    const col = AGE_COLUMN[table];
    const del = this.stmt(`DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE ${col} < ? LIMIT ${CHUNK_ROWS})`);
    for (;;) {
      const n = del.run(cutoff).changes;
      deleted[table] += n;
      if (n < CHUNK_ROWS) break;
    }
  }

  /**
   * The rows of `table` older than `cutoff`, CHUNK_ROWS at a time: `remove` gets their ids as a JSON array and
   * runs in one transaction per chunk.
   */
  private deleteByIds(table: 'event_traces' | 'log_events', cutoff: number | string, remove: (idsJson: string) => void): void {
    const select = this.stmt(`SELECT id FROM ${table} WHERE timestamp < ? LIMIT ${CHUNK_ROWS}`).pluck();
    const chunk = this.db.transaction(remove);
    for (;;) {
      const ids = select.all(cutoff);
      if (ids.length === 0) break;
      chunk(JSON.stringify(ids));
      if (ids.length < CHUNK_ROWS) break;
    }
  }

  /** Deletes event traces given as a JSON array of ids, children first. */
  private deleteTraces(idsJson: string, deleted: Record<string, number>): void {
    for (const child of TRACE_CHILDREN) {
      deleted[child] += this.stmt(`DELETE FROM ${child} WHERE trace_id IN (SELECT value FROM json_each(?))`).run(idsJson).changes;
    }
    deleted.event_traces += this.stmt('DELETE FROM event_traces WHERE id IN (SELECT value FROM json_each(?))').run(idsJson).changes;
  }

  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  private pragmaNumber(name: string): number {
    return Number(this.db.pragma(name, { simple: true }));
  }
}
