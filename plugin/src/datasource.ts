/**
 * The Netwatch data source in the browser. Queries, health checks and resources go through the plugin's
 * backend (so alert rules, which never run this code, see the same query model); this class only interpolates
 * template variables, drops queries that cannot run, and adapts annotations and template variables.
 */
import {
  CustomVariableSupport,
  FieldType,
  createDataFrame,
  type AnnotationEvent,
  type AnnotationQuery,
  type AnnotationSupport,
  type CoreApp,
  type DataFrame,
  type DataQueryRequest,
  type DataQueryResponse,
  type DataSourceInstanceSettings,
  type MetricFindValue,
  type ScopedVars,
} from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv, type TemplateSrv } from '@grafana/runtime';
import { from, map, of, type Observable } from 'rxjs';
import { AnnotationQueryEditor } from './components/AnnotationQueryEditor';
import { VariableQueryEditor } from './components/VariableQueryEditor';
import { hasTemplateVariable, isValidQuery, listItems } from './query-model';
import {
  DEFAULT_QUERIES,
  DEFAULT_QUERY,
  DEFAULT_VARIABLE_QUERY,
  LIST_PARAMS,
  TEXT_PARAMS,
  VALUE_LISTS,
  type NetwatchDataSourceOptions,
  type NetwatchQuery,
  type NetwatchVariableQuery,
  type ValueListName,
} from './types';

/**
 * How a variable's value enters a field: every value joined with commas, which the editor and the protocol
 * both read as list items. An explicit `${var:format}` in the text wins over this, as in any Grafana data source.
 */
function joinValues(value: unknown): string {
  return Array.isArray(value) ? value.join(',') : String(value ?? '');
}

/** The items one list entry becomes once interpolated: `$subnet` with two values selected is two items. */
function expandItem(item: string, replace: (s: string) => string): string[] {
  let text = replace(item).trim();
  // `${var:glob}` yields `{a,b}`; the braces are format syntax, not part of the values.
  if (text.startsWith('{') && text.endsWith('}')) text = text.slice(1, -1);
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

export class DataSource extends DataSourceWithBackend<NetwatchQuery, NetwatchDataSourceOptions> {
  private readonly templateSrv: TemplateSrv;

  constructor(instanceSettings: DataSourceInstanceSettings<NetwatchDataSourceOptions>, templateSrv: TemplateSrv = getTemplateSrv()) {
    super(instanceSettings);
    this.templateSrv = templateSrv;
    this.annotations = netwatchAnnotations;
    this.variables = new NetwatchVariableSupport(this);
  }

  override getDefaultQuery(_app: CoreApp): Partial<NetwatchQuery> {
    return { ...DEFAULT_QUERY };
  }

  /** Hidden queries, and queries the ingest service would refuse (an invalid CIDR, port, ...), are not sent. */
  override filterQuery(query: NetwatchQuery): boolean {
    return !query.hide && isValidQuery(query);
  }

  /**
   * Replaces template variables in every list and text field. The model keeps its shape: an array stays an
   * array (a multi-value variable adds items), a comma-separated string stays a string, numbers are untouched;
   * so the backend reads the same fields whether a query comes from a dashboard or from an alert rule.
   */
  override applyTemplateVariables(query: NetwatchQuery, scopedVars: ScopedVars): NetwatchQuery {
    const replace = (s: string) => this.templateSrv.replace(s, scopedVars, joinValues);
    const out: Record<string, unknown> = { ...query };
    for (const key of LIST_PARAMS) {
      const value = out[key];
      if (Array.isArray(value)) {
        out[key] = value.flatMap((item) => (typeof item === 'string' && hasTemplateVariable(item) ? expandItem(item, replace) : [item]));
      } else if (typeof value === 'string' && hasTemplateVariable(value)) {
        out[key] = listItems(value)
          .flatMap((item) => (hasTemplateVariable(item) ? expandItem(String(item), replace) : [String(item)]))
          .join(',');
      }
    }
    for (const key of TEXT_PARAMS) {
      const value = out[key];
      if (typeof value === 'string' && hasTemplateVariable(value)) out[key] = replace(value);
    }
    return out as unknown as NetwatchQuery;
  }

  /** One of the ingest service's value lists, through the backend's `values/<name>` resource. */
  async listValues(list: ValueListName): Promise<string[]> {
    const body: unknown = await this.getResource(`values/${encodeURIComponent(list)}`);
    const values = Array.isArray(body) ? body : (body as { values?: unknown } | null)?.values;
    if (!Array.isArray(values)) throw new Error(`values/${list}: the backend answered without a values list`);
    return values.map(String);
  }

  /** Legacy variable API (older dashboards, ad-hoc callers): the same lists as the variable editor. */
  override async metricFindQuery(query: NetwatchVariableQuery | string): Promise<MetricFindValue[]> {
    const values = await this.listValues(toVariableQuery(query).list);
    return values.map((text) => ({ text, value: text }));
  }
}

/** A stored variable query as the editor writes it, or a bare list name as a hand-written dashboard may give. */
export function toVariableQuery(raw: unknown): NetwatchVariableQuery {
  if (typeof raw === 'string') {
    const list = raw.trim() || DEFAULT_VARIABLE_QUERY.list;
    return { refId: DEFAULT_VARIABLE_QUERY.refId, list: checkList(list) };
  }
  if (raw && typeof raw === 'object') {
    const q = raw as Partial<NetwatchVariableQuery>;
    return { refId: q.refId || DEFAULT_VARIABLE_QUERY.refId, list: checkList(q.list ?? DEFAULT_VARIABLE_QUERY.list) };
  }
  return { ...DEFAULT_VARIABLE_QUERY };
}

function checkList(list: string): ValueListName {
  if ((VALUE_LISTS as readonly string[]).includes(list)) return list as ValueListName;
  throw new Error(`unknown value list ${JSON.stringify(list)}; expected one of ${VALUE_LISTS.join(', ')}`);
}

/** Template variables filled from a value list; Grafana reads the frame's single string field as the values. */
export class NetwatchVariableSupport extends CustomVariableSupport<DataSource, NetwatchVariableQuery> {
  override editor = VariableQueryEditor;

  constructor(private readonly datasource: DataSource) {
    super();
  }

  override query(request: DataQueryRequest<NetwatchVariableQuery>): Observable<DataQueryResponse> {
    const query = toVariableQuery(request.targets[0]);
    return from(this.datasource.listValues(query.list)).pipe(
      map((values) => ({ data: [createDataFrame({ refId: query.refId, fields: [{ name: 'text', type: FieldType.string, values }] })] })),
    );
  }
}

/** The annotation query stored in a dashboard, always of the `annotations` kind. */
function annotationTarget(target: Partial<NetwatchQuery> | undefined): NetwatchQuery {
  return { ...DEFAULT_QUERIES.annotations, refId: 'Anno', ...target, kind: 'annotations' };
}

function fieldValues(frame: DataFrame, name: string): unknown[] | undefined {
  const field = frame.fields.find((f) => f.name === name);
  return field ? Array.from(field.values as ArrayLike<unknown>) : undefined;
}

/**
 * Annotation events from the `annotations` kind's frame (time, timeEnd, title, text, tags as "ban,sshd").
 * A ban with an end time becomes a region spanning the ban.
 */
export function framesToAnnotations(frames: DataFrame[]): AnnotationEvent[] {
  const events: AnnotationEvent[] = [];
  for (const frame of frames) {
    const time = fieldValues(frame, 'time');
    if (!time) continue;
    const timeEnd = fieldValues(frame, 'timeEnd');
    const title = fieldValues(frame, 'title');
    const text = fieldValues(frame, 'text');
    const tags = fieldValues(frame, 'tags');
    for (let i = 0; i < time.length; i++) {
      if (typeof time[i] !== 'number') continue;
      const event: AnnotationEvent = { time: time[i] as number };
      const end = timeEnd?.[i];
      if (typeof end === 'number' && end > event.time!) {
        event.timeEnd = end;
        event.isRegion = true;
      }
      if (title?.[i] != null) event.title = String(title[i]);
      if (text?.[i] != null) event.text = String(text[i]);
      const tagText = tags?.[i];
      event.tags = typeof tagText === 'string' ? tagText.split(',').map((t) => t.trim()).filter((t) => t !== '') : [];
      events.push(event);
    }
  }
  return events;
}

export const netwatchAnnotations: AnnotationSupport<NetwatchQuery> = {
  getDefaultQuery: () => ({ ...DEFAULT_QUERIES.annotations }),
  prepareAnnotation: (json: AnnotationQuery<NetwatchQuery>) => ({ ...json, target: annotationTarget(json.target) }),
  prepareQuery: (anno: AnnotationQuery<NetwatchQuery>) => annotationTarget(anno.target),
  processEvents: (_anno: AnnotationQuery<NetwatchQuery>, frames: DataFrame[]) => of(framesToAnnotations(frames)),
  QueryEditor: AnnotationQueryEditor,
};

