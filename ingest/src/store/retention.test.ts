import { existsSync, statSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { DEFAULT_RETENTION, RETENTION_REPORTED_TABLES, utcDate } from './retention';
import { Store } from './store';
import { count, recordingLogger, tempDirs } from './test-db';

const tmp = tempDirs();

/** 2027-01-15T08:00:00Z */
const NOW = 1_800_000_000;
const DAY = 86_400;

function noneDeleted(): Record<string, number> {
  return Object.fromEntries(RETENTION_REPORTED_TABLES.map((t) => [t, 0]));
}

// Tables aged by one integer column: how to insert a row of a given age, and that column.
const SIMPLE: Array<{ table: keyof typeof DEFAULT_RETENTION; column: string; insert: string }> = [
  { table: 'system_metrics', column: 'ts', insert: 'INSERT INTO system_metrics (ts, cpu_percent) VALUES (?, 1)' },
  { table: 'network_metrics', column: 'ts', insert: "INSERT INTO network_metrics (ts, interface) VALUES (?, 'eth0')" },
  { table: 'pings', column: 'ts', insert: "INSERT INTO pings (ts, target, latency_ms, success) VALUES (?, '192.0.2.1', 1, 1)" },
  { table: 'ping_metadata', column: 'ts', insert: "INSERT INTO ping_metadata (ts, target, ttl) VALUES (?, '192.0.2.1', 64)" },
  { table: 'ping_probes', column: 'ts', insert: "INSERT INTO ping_probes (ts, target, kind) VALUES (?, 'https://example.net', 'http')" },
  { table: 'hourly_aggregates', column: 'hour_timestamp', insert: 'INSERT INTO hourly_aggregates (hour_timestamp, computed_at) VALUES (?, 0)' },
  { table: 'ip_reputation', column: 'last_seen', insert: "INSERT INTO ip_reputation (ip, first_seen, last_seen, updated_at) VALUES ('198.51.100.' || (SELECT count(*) FROM ip_reputation), 0, ?, 0)" },
  { table: 'trace_patterns', column: 'last_seen', insert: "INSERT INTO trace_patterns (pattern_type, first_seen, last_seen) VALUES ('port_scan', 0, ?)" },
  { table: 'disk_metrics', column: 'ts', insert: "INSERT INTO disk_metrics (ts, mount, disk_used) VALUES (?, '/', 1)" },
  { table: 'cpu_metrics', column: 'ts', insert: 'INSERT INTO cpu_metrics (ts, cpu, cpu_percent) VALUES (?, 0, 1)' },
];

function insertTraceScenario(db: Database.Database): void {
  const old = NOW - DEFAULT_RETENTION.log_events - 1;
  const atCutoff = NOW - DEFAULT_RETENTION.log_events;
  const event = db.prepare("INSERT INTO log_events (id, timestamp, source) VALUES (?, ?, 'auth')");
  event.run(1, old);
  event.run(2, atCutoff);
  event.run(3, NOW);
  const trace = db.prepare('INSERT INTO event_traces (id, event_id, timestamp) VALUES (?, ?, ?)');
  trace.run(1, 3, NOW - DEFAULT_RETENTION.event_traces - 1); // old trace of a recent event: goes on its own age
  trace.run(2, 1, NOW); // recent trace of an old event: goes with its event
  trace.run(3, 3, NOW); // stays
  for (const id of [1, 2]) db.prepare('INSERT INTO process_traces (trace_id, pid) VALUES (?, 1)').run(id);
  db.prepare("INSERT INTO network_traces (trace_id, remote_ip) VALUES (1, '203.0.113.9')").run();
  db.prepare("INSERT INTO error_traces (trace_id, error_type) VALUES (1, 'auth')").run();
  db.prepare("INSERT INTO error_traces (trace_id, error_type) VALUES (3, 'auth')").run();
}

describe('retention by age', () => {
  it('deletes exactly the rows older than each table’s maximum age, counted per table', () => {
    const store = Store.open({ path: tmp.file('age.db') });
    try {
      const db = store.db;
      for (const { table, insert } of SIMPLE) {
        const age = DEFAULT_RETENTION[table];
        for (const ts of [NOW - age - 1, NOW - age, NOW]) db.prepare(insert).run(ts);
      }
      const cutoffDay = utcDate(NOW - DEFAULT_RETENTION.daily_aggregates);
      const dayBefore = utcDate(NOW - DEFAULT_RETENTION.daily_aggregates - DAY);
      for (const date of [dayBefore, cutoffDay, utcDate(NOW)]) db.prepare('INSERT INTO daily_aggregates (date, computed_at) VALUES (?, 0)').run(date);
      insertTraceScenario(db);

      const result = store.runRetention(NOW);
      expect(result.deleted).toEqual({
        ...noneDeleted(),
        system_metrics: 1,
        network_metrics: 1,
        disk_metrics: 1,
        cpu_metrics: 1,
        pings: 1,
        ping_metadata: 1,
        ping_probes: 1,
        hourly_aggregates: 1,
        daily_aggregates: 1,
        ip_reputation: 1,
        trace_patterns: 1,
        log_events: 1,
        event_traces: 2,
        process_traces: 2,
        network_traces: 1,
        error_traces: 1,
      });

      for (const { table, column } of SIMPLE) {
        const age = DEFAULT_RETENTION[table];
        expect([table, db.prepare(`SELECT ${column} FROM ${table} ORDER BY ${column}`).pluck().all()]).toEqual([table, [NOW - age, NOW]]);
      }
      expect(db.prepare('SELECT date FROM daily_aggregates ORDER BY date').pluck().all()).toEqual([cutoffDay, utcDate(NOW)]);
      expect(db.prepare('SELECT id FROM log_events ORDER BY id').pluck().all()).toEqual([2, 3]);
      expect(db.prepare('SELECT id FROM event_traces ORDER BY id').pluck().all()).toEqual([3]);
      expect(db.prepare('SELECT trace_id FROM error_traces').pluck().all()).toEqual([3]);
      expect([count(db, 'process_traces'), count(db, 'network_traces')]).toEqual([0, 0]);
      expect(result.sizeBytes).toBe(statSync(store.path).size);

      expect(store.runRetention(NOW).deleted).toEqual(noneDeleted());
    } finally {
      store.close();
    }
  });

  it('takes per-table ages from the configuration; Infinity keeps rows forever', () => {
    const store = Store.open({ path: ':memory:', retention: { pings: 3600, system_metrics: Infinity } });
    try {
      const db = store.db;
      for (const ts of [NOW - 3601, NOW - 3600, NOW]) db.prepare(SIMPLE[2].insert).run(ts);
      db.prepare(SIMPLE[0].insert).run(NOW - 10 * 365 * DAY);
      expect(store.runRetention(NOW).deleted).toMatchObject({ pings: 1, system_metrics: 0 });
      expect(db.prepare('SELECT ts FROM pings ORDER BY ts').pluck().all()).toEqual([NOW - 3600, NOW]);
      expect(count(db, 'system_metrics')).toBe(1);
    } finally {
      store.close();
    }
  });

  it('deletes past one chunk, traces with their children, and gives the freed space back to the file system', () => {
    const store = Store.open({ path: tmp.file('chunks.db') });
    try {
      const db = store.db;
      const old = NOW - 31 * DAY;
      db.transaction(() => {
        const ping = db.prepare("INSERT INTO pings (ts, target, latency_ms, success) VALUES (?, 'host-with-a-long-name.example.net', 1.5, 1)");
        for (let i = 0; i < 12_345; i++) ping.run(old - i);
        for (let i = 0; i < 10; i++) ping.run(NOW - i);
        const trace = db.prepare('INSERT INTO event_traces (timestamp, root_cause) VALUES (?, ?)');
        const child = db.prepare('INSERT INTO process_traces (trace_id, cmdline) VALUES (?, ?)');
        for (let i = 0; i < 6000; i++) child.run(trace.run(old - i, 'x'.repeat(100)).lastInsertRowid, 'y'.repeat(100));
      })();
      db.pragma('wal_checkpoint(TRUNCATE)');
      const before = statSync(store.path).size;

      const { deleted, sizeBytes } = store.runRetention(NOW);
      expect(deleted).toMatchObject({ pings: 12_345, event_traces: 6000, process_traces: 6000 });
      expect([count(db, 'pings'), count(db, 'event_traces'), count(db, 'process_traces')]).toEqual([10, 0, 0]);
      expect(sizeBytes).toBeLessThan(before / 4);
      expect(statSync(store.path).size).toBe(sizeBytes);
    } finally {
      store.close();
    }
  });
});

describe('the size cap', () => {
  const MiB = 1024 * 1024;

  function fill(db: Database.Database): void {
    db.transaction(() => {
      const ping = db.prepare('INSERT INTO pings (ts, target, latency_ms, success) VALUES (?, ?, ?, 1)');
      for (let i = 0; i < 40_000; i++) ping.run(NOW - 40_000 + i, `host-${i % 20}.example.net`, (i % 100) / 10);
      const metric = db.prepare('INSERT INTO system_metrics (ts, cpu_percent, memory_total, load_1) VALUES (?, ?, ?, ?)');
      for (let i = 0; i < 20_000; i++) metric.run(NOW - 20_000 + i, i % 100, 8e9, 0.5);
      const disk = db.prepare("INSERT INTO disk_metrics (ts, mount, disk_total, disk_used, disk_percent) VALUES (?, '/', 1e11, 4e10, 40)");
      const core = db.prepare('INSERT INTO cpu_metrics (ts, cpu, cpu_percent) VALUES (?, ?, ?)');
      for (let i = 0; i < 20_000; i++) {
        disk.run(NOW - 20_000 + i);
        core.run(NOW - 20_000 + i, i % 2, i % 100);
      }
      const hour = db.prepare('INSERT INTO hourly_aggregates (hour_timestamp, cpu_avg, computed_at) VALUES (?, 10, ?)');
      for (let h = 1; h <= 10; h++) hour.run(NOW - h * 3600, NOW);
    })();
    db.pragma('wal_checkpoint(TRUNCATE)');
  }

  it('deletes the oldest time-series rows, across tables, until the file is under the cap', () => {
    const logger = recordingLogger();
    const store = Store.open({ path: tmp.file('cap.db'), maxSizeBytes: MiB, logger });
    try {
      const db = store.db;
      fill(db);
      expect(statSync(store.path).size).toBeGreaterThan(3 * MiB);

      const { deleted, sizeBytes } = store.runRetention(NOW);
      expect(sizeBytes).toBeLessThanOrEqual(MiB);
      expect(statSync(store.path).size).toBe(sizeBytes);
      expect(existsSync(`${store.path}-wal`) ? statSync(`${store.path}-wal`).size : 0).toBe(0);

      const [pingsMin, pingsMax] = db.prepare('SELECT min(ts), max(ts) FROM pings').raw().get() as number[];
      const [metricsMin, metricsMax] = db.prepare('SELECT min(ts), max(ts) FROM system_metrics').raw().get() as number[];
      // The newest rows stay; one cutoff applies to every table, so no table keeps rows older than another lost.
      expect([pingsMax, metricsMax]).toEqual([NOW - 1, NOW - 1]);
      expect(pingsMin).toBeGreaterThan(NOW - 40_000);
      expect(metricsMin).toBe(Math.max(pingsMin, NOW - 20_000));
      expect(deleted.pings).toBe(pingsMin - (NOW - 40_000));
      expect(deleted.system_metrics).toBe(Math.max(0, pingsMin - (NOW - 20_000)));
      // The per-mount and per-core series are raw time series too, trimmed at the same cutoff.
      const labelled = ['disk_metrics', 'cpu_metrics'].map((t) => [t, ...(db.prepare(`SELECT min(ts), max(ts) FROM ${t}`).raw().get() as number[]), deleted[t]]);
      expect(labelled).toEqual(['disk_metrics', 'cpu_metrics'].map((t) => [t, metricsMin, NOW - 1, Math.max(0, pingsMin - (NOW - 20_000))]));
      expect(count(db, 'pings')).toBeGreaterThan(0);
      // Aggregates are not raw time series: the cap leaves them.
      expect(count(db, 'hourly_aggregates')).toBe(10);
      expect(logger.records.map((r) => r.msg)).toContain('database over its size cap: deleted the oldest time-series rows');
    } finally {
      store.close();
    }
  });

  it('leaves a database under the cap alone', () => {
    const store = Store.open({ path: tmp.file('under.db'), maxSizeBytes: 64 * MiB });
    try {
      fill(store.db);
      const before = statSync(store.path).size;
      const { deleted, sizeBytes } = store.runRetention(NOW);
      expect(deleted).toEqual(noneDeleted());
      expect(sizeBytes).toBe(before);
      expect(count(store.db, 'pings')).toBe(40_000);
    } finally {
      store.close();
    }
  });
});
