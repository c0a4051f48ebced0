/**
 * HTTP client of one data source's ingest service: the query protocol's `POST /api/v1/query`, health, stats
 * and value lists, with the bearer token, a keep-alive agent (one TCP connection reused across panel
 * refreshes), a timeout per request and a cap on response size. Failures are classified so that health
 * checks and query errors can say precisely what is wrong.
 */
import http from 'node:http';
import https from 'node:https';
import type { ErrorResponse, HealthResponse, QueryRequest, QueryResponse, QueryResult, StatsResponse } from '@netwatch/ingest/protocol';
import { ARROW_FRAMES_MEDIA_TYPE, ArrowFramesError, decodeArrowFrames } from '@netwatch/ingest/protocol/arrow';
import type { IngestSettings } from './settings';
import type { PluginMetrics } from './metrics';
import { scanQueryResponse } from './response-scanner';

/** Largest response body accepted from the ingest service (50 queries of 100k rows fit well below). */
export const MAX_RESPONSE_BYTES = 256 * 1024 * 1024;

export type IngestFailure = 'refused' | 'dns' | 'unreachable' | 'reset' | 'timeout' | 'unauthorized' | 'http' | 'bad_response' | 'too_large' | 'network';

export class IngestError extends Error {
  override readonly name = 'IngestError';
  constructor(
    readonly failure: IngestFailure,
    message: string,
    /** The HTTP status to report to Grafana: the ingest service's own, or 502/504 for transport failures. */
    readonly status: number,
    /** The protocol error code when the ingest service answered with one. */
    readonly code?: string,
  ) {
    super(message);
  }
}

export interface RawResponse {
  status: number;
  contentType: string;
  body: Buffer;
}

export type Route = 'query' | 'health' | 'stats' | 'values';

/**
 * How the plugin wants `/api/v1/query` answered: `arrow` asks for the Arrow frames envelope (frames passed
 * through to Grafana as they come), with JSON as the fallback an older ingest service answers; `packed` and
 * `json` ask for JSON, read into packed columns (for the Arrow encoder) or plain arrays.
 */
export type QueryAnswer = 'arrow' | 'packed' | 'json';

/** Arrow first; q=0.5 on JSON so a service that knows the envelope prefers it, and one that does not answers JSON. */
export const ARROW_ACCEPT = `${ARROW_FRAMES_MEDIA_TYPE}, application/json;q=0.5`;

/** A refId's answer: protocol frames (JSON answer), or Arrow IPC files ready for DataResponse.frames, or an error. */
export type IngestQueryResult = QueryResult & { arrowFiles?: Uint8Array[] };

export interface IngestQueryResponse {
  results: Record<string, IngestQueryResult>;
  /** The representation the ingest service answered in. */
  format: 'arrow' | 'json';
}

const USER_AGENT = 'netwatch-grafana-plugin';

/** The scanner for frame columns, JSON.parse as the fallback for an answer it does not read (never expected). */
function parsePacked(body: Buffer): unknown {
  try {
    return scanQueryResponse(body);
  } catch {
    return JSON.parse(body.toString('utf8'));
  }
}

/** The media type of a Content-Type header, lower case, without parameters. */
function mediaType(contentType: string): string {
  return contentType.split(';')[0].trim().toLowerCase();
}

function describeTransportError(err: NodeJS.ErrnoException, origin: string, host: string, timeoutMs: number): IngestError {
  switch (err.code) {
    case 'ECONNREFUSED':
      return new IngestError('refused', `connection refused by ${origin} (is netwatch-ingest running and listening there?)`, 502);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return new IngestError('dns', `cannot resolve host "${host}" of ${origin} (${err.code})`, 502);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new IngestError('unreachable', `${origin} is unreachable (${err.code})`, 502);
    case 'ECONNRESET':
    case 'EPIPE':
      return new IngestError('reset', `${origin} closed the connection (${err.code})`, 502);
    case 'ETIMEDOUT_NETWATCH':
      return new IngestError('timeout', `timeout: no answer from ${origin} within ${timeoutMs / 1000} s`, 504);
    case 'ERR_BODY_TOO_LARGE_NETWATCH':
      return new IngestError('too_large', `the answer of ${origin} is larger than ${MAX_RESPONSE_BYTES} bytes`, 502);
    default:
      return new IngestError('network', `request to ${origin} failed: ${err.message}${err.code ? ` (${err.code})` : ''}`, 502);
  }
}

export class IngestClient {
  readonly settings: IngestSettings;
  private readonly agent: http.Agent;
  private readonly transport: typeof http | typeof https;
  private readonly origin: string;
  private readonly host: string;

  constructor(
    settings: IngestSettings,
    private readonly metrics?: PluginMetrics,
  ) {
    this.settings = settings;
    const u = new URL(settings.baseUrl);
    this.origin = settings.baseUrl;
    this.host = u.hostname;
    this.transport = u.protocol === 'https:' ? https : http;
    this.agent = new this.transport.Agent({ keepAlive: true, maxSockets: 16, maxFreeSockets: 4, timeout: 60_000 });
  }

  close(): void {
    this.agent.destroy();
  }

  /** One request; resolves with any HTTP status (callers decide), rejects with an IngestError on transport failure. */
  request(route: Route, method: 'GET' | 'POST', path: string, body?: string, timeoutMs = this.settings.timeoutMs, auth = true, extraHeaders?: Record<string, string>): Promise<RawResponse> {
    const started = process.hrtime.bigint();
    const headers: Record<string, string> = { accept: 'application/json', ...extraHeaders, 'user-agent': USER_AGENT };
    if (auth && this.settings.token) headers.authorization = `Bearer ${this.settings.token}`;
    let payload: Buffer | undefined;
    if (body !== undefined) {
      payload = Buffer.from(body, 'utf8');
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    return new Promise<RawResponse>((resolve, reject) => {
      let settled = false;
      const done = (err: IngestError | undefined, res?: RawResponse) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const result = err ? err.failure : String(res!.status);
        this.metrics?.ingestRequests.inc({ route, result: /^\d+$/.test(result) ? `${result[0]}xx` : result });
        this.metrics?.ingestDuration.observe({ route }, Number(process.hrtime.bigint() - started) / 1e9);
        if (err) reject(err);
        else resolve(res!);
      };
      const fail = (e: NodeJS.ErrnoException) => done(describeTransportError(e, this.origin, this.host, timeoutMs));
      const req = this.transport.request(`${this.settings.baseUrl}${path}`, { method, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE_BYTES) {
            res.destroy();
            fail(Object.assign(new Error('too large'), { code: 'ERR_BODY_TOO_LARGE_NETWATCH' }));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => done(undefined, { status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size) }));
        res.on('error', fail);
        res.on('aborted', () => fail(Object.assign(new Error('aborted'), { code: 'ECONNRESET' })));
      });
      const timer = setTimeout(() => {
        fail(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT_NETWATCH' }));
        req.destroy();
      }, timeoutMs);
      req.on('error', fail);
      req.end(payload);
    });
  }

  /** Parses a JSON answer; a non-2xx status becomes an IngestError carrying the protocol's error code. */
  private async json<T>(
    route: Route,
    method: 'GET' | 'POST',
    path: string,
    body?: string,
    timeoutMs?: number,
    auth = true,
    extraHeaders?: Record<string, string>,
    parse: (body: Buffer) => unknown = (b) => JSON.parse(b.toString('utf8')),
  ): Promise<T> {
    return this.parseJson<T>(await this.request(route, method, path, body, timeoutMs, auth, extraHeaders), route, path, parse);
  }

  private parseJson<T>(res: RawResponse, route: Route, path: string, parse: (body: Buffer) => unknown = (b) => JSON.parse(b.toString('utf8'))): T {
    let parsed: unknown;
    const t0 = process.hrtime.bigint();
    try {
      parsed = parse(res.body);
      if (route === 'query') this.metrics?.stageDuration.observe({ stage: 'decode' }, Number(process.hrtime.bigint() - t0) / 1e9);
    } catch {
      if (res.status === 401) throw this.unauthorized();
      throw new IngestError('bad_response', `${this.origin}${path} answered HTTP ${res.status} with a body that is not JSON: is this the URL of a Netwatch ingest service?`, 502);
    }
    if (res.status === 401) throw this.unauthorized();
    if (res.status < 200 || res.status > 299) {
      const e = (parsed as Partial<ErrorResponse>)?.error;
      if (e && typeof e.code === 'string') throw new IngestError('http', `${e.code}: ${e.message}`, res.status, e.code);
      throw new IngestError('http', `${this.origin}${path} answered HTTP ${res.status}`, res.status);
    }
    return parsed as T;
  }

  private unauthorized(): IngestError {
    return new IngestError(
      'unauthorized',
      this.settings.token
        ? `unauthorized: ${this.origin} refused the token (HTTP 401); check the token in the data source settings`
        : `unauthorized: ${this.origin} requires a token (HTTP 401); set it in the data source settings`,
      401,
      'NETWATCH_ERR_UNAUTHORIZED',
    );
  }

  /**
   * `extraHeaders` carries `FromAlert` on, as the Go SDK's alert forwarder middleware does. `answer` says which
   * representation to ask for (QueryAnswer); the Content-Type of the answer says which one came: an ingest
   * service older than the Arrow frames envelope answers JSON whatever it is asked.
   */
  async query(body: QueryRequest, extraHeaders?: Record<string, string>, answer: QueryAnswer = 'json'): Promise<IngestQueryResponse> {
    const path = '/api/v1/query';
    const headers = answer === 'arrow' ? { ...extraHeaders, accept: ARROW_ACCEPT } : extraHeaders;
    const res = await this.request('query', 'POST', path, JSON.stringify(body), undefined, true, headers);
    if (res.status >= 200 && res.status <= 299 && mediaType(res.contentType) === ARROW_FRAMES_MEDIA_TYPE) return this.arrowFrames(res, path);
    const parsed = this.parseJson<QueryResponse>(res, 'query', path, answer === 'json' ? undefined : parsePacked);
    if (!parsed || typeof parsed !== 'object' || typeof parsed.results !== 'object' || parsed.results === null) {
      throw new IngestError('bad_response', `${this.origin}${path} answered without "results": is this a Netwatch ingest service?`, 502);
    }
    this.metrics?.ingestAnswers.inc({ format: 'json' });
    return { results: parsed.results, format: 'json' };
  }

  /** The envelope read without trusting its lengths (decodeArrowFrames); the files stay views of the body. */
  private arrowFrames(res: RawResponse, path: string): IngestQueryResponse {
    const t0 = process.hrtime.bigint();
    let decoded;
    try {
      decoded = decodeArrowFrames(res.body);
    } catch (e) {
      if (!(e instanceof ArrowFramesError)) throw e;
      throw new IngestError('bad_response', `${this.origin}${path} answered a malformed ${ARROW_FRAMES_MEDIA_TYPE} body (${res.body.length} bytes): ${e.message}`, 502);
    }
    const results: Record<string, IngestQueryResult> = {};
    for (const [refId, r] of decoded) results[refId] = 'frames' in r ? { arrowFiles: r.frames } : { error: r.error, status: r.status };
    this.metrics?.stageDuration.observe({ stage: 'decode' }, Number(process.hrtime.bigint() - t0) / 1e9);
    this.metrics?.ingestAnswers.inc({ format: 'arrow' });
    return { results, format: 'arrow' };
  }

  /** `/api/v1/health` is public on the ingest service, so it proves reachability without the token. */
  health(timeoutMs?: number): Promise<HealthResponse> {
    return this.json<HealthResponse>('health', 'GET', '/api/v1/health', undefined, timeoutMs, false);
  }

  /** `/api/v1/stats` requires the token when the service has one: it proves the token. */
  stats(timeoutMs?: number): Promise<StatsResponse> {
    return this.json<StatsResponse>('stats', 'GET', '/api/v1/stats', undefined, timeoutMs);
  }

  /** A value list as the ingest service answers it (any status), for proxying to Grafana. */
  values(name: string, search: string, timeoutMs?: number): Promise<RawResponse> {
    return this.request('values', 'GET', `/api/v1/values/${encodeURIComponent(name)}${search}`, undefined, timeoutMs);
  }

  async valueList(name: string, timeoutMs?: number): Promise<string[] | undefined> {
    try {
      const r = await this.json<{ values: string[] }>('values', 'GET', `/api/v1/values/${encodeURIComponent(name)}`, undefined, timeoutMs);
      return Array.isArray(r.values) ? r.values : undefined;
    } catch (e) {
      if (e instanceof IngestError && (e.status === 501 || e.status === 404)) return undefined;
      throw e;
    }
  }
}
