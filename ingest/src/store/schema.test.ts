import Database from 'better-sqlite3';
import { SCHEMA_VERSION } from './migrations';
import { Store } from './store';
import { tempDirs } from './test-db';

const tmp = tempDirs();

const TABLES = [
  'cpu_metrics',
  'daily_aggregates',
  'disk_metrics',
  'error_traces',
  'event_traces',
  'hourly_aggregates',
  'ip_reputation',
  'log_events',
  'metadata',
  'network_metrics',
  'network_traces',
  'ping_metadata',
  'ping_probes',
  'pings',
  'process_traces',
  'system_metrics',
  'trace_patterns',
];

// Named indexes and their columns; primary keys and UNIQUE constraints add automatic ones.
const INDEXES: Record<string, string> = {
  idx_disk_metrics_mount_ts: 'disk_metrics(mount, ts)',
  idx_error_traces_trace_id: 'error_traces(trace_id)',
  idx_error_traces_type: 'error_traces(error_type, error_category)',
  idx_event_traces_event_id: 'event_traces(event_id)',
  idx_event_traces_ip_timestamp: 'event_traces(ip, timestamp)',
  idx_event_traces_severity: 'event_traces(severity_score)',
  idx_event_traces_source_timestamp: 'event_traces(source, timestamp)',
  idx_event_traces_timestamp: 'event_traces(timestamp)',
  idx_ip_reputation_last_seen: 'ip_reputation(last_seen)',
  idx_ip_reputation_threat_score: 'ip_reputation(threat_score)',
  idx_log_events_ip_timestamp: 'log_events(ip, timestamp)',
  idx_log_events_source_timestamp: 'log_events(source, timestamp)',
  idx_log_events_timestamp: 'log_events(timestamp)',
  idx_network_metrics_interface_ts: 'network_metrics(interface, ts)',
  idx_network_traces_remote_ip: 'network_traces(remote_ip)',
  idx_network_traces_trace_id: 'network_traces(trace_id)',
  idx_ping_probes_target_ts: 'ping_probes(target, ts DESC)',
  idx_process_traces_trace_id: 'process_traces(trace_id)',
  idx_target_ts: 'pings(target, ts DESC)',
  idx_trace_patterns_ip: 'trace_patterns(ip)',
  idx_trace_patterns_last_seen: 'trace_patterns(last_seen)',
  idx_trace_patterns_type_ip: 'trace_patterns(pattern_type, ip)',
  idx_ts: 'pings(ts DESC)',
};

function indexes(db: Database.Database): Record<string, string> {
  const rows = db.prepare("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name").all() as Array<{ name: string; tbl_name: string }>;
  const out: Record<string, string> = {};
  for (const { name, tbl_name } of rows) {
    const cols = db.prepare('SELECT name, desc FROM pragma_index_xinfo(?) WHERE key = 1 ORDER BY seqno').all(name) as Array<{ name: string; desc: number }>;
    out[name] = `${tbl_name}(${cols.map((c) => c.name + (c.desc ? ' DESC' : '')).join(', ')})`;
  }
  return out;
}

function columns(db: Database.Database, table: string): Array<{ name: string; type: string; notnull: number; pk: number }> {
  return db.prepare('SELECT name, type, "notnull", pk FROM pragma_table_info(?) ORDER BY cid').all(table) as Array<{ name: string; type: string; notnull: number; pk: number }>;
}

describe('a fresh database', () => {
  let file: string;
  let store: Store;
  beforeAll(() => {
    file = tmp.file('fresh.db');
    store = Store.open({ path: file, hostname: 'probe-1' });
  });
  afterAll(() => store.close());

  it('has every table of the storage design and the ping tables', () => {
    const tables = store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all();
    expect(tables).toEqual(TABLES);
  });

  it('has every index, on the intended columns', () => {
    expect(indexes(store.db)).toEqual(INDEXES);
  });

  it('records schema version 3, the creation time and the hostname', () => {
    const meta = Object.fromEntries((store.db.prepare('SELECT key, value FROM metadata').all() as Array<{ key: string; value: string }>).map((r) => [r.key, r.value]));
    expect(SCHEMA_VERSION).toBe(3);
    expect(store.schemaVersion).toBe(3);
    expect(meta).toEqual({ schema_version: '3', created: expect.stringMatching(/^\d{10}$/), hostname: 'probe-1' });
    expect(Math.abs(Number(meta.created) - Date.now() / 1000)).toBeLessThan(60);
  });

  it('defines the pings tables as the ping specification does, ping_metadata keyed like pings', () => {
    expect(columns(store.db, 'pings')).toEqual([
      { name: 'ts', type: 'INTEGER', notnull: 1, pk: 1 },
      { name: 'target', type: 'TEXT', notnull: 1, pk: 2 },
      { name: 'latency_ms', type: 'REAL', notnull: 0, pk: 0 },
      { name: 'success', type: 'INTEGER', notnull: 0, pk: 0 },
    ]);
    expect(columns(store.db, 'ping_metadata')).toEqual([
      { name: 'ts', type: 'INTEGER', notnull: 1, pk: 1 },
      { name: 'target', type: 'TEXT', notnull: 1, pk: 2 },
      { name: 'ttl', type: 'INTEGER', notnull: 0, pk: 0 },
      { name: 'packet_loss', type: 'REAL', notnull: 0, pk: 0 },
      { name: 'jitter_ms', type: 'REAL', notnull: 0, pk: 0 },
    ]);
    expect(columns(store.db, 'ping_probes').map((c) => c.name)).toEqual([
      'ts', 'target', 'kind', 'status_code', 'total_ms', 'connect_ms', 'tls_handshake_ms', 'cert_days_left', 'cert_issuer', 'tls_version', 'error',
    ]);
  });

  it('replaces a ping_metadata row with INSERT OR REPLACE', () => {
    const put = store.db.prepare('INSERT OR REPLACE INTO ping_metadata (ts, target, ttl, packet_loss, jitter_ms) VALUES (?, ?, ?, ?, ?)');
    put.run(100, '10.0.0.1', 64, 0, 1.5);
    put.run(100, '10.0.0.1', 63, 25, 2.5);
    expect(store.db.prepare('SELECT ts, target, ttl, packet_loss, jitter_ms FROM ping_metadata').all()).toEqual([
      { ts: 100, target: '10.0.0.1', ttl: 63, packet_loss: 25, jitter_ms: 2.5 },
    ]);
  });

  it('has the columns of the storage design in the metric, log and reputation tables', () => {
    const names = (t: string) => columns(store.db, t).map((c) => c.name);
    expect(names('system_metrics')).toEqual([
      'ts', 'cpu_percent', 'cpu_count', 'memory_total', 'memory_available', 'memory_percent', 'disk_total', 'disk_used', 'disk_percent',
      'disk_read_bytes', 'disk_write_bytes', 'load_1', 'load_5', 'load_15',
    ]);
    expect(names('network_metrics')).toEqual([
      'ts', 'interface', 'bytes_sent', 'bytes_recv', 'packets_sent', 'packets_recv', 'errin', 'errout', 'dropin', 'dropout',
      'connections_established', 'connections_listen', 'connections_time_wait',
    ]);
    expect(columns(store.db, 'disk_metrics')).toEqual([
      { name: 'ts', type: 'INTEGER', notnull: 1, pk: 1 },
      { name: 'mount', type: 'TEXT', notnull: 1, pk: 2 },
      { name: 'disk_total', type: 'INTEGER', notnull: 0, pk: 0 },
      { name: 'disk_used', type: 'INTEGER', notnull: 0, pk: 0 },
      { name: 'disk_percent', type: 'REAL', notnull: 0, pk: 0 },
      { name: 'disk_read_bytes', type: 'INTEGER', notnull: 0, pk: 0 },
      { name: 'disk_write_bytes', type: 'INTEGER', notnull: 0, pk: 0 },
    ]);
    expect(columns(store.db, 'cpu_metrics')).toEqual([
      { name: 'ts', type: 'INTEGER', notnull: 1, pk: 1 },
      { name: 'cpu', type: 'INTEGER', notnull: 1, pk: 2 },
      { name: 'cpu_percent', type: 'REAL', notnull: 0, pk: 0 },
    ]);
    const aggregate = [
      'samples', 'cpu_avg', 'cpu_max', 'memory_avg', 'memory_max', 'disk_percent_max', 'load_1_avg', 'load_1_max', 'network_bytes_sent',
      'network_bytes_recv', 'log_events_total', 'log_event_counts',
    ];
    expect(names('hourly_aggregates')).toEqual(['id', 'hour_timestamp', ...aggregate, 'computed_at', 'cpu_min', 'memory_min', 'load_1_min']);
    expect(names('daily_aggregates')).toEqual(['id', 'date', ...aggregate, 'unique_ips', 'unique_users', 'computed_at', 'cpu_min', 'memory_min', 'load_1_min']);
    expect(names('log_events')).toEqual(['id', 'timestamp', 'source', 'level', 'message', 'ip', 'user', 'service', 'action', 'metadata']);
    expect(names('ip_reputation')).toEqual([
      'ip', 'first_seen', 'last_seen', 'threat_score', 'failures', 'invalid_users', 'bans', 'scans', 'accepted', 'country', 'asn', 'metadata', 'updated_at',
    ]);
    expect(names('trace_patterns')).toEqual(['id', 'pattern_type', 'ip', 'first_seen', 'last_seen', 'count', 'severity', 'evidence', 'description']);
  });

  it('opens in WAL mode with synchronous=NORMAL, foreign keys on, a busy timeout and incremental auto-vacuum', () => {
    const p = (name: string) => store.db.pragma(name, { simple: true });
    expect({ journal: p('journal_mode'), synchronous: p('synchronous'), foreignKeys: p('foreign_keys'), busyTimeout: p('busy_timeout'), autoVacuum: p('auto_vacuum') }).toEqual({
      journal: 'wal',
      synchronous: 1, // NORMAL
      foreignKeys: 1,
      busyTimeout: 5000,
      autoVacuum: 2, // INCREMENTAL
    });
  });

  it('keeps WAL mode in the file for other connections (the sqlite3 CLI, backups)', () => {
    const other = new Database(file, { readonly: true });
    try {
      expect(other.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      other.close();
    }
  });

  it('enforces foreign keys: a trace of a missing log event is refused, deleting an event deletes its traces', () => {
    const db = store.db;
    expect(() => db.prepare('INSERT INTO event_traces (event_id, timestamp) VALUES (?, ?)').run(999_999, 1)).toThrow(/FOREIGN KEY/);
    const eventId = db.prepare("INSERT INTO log_events (timestamp, source) VALUES (1, 'auth')").run().lastInsertRowid;
    const traceId = db.prepare('INSERT INTO event_traces (event_id, timestamp) VALUES (?, 1)').run(eventId).lastInsertRowid;
    db.prepare('INSERT INTO process_traces (trace_id, pid) VALUES (?, 42)').run(traceId);
    db.prepare('INSERT INTO network_traces (trace_id, remote_ip) VALUES (?, ?)').run(traceId, '203.0.113.9');
    db.prepare('INSERT INTO error_traces (trace_id, error_type) VALUES (?, ?)').run(traceId, 'auth');
    db.prepare('DELETE FROM log_events WHERE id = ?').run(eventId);
    const left = ['event_traces', 'process_traces', 'network_traces', 'error_traces'].map((t) => db.prepare(`SELECT count(*) FROM ${t}`).pluck().get());
    expect(left).toEqual([0, 0, 0, 0]);
  });

  it('refuses invalid JSON and out-of-range scores', () => {
    const db = store.db;
    expect(() => db.prepare("INSERT INTO log_events (timestamp, source, metadata) VALUES (1, 'auth', ?)").run('{not json')).toThrow(/CHECK/);
    expect(() => db.prepare('INSERT INTO ip_reputation (ip, first_seen, last_seen, threat_score, updated_at) VALUES (?, 1, 1, 101, 1)').run('198.51.100.1')).toThrow(/CHECK/);
    expect(() => db.prepare("INSERT INTO daily_aggregates (date, computed_at) VALUES ('2024-1-1', 1)").run()).toThrow(/CHECK/);
  });

  // Each query the API will run on a time range must search an index, never scan the table.
  it.each([
    ['system_metrics', 'SELECT * FROM system_metrics WHERE ts BETWEEN ? AND ?', /USING INTEGER PRIMARY KEY/],
    ['network_metrics', 'SELECT * FROM network_metrics WHERE ts BETWEEN ? AND ?', /USING INDEX sqlite_autoindex_network_metrics_1/],
    ['network_metrics by interface', "SELECT * FROM network_metrics WHERE interface = 'eth0' AND ts BETWEEN ? AND ?", /USING INDEX idx_network_metrics_interface_ts \(interface=\? AND ts>\? AND ts<\?\)/],
    ['disk_metrics by mount', "SELECT * FROM disk_metrics WHERE mount = '/' AND ts >= ? AND ts < ?", /USING INDEX idx_disk_metrics_mount_ts \(mount=\? AND ts>\? AND ts<\?\)/],
    ['cpu_metrics, every core', 'SELECT ts, cpu, cpu_percent FROM cpu_metrics WHERE ts >= ? AND ts < ?', /USING INDEX sqlite_autoindex_cpu_metrics_1 \(ts>\? AND ts<\?\)/],
    ['log_events', 'SELECT * FROM log_events WHERE timestamp BETWEEN ? AND ?', /USING INDEX idx_log_events_timestamp/],
    ['log_events by source', "SELECT * FROM log_events WHERE source = 'auth' AND timestamp BETWEEN ? AND ?", /USING INDEX idx_log_events_source_timestamp \(source=\? AND timestamp>\? AND timestamp<\?\)/],
    ['log_events by ip', "SELECT * FROM log_events WHERE ip = '203.0.113.9' AND timestamp BETWEEN ? AND ?", /USING INDEX idx_log_events_ip_timestamp \(ip=\? AND timestamp>\? AND timestamp<\?\)/],
    ['event_traces', 'SELECT * FROM event_traces WHERE timestamp BETWEEN ? AND ?', /USING INDEX idx_event_traces_timestamp/],
    ['event_traces by severity', 'SELECT * FROM event_traces WHERE severity_score >= 80', /USING INDEX idx_event_traces_severity/],
    ['event_traces by ip', "SELECT * FROM event_traces WHERE ip = '203.0.113.9' AND timestamp BETWEEN ? AND ?", /USING INDEX idx_event_traces_ip_timestamp/],
    ['ip_reputation by threat score', 'SELECT * FROM ip_reputation WHERE threat_score >= 70', /USING INDEX idx_ip_reputation_threat_score/],
    ['pings', 'SELECT * FROM pings WHERE ts BETWEEN ? AND ?', /USING INDEX (idx_ts|sqlite_autoindex_pings_1)/],
    ['pings by target', "SELECT * FROM pings WHERE target = 'a' AND ts BETWEEN ? AND ?", /USING INDEX idx_target_ts \(target=\? AND ts>\? AND ts<\?\)/],
    ['ping_probes by target', "SELECT * FROM ping_probes WHERE target = 'a' AND ts BETWEEN ? AND ?", /USING INDEX idx_ping_probes_target_ts/],
    ['hourly_aggregates', 'SELECT * FROM hourly_aggregates WHERE hour_timestamp BETWEEN ? AND ?', /USING INDEX sqlite_autoindex_hourly_aggregates_1/],
    ['daily_aggregates', "SELECT * FROM daily_aggregates WHERE date BETWEEN '2024-01-01' AND '2024-01-31'", /USING INDEX sqlite_autoindex_daily_aggregates_1/],
    ['trace_patterns', 'SELECT * FROM trace_patterns WHERE last_seen > ?', /USING INDEX idx_trace_patterns_last_seen/],
  ])('searches an index for %s', (_name, sql, plan) => {
    const details = (store.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...(sql.match(/\?/g) ?? []).map(() => 0)) as Array<{ detail: string }>).map((r) => r.detail);
    expect(details).toEqual([expect.stringMatching(plan)]);
    expect(details[0]).toMatch(/^SEARCH /);
  });
});
