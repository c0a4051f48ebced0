/**
 * Data.QueryData: Grafana's DataQuery messages -> the query protocol -> Arrow frames per refId.
 * Each DataQuery's `json` is the panel's query model (the protocol's query parameters); the DataQuery's own
 * fields fill what the model leaves out: `queryType` the kind, `intervalMS` the step, `maxDataPoints`.
 * A model that does not validate (the protocol's own normalizeQuery, the same code the ingest service
 * runs) answers its refId with errorSource `plugin` and is never sent; failures of the ingest service answer
 * errorSource `downstream`. Requests from alert rule evaluation (header `FromAlert`, no user) answer the same.
 */
import {
  KIND_INFO,
  MAX_QUERIES,
  NetwatchError,
  QueryParamsSchema,
  isKind,
  normalizeQuery,
  type Frame,
  type QueryParams,
} from '@netwatch/ingest/protocol';
import type { IngestClients } from './clients';
import { frameToArrow, frameToJSON } from './frames';
import type { Logger } from './hclog';
import { IngestError, type IngestQueryResult } from './ingest-client';
import { header, type DataFrameFormat, type DataQueryMsg, type DataResponseMsg, type ErrorSource, type QueryDataRequestMsg, type QueryDataResponseMsg } from './messages';
import type { PluginMetrics } from './metrics';
import { SettingsError } from './settings';

/** Keys of the protocol's query model; Grafana's own keys (datasource, key, hide, …) are not forwarded. */
const MODEL_KEYS = Object.keys(QueryParamsSchema.properties).filter((k) => k !== 'refId' && k !== 'hide');
const MAX_INTERVAL_MS = 31 * 24 * 3600 * 1000;

/** Strips the protocol request's `/queries/N` prefix: in Grafana the path is read inside one query. */
function fieldPath(path: string): string {
  return path.replace(/^\/queries\/\d+\/?/, '');
}

export function netwatchErrorText(code: string, message: string, path?: string): string {
  const field = path ? fieldPath(path) : '';
  return field ? `${code}: ${message} (field ${field})` : `${code}: ${message}`;
}

/**
 * The protocol query for one DataQuery; throws NetwatchError for a model that is not JSON, not an object, or
 * fails the protocol's validation.
 */
export function queryModel(q: DataQueryMsg, index: number): QueryParams {
  let parsed: unknown = {};
  const bytes = q.json;
  if (bytes && bytes.length > 0) {
    try {
      parsed = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
    } catch (e) {
      throw new NetwatchError('NETWATCH_ERR_BAD_JSON', `the query model is not valid JSON: ${(e as Error).message}`);
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new NetwatchError('NETWATCH_ERR_VALIDATION', `the query model must be a JSON object, not ${Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : typeof parsed}`);
  }
  const raw = parsed as Record<string, unknown>;
  const model: Record<string, unknown> = { refId: q.refId };
  for (const k of MODEL_KEYS) if (raw[k] !== undefined && raw[k] !== null) model[k] = raw[k];
  if (model.kind === undefined && isKind(q.queryType)) model.kind = q.queryType;
  if (isKind(model.kind)) {
    const reads = KIND_INFO[model.kind].params;
    if (model.intervalMs === undefined && q.intervalMS > 0 && reads.includes('intervalMs')) model.intervalMs = Math.min(q.intervalMS, MAX_INTERVAL_MS);
  }
  if (model.maxDataPoints === undefined && q.maxDataPoints > 0) model.maxDataPoints = Math.floor(q.maxDataPoints);
  normalizeQuery(model, index);
  return model as unknown as QueryParams;
}

/** The kind a refused query asked for, for the metrics only. */
function kindOf(q: DataQueryMsg): string {
  try {
    const m = JSON.parse(Buffer.from(q.json ?? []).toString('utf8')) as { kind?: unknown };
    return typeof m?.kind === 'string' ? m.kind : q.queryType;
  } catch {
    return q.queryType;
  }
}

function errorResponse(error: string, status: number, errorSource: ErrorSource, format: DataFrameFormat): DataResponseMsg {
  return { frames: [], error, status, errorSource, format };
}

export function isAlertRequest(req: Pick<QueryDataRequestMsg, 'headers'>): boolean {
  return (header(req.headers, 'FromAlert') ?? '').toLowerCase() === 'true';
}

interface Pending {
  refId: string;
  kind: string;
  model: QueryParams;
}

export interface QueryDataDeps {
  clients: IngestClients;
  metrics: PluginMetrics;
  logger: Logger;
}

export async function queryData(req: QueryDataRequestMsg, deps: QueryDataDeps): Promise<QueryDataResponseMsg> {
  const { metrics, logger } = deps;
  const format: DataFrameFormat = req.format === 'JSON' ? 'JSON' : 'ARROW';
  const origin = isAlertRequest(req) ? 'alert' : 'dashboard';
  const responses: Record<string, DataResponseMsg> = {};
  const queries = req.queries ?? [];
  const count = (kind: string, outcome: 'ok' | 'plugin_error' | 'downstream_error') => metrics.queries.inc({ kind: isKind(kind) ? kind : 'invalid', outcome, origin });

  let client;
  try {
    client = deps.clients.get(req.pluginContext?.dataSourceInstanceSettings);
  } catch (e) {
    const msg = e instanceof SettingsError ? e.message : `cannot use the data source settings: ${(e as Error).message}`;
    for (const q of queries) {
      responses[q.refId] = errorResponse(msg, 400, 'plugin', format);
      count('', 'plugin_error');
    }
    return { responses };
  }

  // Queries with the same time range go to the ingest service in one request (the protocol's time range is
  // per request; Grafana sends one range for a panel, alert rules may give each query its own).
  const groups = new Map<string, { from: number; to: number; items: Pending[] }>();
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  for (const q of queries) (seen.has(q.refId) ? duplicates : seen).add(q.refId);
  queries.forEach((q, i) => {
    if (duplicates.has(q.refId)) {
      responses[q.refId] = errorResponse(`duplicate refId "${q.refId}" in one request`, 400, 'plugin', format);
      count('', 'plugin_error');
      return;
    }
    let model: QueryParams;
    try {
      if (!q.refId) throw new NetwatchError('NETWATCH_ERR_VALIDATION', 'the query has no refId');
      const tr = q.timeRange;
      if (!tr || (tr.fromEpochMS === 0 && tr.toEpochMS === 0)) throw new NetwatchError('NETWATCH_ERR_BAD_TIME_RANGE', 'the query has no time range');
      if (tr.fromEpochMS > tr.toEpochMS) throw new NetwatchError('NETWATCH_ERR_BAD_TIME_RANGE', `time range from ${tr.fromEpochMS} is after to ${tr.toEpochMS}`);
      model = queryModel(q, i);
    } catch (e) {
      const text = e instanceof NetwatchError ? netwatchErrorText(e.code, e.message, e.path) : `bad query: ${(e as Error).message}`;
      responses[q.refId] = errorResponse(text, 400, 'plugin', format);
      count(kindOf(q), 'plugin_error');
      logger.debug('query refused', { refId: q.refId, error: text, origin });
      return;
    }
    const { fromEpochMS: from, toEpochMS: to } = q.timeRange!;
    const key = `${from}:${to}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { from, to, items: [] }));
    g.items.push({ refId: q.refId, kind: model.kind, model });
  });

  const calls: Array<{ from: number; to: number; items: Pending[] }> = [];
  for (const g of groups.values()) for (let i = 0; i < g.items.length; i += MAX_QUERIES) calls.push({ from: g.from, to: g.to, items: g.items.slice(i, i + MAX_QUERIES) });

  const forward = origin === 'alert' ? { FromAlert: 'true' } : undefined;
  await Promise.all(
    calls.map(async ({ from, to, items }) => {
      let results: Record<string, IngestQueryResult>;
      try {
        // Arrow frames from the ingest service go to Grafana as they are; the JSON frame format needs JSON.
        results = (await client.query({ from, to, queries: items.map((p) => p.model) }, forward, format === 'ARROW' ? 'arrow' : 'json')).results;
      } catch (e) {
        const err = e instanceof IngestError ? e : new IngestError('network', (e as Error).message, 502);
        const text = err.code && err.failure === 'http' ? netwatchErrorText(err.code, err.message.replace(`${err.code}: `, '')) : err.message;
        for (const p of items) {
          responses[p.refId] = errorResponse(`ingest service: ${text}`, err.status, 'downstream', format);
          count(p.kind, 'downstream_error');
        }
        logger.warn('ingest query failed', { error: err.message, status: err.status, queries: items.length, origin });
        return;
      }
      for (const p of items) responses[p.refId] = toDataResponse(p, results[p.refId], format, deps, count);
    }),
  );
  return { responses };
}

function toDataResponse(
  p: Pending,
  result: IngestQueryResult | undefined,
  format: DataFrameFormat,
  deps: QueryDataDeps,
  count: (kind: string, outcome: 'ok' | 'plugin_error' | 'downstream_error') => void,
): DataResponseMsg {
  if (!result) {
    count(p.kind, 'downstream_error');
    return errorResponse(`ingest service: no result for refId "${p.refId}"`, 502, 'downstream', format);
  }
  if (result.error) {
    count(p.kind, 'downstream_error');
    return errorResponse(netwatchErrorText(result.error.code, result.error.message, result.error.path), result.status ?? 500, 'downstream', format);
  }
  if (result.arrowFiles && format === 'ARROW') {
    // Already the bytes of DataResponse.frames (the protocol's encoder ran in the ingest service); the refId
    // in their metadata is the one asked for, since the request's refIds are the DataQuery's.
    for (const f of result.arrowFiles) deps.metrics.frameBytes.inc({}, f.length);
    deps.metrics.frames.inc({}, result.arrowFiles.length);
    count(p.kind, 'ok');
    return { frames: result.arrowFiles, status: 200, format };
  }
  if (result.arrowFiles) {
    count(p.kind, 'downstream_error');
    return errorResponse(`ingest service: answered Arrow frames for refId "${p.refId}" to a request for JSON`, 502, 'downstream', format);
  }
  const frames: Uint8Array[] = [];
  const t0 = process.hrtime.bigint();
  try {
    for (const f of (result.frames ?? []) as Frame[]) {
      if (f?.schema && !f.schema.refId) f.schema.refId = p.refId;
      const bytes = format === 'JSON' ? frameToJSON(f) : frameToArrow(f);
      frames.push(bytes);
      deps.metrics.frameBytes.inc({}, bytes.length);
    }
  } catch (e) {
    count(p.kind, 'plugin_error');
    deps.logger.error('cannot encode a frame', { refId: p.refId, kind: p.kind, error: (e as Error).message });
    return errorResponse(`cannot encode the frames of refId "${p.refId}": ${(e as Error).message}`, 500, 'plugin', format);
  }
  deps.metrics.stageDuration.observe({ stage: 'encode' }, Number(process.hrtime.bigint() - t0) / 1e9);
  deps.metrics.frames.inc({}, frames.length);
  count(p.kind, 'ok');
  return { frames, status: 200, format };
}
