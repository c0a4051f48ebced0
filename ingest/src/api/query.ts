/**
 * Executes a query request: the time range once, then each query on its own, so that one failing query
 * answers its refId with a coded error and the others still get their frames.
 */
import {
  KIND_INFO,
  NetwatchError,
  column,
  frame,
  isNetwatchError,
  normalizeQuery,
  parseTimeRange,
  type Frame,
  type NormalizedQuery,
  type QueryRequest,
  type QueryResponse,
  type QueryResult,
} from '../protocol';
import type { ApiRegistry, QueryContext } from './registry';

export interface QueryLogger {
  error(obj: unknown, msg?: string): void;
}

export async function executeQueryRequest(body: QueryRequest, registry: ApiRegistry, logger: QueryLogger, nowMs = Date.now()): Promise<QueryResponse> {
  const { fromMs, toMs } = parseTimeRange(body.from, body.to, nowMs);
  const seen = new Set<string>();
  body.queries.forEach((q, i) => {
    if (seen.has(q.refId)) throw new NetwatchError('NETWATCH_ERR_VALIDATION', `duplicate refId "${q.refId}"`, `/queries/${i}/refId`);
    seen.add(q.refId);
  });
  const ctx: QueryContext = { fromMs, toMs, nowMs };
  const results: Record<string, QueryResult> = {};
  await Promise.all(
    body.queries.map(async (raw, i) => {
      const refId = raw.refId;
      try {
        const q = normalizeQuery(raw, i);
        const frames = await runQuery(q, ctx, registry);
        for (const f of frames) f.schema.refId = refId;
        results[refId] = { frames };
      } catch (e) {
        results[refId] = errorResult(e, refId, logger);
      }
    }),
  );
  return { results };
}

async function runQuery(q: NormalizedQuery, ctx: QueryContext, registry: ApiRegistry): Promise<Frame[]> {
  if (q.kind === 'stats' && !registry.kinds.has('stats')) return [statsFrame(registry, q.source)];
  const handler = registry.kinds.get(q.kind);
  if (!handler) {
    throw new NetwatchError('NETWATCH_ERR_NOT_IMPLEMENTED', `query kind "${q.kind}" is not implemented by this version of the ingest service`, `/kind`);
  }
  return handler(q, ctx);
}

function errorResult(e: unknown, refId: string, logger: QueryLogger): QueryResult {
  if (isNetwatchError(e)) return { error: e.toJSON(), status: e.status };
  logger.error({ err: e, refId }, 'query failed');
  return { error: { code: 'NETWATCH_ERR_INTERNAL', message: 'internal error while running the query (see the service log)' }, status: 500 };
}

/** The built-in `stats` kind: every component's counters as rows (component, name, value). */
export function statsFrame(registry: ApiRegistry, components: string[]): Frame {
  const comp: string[] = [];
  const name: string[] = [];
  const num: Array<number | null> = [];
  const text: Array<string | null> = [];
  for (const [c, counters] of Object.entries(registry.stats())) {
    if (components.length > 0 && !components.includes(c)) continue;
    for (const [k, v] of Object.entries(counters)) {
      comp.push(c);
      name.push(k);
      num.push(typeof v === 'number' ? v : typeof v === 'boolean' ? Number(v) : null);
      text.push(typeof v === 'string' ? v : null);
    }
  }
  return frame('stats', [column('component', 'string', comp), column('name', 'string', name), column('value', 'number', num), column('text', 'string', text)], {
    preferredVisualisationType: 'table',
    kindDescription: KIND_INFO.stats.description,
  });
}
