/**
 * Turns one query of a request into a validated, parsed form: CIDRs parsed, port specs turned into ranges,
 * protocol names into numbers. Only the parameters the kind reads are validated: Grafana keeps the fields of
 * a kind the user switched away from in the query model, and those must not fail the query.
 */
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { parseCidr, type Cidr } from './cidr';
import { NetwatchError } from './errors';
import { parseProtocol } from './ip-protocols';
import { KIND_INFO, isKind, type ParamName, type QueryKind, type Severity } from './kinds';
import { parsePortSpec } from './ports';
import { QueryParamsSchema, type QueryParams } from './schemas';

export type PortRange = [number, number];

export interface NormalizedQuery {
  refId: string;
  kind: QueryKind;
  cidr: Cidr[];
  srcCidr: Cidr[];
  dstCidr: Cidr[];
  port: PortRange[];
  srcPort: PortRange[];
  dstPort: PortRange[];
  protocol: number[];
  minSeverity?: Severity;
  minScore?: number;
  source: string[];
  target: string[];
  metric: string[];
  groupBy?: string;
  subnetPrefix?: number;
  intervalMs?: number;
  limit?: number;
  orderBy?: string;
  text?: string;
  level: string[];
  aggregate: 'avg' | 'min' | 'max' | 'sum';
  interface: string[];
  mount: string[];
  maxDataPoints?: number;
}

const checkParams = TypeCompiler.Compile(QueryParamsSchema);

/** Splits a string or array parameter into trimmed, non-empty items; `{a,b}` (Grafana's default multi-value format) is unwrapped. */
export function splitList(v: unknown): Array<string | number> {
  const items = Array.isArray(v) ? v : [v];
  const out: Array<string | number> = [];
  for (const item of items) {
    if (typeof item === 'number') {
      out.push(item);
      continue;
    }
    if (typeof item !== 'string') continue;
    let s = item.trim();
    if (s.startsWith('{') && s.endsWith('}')) s = s.slice(1, -1);
    for (const part of s.split(',')) {
      const p = part.trim();
      if (p !== '') out.push(p);
    }
  }
  return out;
}

function strings(v: unknown): string[] {
  return splitList(v).map(String);
}

export function normalizeQuery(raw: unknown, index: number): NormalizedQuery {
  const base = `/queries/${index}`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new NetwatchError('NETWATCH_ERR_VALIDATION', 'a query must be an object', base);
  }
  const obj = raw as Record<string, unknown>;
  if (!isKind(obj.kind)) {
    throw new NetwatchError(
      'NETWATCH_ERR_UNKNOWN_KIND',
      `unknown kind ${JSON.stringify(obj.kind)}; expected one of ${Object.keys(KIND_INFO).join(', ')}`,
      `${base}/kind`,
    );
  }
  const kind = obj.kind;
  const info = KIND_INFO[kind];
  const reads = new Set<ParamName>(info.params);
  // Validate only the fields this kind reads (plus refId/kind), so stale fields of other kinds cannot fail it.
  const relevant: Record<string, unknown> = { refId: obj.refId, kind };
  for (const key of Object.keys(obj)) {
    if (reads.has(key as ParamName) || key === 'maxDataPoints') relevant[key] = obj[key];
  }
  const firstError = checkParams.Errors(relevant).First();
  if (firstError) {
    throw new NetwatchError('NETWATCH_ERR_VALIDATION', `${firstError.path || '/'}: ${firstError.message}`, `${base}${firstError.path}`);
  }
  const q = relevant as QueryParams;
  const out: NormalizedQuery = {
    refId: q.refId,
    kind,
    cidr: [],
    srcCidr: [],
    dstCidr: [],
    port: [],
    srcPort: [],
    dstPort: [],
    protocol: [],
    source: [],
    target: [],
    metric: [],
    level: [],
    aggregate: q.aggregate ?? 'avg',
    interface: [],
    mount: [],
  };
  for (const key of ['cidr', 'srcCidr', 'dstCidr'] as const) {
    if (q[key] !== undefined) out[key] = strings(q[key]).map((s, i) => parseCidr(s, `${base}/${key}/${i}`));
  }
  for (const key of ['port', 'srcPort', 'dstPort'] as const) {
    if (q[key] !== undefined) out[key] = splitList(q[key]).map((p, i) => parsePortSpec(p, `${base}/${key}/${i}`));
  }
  if (q.protocol !== undefined) out.protocol = splitList(q.protocol).map((p, i) => parseProtocol(p, `${base}/protocol/${i}`));
  for (const key of ['source', 'target', 'level', 'interface', 'mount'] as const) {
    if (q[key] !== undefined) out[key] = strings(q[key]);
  }
  if (q.metric !== undefined) {
    out.metric = strings(q.metric);
    if (info.metrics) {
      out.metric.forEach((m, i) => {
        if (!info.metrics!.includes(m)) {
          throw new NetwatchError('NETWATCH_ERR_VALIDATION', `unknown metric "${m}" for ${kind}; expected one of ${info.metrics!.join(', ')}`, `${base}/metric/${i}`);
        }
      });
    }
  }
  if (q.groupBy !== undefined && q.groupBy !== '') {
    if (info.groupBy && !info.groupBy.includes(q.groupBy)) {
      throw new NetwatchError('NETWATCH_ERR_VALIDATION', `groupBy "${q.groupBy}" is not one of ${info.groupBy.join(', ')}`, `${base}/groupBy`);
    }
    out.groupBy = q.groupBy;
  }
  if (q.orderBy !== undefined && q.orderBy !== '') {
    if (info.orderBy && !info.orderBy.includes(q.orderBy)) {
      throw new NetwatchError('NETWATCH_ERR_VALIDATION', `orderBy "${q.orderBy}" is not one of ${info.orderBy.join(', ')}`, `${base}/orderBy`);
    }
    out.orderBy = q.orderBy;
  }
  if (q.minSeverity !== undefined) out.minSeverity = q.minSeverity;
  if (q.minScore !== undefined) out.minScore = q.minScore;
  if (q.subnetPrefix !== undefined) out.subnetPrefix = q.subnetPrefix;
  if (q.intervalMs !== undefined) out.intervalMs = q.intervalMs;
  if (q.limit !== undefined) out.limit = q.limit;
  if (q.text !== undefined && q.text !== '') out.text = q.text;
  if (q.maxDataPoints !== undefined) out.maxDataPoints = q.maxDataPoints;
  return out;
}

