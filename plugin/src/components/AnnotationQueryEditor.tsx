/**
 * The annotation query editor: the query editor restricted to the `annotations` kind (bans, unbans and
 * detected patterns), so a dashboard's annotation always reads events, never a table or series.
 */
import type { QueryEditorProps } from '@grafana/data';
import type { DataSource } from '../datasource';
import { DEFAULT_QUERIES, type NetwatchDataSourceOptions, type NetwatchQuery } from '../types';
import { QueryEditor } from './QueryEditor';

const ANNOTATION_KINDS = ['annotations'] as const;

export function AnnotationQueryEditor(props: QueryEditorProps<DataSource, NetwatchQuery, NetwatchDataSourceOptions>) {
  const query: NetwatchQuery = { ...DEFAULT_QUERIES.annotations, ...props.query, refId: props.query?.refId ?? 'Anno', kind: 'annotations' };
  return <QueryEditor {...props} query={query} kinds={ANNOTATION_KINDS} />;
}
