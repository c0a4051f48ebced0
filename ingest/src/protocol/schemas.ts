/**
 * The query protocol's schemas, defined once: fastify validates requests with them, the OpenAPI document is
 * generated from them, and the Grafana plugin imports the derived types.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { FrameSchema } from './frame';
import { ErrorCodes } from './errors';
import { KINDS, SEVERITIES } from './kinds';

export const MAX_QUERIES = 50;
export const MAX_BODY_BYTES = 1024 * 1024;
export const MAX_LIMIT = 100_000;

/** Epoch milliseconds, an RFC 3339 string, or Grafana's `now`, `now-1h`. */
export const TimeValue = Type.Union([Type.Number(), Type.String({ maxLength: 64 })], {
  description: 'Epoch milliseconds, an RFC 3339 date-time, or now / now-<n><s|m|h|d|w>',
});

/** Lists accept one value or an array; strings may be comma-separated, which is what Grafana's `${var:csv}` yields. */
const StringList = Type.Union([Type.String({ maxLength: 4096 }), Type.Array(Type.String({ maxLength: 256 }), { maxItems: 1000 })]);
const PortList = Type.Union([Type.Integer(), Type.String({ maxLength: 4096 }), Type.Array(Type.Union([Type.Integer(), Type.String({ maxLength: 32 })]), { maxItems: 1000 })]);
const ProtocolList = Type.Union([Type.Integer(), Type.String({ maxLength: 1024 }), Type.Array(Type.Union([Type.Integer(), Type.String({ maxLength: 32 })]), { maxItems: 256 })]);

export const QueryParamsSchema = Type.Object(
  {
    refId: Type.String({ minLength: 1, maxLength: 64 }),
    kind: Type.String({ description: `One of: ${KINDS.join(', ')}` }),
    hide: Type.Optional(Type.Boolean()),
    cidr: Type.Optional(StringList),
    srcCidr: Type.Optional(StringList),
    dstCidr: Type.Optional(StringList),
    port: Type.Optional(PortList),
    srcPort: Type.Optional(PortList),
    dstPort: Type.Optional(PortList),
    protocol: Type.Optional(ProtocolList),
    minSeverity: Type.Optional(Type.Union(SEVERITIES.map((s) => Type.Literal(s)))),
    minScore: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
    source: Type.Optional(StringList),
    target: Type.Optional(StringList),
    metric: Type.Optional(StringList),
    groupBy: Type.Optional(Type.String({ maxLength: 64 })),
    subnetPrefix: Type.Optional(Type.Integer({ minimum: 0, maximum: 128 })),
    intervalMs: Type.Optional(Type.Number({ minimum: 1, maximum: 31 * 24 * 3600 * 1000 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT })),
    orderBy: Type.Optional(Type.String({ maxLength: 64 })),
    text: Type.Optional(Type.String({ maxLength: 1024 })),
    level: Type.Optional(StringList),
    aggregate: Type.Optional(Type.Union([Type.Literal('avg'), Type.Literal('min'), Type.Literal('max'), Type.Literal('sum')])),
    interface: Type.Optional(StringList),
    mount: Type.Optional(StringList),
    maxDataPoints: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  // Grafana adds its own keys to a query model (datasource, key, queryType, …): they are ignored, not refused.
  { additionalProperties: true },
);
export type QueryParams = Static<typeof QueryParamsSchema>;

/** The envelope fastify validates; each query is then validated on its own so one bad query fails only its refId. */
export const QueryRequestSchema = Type.Object(
  {
    from: TimeValue,
    to: TimeValue,
    queries: Type.Array(Type.Object({ refId: Type.String(), kind: Type.String() }, { additionalProperties: true }), { minItems: 1, maxItems: MAX_QUERIES }),
  },
  { additionalProperties: false },
);
export interface QueryRequest {
  from: number | string;
  to: number | string;
  queries: QueryParams[];
}

export const ErrorBodySchema = Type.Object({
  code: Type.Union(Object.keys(ErrorCodes).map((c) => Type.Literal(c))),
  message: Type.String(),
  path: Type.Optional(Type.String()),
});

export const QueryResultSchema = Type.Object({
  frames: Type.Optional(Type.Array(FrameSchema)),
  error: Type.Optional(ErrorBodySchema),
  status: Type.Optional(Type.Integer()),
});
export type QueryResult = Static<typeof QueryResultSchema>;

export const QueryResponseSchema = Type.Object({ results: Type.Record(Type.String(), QueryResultSchema) });
export type QueryResponse = Static<typeof QueryResponseSchema>;

export const ErrorResponseSchema = Type.Object({ error: ErrorBodySchema, status: Type.Integer() });
export type ErrorResponse = Static<typeof ErrorResponseSchema>;

export const ComponentHealthSchema = Type.Object({
  state: Type.Union([Type.Literal('ok'), Type.Literal('degraded'), Type.Literal('down'), Type.Literal('disabled')]),
  detail: Type.Optional(Type.String()),
});
export type ComponentHealth = Static<typeof ComponentHealthSchema>;

export const HealthResponseSchema = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
  version: Type.String(),
  uptimeSeconds: Type.Number(),
  components: Type.Record(Type.String(), ComponentHealthSchema),
});
export type HealthResponse = Static<typeof HealthResponseSchema>;

export const StatsResponseSchema = Type.Object({
  version: Type.String(),
  uptimeSeconds: Type.Number(),
  components: Type.Record(Type.String(), Type.Record(Type.String(), Type.Unknown())),
});
export type StatsResponse = Static<typeof StatsResponseSchema>;

export const ValuesResponseSchema = Type.Object({ name: Type.String(), values: Type.Array(Type.String()) });
export type ValuesResponse = Static<typeof ValuesResponseSchema>;

/** Named schemas for the OpenAPI document's components section. */
export const NAMED_SCHEMAS: Record<string, TSchema> = {
  QueryRequest: QueryRequestSchema,
  QueryParams: QueryParamsSchema,
  QueryResponse: QueryResponseSchema,
  QueryResult: QueryResultSchema,
  Frame: FrameSchema,
  ErrorResponse: ErrorResponseSchema,
  HealthResponse: HealthResponseSchema,
  StatsResponse: StatsResponseSchema,
  ValuesResponse: ValuesResponseSchema,
};
