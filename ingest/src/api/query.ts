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
import { ARROW_FRAMES_MEDIA_TYPE, encodeArrowFrames, frameToArrow, type ArrowFramesResult } from '../protocol/arrow';
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

/**
 * Whether an `Accept` header asks for the Arrow frames envelope rather than JSON (RFC 9110 section 12.5.1):
 * only when it names ARROW_FRAMES_MEDIA_TYPE itself with a q at least that of JSON's best match
 * (`application/json`, else `application/*`, else `*\/*`). A wildcard alone never selects it, so clients that
 * do not know the envelope keep getting JSON.
 */
export function acceptsArrowFrames(accept: string | undefined): boolean {
  if (!accept) return false;
  let arrowQ = 0;
  let jsonQ = -1;
  let jsonSpecificity = -1;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (!type) continue;
    let q = 1;
    for (const p of params) {
      const m = /^q=([01](?:\.\d{0,3})?)$/.exec(p);
      if (m) q = Number(m[1]);
    }
    if (type === ARROW_FRAMES_MEDIA_TYPE) arrowQ = Math.max(arrowQ, q);
    const specificity = type === 'application/json' ? 2 : type === 'application/*' ? 1 : type === '*/*' ? 0 : -1;
    if (specificity > jsonSpecificity) {
      jsonSpecificity = specificity;
      jsonQ = q;
    }
  }
  return arrowQ > 0 && arrowQ >= jsonQ;
}

/**
 * The response as the Arrow frames envelope (arrow-envelope.ts). A frame that cannot be encoded (a
 * component's column not matching its declared type) answers its refId NETWATCH_ERR_INTERNAL, logged, the
 * other refIds keep their frames; `response.results` is updated to match, for the caller's error counts.
 */
export function encodeQueryResponseArrow(response: QueryResponse, logger: QueryLogger): Buffer {
  const out: ArrowFramesResult[] = [];
  for (const [refId, r] of Object.entries(response.results)) {
    if (r.error) {
      out.push({ refId, error: r.error, status: r.status ?? 500 });
      continue;
    }
    try {
      out.push({ refId, frames: (r.frames ?? []).map((f) => frameToArrow(f)) });
    } catch (e) {
      logger.error({ err: e, refId }, 'cannot encode the frames as Arrow');
      const failed: QueryResult = { error: { code: 'NETWATCH_ERR_INTERNAL', message: `internal error while encoding the frames as Arrow: ${(e as Error).message}` }, status: 500 };
      response.results[refId] = failed;
      out.push({ refId, error: failed.error!, status: 500 });
    }
  }
  return encodeArrowFrames(out);
}
