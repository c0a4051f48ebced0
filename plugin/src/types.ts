/**
 * The query model of the data source: the protocol's query parameters, as the Grafana query editor stores
 * them. One definition with the ingest service (`@netwatch/ingest/protocol`), so a panel's query is exactly
 * what `POST /api/v1/query` accepts.
 */
import { KINDS, KIND_INFO, type QueryKind, type QueryParams } from '@netwatch/ingest/protocol';

export { KINDS, KIND_INFO };
export type { QueryKind };

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
export interface NetwatchDataSourceOptions {
  url?: string;
}

export interface NetwatchSecureJsonData {
  token?: string;
}
