/**
 * The HTTP API (fastify): the query endpoint, health, stats, value lists, the OpenAPI document and
 * Prometheus metrics. Loopback by default; a bearer token, when configured, guards everything but health
 * and metrics.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { LogController, type FastifyError, type FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Registry, Counter, Histogram, collectDefaultMetrics } from 'prom-client';
import type { Logger } from 'pino';
import {
  ErrorCodes,
  MAX_BODY_BYTES,
  MAX_QUERIES,
  NetwatchError,
  PROTOCOL_NAMES,
  KINDS,
  VALUE_LISTS,
  QueryRequestSchema,
  type ErrorCode,
  type ErrorResponse,
  type HealthResponse,
  type QueryRequest,
  type StatsResponse,
  type ValueListName,
} from '../protocol';
import { ARROW_FRAMES_MEDIA_TYPE } from '../protocol/arrow-envelope';
import { acceptsArrowFrames, encodeQueryResponseArrow, executeQueryRequest } from './query';
import { openApiDocument } from './openapi';
import type { ApiRegistry } from './registry';

export interface ApiOptions {
  version: string;
  registry: ApiRegistry;
  logger: Logger;
  /** Bearer token; empty or undefined disables authentication. */
  token?: string;
  startedAtMs?: number;
  /** Prometheus registry the components also register their metrics in. */
  metrics?: Registry;
}

const PUBLIC_ROUTES = new Set(['/api/v1/health', '/metrics']);

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Compares the presented token with the configured one in constant time (hashing first equalises lengths). */
export function tokenMatches(header: string | undefined, expectedDigest: Buffer): boolean {
  if (!header) return false;
  const m = /^Bearer\s+(.+)$/i.exec(header);
  if (!m) return false;
  return timingSafeEqual(digest(m[1].trim()), expectedDigest);
}

function sendError(reply: FastifyReply, code: ErrorCode, message: string, path = ''): FastifyReply {
  const status = ErrorCodes[code];
  const body: ErrorResponse = { error: path ? { code, message, path } : { code, message }, status };
  return reply.code(status).type('application/json').send(body);
}

export function buildApi(opts: ApiOptions) {
  const { registry, logger, version } = opts;
  const startedAtMs = opts.startedAtMs ?? Date.now();
  const metrics = opts.metrics ?? new Registry();
  const app = Fastify({
    loggerInstance: logger,
    // Requests are logged once, by the onResponse hook below, with the route template instead of the raw URL.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: MAX_BODY_BYTES,
    // A query can carry many CIDR and port values; the limit is on bytes, not on the number of keys.
    ajv: { customOptions: { allErrors: false, coerceTypes: false, removeAdditional: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  if (!metrics.getSingleMetric('process_cpu_seconds_total')) collectDefaultMetrics({ register: metrics, prefix: '' });
  const requests = new Counter({
    name: 'netwatch_http_requests_total',
    help: 'HTTP requests by route template, method and status code',
    labelNames: ['route', 'method', 'status'],
    registers: [metrics],
  });
  const latency = new Histogram({
    name: 'netwatch_http_request_duration_seconds',
    help: 'HTTP request latency by route template',
    labelNames: ['route', 'method'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [metrics],
  });
  const queryErrors = new Counter({
    name: 'netwatch_query_errors_total',
    help: 'Queries answered with an error, by kind-independent error code',
    labelNames: ['code'],
    registers: [metrics],
  });

  // The API speaks JSON only; fastify's default text/plain parser would let a text body reach validation.
  app.removeContentTypeParser('text/plain');

  const tokenDigest = opts.token ? digest(opts.token) : undefined;

  app.addHook('onRequest', async (req, reply) => {
    (req as unknown as { startNs: bigint }).startNs = process.hrtime.bigint();
    if (!tokenDigest) return;
    const path = req.url.split('?')[0];
    if (PUBLIC_ROUTES.has(path)) return;
    if (!tokenMatches(req.headers.authorization, tokenDigest)) {
      reply.header('www-authenticate', 'Bearer realm="netwatch"');
      return sendError(reply, 'NETWATCH_ERR_UNAUTHORIZED', 'missing or wrong bearer token');
    }
  });

  app.addHook('onResponse', async (req, reply) => {
    // The route template, never the raw URL: a label must not carry addresses, ports or user input.
    const route = req.routeOptions.url ?? 'unmatched';
    const seconds = Number(process.hrtime.bigint() - (req as unknown as { startNs: bigint }).startNs) / 1e9;
    requests.inc({ route, method: req.method, status: String(reply.statusCode) });
    latency.observe({ route, method: req.method }, seconds);
    logger.debug({ method: req.method, route, status: reply.statusCode, ms: Math.round(seconds * 1e6) / 1e3 }, 'request');
  });

  app.setNotFoundHandler((req, reply) => sendError(reply, 'NETWATCH_ERR_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`));

  app.setErrorHandler((err: FastifyError | NetwatchError, req, reply) => {
    if (err instanceof NetwatchError) return sendError(reply, err.code, err.message, err.path);
    switch (err.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return sendError(reply, 'NETWATCH_ERR_BODY_TOO_LARGE', `request body over ${MAX_BODY_BYTES} bytes`);
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return sendError(reply, 'NETWATCH_ERR_UNSUPPORTED_MEDIA_TYPE', `content type ${JSON.stringify(req.headers['content-type'] ?? '')} not supported; send application/json`);
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
        return sendError(reply, 'NETWATCH_ERR_BAD_JSON', 'request body is not valid JSON');
    }
    if (err.validation && err.validation.length > 0) {
      const v = err.validation[0];
      const path = v.instancePath || '';
      if (path === '/queries' && v.keyword === 'maxItems') {
        return sendError(reply, 'NETWATCH_ERR_TOO_MANY_QUERIES', `at most ${MAX_QUERIES} queries per request`, path);
      }
      const field = v.keyword === 'required' ? `${path}/${(v.params as { missingProperty?: string }).missingProperty ?? ''}` : v.keyword === 'additionalProperties' ? `${path}/${(v.params as { additionalProperty?: string }).additionalProperty ?? ''}` : path;
      return sendError(reply, 'NETWATCH_ERR_VALIDATION', `${field || '/'}: ${v.message ?? 'invalid'}`, field);
    }
    if (err instanceof SyntaxError || err.statusCode === 400) return sendError(reply, 'NETWATCH_ERR_BAD_JSON', err.message);
    logger.error({ err }, 'unhandled API error');
    return sendError(reply, 'NETWATCH_ERR_INTERNAL', 'internal error (see the service log)');
  });

  app.post('/api/v1/query', { schema: { body: QueryRequestSchema } }, async (req, reply) => {
    const response = await executeQueryRequest(req.body as unknown as QueryRequest, registry, logger);
    // JSON by default; the Arrow frames envelope for a client that names it in Accept (docs/protocol.md).
    reply.header('vary', 'Accept');
    const arrow = acceptsArrowFrames(req.headers.accept) ? encodeQueryResponseArrow(response, logger) : undefined;
    for (const r of Object.values(response.results)) if (r.error) queryErrors.inc({ code: r.error.code });
    if (arrow) return reply.type(ARROW_FRAMES_MEDIA_TYPE).send(arrow);
    return response;
  });

  app.get('/api/v1/health', async (): Promise<HealthResponse> => {
    const components = registry.health();
    const degraded = Object.values(components).some((c) => c.state === 'down' || c.state === 'degraded');
    return { status: degraded ? 'degraded' : 'ok', version, uptimeSeconds: Math.round((Date.now() - startedAtMs) / 1000), components };
  });

  app.get('/api/v1/stats', async (): Promise<StatsResponse> => ({
    version,
    uptimeSeconds: Math.round((Date.now() - startedAtMs) / 1000),
    components: registry.stats(),
  }));

  app.get<{ Params: { name: string } }>('/api/v1/values/:name', async (req, reply) => {
    const name = req.params.name;
    if (!(VALUE_LISTS as readonly string[]).includes(name)) {
      return sendError(reply, 'NETWATCH_ERR_NOT_FOUND', `unknown value list "${name}"; known: ${VALUE_LISTS.join(', ')}`, '/name');
    }
    if (name === 'kinds') return { name, values: [...KINDS] };
    if (name === 'protocols') return { name, values: [...PROTOCOL_NAMES] };
    const provider = registry.values.get(name as ValueListName);
    if (!provider) return sendError(reply, 'NETWATCH_ERR_NOT_IMPLEMENTED', `value list "${name}" is not provided by this version or configuration`, '/name');
    return { name, values: await provider() };
  });

  const doc = openApiDocument(version);
  app.get('/api/v1/openapi.json', async () => doc);

  app.get('/metrics', async (_req, reply) => {
    reply.type(metrics.contentType);
    return metrics.metrics();
  });

  return app;
}

export type ApiServer = ReturnType<typeof buildApi>;
