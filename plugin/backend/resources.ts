/**
 * Resource.CallResource: `values/<name>` for query editors and template variables, proxied to the ingest
 * service's `GET /api/v1/values/<name>` with the data source's token (which never reaches the browser).
 * Only the value lists the protocol defines are forwarded; anything else answers 404 here.
 */
import { VALUE_LISTS, type ErrorCode, type ErrorResponse } from '@netwatch/ingest/protocol';
import type { IngestClients } from './clients';
import type { Logger } from './hclog';
import { IngestError } from './ingest-client';
import type { CallResourceRequestMsg, CallResourceResponseMsg } from './messages';
import { SettingsError } from './settings';

function jsonReply(code: number, body: unknown): CallResourceResponseMsg {
  return { code, headers: { 'Content-Type': { values: ['application/json'] } }, body: Buffer.from(JSON.stringify(body), 'utf8') };
}

function errorReply(status: number, code: ErrorCode, message: string): CallResourceResponseMsg {
  const body: ErrorResponse = { error: { code, message }, status };
  return jsonReply(status, body);
}

/** The query string of the resource URL Grafana passes on (`values/targets?x=1` -> `?x=1`). */
function searchOf(url: string): string {
  const i = url.indexOf('?');
  return i < 0 ? '' : url.slice(i);
}

export async function callResource(req: CallResourceRequestMsg, deps: { clients: IngestClients; logger: Logger }): Promise<CallResourceResponseMsg> {
  const path = (req.path ?? '').replace(/^\/+/, '').replace(/\/+$/, '');
  const m = /^values\/([^/]+)$/.exec(path);
  if (!m) return errorReply(404, 'NETWATCH_ERR_NOT_FOUND', `no resource "${path}"; this data source serves values/<name> with <name> one of ${VALUE_LISTS.join(', ')}`);
  const method = (req.method || 'GET').toUpperCase();
  if (method !== 'GET') return errorReply(405, 'NETWATCH_ERR_VALIDATION', `resource values/<name> answers GET only, not ${method}`);
  let name: string;
  try {
    name = decodeURIComponent(m[1]);
  } catch {
    return errorReply(400, 'NETWATCH_ERR_VALIDATION', 'the value list name is not valid percent-encoding');
  }
  if (!(VALUE_LISTS as readonly string[]).includes(name)) {
    return errorReply(404, 'NETWATCH_ERR_NOT_FOUND', `unknown value list "${name}"; known: ${VALUE_LISTS.join(', ')}`);
  }
  let client;
  try {
    client = deps.clients.get(req.pluginContext?.dataSourceInstanceSettings);
  } catch (e) {
    return errorReply(400, 'NETWATCH_ERR_VALIDATION', e instanceof SettingsError ? e.message : (e as Error).message);
  }
  try {
    const res = await client.values(name, searchOf(req.url ?? ''));
    return { code: res.status, headers: { 'Content-Type': { values: [res.contentType || 'application/json'] } }, body: res.body };
  } catch (e) {
    const err = e instanceof IngestError ? e : new IngestError('network', (e as Error).message, 502);
    deps.logger.warn('values resource failed', { list: name, failure: err.failure });
    return errorReply(err.status, 'NETWATCH_ERR_UNAVAILABLE', `ingest service: ${err.message}`);
  }
}
