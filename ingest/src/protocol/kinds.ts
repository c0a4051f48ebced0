/**
 * Every query kind of the protocol, with the one-line description the Grafana query editor shows and the
 * parameters each kind reads. A kind is defined here even before a component implements it; the API
 * answers NETWATCH_ERR_NOT_IMPLEMENTED (501) for kinds that no component has registered.
 */
export const KINDS = [
  'flows',
  'flow_series',
  'top_talkers',
  'pings',
  'ping_summary',
  'system_metrics',
  'network_metrics',
  'logs',
  'traces',
  'threats',
  'threat_scores',
  'annotations',
  'stats',
] as const;

export type QueryKind = (typeof KINDS)[number];

export type ParamName =
  | 'cidr'
  | 'srcCidr'
  | 'dstCidr'
  | 'port'
  | 'srcPort'
  | 'dstPort'
  | 'protocol'
  | 'minSeverity'
  | 'minScore'
  | 'source'
  | 'target'
  | 'metric'
  | 'groupBy'
  | 'subnetPrefix'
  | 'intervalMs'
  | 'limit'
  | 'orderBy'
  | 'text'
  | 'level'
  | 'aggregate'
  | 'interface'
  | 'mount';

export interface KindInfo {
  kind: QueryKind;
  description: string;
  /** Output shape: a table (one frame), or time series (one frame per series). */
  shape: 'table' | 'series';
  params: readonly ParamName[];
  /** Allowed values of `groupBy`, `orderBy` and `metric`, where the kind has them. */
  groupBy?: readonly string[];
  orderBy?: readonly string[];
  metrics?: readonly string[];
}

const FLOW_FILTER: readonly ParamName[] = ['cidr', 'srcCidr', 'dstCidr', 'port', 'srcPort', 'dstPort', 'protocol'];

export const SYSTEM_METRICS = [
  'cpu_percent',
  'cpu_count',
  'memory_total',
  'memory_available',
  'memory_percent',
  'disk_total',
  'disk_used',
  'disk_percent',
  'disk_read_bytes',
  'disk_write_bytes',
  'load_1',
  'load_5',
  'load_15',
] as const;

/**
 * Busy percent of each CPU core: one series per core, labelled `cpu` ("0", "1", … as in /proc/stat's cpuN and
 * node_exporter's `cpu` label), its number field named `cpu_percent`.
 */
export const CPU_CORE_METRICS = ['cpu_percent_core'] as const;

/** The flow component's capture counters, sampled with the host metrics; served from the ring buffer (the last hour) only. */
export const CAPTURE_METRICS = ['capture_packets', 'capture_bytes', 'flows_active', 'capture_dropped', 'capture_errors'] as const;

export const NETWORK_METRICS = [
  'bytes_sent',
  'bytes_recv',
  'packets_sent',
  'packets_recv',
  'errin',
  'errout',
  'dropin',
  'dropout',
  'connections_established',
  'connections_listen',
  'connections_time_wait',
] as const;

/** What the security engine detects (`trace_patterns.pattern_type`); docs/security.md gives the rules. */
export const PATTERN_TYPES = ['ssh_brute_force', 'user_enumeration', 'port_scan', 'address_scan'] as const;
export type PatternType = (typeof PATTERN_TYPES)[number];

/**
 * `threat_scores` metrics: the score (default), or the patterns detected per address and step, one series per
 * address and pattern type (labels `ip`, `pattern`): one type by its name, or every type with `patterns`.
 */
export const THREAT_SCORE_METRICS = ['threat_score', ...PATTERN_TYPES, 'patterns'] as const;

export const SEVERITIES = ['info', 'notice', 'warning', 'error', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const KIND_INFO: Record<QueryKind, KindInfo> = {
  flows: {
    kind: 'flows',
    description: 'Table of flows in the time range: both directions of each 5-tuple with packets, bytes and state',
    shape: 'table',
    params: [...FLOW_FILTER, 'orderBy', 'limit'],
    orderBy: ['bytes', 'packets', 'last_seen'],
  },
  flow_series: {
    kind: 'flow_series',
    description: 'Bytes/s, packets/s or new flows per interval, optionally as top-N series grouped by a key',
    shape: 'series',
    params: [...FLOW_FILTER, 'metric', 'groupBy', 'subnetPrefix', 'intervalMs', 'limit'],
    groupBy: ['src_ip', 'dst_ip', 'dst_port', 'protocol', 'subnet'],
    metrics: ['bytes', 'packets', 'flows'],
  },
  top_talkers: {
    kind: 'top_talkers',
    description: 'Totals of bytes, packets and flows by address, address pair or destination port',
    shape: 'table',
    params: [...FLOW_FILTER, 'groupBy', 'orderBy', 'limit'],
    groupBy: ['ip', 'src_ip', 'dst_ip', 'pair', 'dst_port'],
    orderBy: ['bytes', 'packets', 'flows'],
  },
  pings: {
    kind: 'pings',
    description: 'Latency per target over time (loss and jitter on request)',
    shape: 'series',
    params: ['target', 'metric', 'intervalMs', 'aggregate'],
    metrics: ['latency_ms', 'packet_loss', 'jitter_ms', 'ttl'],
  },
  ping_summary: {
    kind: 'ping_summary',
    description: 'Per target: average, minimum, maximum and p95 latency, loss, jitter, TTL and certificate days left',
    shape: 'table',
    params: ['target'],
  },
  system_metrics: {
    kind: 'system_metrics',
    description: 'Host CPU, memory, disk and load over time (and the capture counters of the last hour)',
    shape: 'series',
    params: ['metric', 'intervalMs', 'aggregate', 'mount'],
    metrics: [...SYSTEM_METRICS, ...CPU_CORE_METRICS, ...CAPTURE_METRICS],
  },
  network_metrics: {
    kind: 'network_metrics',
    description: 'Interface traffic, errors, drops and TCP connections by state over time',
    shape: 'series',
    params: ['metric', 'intervalMs', 'aggregate', 'interface'],
    metrics: NETWORK_METRICS,
  },
  logs: {
    kind: 'logs',
    description: 'Parsed log events filtered by source, level, address and text',
    shape: 'table',
    params: ['source', 'level', 'cidr', 'text', 'limit'],
  },
  traces: {
    kind: 'traces',
    description: 'Security event traces with severity score, causality chain and root cause',
    shape: 'table',
    params: ['minSeverity', 'cidr', 'source', 'limit'],
  },
  threats: {
    kind: 'threats',
    description: 'IP reputation table ordered by threat score',
    shape: 'table',
    params: ['minScore', 'cidr', 'orderBy', 'limit'],
    orderBy: ['threat_score', 'last_seen', 'failures'],
  },
  threat_scores: {
    kind: 'threat_scores',
    description: 'Threat score, or detected patterns, over time: one series per IP (labelled ip) for alert rules',
    shape: 'series',
    params: ['metric', 'minScore', 'cidr', 'intervalMs', 'limit'],
    metrics: THREAT_SCORE_METRICS,
  },
  annotations: {
    kind: 'annotations',
    description: 'Bans, unbans and detected patterns as annotation events',
    shape: 'table',
    params: ['source', 'cidr', 'limit'],
  },
  stats: {
    kind: 'stats',
    description: 'Counters of every component: packets, drops, decode errors, table fill, writers, database',
    shape: 'table',
    params: ['source'],
  },
};

export function isKind(k: unknown): k is QueryKind {
  return typeof k === 'string' && (KINDS as readonly string[]).includes(k);
}

/** Names served by GET /api/v1/values/:name for template variables. */
export const VALUE_LISTS = ['kinds', 'protocols', 'targets', 'sources', 'log_sources', 'interfaces', 'net_interfaces', 'mounts', 'top_talkers', 'top_ports'] as const;
export type ValueListName = (typeof VALUE_LISTS)[number];
