/** The OpenAPI 3.1 document of the API, generated from the protocol's TypeBox schemas (which are JSON Schema). */
import { ErrorCodes, KIND_INFO, NAMED_SCHEMAS, VALUE_LISTS } from '../protocol';
import { ARROW_FRAMES_MEDIA_TYPE, ARROW_FRAMES_VERSION } from '../protocol/arrow-envelope';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown) => ({ content: { 'application/json': { schema } } });
const errorResponse = (description: string) => ({ description, ...json(ref('ErrorResponse')) });

/** TypeBox adds symbol keys and `$id`-less nesting that JSON.stringify drops; a JSON round trip yields plain schema. */
function plain(schema: unknown): unknown {
  return JSON.parse(JSON.stringify(schema));
}

export function openApiDocument(version: string): Record<string, unknown> {
  const schemas: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(NAMED_SCHEMAS)) schemas[name] = plain(schema);
  const auth = [{ bearer: [] }];
  return {
    openapi: '3.1.0',
    info: {
      title: 'Netwatch ingest API',
      version,
      description:
        'One query protocol for flows, pings, logs, traces, threats and host metrics. Query kinds: ' +
        Object.values(KIND_INFO)
          .map((k) => `${k.kind} (${k.description})`)
          .join('; ') +
        `. Error codes: ${Object.entries(ErrorCodes)
          .map(([c, s]) => `${c} (${s})`)
          .join(', ')}.`,
    },
    components: {
      schemas,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'Required on every route but /api/v1/health and /metrics when the service has a token.' } },
    },
    paths: {
      '/api/v1/query': {
        post: {
          summary: 'Run up to 50 queries over one time range',
          security: auth,
          description:
            `JSON by default. A client that sends \`Accept: ${ARROW_FRAMES_MEDIA_TYPE}\` (with a q at least that of application/json) gets the same ` +
            'results as a binary envelope instead: per refId its frames as Arrow IPC files (the bytes of Grafana\'s DataResponse.frames) or its coded error ' +
            `(version ${ARROW_FRAMES_VERSION}: "NWAF", version byte, 3 zero bytes, uint32 LE header length, JSON header {"results":[{"refId","frames":[byte lengths]} | {"refId","error","status"}]}, ` +
            'zero padding to 8, then the files in header order, each zero-padded to 8; docs/protocol.md). Errors of the whole request stay JSON.',
          parameters: [
            {
              name: 'Accept',
              in: 'header',
              required: false,
              description: `application/json (default) or ${ARROW_FRAMES_MEDIA_TYPE}`,
              schema: { type: 'string', examples: [`${ARROW_FRAMES_MEDIA_TYPE}, application/json;q=0.5`] },
            },
          ],
          requestBody: { required: true, ...json(ref('QueryRequest')) },
          responses: {
            200: {
              description: 'Frames or a coded error per refId',
              headers: { Vary: { description: 'Accept: the representation depends on it', schema: { type: 'string' } } },
              content: {
                'application/json': { schema: ref('QueryResponse') },
                [ARROW_FRAMES_MEDIA_TYPE]: { schema: { type: 'string', contentMediaType: ARROW_FRAMES_MEDIA_TYPE, description: 'The Arrow frames envelope (binary)' } },
              },
            },
            400: errorResponse('Malformed request, bad time range, duplicate refId or more than 50 queries'),
            401: errorResponse('Missing or wrong bearer token'),
            413: errorResponse('Body over 1 MiB'),
            415: errorResponse('Body is not application/json'),
          },
        },
      },
      '/api/v1/health': {
        get: { summary: 'Service status, version, uptime and each component state', responses: { 200: { description: 'Health', ...json(ref('HealthResponse')) } } },
      },
      '/api/v1/stats': {
        get: {
          summary: 'Counters of every component',
          security: auth,
          responses: { 200: { description: 'Stats', ...json(ref('StatsResponse')) }, 401: errorResponse('Missing or wrong bearer token') },
        },
      },
      '/api/v1/values/{name}': {
        get: {
          summary: 'A value list for Grafana template variables',
          security: auth,
          parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string', enum: [...VALUE_LISTS] } }],
          responses: {
            200: { description: 'Values', ...json(ref('ValuesResponse')) },
            401: errorResponse('Missing or wrong bearer token'),
            404: errorResponse('Unknown list'),
            501: errorResponse('List not provided by this version'),
          },
        },
      },
      '/api/v1/openapi.json': { get: { summary: 'This document', security: auth, responses: { 200: { description: 'OpenAPI 3.1' } } } },
      '/metrics': { get: { summary: 'Prometheus metrics of the service', responses: { 200: { description: 'Prometheus text format', content: { 'text/plain': {} } } } } },
    },
  };
}
