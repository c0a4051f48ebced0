/**
 * Every setting of `netwatch-ingest serve`, defined once. Each is a command-line flag `--key`, a key of the
 * YAML file given with `--config`, and an environment variable `NETWATCH_<KEY>` (dashes become underscores);
 * flags override the environment, which overrides the file. docs/configuration.md is generated from this table.
 */
import { parseLogSpec } from '../logs/sources';
import { parsePingTargetSpec, parseTargetForm, type PingTargetSpec } from '../pings/targets';

export type OptionType = 'string' | 'int' | 'number' | 'bool' | 'enum' | 'hostport' | 'speed';

export interface OptionDef {
  key: string;
  type: OptionType;
  /** Repeatable flag / YAML list / comma-separated env value. */
  list?: boolean;
  default: unknown;
  doc: string;
  values?: readonly string[];
  min?: number;
  max?: number;
  /** Secrets are never logged. */
  secret?: boolean;
  /**
   * Converts one value instead of `type` (which still names it in the docs), throwing an Error whose message says
   * what is wrong; the loader adds the key and where the value came from. For values with structure (ping targets).
   */
  parse?: (raw: unknown, origin: 'flag' | 'env' | 'file') => unknown;
  /** Which capability reads it; options of capabilities not built yet are accepted by the parser and refused at start. */
  group: 'service' | 'capture' | 'flows' | 'logs' | 'security' | 'pings' | 'metrics' | 'store' | 'demo';
}

export const OPTIONS: readonly OptionDef[] = [
  { key: 'listen', type: 'hostport', default: '127.0.0.1:7070', doc: 'Address and port of the HTTP API. Loopback by default: expose it deliberately, with a token.', group: 'service' },
  { key: 'data-dir', type: 'string', default: './data', doc: 'Directory of the SQLite database (netwatch.db), the flow snapshot and log read positions.', group: 'service' },
  { key: 'token', type: 'string', default: '', secret: true, doc: 'Bearer token required on every route but /api/v1/health and /metrics. Empty: no authentication.', group: 'service' },
  { key: 'log-level', type: 'enum', values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], default: 'info', doc: 'Service log level (JSON lines on stderr).', group: 'service' },
  { key: 'interface', type: 'string', list: true, default: [], doc: 'Capture live packets on this interface with libpcap (repeatable; `any` for all). Needs root or CAP_NET_RAW.', group: 'capture' },
  { key: 'bpf', type: 'string', default: '', doc: 'BPF filter expression applied to live capture.', group: 'capture' },
  { key: 'capture-buffer', type: 'int', min: 1, max: 2048, default: 16, doc: 'MiB of kernel buffer per live capture (libpcap\'s buffer size). Raise it when /metrics shows kernel drops during bursts.', group: 'capture' },
  { key: 'pcap', type: 'string', list: true, default: [], doc: 'Replay a pcap/pcapng file through the pipeline (repeatable).', group: 'capture' },
  { key: 'replay-speed', type: 'speed', default: 'max', doc: 'Replay pace of --pcap files: `max`, `realtime`, or a multiplier N of real time.', group: 'capture' },
  { key: 'replay-loop', type: 'bool', default: false, doc: 'Replay --pcap files again when they end, continuing the clock.', group: 'capture' },
  { key: 'max-flows', type: 'int', min: 1000, max: 50_000_000, default: 1_000_000, doc: 'Flow table capacity; the oldest idle flows are evicted (and counted) beyond it.', group: 'flows' },
  { key: 'flow-retention', type: 'int', min: 60, max: 7 * 86400, default: 3600, doc: 'Seconds a flow stays queryable after its last packet.', group: 'flows' },
  { key: 'flow-bucket', type: 'int', min: 1, max: 3600, default: 10, doc: 'Seconds per time bucket of the flow series.', group: 'flows' },
  { key: 'flow-timeout-tcp', type: 'int', min: 1, max: 86400, default: 300, doc: 'Seconds without packets after which an open TCP connection is idle (Zeek\'s tcp_inactivity_timeout). An idle connection resumed without a SYN stays the same flow.', group: 'flows' },
  { key: 'flow-timeout-tcp-closed', type: 'int', min: 1, max: 3600, default: 30, doc: 'Seconds a TCP connection closed by FIN both ways or RST still collects its last segments; a later packet on its 5-tuple starts a new flow (a new SYN always does).', group: 'flows' },
  { key: 'flow-timeout-udp', type: 'int', min: 1, max: 86400, default: 60, doc: 'Seconds without packets after which a UDP flow is idle; a later packet starts a new flow.', group: 'flows' },
  { key: 'flow-timeout-icmp', type: 'int', min: 1, max: 86400, default: 60, doc: 'Seconds without packets after which an ICMP or ICMPv6 flow is idle; a later packet starts a new flow.', group: 'flows' },
  { key: 'flow-timeout-other', type: 'int', min: 1, max: 86400, default: 60, doc: 'Seconds without packets after which a flow of any other IP protocol (GRE, ESP, ...) is idle.', group: 'flows' },
  { key: 'log', type: 'string', list: true, default: [], parse: parseLogOption, doc: 'Tail a log file, as TYPE:PATH with TYPE one of auth, fail2ban, syslog, kern, auto (repeatable).', group: 'logs' },
  { key: 'log-from-start', type: 'bool', default: false, doc: 'Read the existing content of --log files first instead of starting at their end.', group: 'logs' },
  { key: 'journald', type: 'bool', default: false, doc: 'Follow the systemd journal (journalctl -f -o json).', group: 'logs' },
  { key: 'journald-unit', type: 'string', list: true, default: [], doc: 'Only these journald units (repeatable).', group: 'logs' },
  {
    key: 'ping',
    type: 'string',
    list: true,
    default: [],
    parse: parsePingOption,
    doc: 'Probe a target: an address, a host name (resolved each round), icmp://HOST, tcp://HOST:PORT, http(s)://URL (repeatable). In the file an entry may be a mapping with per-target settings (see docs/pings.md).',
    group: 'pings',
  },
  { key: 'ping-interval', type: 'number', min: 1, max: 3600, default: 10, doc: 'Seconds between probe rounds of each target.', group: 'pings' },
  { key: 'ping-count', type: 'int', min: 1, max: 100, default: 5, doc: 'Probes per round (a burst, as SmokePing sends).', group: 'pings' },
  { key: 'ping-spacing', type: 'int', min: 10, max: 10_000, default: 200, doc: 'Milliseconds between the probes of a round.', group: 'pings' },
  { key: 'ping-timeout', type: 'int', min: 10, max: 60_000, default: 1000, doc: 'Milliseconds a probe waits for its reply (ICMP echo, TCP handshake, whole HTTP response).', group: 'pings' },
  {
    key: 'ping-icmp',
    type: 'enum',
    values: ['auto', 'raw', 'fping'],
    default: 'auto',
    doc: 'ICMP mechanism: `auto` tries raw sockets (root or CAP_NET_RAW), then unprivileged ICMP sockets, then fping, and logs the choice; `raw` or `fping` insist on one.',
    group: 'pings',
  },
  {
    key: 'ping-ttl',
    type: 'enum',
    values: ['auto', 'oping', 'ping', 'off'],
    default: 'auto',
    doc: 'Where reply TTLs come from that the ICMP mechanism cannot read (IPv6 hop limits under raw sockets, every TTL under fping): a companion echo per target and round by `oping` (one process per round) or `ping` (iputils ping(8), one process per target and round); `auto` tries oping, then ping, and logs the choice; `off` sends no companion (only the IPv4 TTLs raw sockets read are recorded).',
    group: 'pings',
  },
  { key: 'collectors', type: 'string', list: true, default: ['cpu', 'memory', 'disk', 'load', 'network', 'capture'], doc: 'Host metric collectors to enable.', group: 'metrics' },
  { key: 'metrics-ring-size', type: 'int', min: 60, max: 86_400, default: 3600, doc: 'Host metric samples (one per second) kept in memory and served at 1 s resolution.', group: 'metrics' },
  { key: 'metrics-persist-interval', type: 'int', min: 1, max: 3600, default: 10, doc: 'Seconds per row of system_metrics, network_metrics, disk_metrics and cpu_metrics: gauges are the mean of the samples, counters the last value.', group: 'metrics' },
  { key: 'metrics-retention-days', type: 'int', min: 1, max: 3650, default: 7, doc: 'Days the raw rows of system_metrics, network_metrics, disk_metrics (per mount) and cpu_metrics (per core) are kept.', group: 'metrics' },
  { key: 'hourly-retention-days', type: 'int', min: 1, max: 3650, default: 90, doc: 'Days hourly_aggregates rows are kept.', group: 'metrics' },
  { key: 'daily-retention-days', type: 'int', min: 1, max: 36_500, default: 730, doc: 'Days daily_aggregates rows are kept.', group: 'metrics' },
  { key: 'procfs', type: 'string', default: '/proc', doc: "Where the host metric collectors read /proc (a container reads the host's through a bind mount, e.g. /host/proc).", group: 'metrics' },
  { key: 'sysfs', type: 'string', default: '/sys', doc: 'Where the host metric collectors read /sys.', group: 'metrics' },
  { key: 'threat-half-life', type: 'int', min: 60, max: 30 * 86400, default: 3600, doc: 'Seconds for an address\'s threat score to halve without new evidence.', group: 'security' },
  { key: 'brute-force-failures', type: 'int', min: 2, max: 10_000, default: 5, doc: 'SSH brute force pattern: this many failed logins from one address (fail2ban\'s maxretry) ...', group: 'security' },
  { key: 'brute-force-window', type: 'int', min: 10, max: 86400, default: 600, doc: '... within this many seconds (fail2ban\'s findtime).', group: 'security' },
  { key: 'user-enum-users', type: 'int', min: 2, max: 1000, default: 6, doc: 'User enumeration pattern: this many distinct invalid users from one address (CrowdSec ssh-bf_user-enum) ...', group: 'security' },
  { key: 'user-enum-window', type: 'int', min: 10, max: 86400, default: 600, doc: '... within this many seconds.', group: 'security' },
  { key: 'scan-ports', type: 'int', min: 1, max: 65535, default: 15, doc: 'Port scan: failed connections from one source to more than this many ports of one host (Zeek\'s port_scan_threshold) ...', group: 'security' },
  { key: 'scan-hosts', type: 'int', min: 1, max: 1_000_000, default: 25, doc: 'Address scan: failed connections from one source to one port on more than this many hosts (Zeek\'s addr_scan_threshold) ...', group: 'security' },
  { key: 'scan-window', type: 'int', min: 10, max: 86400, default: 300, doc: '... within this many seconds (Zeek\'s scan intervals).', group: 'security' },
  { key: 'reputation-max-ips', type: 'int', min: 100, max: 10_000_000, default: 100_000, doc: 'Addresses whose reputation and pattern state are kept in memory; the least recently seen are written out and evicted (counted) beyond it.', group: 'security' },
  { key: 'maxmind-db', type: 'string', list: true, default: [], doc: 'MaxMind .mmdb files (GeoLite2-Country or -City, GeoLite2-ASN) for the country and ASN of addresses in the threats table (repeatable). None: no GeoIP.', group: 'security' },
  { key: 'db-max-size', type: 'int', min: 1024 * 1024, default: 1024 * 1024 * 1024, doc: 'Size cap of netwatch.db in bytes: the oldest rows are deleted beyond it.', group: 'store' },
  { key: 'demo', type: 'bool', default: false, doc: 'Feed the pipeline with a generated network and its logs (seeded; no root, nothing from outside needed): frames into the flow table, lines into log files under `<data-dir>/demo-logs` that are tailed like --log files, and pings to 127.0.0.1 and ::1. Combines with every other source.', group: 'demo' },
];

export const OPTION_BY_KEY: ReadonlyMap<string, OptionDef> = new Map(OPTIONS.map((o) => [o.key, o]));

export function envName(key: string): string {
  return `NETWATCH_${key.toUpperCase().replace(/-/g, '_')}`;
}

/** The parsed configuration: every key present, camel-cased. */
export interface ServeConfig {
  listen: { host: string; port: number };
  dataDir: string;
  token: string;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  interface: string[];
  bpf: string;
  captureBuffer: number;
  pcap: string[];
  replaySpeed: 'max' | 'realtime' | number;
  replayLoop: boolean;
  maxFlows: number;
  flowRetention: number;
  flowBucket: number;
  flowTimeoutTcp: number;
  flowTimeoutTcpClosed: number;
  flowTimeoutUdp: number;
  flowTimeoutIcmp: number;
  flowTimeoutOther: number;
  log: string[];
  logFromStart: boolean;
  journald: boolean;
  journaldUnit: string[];
  /** Target strings as given, or (from the file) mappings with per-target settings. */
  ping: Array<string | PingTargetSpec>;
  pingInterval: number;
  pingCount: number;
  pingSpacing: number;
  pingTimeout: number;
  pingIcmp: 'auto' | 'raw' | 'fping';
  pingTtl: 'auto' | 'oping' | 'ping' | 'off';
  collectors: string[];
  metricsRingSize: number;
  metricsPersistInterval: number;
  metricsRetentionDays: number;
  hourlyRetentionDays: number;
  dailyRetentionDays: number;
  procfs: string;
  sysfs: string;
  threatHalfLife: number;
  bruteForceFailures: number;
  bruteForceWindow: number;
  userEnumUsers: number;
  userEnumWindow: number;
  scanPorts: number;
  scanHosts: number;
  scanWindow: number;
  reputationMaxIps: number;
  maxmindDb: string[];
  dbMaxSize: number;
  demo: boolean;
}

export function camel(key: string): string {
  return key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** `--ping`: a string stays the string (trimmed) once its form is checked; a file mapping becomes a spec. */
function parsePingOption(raw: unknown, origin: 'flag' | 'env' | 'file'): string | PingTargetSpec {
  if (typeof raw === 'string') {
    parseTargetForm(raw);
    return raw.trim();
  }
  return parsePingTargetSpec(raw, origin === 'file');
}

/** `--log`: the string itself once its TYPE:PATH form is checked. */
function parseLogOption(raw: unknown): string {
  if (typeof raw !== 'string') throw new Error('expected TYPE:PATH');
  parseLogSpec(raw.trim());
  return raw.trim();
}
