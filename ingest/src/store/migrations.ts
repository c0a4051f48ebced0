/**
 * Schema versions and the steps between them.
 *
 * A fresh file gets schema.sql (the newest version) in one go. An older file is brought forward by running, in
 * order, every step whose `to` is above its version, all in one transaction: a failing step leaves the file exactly
 * as it was. Each step's SQL is frozen as written for its version (it must not read schema.sql, which keeps moving);
 * migrations.test.ts checks that a migrated v1 file ends up with the same tables, columns and indexes as a fresh one.
 *
 * Version 1 is the storage design's original subset (testdata/schema-v1.sql): network_metrics has one row per ts
 * for all interfaces together (no interface column), and there are no trace_patterns or ping_probes tables.
 * Version 3 adds the labelled host series (disk_metrics per mount, cpu_metrics per core) and the minimum columns
 * of the aggregates; ALTER TABLE appends those, so schema.sql lists them last too.
 * The version lives in the metadata table (key schema_version), not in PRAGMA user_version, because v1 files
 * already kept it there.
 */
import type Database from 'better-sqlite3';
import { errorMessage, StoreError } from './errors';
import type { StoreLogger } from './logger';
import schemaSql from './schema.sql';

export const SCHEMA_VERSION = 3;

export interface Migration {
  /** The version the file has once this step ran. */
  to: number;
  description: string;
  up(db: Database.Database): void;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    to: 2,
    description: 'per-interface network metrics, trace patterns, HTTP/TLS probe results',
    up(db) {
      // The interface column joins the primary key, which ALTER TABLE cannot change: rebuild the table
      // (SQLite's documented create-copy-drop-rename procedure), v1 rows becoming the all-interfaces total ''.
      db.exec(`
        CREATE TABLE network_metrics_v2 (
          ts INTEGER NOT NULL,
          interface TEXT NOT NULL DEFAULT '',
          bytes_sent INTEGER,
          bytes_recv INTEGER,
          packets_sent INTEGER,
          packets_recv INTEGER,
          errin INTEGER,
          errout INTEGER,
          dropin INTEGER,
          dropout INTEGER,
          connections_established INTEGER,
          connections_listen INTEGER,
          connections_time_wait INTEGER,
          PRIMARY KEY (ts, interface)
        );
        INSERT INTO network_metrics_v2 (ts, interface, bytes_sent, bytes_recv, packets_sent, packets_recv, errin, errout,
          dropin, dropout, connections_established, connections_listen, connections_time_wait)
        SELECT ts, '', bytes_sent, bytes_recv, packets_sent, packets_recv, errin, errout,
          dropin, dropout, connections_established, connections_listen, connections_time_wait
        FROM network_metrics;
        DROP TABLE network_metrics;
        ALTER TABLE network_metrics_v2 RENAME TO network_metrics;
        CREATE INDEX idx_network_metrics_interface_ts ON network_metrics(interface, ts);

        CREATE TABLE trace_patterns (
          id INTEGER PRIMARY KEY,
          pattern_type TEXT NOT NULL,
          ip TEXT,
          first_seen INTEGER NOT NULL,
          last_seen INTEGER NOT NULL,
          count INTEGER NOT NULL DEFAULT 1,
          severity REAL NOT NULL DEFAULT 0 CHECK (severity BETWEEN 0 AND 100),
          evidence TEXT CHECK (evidence IS NULL OR json_valid(evidence)),
          description TEXT
        );
        CREATE INDEX idx_trace_patterns_last_seen ON trace_patterns(last_seen);
        CREATE INDEX idx_trace_patterns_type_ip ON trace_patterns(pattern_type, ip);
        CREATE INDEX idx_trace_patterns_ip ON trace_patterns(ip);

        CREATE TABLE ping_probes (
          ts INTEGER NOT NULL,
          target TEXT NOT NULL,
          kind TEXT NOT NULL,
          status_code INTEGER,
          total_ms REAL,
          connect_ms REAL,
          tls_handshake_ms REAL,
          cert_days_left INTEGER,
          cert_issuer TEXT,
          tls_version TEXT,
          error TEXT,
          PRIMARY KEY (ts, target)
        );
        CREATE INDEX idx_ping_probes_target_ts ON ping_probes(target, ts DESC);
      `);
    },
  },
  {
    to: 3,
    description: 'per-mount disk metrics, per-core CPU, minimum of CPU, memory and load in the aggregates',
    up(db) {
      db.exec(`
        CREATE TABLE disk_metrics (
          ts INTEGER NOT NULL,
          mount TEXT NOT NULL,
          disk_total INTEGER,
          disk_used INTEGER,
          disk_percent REAL,
          disk_read_bytes INTEGER,
          disk_write_bytes INTEGER,
          PRIMARY KEY (ts, mount)
        );
        CREATE INDEX idx_disk_metrics_mount_ts ON disk_metrics(mount, ts);

        CREATE TABLE cpu_metrics (
          ts INTEGER NOT NULL,
          cpu INTEGER NOT NULL,
          cpu_percent REAL,
          PRIMARY KEY (ts, cpu)
        );

        ALTER TABLE hourly_aggregates ADD COLUMN cpu_min REAL;
        ALTER TABLE hourly_aggregates ADD COLUMN memory_min REAL;
        ALTER TABLE hourly_aggregates ADD COLUMN load_1_min REAL;
        ALTER TABLE daily_aggregates ADD COLUMN cpu_min REAL;
        ALTER TABLE daily_aggregates ADD COLUMN memory_min REAL;
        ALTER TABLE daily_aggregates ADD COLUMN load_1_min REAL;
      `);
      // The minimum of the periods whose raw rows are all still there (those after the oldest raw row); older
      // periods keep NULL, which the queries read as "not kept".
      db.exec(`
        UPDATE hourly_aggregates SET
          cpu_min = (SELECT min(cpu_percent) FROM system_metrics WHERE ts >= hour_timestamp AND ts < hour_timestamp + 3600),
          memory_min = (SELECT min(memory_percent) FROM system_metrics WHERE ts >= hour_timestamp AND ts < hour_timestamp + 3600),
          load_1_min = (SELECT min(load_1) FROM system_metrics WHERE ts >= hour_timestamp AND ts < hour_timestamp + 3600)
        WHERE hour_timestamp >= (SELECT min(ts) FROM system_metrics);
        UPDATE daily_aggregates SET
          cpu_min = (SELECT min(cpu_percent) FROM system_metrics WHERE ts >= unixepoch(date) AND ts < unixepoch(date) + 86400),
          memory_min = (SELECT min(memory_percent) FROM system_metrics WHERE ts >= unixepoch(date) AND ts < unixepoch(date) + 86400),
          load_1_min = (SELECT min(load_1) FROM system_metrics WHERE ts >= unixepoch(date) AND ts < unixepoch(date) + 86400)
        WHERE unixepoch(date) >= (SELECT min(ts) FROM system_metrics);
      `);
    },
  },
];

export interface SchemaState {
  version: number;
  /** The file had no tables and received the full schema. */
  created: boolean;
  /** The version the file had before migrating; absent when nothing was migrated. */
  migratedFrom?: number;
}

export interface PrepareOptions {
  /** For messages only. */
  path: string;
  hostname: string;
  nowSec: number;
  logger: StoreLogger;
}

/**
 * Creates, migrates or accepts the schema of an open database, or throws a StoreError (file left unchanged).
 * Runs with foreign keys off, as SQLite requires for table rebuilds, checks them before committing, and leaves
 * them on.
 */
export function prepareSchema(db: Database.Database, opts: PrepareOptions): SchemaState {
  // The pragma is a no-op inside a transaction, so it is switched around it.
  db.pragma('foreign_keys = OFF');
  try {
    // IMMEDIATE takes the write lock before reading the version, so two processes opening the same new or old file
    // cannot both create or migrate it.
    return db.transaction(() => prepareLocked(db, opts)).immediate();
  } finally {
    db.pragma('foreign_keys = ON');
  }
}

function prepareLocked(db: Database.Database, { path, hostname, nowSec, logger }: PrepareOptions): SchemaState {
  const version = readVersion(db, path);
  if (version === undefined) {
    db.exec(schemaSql);
    const setMeta = db.prepare('INSERT INTO metadata (key, value) VALUES (?, ?)');
    setMeta.run('schema_version', String(SCHEMA_VERSION));
    setMeta.run('created', String(nowSec));
    setMeta.run('hostname', hostname);
    return { version: SCHEMA_VERSION, created: true };
  }
  if (version > SCHEMA_VERSION) {
    throw new StoreError(
      'NETWATCH_ERR_STORE_SCHEMA_TOO_NEW',
      `database ${path} has schema version ${version}, newer than version ${SCHEMA_VERSION} supported by this netwatch-ingest: ` +
        'upgrade netwatch-ingest, or use another data directory',
    );
  }
  if (version === SCHEMA_VERSION) return { version, created: false };

  logger.info({ path, from: version, to: SCHEMA_VERSION }, 'migrating the database schema');
  for (const step of MIGRATIONS) {
    if (step.to <= version) continue;
    try {
      step.up(db);
    } catch (err) {
      throw new StoreError(
        'NETWATCH_ERR_STORE_MIGRATION',
        `migrating database ${path} from schema version ${version} to ${step.to} (${step.description}) failed, the file is unchanged: ${errorMessage(err)}`,
        { cause: err },
      );
    }
  }
  const violations = db.pragma('foreign_key_check') as unknown[];
  if (violations.length > 0) {
    throw new StoreError(
      'NETWATCH_ERR_STORE_MIGRATION',
      `migrating database ${path} from schema version ${version} to ${SCHEMA_VERSION} would break ${violations.length} foreign key reference(s); the file is unchanged`,
    );
  }
  db.prepare("UPDATE metadata SET value = ? WHERE key = 'schema_version'").run(String(SCHEMA_VERSION));
  db.prepare('INSERT OR IGNORE INTO metadata (key, value) VALUES (?, ?)').run('created', String(nowSec));
  db.prepare('INSERT OR IGNORE INTO metadata (key, value) VALUES (?, ?)').run('hostname', hostname);
  return { version: SCHEMA_VERSION, created: false, migratedFrom: version };
}

/** The file's schema version; undefined for a file without tables (new or empty). */
function readVersion(db: Database.Database, path: string): number | undefined {
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").pluck().all() as string[];
  if (tables.length === 0) return undefined;
  const notOurs = `database ${path} is not a netwatch database`;
  if (!tables.includes('metadata')) throw new StoreError('NETWATCH_ERR_STORE_NOT_NETWATCH', `${notOurs} (it has tables but no metadata table)`);
  const raw = db.prepare("SELECT value FROM metadata WHERE key = 'schema_version'").pluck().get();
  // v1 files may carry "1.0"; only whole versions exist.
  const m = /^\s*(\d+)(?:\.0+)?\s*$/.exec(String(raw ?? ''));
  if (!m || Number(m[1]) < 1) {
    throw new StoreError('NETWATCH_ERR_STORE_NOT_NETWATCH', `${notOurs} (its schema_version is ${raw === undefined ? 'missing' : JSON.stringify(raw)})`);
  }
  return Number(m[1]);
}
