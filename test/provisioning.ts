/**
 * Reads what `provisioning/` gives Grafana — dashboards with their panel targets and template variables, alert
 * rules with their queries, the data source — and turns a panel target into the query model Grafana would
 * send after interpolating the dashboard's variables, the way the plugin frontend does
 * (`plugin/src/datasource.ts`, `applyTemplateVariables`: list fields gain one item per selected value, a
 * custom All value is taken as it is). Shared by the static checks and the end-to-end test.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { LIST_PARAMS, TEXT_PARAMS } from '../plugin/src/types';

export const ROOT = path.resolve(__dirname, '..');
export const PROVISIONING = path.join(ROOT, 'provisioning');
export const DASHBOARD_DIR = path.join(PROVISIONING, 'dashboards', 'netwatch');
export const PLUGIN_ID: string = JSON.parse(readFileSync(path.join(ROOT, 'plugin/src/plugin.json'), 'utf8')).id;
export const DATASOURCE_UID = 'netwatch';

export interface DsRef {
  type?: string;
  uid?: string;
}

export interface Target {
  refId: string;
  datasource?: DsRef;
  [key: string]: unknown;
}

export interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: DsRef;
  targets?: Target[];
  panels?: Panel[];
  [key: string]: unknown;
}

export interface Variable {
  type: string;
  name: string;
  query?: unknown;
  current?: { text?: unknown; value?: unknown };
  options?: Array<{ text: string; value: string; selected?: boolean }>;
  includeAll?: boolean;
  allValue?: string | null;
  multi?: boolean;
  datasource?: DsRef;
}

export interface AnnotationDef {
  name: string;
  builtIn?: number;
  datasource?: DsRef;
  target?: Target;
  enable?: boolean;
}

export interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Variable[] };
  annotations: { list: AnnotationDef[] };
  time: { from: string; to: string };
  [key: string]: unknown;
}

export function dashboardFiles(): string[] {
  return readdirSync(DASHBOARD_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => path.join(DASHBOARD_DIR, f));
}

export function loadDashboard(file: string): Dashboard {
  return JSON.parse(readFileSync(file, 'utf8')) as Dashboard;
}

/** Every panel, rows' nested panels included (a collapsed row keeps its panels inside it). */
export function allPanels(d: Dashboard): Panel[] {
  const out: Panel[] = [];
  const walk = (ps: Panel[]) => {
    for (const p of ps) {
      out.push(p);
      if (p.panels) walk(p.panels);
    }
  };
  walk(d.panels ?? []);
  return out;
}

/** Resolves a variable's values: the current selection; for All, the custom All value or every option. */
export type AllValues = (v: Variable) => Promise<string[]> | string[];

/** The values a variable holds when the dashboard opens. `allValues` supplies the options of query variables. */
export async function variableValues(v: Variable, allValues: AllValues): Promise<string[] | { all: string }> {
  if (v.type === 'textbox' || v.type === 'constant') return [String(v.query ?? '')];
  const current = v.current?.value;
  const selected = (Array.isArray(current) ? current : current === undefined ? [] : [current]).map(String);
  if (selected.includes('$__all')) {
    if (v.allValue !== undefined && v.allValue !== null && v.allValue !== '') return { all: v.allValue };
    if (v.type === 'custom') return String(v.query ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
    return allValues(v);
  }
  return selected;
}

const VARIABLE = /\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)\]\]/g;

/** Names of the variables a target refers to. */
export function referencedVariables(value: unknown): string[] {
  const names: string[] = [];
  const visit = (v: unknown) => {
    if (typeof v === 'string') for (const m of v.matchAll(VARIABLE)) names.push(m[1] ?? m[2] ?? m[3]);
    else if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === 'object') Object.values(v).forEach(visit);
  };
  visit(value);
  return names;
}

/**
 * The target as the plugin frontend sends it: in list fields a `$var` item becomes one item per value (an All
 * value as it is, `{}` unwrapped), in text fields the values joined with commas. Grafana's own `datasource` key stays.
 */
export function interpolateTarget(t: Target, vars: Map<string, string[] | { all: string }>): Target {
  const text = (s: string): string =>
    s.replace(VARIABLE, (whole, a?: string, b?: string, c?: string) => {
      const v = vars.get((a ?? b ?? c)!);
      if (v === undefined) return whole;
      return Array.isArray(v) ? v.join(',') : v.all;
    });
  const items = (s: string): string[] => {
    let out = text(s).trim();
    if (out.startsWith('{') && out.endsWith('}')) out = out.slice(1, -1);
    return out.split(',').map((x) => x.trim()).filter((x) => x !== '');
  };
  const out: Target = { ...t };
  for (const key of LIST_PARAMS) {
    const value = out[key];
    if (Array.isArray(value)) out[key] = value.flatMap((item) => (typeof item === 'string' && referencedVariables(item).length > 0 ? items(item) : [item]));
    else if (typeof value === 'string' && referencedVariables(value).length > 0) out[key] = items(value).join(',');
  }
  for (const key of TEXT_PARAMS) {
    const value = out[key];
    if (typeof value === 'string') out[key] = text(value);
  }
  return out;
}

export function readYaml<T>(...parts: string[]): T {
  return YAML.parse(readFileSync(path.join(PROVISIONING, ...parts), 'utf8')) as T;
}

/** Grafana expands `$VAR` and `${VAR}` in provisioning files from its environment. */
export function expandEnv(value: unknown, env: Record<string, string | undefined>): unknown {
  if (typeof value === 'string') return value.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a?: string, b?: string) => env[(a ?? b)!] ?? '');
  if (Array.isArray(value)) return value.map((v) => expandEnv(v, env));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandEnv(v, env)]));
  return value;
}

export interface AlertQuery {
  refId: string;
  datasourceUid: string;
  relativeTimeRange?: { from: number; to: number };
  model: Record<string, unknown>;
}

export interface AlertRule {
  uid: string;
  title: string;
  condition: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  noDataState?: string;
  execErrState?: string;
  data: AlertQuery[];
}

export interface RuleGroup {
  orgId: number;
  name: string;
  folder: string;
  interval: string;
  rules: AlertRule[];
}

export function alertRuleFiles(): string[] {
  return readdirSync(path.join(PROVISIONING, 'alerting'))
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
}

export function loadRuleGroups(): RuleGroup[] {
  return alertRuleFiles().flatMap((f) => readYaml<{ groups?: RuleGroup[] }>('alerting', f).groups ?? []);
}

export function allRules(): Array<{ group: RuleGroup; rule: AlertRule }> {
  return loadRuleGroups().flatMap((group) => group.rules.map((rule) => ({ group, rule })));
}
