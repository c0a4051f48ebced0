import Database from 'better-sqlite3';
import { StoreError } from './errors';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations';
import { Store } from './store';
import { createV1File, describeSchema, recordingLogger, tempDirs } from './test-db';

const tmp = tempDirs();

/** Rows a version 1 netwatch would have written, one or two per table. */
function fillV1(db: Database.Database): void {
  db.exec(`
    INSERT INTO system_metrics (ts, cpu_percent, cpu_count, memory_total, memory_available, memory_percent, disk_total, disk_used,
      disk_percent, disk_read_bytes, disk_write_bytes, load_1, load_5, load_15)
      VALUES (1700000000, 12.5, 4, 8000000000, 6000000000, 25, 100000000000, 40000000000, 40, 1000, 2000, 0.5, 0.4, 0.3);
    INSERT INTO network_metrics (ts, bytes_sent, bytes_recv, packets_sent, packets_recv, errin, errout, dropin, dropout,
      connections_established, connections_listen, connections_time_wait)
      VALUES (1700000000, 100, 200, 1, 2, 0, 0, 0, 0, 5, 3, 1), (1700000060, 150, 260, 2, 3, 0, 1, 0, 0, 6, 3, 0);
    INSERT INTO log_events (id, timestamp, source, level, message, ip, user, service, action, metadata)
      VALUES (1, 1700000001, 'auth', 'warning', 'Failed password for root', '203.0.113.9', 'root', 'sshd', 'auth_failure', '{"port":22}');
    INSERT INTO event_traces (id, event_id, timestamp, source, ip, severity_score, causality_chain, related_services, root_cause, trace_metadata)
      VALUES (1, 1, 1700000001, 'auth', '203.0.113.9', 70, '["auth_failure"]', '["sshd"]', 'brute force', '{}');
    INSERT INTO process_traces (trace_id, pid, name) VALUES (1, 812, 'sshd');
    INSERT INTO network_traces (trace_id, local_ip, local_port, remote_ip, remote_port, state, protocol)
      VALUES (1, '192.0.2.10', 22, '203.0.113.9', 51234, 'ESTABLISHED', 'tcp');
    INSERT INTO error_traces (trace_id, error_type, has_stacktrace) VALUES (1, 'auth', 0);
    INSERT INTO ip_reputation (ip, first_seen, last_seen, threat_score, failures, updated_at) VALUES ('203.0.113.9', 1700000001, 1700000001, 40, 1, 1700000001);
    INSERT INTO hourly_aggregates (hour_timestamp, cpu_avg, computed_at) VALUES (1699999200, 10, 1700000000);
    INSERT INTO daily_aggregates (date, unique_ips, computed_at) VALUES ('2023-11-14', 1, 1700000000);
    INSERT INTO pings (ts, target, latency_ms, success) VALUES (1700000000, '192.0.2.1', 0.42, 1), (1700000000, '192.0.2.2', NULL, 0);
    INSERT INTO ping_metadata (ts, target, ttl, packet_loss, jitter_ms) VALUES (1700000000, '192.0.2.1', 64, 0, 0.1);
  `);
}

const UNCHANGED_TABLES = [
  'system_metrics',
  'log_events',
  'event_traces',
  'process_traces',
  'network_traces',
  'error_traces',
  'ip_reputation',
  'pings',
  'ping_metadata',
];

function dump(db: Database.Database, tables: string[]): Record<string, unknown[]> {
  return Object.fromEntries(tables.map((t) => [t, db.prepare(`SELECT * FROM ${t} ORDER BY rowid`).all()]));
}

function metadata(db: Database.Database): Record<string, string> {
  return Object.fromEntries((db.prepare('SELECT key, value FROM metadata').all() as Array<{ key: string; value: string }>).map((r) => [r.key, r.value]));
}

describe('schema migrations', () => {
  it('are consecutive steps from version 2 up to SCHEMA_VERSION', () => {
    expect(MIGRATIONS.map((m) => m.to)).toEqual(Array.from({ length: SCHEMA_VERSION - 1 }, (_, i) => i + 2));
  });

  it.each(['1', '1.0'])('migrate a version %s file to the current version, keeping every row', (version) => {
    const file = tmp.file('v1.db');
    const v1 = createV1File(file, version);
    fillV1(v1);
    const before = dump(v1, UNCHANGED_TABLES);
    v1.close();

    const logger = recordingLogger();
    const store = Store.open({ path: file, hostname: 'new-host', logger });
    try {
      expect(store.schemaVersion).toBe(3);
      expect(metadata(store.db)).toEqual({ schema_version: '3', created: '1700000000', hostname: 'old-host' });
      expect(dump(store.db, UNCHANGED_TABLES)).toEqual(before);
      // The aggregates keep their rows and gain the minimum columns, NULL for periods the raw rows do not cover
      // from their start (the one hour here began before the oldest system_metrics row).
      expect(store.db.prepare('SELECT hour_timestamp, cpu_avg, cpu_min, memory_min, load_1_min FROM hourly_aggregates').all()).toEqual([
        { hour_timestamp: 1699999200, cpu_avg: 10, cpu_min: null, memory_min: null, load_1_min: null },
      ]);
      expect(store.db.prepare('SELECT date, unique_ips, cpu_min FROM daily_aggregates').all()).toEqual([{ date: '2023-11-14', unique_ips: 1, cpu_min: null }]);
      // v1 rows were the all-interfaces totals.
      expect(store.db.prepare('SELECT ts, interface, bytes_sent, bytes_recv, errout, connections_established FROM network_metrics ORDER BY ts').all()).toEqual([
        { ts: 1700000000, interface: '', bytes_sent: 100, bytes_recv: 200, errout: 0, connections_established: 5 },
        { ts: 1700000060, interface: '', bytes_sent: 150, bytes_recv: 260, errout: 1, connections_established: 6 },
      ]);
      // The new tables take rows.
      store.db.prepare("INSERT INTO network_metrics (ts, interface, bytes_sent) VALUES (1700000060, 'eth0', 7)").run();
      store.db.prepare("INSERT INTO trace_patterns (pattern_type, ip, first_seen, last_seen) VALUES ('brute_force', '203.0.113.9', 1, 2)").run();
      store.db.prepare("INSERT INTO ping_probes (ts, target, kind, status_code) VALUES (1700000000, 'https://example.net', 'http', 200)").run();
      store.db.prepare("INSERT INTO disk_metrics (ts, mount, disk_used) VALUES (1700000060, '/', 7)").run();
      store.db.prepare('INSERT INTO cpu_metrics (ts, cpu, cpu_percent) VALUES (1700000060, 1, 7)').run();
      expect(store.stats().tables).toMatchObject({ network_metrics: 3, trace_patterns: 1, ping_probes: 1, disk_metrics: 1, cpu_metrics: 1 });
      expect(logger.records.filter((r) => r.level === 'info').map((r) => r.msg)).toEqual(
        expect.arrayContaining(['migrating the database schema', 'migrated the database schema', 'converted the database to incremental auto-vacuum']),
      );
      expect(store.db.pragma('auto_vacuum', { simple: true })).toBe(2);
      expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1);
    } finally {
      store.close();
    }
  });

  it('fill the new minimum columns of a version 2 file from the raw rows that cover the whole period', () => {
    const file = tmp.file('v2-aggregates.db');
    const db = createV1File(file);
    MIGRATIONS.find((m) => m.to === 2)!.up(db);
    db.prepare("UPDATE metadata SET value = '2' WHERE key = 'schema_version'").run();
    // Raw rows from 2023-11-15T00:00Z for a day and a half; aggregates for the hour and day before (not covered),
    // and for the first covered hour and day.
    const day = 1700006400;
    const ins = db.prepare('INSERT INTO system_metrics (ts, cpu_percent, memory_percent, load_1) VALUES (?, ?, ?, ?)');
    const rows: Array<[number, number, number, number]> = [];
    for (let ts = day; ts < day + 36 * 3600; ts += 600) rows.push([ts, 20 + ((ts / 600) % 37), 50 + ((ts / 600) % 11), ((ts / 600) % 7) / 10]);
    db.transaction(() => rows.forEach((r) => ins.run(...r)))();
    const hour = db.prepare('INSERT INTO hourly_aggregates (hour_timestamp, cpu_avg, computed_at) VALUES (?, 1, 0)');
    for (const h of [day - 3600, day, day + 3600]) hour.run(h);
    for (const d of ['2023-11-14', '2023-11-15']) db.prepare('INSERT INTO daily_aggregates (date, computed_at) VALUES (?, 0)').run(d);
    db.close();

    const store = Store.open({ path: file });
    try {
      const min = (from: number, to: number) => {
        const r = rows.filter(([ts]) => ts >= from && ts < to);
        return { cpu_min: Math.min(...r.map((x) => x[1])), memory_min: Math.min(...r.map((x) => x[2])), load_1_min: Math.min(...r.map((x) => x[3])) };
      };
      const none = { cpu_min: null, memory_min: null, load_1_min: null };
      expect(store.db.prepare('SELECT hour_timestamp, cpu_min, memory_min, load_1_min FROM hourly_aggregates ORDER BY 1').all()).toEqual([
        { hour_timestamp: day - 3600, ...none },
        { hour_timestamp: day, ...min(day, day + 3600) },
        { hour_timestamp: day + 3600, ...min(day + 3600, day + 7200) },
      ]);
      expect(store.db.prepare('SELECT date, cpu_min, memory_min, load_1_min FROM daily_aggregates ORDER BY 1').all()).toEqual([
        { date: '2023-11-14', ...none },
        { date: '2023-11-15', ...min(day, day + 86_400) },
      ]);
    } finally {
      store.close();
    }
  });

  it('give a migrated file exactly the tables, columns, constraints and indexes of a fresh one', () => {
    const old = tmp.file('v1.db');
    createV1File(old).close();
    const fresh = tmp.file('fresh.db');
    const migrated = Store.open({ path: old });
    const created = Store.open({ path: fresh });
    try {
      expect(describeSchema(migrated.db)).toEqual(describeSchema(created.db));
    } finally {
      migrated.close();
      created.close();
    }
  });

  it('keep foreign keys working after the table rebuild', () => {
    const file = tmp.file('v1.db');
    const v1 = createV1File(file);
    fillV1(v1);
    v1.close();
    const store = Store.open({ path: file });
    try {
      store.db.prepare('DELETE FROM log_events WHERE id = 1').run();
      expect(store.stats().tables).toMatchObject({ log_events: 0, event_traces: 0, process_traces: 0, network_traces: 0, error_traces: 0 });
    } finally {
      store.close();
    }
  });

  it('leave the file unchanged when a step fails', () => {
    const file = tmp.file('v1-conflict.db');
    const v1 = createV1File(file);
    fillV1(v1);
    // A table the v2 step would create, already there: the step fails midway, after rebuilding network_metrics.
    v1.exec('CREATE TABLE ping_probes (x)');
    const before = describeSchema(v1);
    v1.close();

    let err: unknown;
    try {
      Store.open({ path: file });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StoreError);
    expect(err).toMatchObject({ code: 'NETWATCH_ERR_STORE_MIGRATION' });
    expect((err as Error).message).toMatch(/from schema version 1 to 2 .*failed, the file is unchanged: table ping_probes already exists/);

    const db = new Database(file, { readonly: true });
    try {
      expect(describeSchema(db)).toEqual(before);
      expect(metadata(db).schema_version).toBe('1');
      expect(db.prepare('SELECT count(*) FROM network_metrics').pluck().get()).toBe(2);
    } finally {
      db.close();
    }
  });

  it('refuse a file of a newer schema version, naming both versions, and leave it untouched', () => {
    const file = tmp.file('v4.db');
    Store.open({ path: file }).close();
    const raw = new Database(file);
    raw.prepare("UPDATE metadata SET value = '4' WHERE key = 'schema_version'").run();
    const schema = describeSchema(raw);
    raw.close();

    expect(() => Store.open({ path: file })).toThrow(
      new StoreError(
        'NETWATCH_ERR_STORE_SCHEMA_TOO_NEW',
        `database ${file} has schema version 4, newer than version 3 supported by this netwatch-ingest: upgrade netwatch-ingest, or use another data directory`,
      ),
    );
    try {
      Store.open({ path: file });
    } catch (e) {
      expect(e).toMatchObject({ code: 'NETWATCH_ERR_STORE_SCHEMA_TOO_NEW' });
    }
    const after = new Database(file, { readonly: true });
    try {
      expect(metadata(after).schema_version).toBe('4');
      expect(describeSchema(after)).toEqual(schema);
    } finally {
      after.close();
    }
  });

  it.each([
    ['tables but no metadata', 'CREATE TABLE users (id INTEGER PRIMARY KEY)', /is not a netwatch database \(it has tables but no metadata table\)/],
    ['no schema_version', "CREATE TABLE metadata (key TEXT PRIMARY KEY, value TEXT); INSERT INTO metadata VALUES ('owner', 'someone')", /its schema_version is missing/],
    ['a schema_version that is not a number', "CREATE TABLE metadata (key TEXT PRIMARY KEY, value TEXT); INSERT INTO metadata VALUES ('schema_version', 'beta')", /its schema_version is "beta"/],
  ])('refuse a database with %s', (_name, sql, message) => {
    const file = tmp.file('other.db');
    const raw = new Database(file);
    raw.exec(sql);
    raw.close();
    expect(() => Store.open({ path: file })).toThrow(message);
  });

  it('create the full schema in an existing empty file', () => {
    const file = tmp.file('empty.db');
    new Database(file).close();
    const store = Store.open({ path: file });
    try {
      expect(store.schemaVersion).toBe(3);
      expect(Object.keys(store.stats().tables)).toHaveLength(17);
    } finally {
      store.close();
    }
  });

  it('reopen a current-version file without changing it', () => {
    const file = tmp.file('v3.db');
    const first = Store.open({ path: file, hostname: 'a' });
    first.db.prepare("INSERT INTO pings (ts, target, latency_ms, success) VALUES (1, 'x', 1.0, 1)").run();
    const created = metadata(first.db).created;
    first.close();
    const logger = recordingLogger();
    const again = Store.open({ path: file, hostname: 'b', logger });
    try {
      expect(metadata(again.db)).toEqual({ schema_version: '3', created, hostname: 'a' });
      expect(again.stats().tables.pings).toBe(1);
      expect(logger.records).toEqual([]);
    } finally {
      again.close();
    }
  });
});
