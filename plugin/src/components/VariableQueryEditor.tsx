/**
 * The template variable editor: which of the ingest service's value lists fills the variable (targets, log
 * sources, interfaces, top talkers, top ports, ...). Grafana shows the preview of values itself.
 */
import type { QueryEditorProps } from '@grafana/data';
import { InlineField, Select } from '@grafana/ui';
import { useId } from 'react';
import type { DataSource } from '../datasource';
import { VALUE_LISTS, VALUE_LIST_INFO, DEFAULT_VARIABLE_QUERY, type NetwatchDataSourceOptions, type NetwatchQuery, type NetwatchVariableQuery, type ValueListName } from '../types';

export type Props = QueryEditorProps<DataSource, NetwatchQuery, NetwatchDataSourceOptions, NetwatchVariableQuery>;

const LIST_OPTIONS = VALUE_LISTS.map((list) => ({ label: list, value: list, description: VALUE_LIST_INFO[list] }));

export function VariableQueryEditor({ query, onChange }: Props) {
  const id = useId();
  // A variable created before this editor existed may hold a bare list name or nothing.
  const current: ValueListName =
    typeof query === 'string' ? (query as ValueListName) : ((query as Partial<NetwatchVariableQuery> | undefined)?.list ?? DEFAULT_VARIABLE_QUERY.list);
  const refId = (typeof query === 'object' && query?.refId) || DEFAULT_VARIABLE_QUERY.refId;
  return (
    <InlineField label="Values" labelWidth={16} htmlFor={id} tooltip="The list of the ingest service that fills this variable">
      <Select<ValueListName>
        inputId={id}
        options={LIST_OPTIONS}
        value={current}
        width={30}
        onChange={(sel) => {
          if (sel?.value) onChange({ refId, list: sel.value });
        }}
      />
    </InlineField>
  );
}
