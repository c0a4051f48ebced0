-- Netwatch store schema, version 3: what a fresh database gets in one transaction.
-- Older files reach the same shape through the steps in migrations.ts; migrations.test.ts proves the two agree,
-- so a change here needs a new migration step (and SCHEMA_VERSION raised) in the same commit.
--
-- Conventions:
--   * Times are Unix seconds in INTEGER columns: integer comparisons, and every range query goes through an index.
--   * JSON lives in TEXT columns, checked with json_valid() so query modules can parse whatever they read.
--   * No table is WITHOUT ROWID: retention deletes in chunks by rowid.
--   * Writers use INSERT OR REPLACE, so each time-series table has a natural key (time plus series) as its
--     primary key; that key's index also serves the time-range queries.

-- Host metrics, one row per collection (one per second at most: a second sample in the same second replaces the first).
-- ts is the rowid, so the table itself is ordered by time and needs no separate time index.
CREATE TABLE IF NOT EXISTS system_metrics (
  ts INTEGER PRIMARY KEY,
  cpu_percent REAL,
  cpu_count INTEGER,
  memory_total INTEGER,
  memory_available INTEGER,
  memory_percent REAL,
  disk_total INTEGER,
  disk_used INTEGER,
  disk_percent REAL,
  disk_read_bytes INTEGER,
  disk_write_bytes INTEGER,
  load_1 REAL,
  load_5 REAL,
  load_15 REAL
);

-- Network counters per interface; interface '' is the total over all interfaces (NULL would defeat the primary key,
-- as SQLite treats NULLs in a key as distinct).
CREATE TABLE IF NOT EXISTS network_metrics (
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
CREATE INDEX IF NOT EXISTS idx_network_metrics_interface_ts ON network_metrics(interface, ts);

-- Disk space and I/O per mount point, at the resolution of system_metrics (which has the host totals).
-- disk_read_bytes / disk_write_bytes are the counters of the mount's block device, NULL where it has none in
-- /proc/diskstats. The metrics component writes at most 32 mounts per ts (DEFAULT_SAMPLE_LIMITS.maxMounts).
CREATE TABLE IF NOT EXISTS disk_metrics (
  ts INTEGER NOT NULL,
  mount TEXT NOT NULL,
  disk_total INTEGER,
  disk_used INTEGER,
  disk_percent REAL,
  disk_read_bytes INTEGER,
  disk_write_bytes INTEGER,
  PRIMARY KEY (ts, mount)
);
CREATE INDEX IF NOT EXISTS idx_disk_metrics_mount_ts ON disk_metrics(mount, ts);

-- Busy percent per CPU core (cpu is the N of /proc/stat's cpuN), at the resolution of system_metrics. Read a time
-- range for every core at once, so the primary key is the only index needed.
CREATE TABLE IF NOT EXISTS cpu_metrics (
  ts INTEGER NOT NULL,
  cpu INTEGER NOT NULL,
  cpu_percent REAL,
  PRIMARY KEY (ts, cpu)
);

-- Parsed log lines (auth, fail2ban, syslog, journald, ...).
CREATE TABLE IF NOT EXISTS log_events (
  id INTEGER PRIMARY KEY,
  timestamp INTEGER NOT NULL,
  source TEXT NOT NULL,
  level TEXT,
  message TEXT,
  ip TEXT,
  user TEXT,
  service TEXT,
  action TEXT,
  metadata TEXT CHECK (metadata IS NULL OR json_valid(metadata))
);
CREATE INDEX IF NOT EXISTS idx_log_events_timestamp ON log_events(timestamp);
CREATE INDEX IF NOT EXISTS idx_log_events_source_timestamp ON log_events(source, timestamp);
CREATE INDEX IF NOT EXISTS idx_log_events_ip_timestamp ON log_events(ip, timestamp);

-- Pre-computed summaries for long ranges. hour_timestamp is the start of the hour (Unix seconds, UTC).
CREATE TABLE IF NOT EXISTS hourly_aggregates (
  id INTEGER PRIMARY KEY,
  hour_timestamp INTEGER NOT NULL UNIQUE,
  samples INTEGER NOT NULL DEFAULT 0,
  cpu_avg REAL,
  cpu_max REAL,
  memory_avg REAL,
  memory_max REAL,
  disk_percent_max REAL,
  load_1_avg REAL,
  load_1_max REAL,
  network_bytes_sent INTEGER NOT NULL DEFAULT 0,
  network_bytes_recv INTEGER NOT NULL DEFAULT 0,
  log_events_total INTEGER NOT NULL DEFAULT 0,
  -- {"<event type>": count}, e.g. {"auth_failure": 12, "ban": 1}
  log_event_counts TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(log_event_counts)),
  computed_at INTEGER NOT NULL,
  -- Added in version 3 (ALTER TABLE appends columns, so they come last here too).
  cpu_min REAL,
  memory_min REAL,
  load_1_min REAL
);

-- date is the UTC day 'YYYY-MM-DD', so it sorts and compares as text.
CREATE TABLE IF NOT EXISTS daily_aggregates (
  id INTEGER PRIMARY KEY,
  date TEXT NOT NULL UNIQUE CHECK (date GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
  samples INTEGER NOT NULL DEFAULT 0,
  cpu_avg REAL,
  cpu_max REAL,
  memory_avg REAL,
  memory_max REAL,
  disk_percent_max REAL,
  load_1_avg REAL,
  load_1_max REAL,
  network_bytes_sent INTEGER NOT NULL DEFAULT 0,
  network_bytes_recv INTEGER NOT NULL DEFAULT 0,
  log_events_total INTEGER NOT NULL DEFAULT 0,
  log_event_counts TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(log_event_counts)),
  unique_ips INTEGER NOT NULL DEFAULT 0,
  unique_users INTEGER NOT NULL DEFAULT 0,
  computed_at INTEGER NOT NULL,
  -- Added in version 3, as in hourly_aggregates.
  cpu_min REAL,
  memory_min REAL,
  load_1_min REAL
);

-- A security-relevant log event with what was learned around it. event_id is NULL for traces not born of a log line.
-- A trace goes with its log event (ON DELETE CASCADE); retention deletes both after the same age by default.
CREATE TABLE IF NOT EXISTS event_traces (
  id INTEGER PRIMARY KEY,
  event_id INTEGER REFERENCES log_events(id) ON DELETE CASCADE,
  timestamp INTEGER NOT NULL,
  source TEXT,
  ip TEXT,
  severity_score REAL NOT NULL DEFAULT 0 CHECK (severity_score BETWEEN 0 AND 100),
  causality_chain TEXT CHECK (causality_chain IS NULL OR json_valid(causality_chain)),
  related_services TEXT CHECK (related_services IS NULL OR json_valid(related_services)),
  root_cause TEXT,
  trace_metadata TEXT CHECK (trace_metadata IS NULL OR json_valid(trace_metadata))
);
CREATE INDEX IF NOT EXISTS idx_event_traces_timestamp ON event_traces(timestamp);
CREATE INDEX IF NOT EXISTS idx_event_traces_event_id ON event_traces(event_id);
CREATE INDEX IF NOT EXISTS idx_event_traces_severity ON event_traces(severity_score);
CREATE INDEX IF NOT EXISTS idx_event_traces_ip_timestamp ON event_traces(ip, timestamp);
CREATE INDEX IF NOT EXISTS idx_event_traces_source_timestamp ON event_traces(source, timestamp);

-- Process snapshot at trace time (from /proc/<pid>/stat, status, io).
CREATE TABLE IF NOT EXISTS process_traces (
  id INTEGER PRIMARY KEY,
  trace_id INTEGER NOT NULL REFERENCES event_traces(id) ON DELETE CASCADE,
  pid INTEGER,
  name TEXT,
  cmdline TEXT,
  state TEXT,
  ppid INTEGER,
  rss_bytes INTEGER,
  vms_bytes INTEGER,
  cpu_user_seconds REAL,
  cpu_system_seconds REAL,
  threads INTEGER,
  io_read_bytes INTEGER,
  io_write_bytes INTEGER,
  io_read_syscalls INTEGER,
  io_write_syscalls INTEGER
);
CREATE INDEX IF NOT EXISTS idx_process_traces_trace_id ON process_traces(trace_id);

-- Socket snapshot at trace time.
CREATE TABLE IF NOT EXISTS network_traces (
  id INTEGER PRIMARY KEY,
  trace_id INTEGER NOT NULL REFERENCES event_traces(id) ON DELETE CASCADE,
  local_ip TEXT,
  local_port INTEGER,
  remote_ip TEXT,
  remote_port INTEGER,
  state TEXT,
  protocol TEXT
);
CREATE INDEX IF NOT EXISTS idx_network_traces_trace_id ON network_traces(trace_id);
CREATE INDEX IF NOT EXISTS idx_network_traces_remote_ip ON network_traces(remote_ip);

-- Error analysis of a log event.
CREATE TABLE IF NOT EXISTS error_traces (
  id INTEGER PRIMARY KEY,
  trace_id INTEGER NOT NULL REFERENCES event_traces(id) ON DELETE CASCADE,
  error_type TEXT,
  error_category TEXT,
  exception_type TEXT,
  severity TEXT,
  file_path TEXT,
  line_number INTEGER,
  error_code TEXT,
  has_stacktrace INTEGER NOT NULL DEFAULT 0 CHECK (has_stacktrace IN (0, 1)),
  root_cause_hints TEXT CHECK (root_cause_hints IS NULL OR json_valid(root_cause_hints)),
  recovery_suggestions TEXT CHECK (recovery_suggestions IS NULL OR json_valid(recovery_suggestions))
);
CREATE INDEX IF NOT EXISTS idx_error_traces_trace_id ON error_traces(trace_id);
CREATE INDEX IF NOT EXISTS idx_error_traces_type ON error_traces(error_type, error_category);

-- One row per remote address seen in security events; threat_score is 0-100.
CREATE TABLE IF NOT EXISTS ip_reputation (
  ip TEXT PRIMARY KEY,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  threat_score REAL NOT NULL DEFAULT 0 CHECK (threat_score BETWEEN 0 AND 100),
  failures INTEGER NOT NULL DEFAULT 0,
  invalid_users INTEGER NOT NULL DEFAULT 0,
  bans INTEGER NOT NULL DEFAULT 0,
  scans INTEGER NOT NULL DEFAULT 0,
  accepted INTEGER NOT NULL DEFAULT 0,
  country TEXT,
  asn INTEGER,
  metadata TEXT CHECK (metadata IS NULL OR json_valid(metadata)),
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_ip_reputation_threat_score ON ip_reputation(threat_score);
CREATE INDEX IF NOT EXISTS idx_ip_reputation_last_seen ON ip_reputation(last_seen);

-- Patterns detected across events (brute force, port scan, ...); severity is 0-100 like event_traces.severity_score.
CREATE TABLE IF NOT EXISTS trace_patterns (
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
CREATE INDEX IF NOT EXISTS idx_trace_patterns_last_seen ON trace_patterns(last_seen);
CREATE INDEX IF NOT EXISTS idx_trace_patterns_type_ip ON trace_patterns(pattern_type, ip);
CREATE INDEX IF NOT EXISTS idx_trace_patterns_ip ON trace_patterns(ip);

-- Key/value facts about this file: schema_version, created (Unix seconds), hostname.
CREATE TABLE IF NOT EXISTS metadata (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

-- Ping results, as the ping specification (design 003) defines them.
CREATE TABLE IF NOT EXISTS pings (
  ts INTEGER NOT NULL,
  target TEXT NOT NULL,
  latency_ms REAL,
  success INTEGER,
  PRIMARY KEY (ts, target)
);
CREATE INDEX IF NOT EXISTS idx_target_ts ON pings(target, ts DESC);
CREATE INDEX IF NOT EXISTS idx_ts ON pings(ts DESC);

-- Per-ping extras. Keyed like pings, but with no foreign key to it: the two are written by separate batch writers
-- whose flush order is not guaranteed, and retention ages each table on its own.
CREATE TABLE IF NOT EXISTS ping_metadata (
  ts INTEGER NOT NULL,
  target TEXT NOT NULL,
  ttl INTEGER,
  packet_loss REAL,
  jitter_ms REAL,
  PRIMARY KEY (ts, target)
);

-- HTTP(S) and TLS probe results; kind names the probe ('http', 'tls', ...). Times in milliseconds.
CREATE TABLE IF NOT EXISTS ping_probes (
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
CREATE INDEX IF NOT EXISTS idx_ping_probes_target_ts ON ping_probes(target, ts DESC);
