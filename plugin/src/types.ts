/**
 * The query model of the data source: the protocol's query parameters, as the Grafana query editor stores
 * them. One definition with the ingest service (`@netwatch/ingest/protocol`), so a panel's query is exactly
 * what `POST /api/v1/query` accepts.
 */
import type { DataSourceJsonData } from '@grafana/data';
import { KINDS, KIND_INFO, SEVERITIES, VALUE_LISTS, type ParamName, type QueryKind, type QueryParams, type ValueListName } from '@netwatch/ingest/protocol';

export { KINDS, KIND_INFO, SEVERITIES, VALUE_LISTS };
export type { ParamName, QueryKind, ValueListName };

/** A panel query: Grafana's refId plus the protocol parameters (everything but refId optional while editing). */
export type NetwatchQuery = Omit<QueryParams, 'refId' | 'kind'> & { refId: string; kind: QueryKind; hide?: boolean };

/** The defaults each kind starts with in the editor. */
export const DEFAULT_QUERIES: Record<QueryKind, Omit<NetwatchQuery, 'refId'>> = {
  flows: { kind: 'flows', orderBy: 'bytes', limit: 100 },
  flow_series: { kind: 'flow_series', metric: ['bytes'], limit: 10 },
  top_talkers: { kind: 'top_talkers', groupBy: 'ip', orderBy: 'bytes', limit: 10 },
  pings: { kind: 'pings', metric: ['latency_ms'] },
  ping_summary: { kind: 'ping_summary' },
  system_metrics: { kind: 'system_metrics', metric: ['cpu_percent'] },
  network_metrics: { kind: 'network_metrics', metric: ['bytes_recv', 'bytes_sent'] },
  logs: { kind: 'logs', limit: 500 },
  traces: { kind: 'traces', minSeverity: 'warning', limit: 500 },
  threats: { kind: 'threats', orderBy: 'threat_score', limit: 100 },
  threat_scores: { kind: 'threat_scores', limit: 20 },
  annotations: { kind: 'annotations', limit: 1000 },
  stats: { kind: 'stats' },
};

export const DEFAULT_QUERY: Omit<NetwatchQuery, 'refId'> = DEFAULT_QUERIES.flow_series;

/** Data source settings (jsonData); the token lives in secureJsonData only. */
export interface NetwatchDataSourceOptions extends DataSourceJsonData {
  /** Base URL of the ingest service, as the Grafana server (the plugin's backend) reaches it. */
  url?: string;
}

export interface NetwatchSecureJsonData {
  token?: string;
}

/**
 * Parameters holding a list: the editor stores them as arrays of strings; a provisioned dashboard may give a
 * comma-separated string (or a number for ports), which the protocol accepts too.
 */
export const LIST_PARAMS = ['cidr', 'srcCidr', 'dstCidr', 'port', 'srcPort', 'dstPort', 'protocol', 'source', 'target', 'metric', 'level', 'interface', 'mount'] as const;
export type ListParam = (typeof LIST_PARAMS)[number];

/** Parameters holding one string; template variables in them are interpolated as text. */
export const TEXT_PARAMS = ['groupBy', 'orderBy', 'text'] as const;
export type TextParam = (typeof TEXT_PARAMS)[number];

/** Log levels of parsed log events (`LogEvent.level` in the ingest service): the severities plus debug. */
export const LOG_LEVELS = ['debug', ...SEVERITIES] as const;

export const AGGREGATES = ['avg', 'min', 'max', 'sum'] as const;

/**
 * A template variable query: which of the ingest service's value lists (`GET /api/v1/values/<list>`, reached
 * through the backend's `values/<list>` resource) fills the variable.
 */
export interface NetwatchVariableQuery {
  refId: string;
  list: ValueListName;
}

export const DEFAULT_VARIABLE_QUERY: NetwatchVariableQuery = { refId: 'NetwatchVariable', list: 'targets' };

/** What each value list holds, shown by the variable query editor. */
export const VALUE_LIST_INFO: Record<ValueListName, string> = {
  kinds: 'Query kinds of the protocol',
  protocols: 'IP protocol names the flow filters accept',
  targets: 'Ping and probe targets',
  sources: 'Components reporting counters (for the stats kind)',
  log_sources: 'Log sources being read (auth, fail2ban, syslog, journald, ...)',
  interfaces: 'Capture interfaces of the flow component',
  net_interfaces: 'Network interfaces with host metrics (for network_metrics)',
  mounts: 'Mounted filesystems with disk metrics',
  top_talkers: 'Addresses with the most traffic recently',
  top_ports: 'Destination ports with the most traffic recently',
};
