/** @jest-environment jsdom */
/**
 * plugin.json against Grafana's plugin.json schema, and the built frontend as Grafana's loader would take it.
 *
 * The schema is grafana/grafana `docs/sources/developers/plugins/plugin.schema.json` (draft-07; read at commit
 * 021371ce6188d520574474e9024feeabd1868ebb). No installed package ships it, and fetched files stay out of the
 * repository, so its rules are restated below with TypeBox: every top-level and `info`/`dependencies` key it
 * allows (additionalProperties: false at each of those levels), its required keys, enums and patterns, copied
 * from the schema. Not restated: the `format: email|uri` of author and link URLs (we set neither), and the
 * inner shapes of `routes`, `includes` and `enterpriseFeatures` (we set none: they are only allowed as
 * arrays/objects here).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { DataSourcePlugin, type DataSourceApi } from '@grafana/data';

const PLUGIN_ID = /^[0-9a-z]+\-([0-9a-z]+\-)?(app|panel|datasource|secretsmanager|transformer)$/;
const DEPENDENCY_ID = /^[0-9a-z]+\-([0-9a-z]+\-)?(app|panel|datasource|secretsmanager)$/;
const VERSION = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)|(\%VERSION\%)$/;
const UPDATED = /^(\d{4}-\d{2}-\d{2}|\%TODAY\%)$/;
const GRAFANA_VERSION = /^([0-9]+)(\.[0-9x]+)?(\.[0-9x])?$/;
const GRAFANA_DEPENDENCY = /^(<=|>=|<|>|=|~|\^)?([0-9]+)(\.[0-9x\*]+)(\.[0-9x\*]+)?(\s(<=|>=|<|=>)?([0-9]+)(\.[0-9x]+)(\.[0-9x]+))?$/;
const PASCAL_NAME = /^([A-Z][a-zA-Z]{1,62})$/;

const enumOf = (values: string[]) => Type.Union(values.map((v) => Type.Literal(v)));
const closed = { additionalProperties: false } as const;

const PluginJsonSchema = Type.Object(
  {
    id: Type.String({ pattern: PLUGIN_ID.source }),
    type: enumOf(['app', 'datasource', 'panel', 'renderer', 'secretsmanager', 'transformer']),
    name: Type.String(),
    info: Type.Object(
      {
        author: Type.Optional(Type.Object({ name: Type.Optional(Type.String()), email: Type.Optional(Type.String()), url: Type.Optional(Type.String()) }, closed)),
        build: Type.Optional(
          Type.Object(
            {
              time: Type.Optional(Type.Number()),
              repo: Type.Optional(Type.String()),
              branch: Type.Optional(Type.String()),
              hash: Type.Optional(Type.String()),
              number: Type.Optional(Type.Number()),
              pr: Type.Optional(Type.Number()),
            },
            closed,
          ),
        ),
        description: Type.Optional(Type.String()),
        keywords: Type.Array(Type.String(), { minItems: 1 }),
        links: Type.Optional(Type.Array(Type.Object({ name: Type.Optional(Type.String()), url: Type.Optional(Type.String()) }, closed))),
        logos: Type.Object({ small: Type.String(), large: Type.String() }, closed),
        screenshots: Type.Optional(Type.Array(Type.Object({ name: Type.Optional(Type.String()), path: Type.Optional(Type.String()) }, closed))),
        updated: Type.String({ pattern: UPDATED.source }),
        version: Type.String({ pattern: VERSION.source }),
      },
      closed,
    ),
    dependencies: Type.Object(
      {
        grafanaVersion: Type.Optional(Type.String({ pattern: GRAFANA_VERSION.source })),
        grafanaDependency: Type.String({ pattern: GRAFANA_DEPENDENCY.source }),
        plugins: Type.Optional(
          Type.Array(
            Type.Object({
              id: Type.String({ pattern: DEPENDENCY_ID.source }),
              type: enumOf(['app', 'datasource', 'panel', 'secretsmanager']),
              name: Type.String(),
              version: Type.String(),
            }),
          ),
        ),
      },
      closed,
    ),
    $schema: Type.Optional(Type.String()),
    alerting: Type.Optional(Type.Boolean()),
    annotations: Type.Optional(Type.Boolean()),
    autoEnabled: Type.Optional(Type.Boolean()),
    backend: Type.Optional(Type.Boolean()),
    builtIn: Type.Optional(Type.Boolean()),
    category: Type.Optional(enumOf(['tsdb', 'logging', 'cloud', 'tracing', 'profiling', 'sql', 'enterprise', 'iot', 'other'])),
    enterpriseFeatures: Type.Optional(Type.Object({ healthDiagnosticsErrors: Type.Optional(Type.Boolean()) })),
    executable: Type.Optional(Type.String()),
    hideFromList: Type.Optional(Type.Boolean()),
    includes: Type.Optional(Type.Array(Type.Object({}))),
    logs: Type.Optional(Type.Boolean()),
    metrics: Type.Optional(Type.Boolean()),
    pascalName: Type.Optional(Type.String({ pattern: PASCAL_NAME.source })),
    preload: Type.Optional(Type.Boolean()),
    queryOptions: Type.Optional(
      Type.Object({ maxDataPoints: Type.Optional(Type.Boolean()), minInterval: Type.Optional(Type.Boolean()), cacheTimeout: Type.Optional(Type.Boolean()) }, closed),
    ),
    routes: Type.Optional(Type.Array(Type.Object({}))),
    skipDataQuery: Type.Optional(Type.Boolean()),
    state: Type.Optional(enumOf(['alpha', 'beta'])),
    streaming: Type.Optional(Type.Boolean()),
    tracing: Type.Optional(Type.Boolean()),
  },
  closed,
);

function schemaErrors(json: unknown): string[] {
  return [...Value.Errors(PluginJsonSchema, json)].map((e) => `${e.path}: ${e.message}`);
}

const pluginDir = path.resolve(__dirname, '..');
const source = JSON.parse(readFileSync(path.join(__dirname, 'plugin.json'), 'utf8'));

describe('the schema as restated', () => {
  // The restatement must refuse what Grafana's schema refuses, or passing it proves nothing.
  it.each<[string, (j: Record<string, any>) => void, string]>([
    ['an unknown top-level key', (j) => (j.backendd = true), '/backendd'],
    ['an id without a type suffix', (j) => (j.id = 'netwatch-ingest'), '/id'],
    ['an unknown type', (j) => (j.type = 'source'), '/type'],
    ['a missing grafanaDependency', (j) => delete j.dependencies.grafanaDependency, '/dependencies/grafanaDependency'],
    ['a version that is not semver', (j) => (j.info.version = 'v1'), '/info/version'],
    ['an updated date in another format', (j) => (j.info.updated = '01/12/2026'), '/info/updated'],
    ['no keywords', (j) => (j.info.keywords = []), '/info/keywords'],
    ['a logo missing its large size', (j) => delete j.info.logos.large, '/info/logos/large'],
    ['a string where a boolean belongs', (j) => (j.alerting = 'yes'), '/alerting'],
  ])('refuses %s', (_name, spoil, where) => {
    const json = JSON.parse(JSON.stringify(source));
    spoil(json);
    expect(schemaErrors(json).some((e) => e.startsWith(where))).toBe(true);
  });
});

describe('plugin.json', () => {
  it('satisfies the plugin.json schema as committed (with %VERSION% and %TODAY% placeholders)', () => {
    expect(schemaErrors(source)).toEqual([]);
  });

  it('declares a backend data source usable in alert rules, annotations and panels', () => {
    // "alerting: Requires `backend` to be set to `true`" (the schema's description of alerting).
    expect({ type: source.type, id: source.id, backend: source.backend, alerting: source.alerting, annotations: source.annotations, metrics: source.metrics, executable: source.executable }).toEqual({
      type: 'datasource',
      id: 'netwatch-ingest-datasource',
      backend: true,
      alerting: true,
      annotations: true,
      metrics: true,
      executable: 'gpx_netwatch',
    });
  });
});

describe('the built frontend (scripts/build-frontend.mjs)', () => {
  let out: string;
  beforeAll(() => {
    out = mkdtempSync(path.join(os.tmpdir(), 'netwatch-frontend-'));
    execFileSync(process.execPath, [path.join(pluginDir, 'scripts/build-frontend.mjs'), '--out', out], { stdio: 'pipe' });
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('writes plugin.json with the package version and the build date, valid against the schema', () => {
    const built = JSON.parse(readFileSync(path.join(out, 'plugin.json'), 'utf8'));
    const pkg = JSON.parse(readFileSync(path.join(pluginDir, 'package.json'), 'utf8'));
    expect(schemaErrors(built)).toEqual([]);
    expect(built.info.version).toBe(pkg.version);
    expect(built.info.updated).toBe(new Date().toISOString().slice(0, 10));
    expect({ ...built, info: { ...built.info, version: '%VERSION%', updated: '%TODAY%' } }).toEqual(source);
  });

  it('copies the logos plugin.json names (SVG, as the schema asks)', () => {
    for (const logo of [source.info.logos.small, source.info.logos.large]) {
      expect(logo).toMatch(/\.svg$/);
      expect(readFileSync(path.join(out, logo), 'utf8')).toMatch(/<svg[\s>]/);
    }
  });

  it("leaves the protocol's Arrow encoding and flatbuffers out of the browser bundle (they are the backend's)", () => {
    const sources = (JSON.parse(readFileSync(path.join(out, 'module.js.map'), 'utf8')) as { sources: string[] }).sources;
    expect(sources.some((s) => s.includes('ingest/src/protocol/'))).toBe(true);
    expect(sources.filter((s) => /flatbuffers|protocol\/arrow/.test(s))).toEqual([]);
  });

  it('is an anonymous AMD module of Grafana-shared dependencies exporting the data source plugin', () => {
    const code = readFileSync(path.join(out, 'module.js'), 'utf8');
    expect(existsSync(path.join(out, 'module.js.map'))).toBe(true);
    let deps: string[] = [];
    let exported: Record<string, unknown> = {};
    // What SystemJS's AMD support does: call the factory with the modules named in the dependency list.
    const define = (names: string[], factory: (...mods: unknown[]) => Record<string, unknown>) => {
      deps = names;
      exported = factory(...names.map((n) => require(n)));
    };
    new Function('define', code)(define);
    expect(deps).toEqual(['react', 'react/jsx-runtime', '@grafana/data', '@grafana/runtime', '@grafana/ui', 'rxjs']);
    const plugin = exported.plugin as DataSourcePlugin<DataSourceApi>;
    expect(plugin).toBeInstanceOf(DataSourcePlugin);
    expect(Object.keys(plugin.components).sort()).toEqual(['ConfigEditor', 'QueryEditor']);
    expect(plugin.DataSourceClass.name).toBe('DataSource');
    // The bundled protocol parser is at work inside the built data source.
    const ds = new (plugin.DataSourceClass as unknown as new (s: unknown, t: unknown) => { filterQuery(q: unknown): boolean })(
      { uid: 'netwatch', type: source.id, name: 'Netwatch', meta: { id: source.id }, jsonData: {}, access: 'proxy', readOnly: false },
      { replace: (s: string) => s },
    );
    expect([ds.filterQuery({ refId: 'A', kind: 'flows', cidr: ['10.0.0.0/8'] }), ds.filterQuery({ refId: 'A', kind: 'flows', cidr: ['10.0.0.0/33'] })]).toEqual([true, false]);
  });
});
