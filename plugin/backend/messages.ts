/**
 * The pluginv2 messages as @grpc/proto-loader hands them over with LOADER_OPTIONS (contract field names,
 * int64 as numbers, enums as names, absent sub-messages as null, bytes as Buffers).
 */
import type { DataSourceInstanceSettings } from './settings';

export interface UserMsg {
  login: string;
  name: string;
  email: string;
  role: string;
}

export interface PluginContextMsg {
  orgId: number;
  pluginId: string;
  user: UserMsg | null;
  dataSourceInstanceSettings: (DataSourceInstanceSettings & { jsonData: Buffer }) | null;
  grafanaConfig: Record<string, string>;
  pluginVersion: string;
  userAgent: string;
}

export type DataFrameFormat = 'ARROW' | 'JSON';

export interface DataQueryMsg {
  refId: string;
  maxDataPoints: number;
  intervalMS: number;
  timeRange: { fromEpochMS: number; toEpochMS: number } | null;
  json: Buffer;
  queryType: string;
}

export interface QueryDataRequestMsg {
  pluginContext: PluginContextMsg | null;
  headers: Record<string, string>;
  queries: DataQueryMsg[];
  format: DataFrameFormat;
}

export type ErrorSource = 'plugin' | 'downstream';

export interface DataResponseMsg {
  frames: Uint8Array[];
  error?: string;
  status: number;
  errorSource?: ErrorSource;
  format: DataFrameFormat;
}

export interface QueryDataResponseMsg {
  responses: Record<string, DataResponseMsg>;
}

export interface CheckHealthRequestMsg {
  pluginContext: PluginContextMsg | null;
  headers: Record<string, string>;
}

export type HealthStatus = 'UNKNOWN' | 'OK' | 'ERROR';

export interface CheckHealthResponseMsg {
  status: HealthStatus;
  message: string;
  jsonDetails: Buffer;
}

export interface StringListMsg {
  values: string[];
}

export interface CallResourceRequestMsg {
  pluginContext: PluginContextMsg | null;
  path: string;
  method: string;
  url: string;
  headers: Record<string, StringListMsg>;
  body: Buffer;
}

export interface CallResourceResponseMsg {
  code: number;
  headers: Record<string, StringListMsg>;
  body: Buffer;
}

/** A header by name, ignoring case (Grafana's own header maps are case-preserving). */
export function header(headers: Record<string, string> | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  if (headers[name] !== undefined) return headers[name];
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === lower) return v;
  return undefined;
}
