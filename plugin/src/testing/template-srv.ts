/**
 * A TemplateSrv for tests that interpolates as Grafana's does, from its documented rules
 * (https://grafana.com/docs/grafana/latest/dashboards/variables/variable-syntax/): `$var`, `${var}`,
 * `${var:format}`, `[[var]]`, `[[var:format]]`; scoped variables before dashboard ones; an explicit format in
 * the text before the caller's; multi-value variables formatted as glob `{a,b}` when no format is given; the
 * All option as its custom all value or every option's value; unknown variables left as written.
 */
import type { ScopedVars, TimeRange, TypedVariableModel } from '@grafana/data';
import type { TemplateSrv } from '@grafana/runtime';

export interface TestVariable {
  name: string;
  /** The selected value: one string, or several for a multi-value variable; `$__all` for the All option. */
  value: string | string[];
  options?: string[];
  includeAll?: boolean;
  allValue?: string;
}

type Format = string | ((value: string | string[], variable: unknown, formatValue: unknown) => string) | undefined;

const VARIABLE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}/g;

function regexEscape(s: string): string {
  return s.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&');
}

/** Grafana's named formats for the values our fields can meet. */
function formatValue(value: string | string[], format: Format, variable: unknown): string {
  if (typeof format === 'function') return format(value, variable, formatValue);
  const values = Array.isArray(value) ? value : [value];
  switch (format ?? 'glob') {
    case 'csv':
    case 'raw':
    case 'text':
      return values.join(',');
    case 'pipe':
      return values.join('|');
    case 'json':
      return JSON.stringify(value);
    case 'regex':
      return values.length === 1 ? regexEscape(values[0]) : `(${values.map(regexEscape).join('|')})`;
    case 'singlequote':
      return values.map((v) => `'${v.replace(/'/g, "\\'")}'`).join(',');
    case 'doublequote':
      return values.map((v) => `"${v.replace(/"/g, '\\"')}"`).join(',');
    case 'glob':
    default:
      return values.length > 1 ? `{${values.join(',')}}` : values.join('');
  }
}

export class TestTemplateSrv implements TemplateSrv {
  constructor(private readonly variables: TestVariable[]) {}

  getVariables(): TypedVariableModel[] {
    return this.variables.map((v) => ({ name: v.name, type: 'custom', current: { value: v.value, text: v.value } })) as unknown as TypedVariableModel[];
  }

  containsTemplate(target?: string): boolean {
    if (!target) return false;
    for (const m of target.matchAll(VARIABLE)) if (this.lookup(m[1] || m[2] || m[4], undefined) !== undefined) return true;
    return false;
  }

  updateTimeRange(_timeRange: TimeRange): void {}

  replace(target?: string, scopedVars?: ScopedVars, format?: Format): string {
    if (!target) return target ?? '';
    return target.replace(VARIABLE, (match, var1, var2, fmt2, var3, _path, fmt3) => {
      const value = this.lookup(var1 || var2 || var3, scopedVars);
      if (value === undefined) return match;
      return formatValue(value, fmt2 || fmt3 || format, this.variables.find((v) => v.name === (var1 || var2 || var3)));
    });
  }

  private lookup(name: string, scopedVars: ScopedVars | undefined): string | string[] | undefined {
    const scoped = scopedVars?.[name];
    if (scoped) return scoped.value as string | string[];
    const v = this.variables.find((x) => x.name === name);
    if (!v) return undefined;
    const selected = Array.isArray(v.value) ? v.value : [v.value];
    if (v.includeAll && selected.includes('$__all')) return v.allValue ?? v.options ?? [];
    return v.value;
  }
}
