/**
 * Operations on the query model the editor and the data source share: switching kinds, reading list fields,
 * spotting template variables, and validating a query with the ingest service's own normalizer, so the editor
 * refuses exactly what `POST /api/v1/query` would refuse.
 */
import { KIND_INFO, NetwatchError, normalizeQuery, splitList, validateCidrList, type ParamName, type QueryKind } from '@netwatch/ingest/protocol';
import { DEFAULT_QUERIES, LIST_PARAMS, type NetwatchQuery } from './types';

/**
 * Grafana's variable syntax: `$name`, `${name}`, `${name:format}`, `${name.path}`, `[[name]]`, `[[name:format]]`
 * (https://grafana.com/docs/grafana/latest/dashboards/variables/variable-syntax/).
 */
const TEMPLATE_VARIABLE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}/;

/** Whether the text refers to a template variable; such items are validated only after interpolation, by the service. */
export function hasTemplateVariable(v: unknown): boolean {
  return typeof v === 'string' && TEMPLATE_VARIABLE.test(v);
}

const LIST = new Set<string>(LIST_PARAMS);

/** The items of a list field as the protocol reads them: array elements, comma-separated parts, `{a,b}` unwrapped. */
export function listItems(v: unknown): Array<string | number> {
  return v === undefined || v === null ? [] : splitList(v);
}

/** A list field as the editor shows it: `10.0.0.0/8, $subnet`. */
export function formatList(v: unknown): string {
  return listItems(v).join(', ');
}

/**
 * The list an editor text box holds: comma-separated items, trimmed, empty ones dropped. Commas inside `${...}`
 * cannot occur in Grafana's syntax, so splitting on every comma keeps variable references whole.
 */
export function parseListText(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * The query after the user picks another kind. Fields the new kind does not read are kept (Grafana keeps them
 * and the protocol ignores them, so switching back restores them); fields it reads but that hold values it does
 * not allow (a metric, group or order of the old kind) take the new kind's default; unset fields take it too.
 */
export function switchKind(query: NetwatchQuery, kind: QueryKind): NetwatchQuery {
  const info = KIND_INFO[kind];
  const defaults = DEFAULT_QUERIES[kind] as Record<string, unknown>;
  const next: Record<string, unknown> = { ...query, kind };
  const allowed: Partial<Record<'metric' | 'groupBy' | 'orderBy', readonly string[] | undefined>> = {
    metric: info.metrics,
    groupBy: info.groupBy,
    orderBy: info.orderBy,
  };
  for (const key of ['metric', 'groupBy', 'orderBy'] as const) {
    const values = allowed[key];
    if (!info.params.includes(key) || !values || next[key] === undefined) continue;
    if (key === 'metric') {
      const kept = listItems(next.metric).filter((m) => hasTemplateVariable(m) || values.includes(String(m)));
      if (kept.length > 0) next.metric = kept.map(String);
      else delete next.metric;
    } else if (!hasTemplateVariable(next[key]) && !values.includes(String(next[key]))) {
      delete next[key];
    }
  }
  for (const [key, value] of Object.entries(defaults)) {
    if (next[key] === undefined) next[key] = Array.isArray(value) ? [...value] : value;
  }
  return next as NetwatchQuery;
}

/** Inline errors of a query, by field; a field is absent when it is valid, unset, or not read by the kind. */
export type QueryErrors = Partial<Record<ParamName | 'kind', string>>;

/** The field's value with template-variable items removed: those are checked by the service once interpolated. */
function withoutVariables(param: ParamName, v: unknown): unknown {
  if (!LIST.has(param)) return hasTemplateVariable(v) ? undefined : v;
  const items = listItems(v).filter((item) => !hasTemplateVariable(item));
  return items.length === 0 ? undefined : items;
}

/**
 * Validates each field the kind reads, one at a time, with the protocol's `normalizeQuery` (CIDR lists with
 * `validateCidrList`, to name every bad block, not just the first). The messages are the service's own.
 */
export function validateQuery(query: NetwatchQuery): QueryErrors {
  const info = KIND_INFO[query.kind];
  if (!info) return { kind: `unknown kind ${JSON.stringify(query.kind)}` };
  const errors: QueryErrors = {};
  const fields = query as unknown as Record<string, unknown>;
  for (const param of info.params) {
    const value = withoutVariables(param, fields[param]);
    if (value === undefined) continue;
    if (param === 'cidr' || param === 'srcCidr' || param === 'dstCidr') {
      const messages = validateCidrList((value as Array<string | number>).map(String)).filter((m): m is string => m !== null);
      if (messages.length > 0) errors[param] = messages.join('; ');
      continue;
    }
    try {
      normalizeQuery({ refId: query.refId || 'A', kind: query.kind, [param]: value }, 0);
    } catch (e) {
      // Schema errors start with the field's path (`/limit: ...`), which the inline position already says.
      errors[param] = e instanceof NetwatchError ? e.message.replace(/^\/[\w/]*: /, '') : String(e);
    }
  }
  return errors;
}

export function isValidQuery(query: NetwatchQuery): boolean {
  return Object.keys(validateQuery(query)).length === 0;
}
