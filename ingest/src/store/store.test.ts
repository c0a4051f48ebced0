import { statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import pino from 'pino';
import { BatchWriter } from './batch-writer';
import { StoreError } from './errors';
import type { StoreLogger } from './logger';
import { Store } from './store';
import { recordingLogger, tempDirs } from './test-db';

const tmp = tempDirs();

interface Metric {
  ts: number;
  cpu: number;
}

function metricWriter(store: Store, name = 'system_metrics'): BatchWriter<Metric> {
  return new BatchWriter<Metric>(store, {
    name,
    sql: 'INSERT OR REPLACE INTO system_metrics (ts, cpu_percent) VALUES (?, ?)',
    toParams: (m) => [m.ts, m.cpu],
    flushIntervalMs: 60_000,
  });
}

describe('Store', () => {
  it('flushes every writer on close(): the rows are in the file when it is opened again', () => {
    const file = tmp.file('close.db');
    const store = Store.open({ path: file });
    const metrics = metricWriter(store);
    const logs = new BatchWriter<{ ts: number; msg: string }>(store, {
      name: 'log_events',
      sql: "INSERT INTO log_events (timestamp, source, message) VALUES (?, 'syslog', ?)",
      toParams: (e) => [e.ts, e.msg],
      flushIntervalMs: 60_000,
    });
    for (let i = 0; i < 300; i++) metrics.push({ ts: 1000 + i, cpu: i % 100 });
    for (let i = 0; i < 42; i++) logs.push({ ts: 1000 + i, msg: `line ${i}` });
    expect(store.stats().tables).toMatchObject({ system_metrics: 0, log_events: 0 });
    store.close();

    const db = new Database(file, { readonly: true });
    try {
      expect(db.prepare('SELECT count(*) FROM system_metrics').pluck().get()).toBe(300);
      expect(db.prepare('SELECT count(*) FROM log_events').pluck().get()).toBe(42);
    } finally {
      db.close();
    }
  });

  it('reports row counts per table, writer counters, schema version and file sizes', () => {
    const file = tmp.file('stats.db');
    const store = Store.open({ path: file });
    try {
      const w = metricWriter(store);
      for (let i = 0; i < 7; i++) w.push({ ts: i, cpu: 1 });
      w.flush();
      w.push({ ts: 100, cpu: 2 });
      store.db.prepare("INSERT INTO pings (ts, target, latency_ms, success) VALUES (1, 'a', 1, 1), (1, 'b', NULL, 0)").run();

      const s = store.stats();
      expect(s).toEqual({
        schemaVersion: 3,
        path: file,
        fileSizeBytes: statSync(file).size,
        walSizeBytes: statSync(`${file}-wal`).size,
        tables: {
          cpu_metrics: 0,
          daily_aggregates: 0,
          disk_metrics: 0,
          error_traces: 0,
          event_traces: 0,
          hourly_aggregates: 0,
          ip_reputation: 0,
          log_events: 0,
          metadata: 3,
          network_metrics: 0,
          network_traces: 0,
          ping_metadata: 0,
          ping_probes: 0,
          pings: 2,
          process_traces: 0,
          system_metrics: 7,
          trace_patterns: 0,
        },
        writers: {
          system_metrics: { queued: 1, waiting: 0, written: 7, dropped: 0, flushes: 1, errors: 0, failedFlushes: 0, lastFlushMs: expect.any(Number) },
        },
      });
      expect(s.fileSizeBytes).toBeGreaterThan(0);
      expect(s.walSizeBytes).toBeGreaterThan(0);
    } finally {
      store.close();
    }
  });

  it('works in memory, for tests of the query modules', () => {
    const store = Store.open({ path: ':memory:' });
    try {
      store.db.prepare("INSERT INTO pings (ts, target, latency_ms, success) VALUES (1, 'a', 1, 1)").run();
      const s = store.stats();
      expect(s.tables.pings).toBe(1);
      expect(s.walSizeBytes).toBe(0);
      expect(s.fileSizeBytes).toBeGreaterThan(0);
    } finally {
      store.close();
    }
  });

  it('accepts a pino logger', () => {
    const logger: StoreLogger = pino({ level: 'silent' });
    const store = Store.open({ path: ':memory:', logger });
    store.close();
  });

  it('is closed for good after close(): idempotent, and refuses work', () => {
    const store = Store.open({ path: ':memory:' });
    const w = metricWriter(store);
    store.close();
    store.close();
    expect(store.isOpen).toBe(false);
    expect(store.db.open).toBe(false);
    expect(w.push({ ts: 1, cpu: 1 })).toBe(false);
    expect(() => store.stats()).toThrow(new StoreError('NETWATCH_ERR_STORE_CLOSED', 'the store :memory: is closed'));
    expect(() => metricWriter(store, 'late')).toThrow(/The database connection is not open|is closed/);
  });

  it('closes the database even if a writer fails to stop, logging it', () => {
    const logger = recordingLogger();
    const store = Store.open({ path: ':memory:', logger });
    store.registerWriter({
      name: 'broken',
      counters: () => ({ queued: 0, waiting: 0, written: 0, dropped: 0, flushes: 0, errors: 0, failedFlushes: 0, lastFlushMs: 0 }),
      stop: () => {
        throw new Error('boom');
      },
    });
    const w = metricWriter(store);
    w.push({ ts: 1, cpu: 1 });
    store.close();
    expect(store.db.open).toBe(false);
    expect(w.counters()).toMatchObject({ written: 1 });
    expect(logger.records.filter((r) => r.level === 'error')).toEqual([{ level: 'error', obj: { writer: 'broken', err: 'boom' }, msg: 'stopping a writer failed' }]);
  });

  it('runs retention from startMaintenance() and stops it on close()', async () => {
    const logger = recordingLogger();
    const store = Store.open({ path: tmp.file('maintenance.db'), retention: { system_metrics: 60 }, logger });
    const now = Math.floor(Date.now() / 1000);
    const put = store.db.prepare('INSERT INTO system_metrics (ts, cpu_percent) VALUES (?, 1)');
    put.run(now - 3600);
    put.run(now);
    store.startMaintenance(20);
    for (let i = 0; i < 100 && (store.db.prepare('SELECT count(*) FROM system_metrics').pluck().get() as number) > 1; i++) await sleep(10);
    expect(store.db.prepare('SELECT ts FROM system_metrics').pluck().all()).toEqual([now]);
    expect(logger.records).toContainEqual({ level: 'info', obj: expect.objectContaining({ deleted: { system_metrics: 1 } }), msg: 'retention deleted old rows' });
    store.close();
    const errorsBefore = logger.records.filter((r) => r.level === 'error').length;
    await sleep(60);
    expect(logger.records.filter((r) => r.level === 'error')).toHaveLength(errorsBefore);
  });

  it('refuses an unknown retention table and a non-positive age', () => {
    expect(() => Store.open({ path: ':memory:', retention: { flows: 60 } as never })).toThrow(/retention: unknown table "flows"/);
    expect(() => Store.open({ path: ':memory:', retention: { pings: 0 } })).toThrow(/retention.pings: the maximum age must be a positive number/);
  });
});
