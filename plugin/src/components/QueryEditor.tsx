/**
 * The query editor: a kind selector and the fields the chosen kind reads (KIND_INFO's params), each validated
 * inline by the protocol's own parsers. Text edits apply on blur or Enter, selections at once; a query with an
 * invalid field is stored (so nothing typed is lost) but not run.
 */
import { useId, useMemo, useState } from 'react';
import { type QueryEditorProps, type SelectableValue } from '@grafana/data';
import { InlineField, InlineFieldRow, MultiSelect, Select, useTheme2 } from '@grafana/ui';
import { PROTOCOL_NAMES, type ParamName } from '@netwatch/ingest/protocol';
import type { DataSource } from '../datasource';
import { formatList, isValidQuery, listItems, parseListText, switchKind, validateQuery } from '../query-model';
import {
  AGGREGATES,
  KINDS,
  KIND_INFO,
  LOG_LEVELS,
  SEVERITIES,
  type NetwatchDataSourceOptions,
  type NetwatchQuery,
  type QueryKind,
  type ValueListName,
} from '../types';
import { DraftInput, ValuesPicker, formatInterval, parseInterval } from './fields';

export type Props = QueryEditorProps<DataSource, NetwatchQuery, NetwatchDataSourceOptions> & {
  /** Kinds offered by the selector; the annotation editor offers only `annotations`. */
  kinds?: readonly QueryKind[];
};

const LABEL_WIDTH = 20;

type TextListParam = 'cidr' | 'srcCidr' | 'dstCidr' | 'port' | 'srcPort' | 'dstPort' | 'source' | 'target' | 'interface' | 'mount';

/** Text-box lists: label, tooltip and an example placeholder. */
const LIST_FIELDS: Record<TextListParam, { label: string; tooltip: string; placeholder: string; width: number }> = {
  cidr: { label: 'CIDR', tooltip: 'Either end in one of these IPv4/IPv6 blocks or addresses (comma-separated; $variables allowed)', placeholder: '10.0.0.0/8, 2001:db8::/32, $subnet', width: 28 },
  srcCidr: { label: 'Source CIDR', tooltip: 'Source address in one of these blocks', placeholder: '192.168.0.0/16', width: 22 },
  dstCidr: { label: 'Destination CIDR', tooltip: 'Destination address in one of these blocks', placeholder: '203.0.113.0/24', width: 22 },
  port: { label: 'Port', tooltip: 'Either end on one of these ports or lo-hi ranges (comma-separated; ${port:csv} allowed)', placeholder: '22, 443, 8000-8100', width: 24 },
  srcPort: { label: 'Source port', tooltip: 'Source port or range', placeholder: '1024-65535', width: 20 },
  dstPort: { label: 'Destination port', tooltip: 'Destination port or range', placeholder: '443, $port', width: 20 },
  source: { label: 'Source', tooltip: 'Log sources (logs, traces, annotations) or components (stats)', placeholder: 'auth, fail2ban', width: 28 },
  target: { label: 'Target', tooltip: 'Ping and probe targets', placeholder: '1.1.1.1, https://example.org, $target', width: 36 },
  interface: { label: 'Interface', tooltip: 'Network interfaces', placeholder: 'eth0, $interface', width: 20 },
  mount: { label: 'Mount', tooltip: 'Mount points', placeholder: '/, /var', width: 20 },
};

/** The ingest service's value list that suggests values for a field, where there is one. */
function valueListFor(param: TextListParam, kind: QueryKind): ValueListName | undefined {
  switch (param) {
    case 'target':
      return 'targets';
    case 'interface':
      return 'net_interfaces';
    case 'mount':
      return 'mounts';
    case 'source':
      return kind === 'stats' ? 'sources' : kind === 'logs' || kind === 'traces' ? 'log_sources' : undefined;
    default:
      return undefined;
  }
}

const SOURCE_PLACEHOLDER: Partial<Record<QueryKind, string>> = {
  logs: 'auth, fail2ban, syslog',
  traces: 'auth, fail2ban',
  annotations: 'fail2ban, patterns',
  stats: 'store, flows, pings',
};

/** Rows of fields: addresses, ports and protocols, other filters, then how to shape the result. */
const ROWS: ParamName[][] = [
  ['cidr', 'srcCidr', 'dstCidr'],
  ['port', 'srcPort', 'dstPort', 'protocol'],
  ['minSeverity', 'minScore', 'target', 'source', 'level', 'text', 'interface', 'mount'],
  ['metric', 'groupBy', 'subnetPrefix', 'orderBy', 'aggregate', 'intervalMs', 'limit'],
];

const options = (values: readonly string[]): Array<SelectableValue<string>> => values.map((v) => ({ label: v, value: v }));

function selectedValues(v: unknown): Array<SelectableValue<string>> {
  return listItems(v).map((item) => ({ label: String(item), value: String(item) }));
}

export function QueryEditor({ query, onChange, onRunQuery, datasource, kinds = KINDS }: Props) {
  const theme = useTheme2();
  const idPrefix = useId();
  const info = KIND_INFO[query.kind] ?? KIND_INFO.flow_series;
  const errors = useMemo(() => validateQuery(query), [query]);
  const [intervalError, setIntervalError] = useState<string | null>(null);
  const reads = new Set<ParamName>(info.params);

  const commit = (next: NetwatchQuery) => {
    onChange(next);
    if (isValidQuery(next)) onRunQuery();
  };
  const set = (param: ParamName, value: unknown) => {
    const next = { ...query } as Record<string, unknown>;
    if (value === undefined || (Array.isArray(value) && value.length === 0)) delete next[param];
    else next[param] = value;
    commit(next as unknown as NetwatchQuery);
  };
  const id = (param: string) => `${idPrefix}-${param}`;
  const field = (param: ParamName, label: string, tooltip: string, control: React.ReactElement<Record<string, unknown>>, error = errors[param]) => (
    <InlineField key={param} label={label} labelWidth={LABEL_WIDTH} tooltip={tooltip} htmlFor={id(param)} invalid={!!error} error={error}>
      {control}
    </InlineField>
  );

  const renderField = (param: ParamName): React.ReactNode => {
    const q = query as unknown as Record<string, unknown>;
    if (param in LIST_FIELDS) {
      const f = LIST_FIELDS[param as TextListParam];
      const placeholder = param === 'source' ? (SOURCE_PLACEHOLDER[query.kind] ?? f.placeholder) : f.placeholder;
      const list = valueListFor(param as TextListParam, query.kind);
      if (list && typeof datasource?.listValues === 'function') {
        return field(
          param,
          f.label,
          f.tooltip,
          <ValuesPicker
            key={`${param}-${list}`}
            inputId={id(param)}
            load={() => datasource.listValues(list)}
            value={listItems(q[param]).map(String)}
            placeholder={`all ${f.label.toLowerCase()}s`}
            width={f.width}
            invalid={!!errors[param]}
            onChange={(values) => set(param, values)}
          />,
        );
      }
      return field(
        param,
        f.label,
        f.tooltip,
        <DraftInput id={id(param)} text={formatList(q[param])} placeholder={placeholder} width={f.width} invalid={!!errors[param]} onCommit={(t) => set(param, parseListText(t))} />,
      );
    }
    switch (param) {
      case 'protocol':
      case 'metric':
      case 'level': {
        const all = param === 'protocol' ? PROTOCOL_NAMES : param === 'metric' ? (info.metrics ?? []) : LOG_LEVELS;
        const label = { protocol: 'Protocol', metric: 'Metric', level: 'Level' }[param];
        const tooltip = {
          protocol: 'IP protocols by name or number 0-255',
          metric: `One or more of ${all.join(', ')}`,
          level: 'Log levels to include',
        }[param];
        return field(
          param,
          label,
          tooltip,
          <MultiSelect<string>
            inputId={id(param)}
            options={options(all)}
            value={selectedValues(q[param])}
            allowCustomValue
            width={param === 'metric' ? 40 : 30}
            placeholder={param === 'metric' ? 'default' : 'any'}
            invalid={!!errors[param]}
            onChange={(sel) => set(param, sel.map((s) => s.value!).filter((v) => v !== undefined))}
          />,
        );
      }
      case 'minSeverity':
        return field(
          param,
          'Min severity',
          'Traces at or above this severity',
          <Select<string>
            inputId={id(param)}
            options={options(SEVERITIES)}
            value={query.minSeverity ?? null}
            isClearable
            placeholder="any"
            width={20}
            onChange={(sel) => set(param, sel?.value)}
          />,
        );
      case 'groupBy':
      case 'orderBy':
      case 'aggregate': {
        const all = param === 'aggregate' ? AGGREGATES : ((param === 'groupBy' ? info.groupBy : info.orderBy) ?? []);
        const label = { groupBy: 'Group by', orderBy: 'Order by', aggregate: 'Aggregate' }[param];
        const tooltip = {
          groupBy: 'One series or row per value of this key (top N by total, by Limit)',
          orderBy: 'Sort rows by this column, largest first',
          aggregate: 'How samples are folded into one interval',
        }[param];
        const value = q[param] as string | undefined;
        return field(
          param,
          label,
          tooltip,
          <Select<string>
            inputId={id(param)}
            options={options(all)}
            value={value ? { label: value, value } : null}
            allowCustomValue={param !== 'aggregate'}
            isClearable
            placeholder={param === 'groupBy' ? 'none' : 'default'}
            width={20}
            invalid={!!errors[param]}
            onChange={(sel) => set(param, sel?.value)}
          />,
        );
      }
      case 'minScore':
      case 'limit':
      case 'subnetPrefix': {
        if (param === 'subnetPrefix' && query.groupBy !== 'subnet') return null;
        const spec = {
          minScore: { label: 'Min score', tooltip: 'Threat score at or above (0-100)', min: 0, max: 100, placeholder: '0' },
          limit: { label: 'Limit', tooltip: 'Rows or series at most', min: 1, max: 100_000, placeholder: 'default' },
          subnetPrefix: { label: 'Subnet prefix', tooltip: 'Prefix length of the subnet groups (24 for IPv4 /24s)', min: 0, max: 128, placeholder: '24' },
        }[param];
        const value = q[param];
        return field(
          param,
          spec.label,
          spec.tooltip,
          <DraftInput
            id={id(param)}
            type="number"
            min={spec.min}
            max={spec.max}
            text={value === undefined ? '' : String(value)}
            placeholder={spec.placeholder}
            width={12}
            invalid={!!errors[param]}
            onCommit={(t) => set(param, t.trim() === '' ? undefined : Number(t))}
          />,
        );
      }
      case 'intervalMs':
        return field(
          param,
          'Interval',
          "Step of the series (30s, 5m, 1h); empty follows the panel's interval",
          <DraftInput
            id={id(param)}
            text={formatInterval(query.intervalMs)}
            placeholder="auto"
            width={12}
            invalid={!!(intervalError ?? errors.intervalMs)}
            onCommit={(t) => {
              try {
                const ms = parseInterval(t);
                setIntervalError(null);
                set(param, ms);
              } catch (e) {
                setIntervalError((e as Error).message);
              }
            }}
          />,
          intervalError ?? errors.intervalMs,
        );
      case 'text':
        return field(
          param,
          'Text',
          'Messages containing this text',
          <DraftInput id={id(param)} text={query.text ?? ''} placeholder="Failed password" width={30} onCommit={(t) => set(param, t === '' ? undefined : t)} />,
        );
      default:
        return null;
    }
  };

  const kindOptions = kinds.map((k) => ({ label: k, value: k, description: KIND_INFO[k].description }));
  const rows = ROWS.map((row) => row.filter((p) => reads.has(p))).filter((row) => row.length > 0);
  return (
    <div style={{ display: 'flex', flexDirection: 'column', gap: theme.spacing(0.5) }} data-testid="netwatch-query-editor">
      <InlineFieldRow>
        <InlineField label="Kind" labelWidth={LABEL_WIDTH} htmlFor={id('kind')} tooltip="What to query" invalid={!!errors.kind} error={errors.kind}>
          <Select<QueryKind>
            inputId={id('kind')}
            options={kindOptions}
            value={query.kind}
            width={32}
            onChange={(sel) => {
              if (sel?.value && sel.value !== query.kind) {
                setIntervalError(null);
                commit(switchKind(query, sel.value));
              }
            }}
          />
        </InlineField>
        <span
          data-testid="netwatch-kind-description"
          style={{ alignSelf: 'center', color: theme.colors.text.secondary, fontSize: theme.typography.bodySmall.fontSize, margin: theme.spacing(0, 0, 0.5, 1) }}
        >
          {info.description}
        </span>
      </InlineFieldRow>
      {rows.map((row) => (
        <InlineFieldRow key={row[0]}>{row.map(renderField)}</InlineFieldRow>
      ))}
    </div>
  );
}
