/**
 * For the store's tests: real database files in a temporary directory, a logger that records, and a schema
 * description that two databases can be compared by.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { StoreLogger } from './logger';
import schemaV1Sql from './testdata/schema-v1.sql';

/** A fresh temporary directory per test file, removed after it; `file(name)` gives a path inside. */
export function tempDirs(): { file(name: string): string } {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'netwatch-store-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  return { file: (name) => path.join(dir, `${++n}-${name}`) };
}

export interface LogRecord {
  level: 'info' | 'warn' | 'error';
  obj: object | string;
  msg?: string;
}

export function recordingLogger(): StoreLogger & { records: LogRecord[] } {
  const records: LogRecord[] = [];
  return {
    records,
    info: (obj, msg) => records.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => records.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => records.push({ level: 'error', obj, msg }),
  };
}

/** Writes a schema version 1 file as a netwatch of that version would have, and returns it still open. */
export function createV1File(file: string, version = '1'): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(schemaV1Sql);
  const meta = db.prepare('INSERT INTO metadata (key, value) VALUES (?, ?)');
  meta.run('schema_version', version);
  meta.run('created', '1700000000');
  meta.run('hostname', 'old-host');
  return db;
}

/** SQL text without comments, spacing, IF NOT EXISTS or identifier quotes, so equal definitions compare equal. */
function normalizeSql(sql: string | null): string | null {
  if (sql === null) return null;
  return sql
    .replace(/--[^\n]*/g, '')
    .replace(/\s+/g, ' ')
    .replace(/ IF NOT EXISTS/i, '')
    .replace(/"(\w+)"/g, '$1')
    .replace(/\( /g, '(')
    .replace(/ \)/g, ')')
    // ALTER TABLE ADD COLUMN appends "\n, name type" to the stored text.
    .replace(/ ,/g, ',')
    .trim();
}

/**
 * Every table and index with its normalized definition. Automatic indexes (primary keys, UNIQUE) have no SQL;
 * they are described by their columns, as their names follow the table's history.
 */
export function describeSchema(db: Database.Database): Record<string, string | null> {
  const rows = db
    .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_stat%' AND type IN ('table', 'index') ORDER BY type, name")
    .all() as Array<{ type: string; name: string; tbl_name: string; sql: string | null }>;
  const out: Record<string, string | null> = {};
  for (const r of rows) {
    if (r.sql === null) {
      const cols = (db.prepare('SELECT name, desc FROM pragma_index_xinfo(?) WHERE key = 1 ORDER BY seqno').all(r.name) as Array<{ name: string; desc: number }>)
        .map((c) => c.name + (c.desc ? ' DESC' : ''))
        .join(', ');
      out[`auto index ${r.tbl_name}(${cols})`] = null;
    } else {
      out[`${r.type} ${r.name}`] = normalizeSql(r.sql);
    }
  }
  return out;
}

export function count(db: Database.Database, table: string): number {
  return db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
}
