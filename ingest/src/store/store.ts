/**
 * The SQLite database of the service: one connection (better-sqlite3 is synchronous and the service is one
 * process), its schema, the batch writers that feed it, and its retention.
 *
 * Query modules read through `store.db`; every write goes through a BatchWriter registered here, so close()
 * can flush them all before the connection goes.
 */
import { existsSync, statSync } from 'node:fs';
import os from 'node:os';
import Database from 'better-sqlite3';
import type { StoreWriter, WriterCounters, WriterHost } from './batch-writer';
import { errorMessage, StoreError } from './errors';
import { SILENT_LOGGER, type StoreLogger } from './logger';
import { prepareSchema } from './migrations';
import { DEFAULT_MAX_SIZE_BYTES, resolveRetention, Retention, type RetentionConfig } from './retention';

export interface StoreConfig {
  /** Database file, or ':memory:' (tests). The directory must exist. */
  path: string;
  /** Recorded in the metadata of a new file. Default: os.hostname(). */
  hostname?: string;
  /** Maximum age in seconds per table, over DEFAULT_RETENTION. */
  retention?: Partial<RetentionConfig>;
  /** Cap on the data held in the file; the oldest time-series rows are deleted beyond it. Default 1 GiB. */
  maxSizeBytes?: number;
  /** How long a statement waits for a lock held by another connection (sqlite3 CLI, a backup), ms. Default 5000. */
  busyTimeoutMs?: number;
  logger?: StoreLogger;
}

export interface RetentionResult {
  /** Rows deleted per table (every table retention may touch, 0 included). */
  deleted: Record<string, number>;
  /** Size of the database file afterwards, bytes. */
  sizeBytes: number;
}

export interface StoreStats {
  schemaVersion: number;
  path: string;
  fileSizeBytes: number;
  walSizeBytes: number;
  /** Row count per table. */
  tables: Record<string, number>;
  writers: Record<string, WriterCounters>;
}

// A service restarted more often than the maintenance interval would otherwise never run retention.
const FIRST_MAINTENANCE_DELAY_MS = 60_000;

function isMemory(path: string): boolean {
  return path === ':memory:' || path === '';
}

export class Store implements WriterHost {
  readonly db: Database.Database;
  readonly path: string;
  readonly schemaVersion: number;
  readonly logger: StoreLogger;
  private readonly writers = new Map<string, StoreWriter>();
  private readonly retention: Retention;
  private maintenanceTimers: NodeJS.Timeout[] = [];
  private closed = false;

  private constructor(db: Database.Database, path: string, schemaVersion: number, retention: Retention, logger: StoreLogger) {
    this.db = db;
    this.path = path;
    this.schemaVersion = schemaVersion;
    this.retention = retention;
    this.logger = logger;
  }

  /**
   * Opens (creating or migrating) the database. Throws a StoreError when the file belongs to a newer version or
   * to another application, or when a migration fails; the file is then left unchanged.
   */
  static open(config: StoreConfig): Store {
    const logger = config.logger ?? SILENT_LOGGER;
    const retentionConfig = resolveRetention(config.retention);
    const maxSizeBytes = config.maxSizeBytes ?? DEFAULT_MAX_SIZE_BYTES;
    if (!(maxSizeBytes > 0)) throw new StoreError('NETWATCH_ERR_STORE_CONFIG', `maxSizeBytes must be positive, got ${maxSizeBytes}`);
    const busyTimeoutMs = config.busyTimeoutMs ?? 5000;

    const db = new Database(config.path);
    try {
      // First, so the pragmas below already wait for a lock held elsewhere instead of failing.
      db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
      // Only takes effect before the first table exists, and (measured) only before journal_mode=WAL: on a new file
      // it lets retention return freed pages to the file system. An older file is converted below.
      db.pragma('auto_vacuum = INCREMENTAL');
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (!isMemory(config.path) && mode !== 'wal') {
        throw new StoreError('NETWATCH_ERR_STORE_CONFIG', `database ${config.path} cannot use WAL journaling (got ${String(mode)}); is it on a network file system?`);
      }
      // Durable at each checkpoint rather than each commit: a power cut may lose the last commits, never
      // consistency, for about 10x the write rate (NOTES-dependencies.md, SQLite).
      db.pragma('synchronous = NORMAL');

      // prepareSchema also switches foreign_keys on (it keeps them off only while it migrates).
      const state = prepareSchema(db, {
        path: config.path,
        hostname: config.hostname ?? os.hostname(),
        nowSec: Math.floor(Date.now() / 1000),
        logger,
      });
      if (state.created) logger.info({ path: config.path, schemaVersion: state.version }, 'created the database');
      if (state.migratedFrom !== undefined) logger.info({ path: config.path, from: state.migratedFrom, to: state.version }, 'migrated the database schema');
      convertToIncrementalVacuum(db, config.path, logger);

      const store = new Store(db, config.path, state.version, new Retention(db, retentionConfig, maxSizeBytes, logger), logger);
      return store;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Called by each BatchWriter's constructor; names are unique because stats() reports writers by name. */
  registerWriter(writer: StoreWriter): void {
    if (this.closed) throw new StoreError('NETWATCH_ERR_STORE_CLOSED', `cannot add writer ${writer.name}: the store is closed`);
    if (this.writers.has(writer.name)) throw new StoreError('NETWATCH_ERR_STORE_CONFIG', `a writer named ${writer.name} already exists`);
    this.writers.set(writer.name, writer);
  }

  /** Deletes rows past their table's age, then the oldest time-series rows if the file is over its size cap. */
  runRetention(nowSec: number = Math.floor(Date.now() / 1000)): RetentionResult {
    this.assertOpen();
    const deleted = this.retention.run(nowSec);
    return { deleted, sizeBytes: this.fileSizes().file };
  }

  /** Runs retention every intervalMs (first within a minute); stopped by close(). */
  startMaintenance(intervalMs = 3_600_000): void {
    this.assertOpen();
    this.stopMaintenance();
    const run = () => {
      const started = performance.now();
      try {
        const r = this.runRetention();
        const deleted = Object.fromEntries(Object.entries(r.deleted).filter(([, n]) => n > 0));
        if (Object.keys(deleted).length > 0) {
          this.logger.info({ deleted, sizeBytes: r.sizeBytes, ms: Math.round(performance.now() - started) }, 'retention deleted old rows');
        }
      } catch (err) {
        this.logger.error({ err: errorMessage(err) }, 'retention failed');
      }
    };
    const first = setTimeout(run, Math.min(intervalMs, FIRST_MAINTENANCE_DELAY_MS));
    const every = setInterval(run, intervalMs);
    // Maintenance never keeps the process alive by itself.
    first.unref();
    every.unref();
    this.maintenanceTimers = [first, every];
  }

  stats(): StoreStats {
    this.assertOpen();
    const names = this.db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
      .pluck()
      .all() as string[];
    const tables: Record<string, number> = {};
    // Names come from sqlite_master; quoted as identifiers since they cannot be parameters.
    for (const name of names) tables[name] = this.db.prepare(`SELECT count(*) FROM "${name.replace(/"/g, '""')}"`).pluck().get() as number;
    const writers: Record<string, WriterCounters> = {};
    for (const [name, w] of this.writers) writers[name] = w.counters();
    const sizes = this.fileSizes();
    return { schemaVersion: this.schemaVersion, path: this.path, fileSizeBytes: sizes.file, walSizeBytes: sizes.wal, tables, writers };
  }

  /** Flushes and stops every writer, stops maintenance, closes the database. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.stopMaintenance();
    for (const w of this.writers.values()) {
      // One writer failing must not keep the others' rows from being written.
      try {
        w.stop();
      } catch (err) {
        this.logger.error({ writer: w.name, err: errorMessage(err) }, 'stopping a writer failed');
      }
    }
    this.closed = true;
    try {
      // Recommended by SQLite for long-lived connections, at close: refreshes the planner's statistics where useful.
      this.db.pragma('optimize');
    } finally {
      this.db.close();
    }
  }

  private stopMaintenance(): void {
    for (const t of this.maintenanceTimers) clearTimeout(t);
    this.maintenanceTimers = [];
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError('NETWATCH_ERR_STORE_CLOSED', `the store ${this.path} is closed`);
  }

  private fileSizes(): { file: number; wal: number } {
    if (isMemory(this.path)) {
      const pages = Number(this.db.pragma('page_count', { simple: true }));
      return { file: pages * Number(this.db.pragma('page_size', { simple: true })), wal: 0 };
    }
    const wal = `${this.path}-wal`;
    return { file: statSync(this.path).size, wal: existsSync(wal) ? statSync(wal).size : 0 };
  }
}

/**
 * Files created before auto_vacuum was set (v1 files) need one full VACUUM to switch to incremental mode; until
 * then retention frees pages for reuse but the file never shrinks. Not fatal if it fails (another process
 * reading, no room for the copy): it is tried again at the next start.
 */
function convertToIncrementalVacuum(db: Database.Database, path: string, logger: StoreLogger): void {
  const INCREMENTAL = 2;
  if (Number(db.pragma('auto_vacuum', { simple: true })) === INCREMENTAL) return;
  const started = performance.now();
  try {
    db.pragma('auto_vacuum = INCREMENTAL');
    db.exec('VACUUM');
    logger.info({ path, ms: Math.round(performance.now() - started) }, 'converted the database to incremental auto-vacuum');
  } catch (err) {
    logger.warn({ path, err: errorMessage(err) }, 'could not convert the database to incremental auto-vacuum; retention will not shrink the file');
  }
}
