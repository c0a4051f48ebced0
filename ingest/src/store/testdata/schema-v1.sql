-- Netwatch store schema version 1, frozen: the shape of files written before version 2. Used only by the
-- migration tests to create real v1 files; never edit it (a new version gets a new migration step instead).
-- Version 1 is the storage design's original subset: network_metrics holds only the all-interfaces total (one row
-- per ts, no interface column), and there are no trace_patterns or ping_probes tables.

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

CREATE TABLE IF NOT EXISTS network_metrics (
  ts INTEGER PRIMARY KEY,
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
  connections_time_wait INTEGER
);

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
  log_event_counts TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(log_event_counts)),
  computed_at INTEGER NOT NULL
);

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
  computed_at INTEGER NOT NULL
);

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

CREATE TABLE IF NOT EXISTS metadata (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS pings (
  ts INTEGER NOT NULL,
  target TEXT NOT NULL,
  latency_ms REAL,
  success INTEGER,
  PRIMARY KEY (ts, target)
);
CREATE INDEX IF NOT EXISTS idx_target_ts ON pings(target, ts DESC);
CREATE INDEX IF NOT EXISTS idx_ts ON pings(ts DESC);

CREATE TABLE IF NOT EXISTS ping_metadata (
  ts INTEGER NOT NULL,
  target TEXT NOT NULL,
  ttl INTEGER,
  packet_loss REAL,
  jitter_ms REAL,
  PRIMARY KEY (ts, target)
);
