/**
 * Every setting of `netwatch-ingest serve`, defined once. Each is a command-line flag `--key`, a key of the
 * YAML file given with `--config`, and an environment variable `NETWATCH_<KEY>` (dashes become underscores);
 * flags override the environment, which overrides the file. docs/configuration.md is generated from this table.
 */
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
  /** Which capability reads it; options of capabilities not built yet are accepted by the parser and refused at start. */
  group: 'service' | 'capture' | 'flows' | 'logs' | 'pings' | 'metrics' | 'store' | 'demo';
}

export const OPTIONS: readonly OptionDef[] = [
  { key: 'listen', type: 'hostport', default: '127.0.0.1:7070', doc: 'Address and port of the HTTP API. Loopback by default: expose it deliberately, with a token.', group: 'service' },
  { key: 'data-dir', type: 'string', default: './data', doc: 'Directory of the SQLite database (netwatch.db), the flow snapshot and log read positions.', group: 'service' },
  { key: 'token', type: 'string', default: '', secret: true, doc: 'Bearer token required on every route but /api/v1/health and /metrics. Empty: no authentication.', group: 'service' },
  { key: 'log-level', type: 'enum', values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], default: 'info', doc: 'Service log level (JSON lines on stderr).', group: 'service' },
  { key: 'interface', type: 'string', list: true, default: [], doc: 'Capture live packets on this interface with libpcap (repeatable; `any` for all). Needs root or CAP_NET_RAW.', group: 'capture' },
  { key: 'bpf', type: 'string', default: '', doc: 'BPF filter expression applied to live capture.', group: 'capture' },
  { key: 'pcap', type: 'string', list: true, default: [], doc: 'Replay a pcap/pcapng file through the pipeline (repeatable).', group: 'capture' },
  { key: 'replay-speed', type: 'speed', default: 'max', doc: 'Replay pace of --pcap files: `max`, `realtime`, or a multiplier N of real time.', group: 'capture' },
  { key: 'replay-loop', type: 'bool', default: false, doc: 'Replay --pcap files again when they end, continuing the clock.', group: 'capture' },
  { key: 'max-flows', type: 'int', min: 1000, max: 50_000_000, default: 1_000_000, doc: 'Flow table capacity; the oldest idle flows are evicted (and counted) beyond it.', group: 'flows' },
  { key: 'flow-retention', type: 'int', min: 60, max: 7 * 86400, default: 3600, doc: 'Seconds a flow stays queryable after its last packet.', group: 'flows' },
  { key: 'flow-bucket', type: 'int', min: 1, max: 3600, default: 10, doc: 'Seconds per time bucket of the flow series.', group: 'flows' },
  { key: 'log', type: 'string', list: true, default: [], doc: 'Tail a log file, as TYPE:PATH with TYPE one of auth, fail2ban, syslog, kern, auto (repeatable).', group: 'logs' },
  { key: 'log-from-start', type: 'bool', default: false, doc: 'Read the existing content of --log files first instead of starting at their end.', group: 'logs' },
  { key: 'journald', type: 'bool', default: false, doc: 'Follow the systemd journal (journalctl -f -o json).', group: 'logs' },
  { key: 'journald-unit', type: 'string', list: true, default: [], doc: 'Only these journald units (repeatable).', group: 'logs' },
  { key: 'ping', type: 'string', list: true, default: [], doc: 'Probe a target: an address, a host name, icmp://HOST, tcp://HOST:PORT, http(s)://URL (repeatable).', group: 'pings' },
  { key: 'ping-interval', type: 'number', min: 1, max: 3600, default: 10, doc: 'Seconds between probe rounds of each target.', group: 'pings' },
  { key: 'collectors', type: 'string', list: true, default: ['cpu', 'memory', 'disk', 'load', 'network', 'capture'], doc: 'Host metric collectors to enable.', group: 'metrics' },
  { key: 'db-max-size', type: 'int', min: 1024 * 1024, default: 1024 * 1024 * 1024, doc: 'Size cap of netwatch.db in bytes: the oldest rows are deleted beyond it.', group: 'store' },
  { key: 'demo', type: 'bool', default: false, doc: 'Feed the pipeline with generated traffic and logs (no root, nothing from outside needed).', group: 'demo' },
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
  pcap: string[];
  replaySpeed: 'max' | 'realtime' | number;
  replayLoop: boolean;
  maxFlows: number;
  flowRetention: number;
  flowBucket: number;
  log: string[];
  logFromStart: boolean;
  journald: boolean;
  journaldUnit: string[];
  ping: string[];
  pingInterval: number;
  collectors: string[];
  dbMaxSize: number;
  demo: boolean;
}

export function camel(key: string): string {
  return key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}
