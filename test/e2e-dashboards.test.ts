/**
 * Every provisioned panel, annotation and alert rule query, run as Grafana runs it against the demo: the built
 * `netwatch-ingest serve --demo` (with a token), the built plugin backend executable started with go-plugin's
 * handshake, and gRPC calls with the data source settings of provisioning/datasources/netwatch.yml — QueryData
 * with each target's model after the dashboard variables take their defaults (query variables' values come
 * from the backend's `values/<list>` resource, as Grafana fetches them), CallResource for those values, and
 * alert queries marked `FromAlert` with their relative time ranges. Each must give at least one frame with
 * rows within 60 s of the service being ready; the alert rules' reduce and threshold are then applied to the
 * series as Grafana's expressions would, and the attack in the demo must fire the threat score and brute-force
 * rules (and the loopback pings must not fire the loss rule). The service runs as nobody when the test runs as
 * root: demo mode needs no privilege. Needs `npm run build` (the CLI and plugin/dist).
 */
import { chmodSync, existsSync } from 'node:fs';
import path from 'node:path';
import { credentials, loadPackageDefinition, type Client, type GrpcObject, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { tableFromIPC } from 'apache-arrow';
import { parseTime } from '../ingest/src/protocol';
import {
  DATASOURCE_UID,
  PLUGIN_ID,
  ROOT,
  allPanels,
  allRules,
  dashboardFiles,
  expandEnv,
  interpolateTarget,
  loadDashboard,
  readYaml,
  variableValues,
  type AlertQuery,
  type AlertRule,
  type Dashboard,
  type Target,
  type Variable,
} from './provisioning';
import { BIN as CLI, childEnv, spawnTracked, startServe, stop, tempDir, waitForLine, type Proc, type Serve } from './harness';

const PLUGIN_EXE = path.join(ROOT, 'plugin/dist', `gpx_netwatch_linux_${process.arch === 'arm64' ? 'arm64' : 'amd64'}`);
const TOKEN = 'e2e-token-7f3a9c';
/** What the issue promises: every panel has data within this long of the service being up. */
const DATA_DEADLINE_MS = 60_000;
const MAX_DATA_POINTS = 1000;

interface Frame {
  name: string;
  rows: number;
  /** Each number field: its labels and values. */
  series: Array<{ labels: Record<string, string>; values: number[] }>;
}

interface Answer {
  frames: Frame[];
  error?: string;
  status?: number;
}

function decodeFrame(bytes: Uint8Array): Frame {
  const table = tableFromIPC(bytes);
  const series: Frame['series'] = [];
  for (const field of table.schema.fields) {
    if (field.metadata.get('tstype') !== 'number') continue;
    const col = table.getChild(field.name)!;
    const values: number[] = [];
    for (let i = 0; i < col.length; i++) values.push(col.get(i) === null ? NaN : Number(col.get(i)));
    series.push({ labels: JSON.parse(field.metadata.get('labels') ?? '{}'), values });
  }
  return { name: table.schema.metadata.get('name') ?? '', rows: table.numRows, series };
}

/** Grafana's alert reducers on one series (drop-non-numeric mode). */
const REDUCERS: Record<string, (v: number[]) => number> = {
  last: (v) => v[v.length - 1],
  mean: (v) => v.reduce((a, b) => a + b, 0) / v.length,
  max: (v) => Math.max(...v),
  min: (v) => Math.min(...v),
  sum: (v) => v.reduce((a, b) => a + b, 0),
  count: (v) => v.length,
};

const EVALUATORS: Record<string, (x: number, p: number[]) => boolean> = {
  gt: (x, p) => x > p[0],
  lt: (x, p) => x < p[0],
  within_range: (x, p) => x > p[0] && x < p[1],
  outside_range: (x, p) => x < p[0] || x > p[1],
};

/** The labels of the series a rule's reduce + threshold would put in the Alerting state. */
function firing(rule: AlertRule, answers: Map<string, Answer>): Array<Record<string, string>> {
  const threshold = rule.data.find((q) => q.refId === rule.condition)!.model;
  const reduce = rule.data.find((q) => q.refId === threshold.expression)!.model;
  const source = answers.get(String(reduce.expression))!;
  const evaluator = (threshold.conditions as Array<{ evaluator: { type: string; params: number[] } }>)[0].evaluator;
  const out: Array<Record<string, string>> = [];
  for (const f of source.frames) {
    for (const s of f.series) {
      const values = s.values.filter((x) => Number.isFinite(x));
      if (values.length === 0) continue;
      if (EVALUATORS[evaluator.type](REDUCERS[String(reduce.reducer)](values), evaluator.params)) out.push(s.labels);
    }
  }
  return out;
}

describe('provisioned dashboards and alert rules against the demo, through the plugin backend over gRPC', () => {
  let ingest: Serve | undefined;
  let plugin: Proc | undefined;
  let data: Client & Record<string, Function>;
  let resource: Client & Record<string, Function>;
  let diagnostics: Client & Record<string, Function>;
  let settings: Record<string, unknown>;
  let readyAt = 0;

  beforeAll(async () => {
    for (const f of [CLI, path.join(ROOT, 'ingest/dist/cli.js'), PLUGIN_EXE, path.join(ROOT, 'plugin/dist/gpx_netwatch.js')]) {
      if (!existsSync(f)) throw new Error(`${path.relative(ROOT, f)} is missing: run npm run build first`);
    }
    const dataDir = tempDir('netwatch-e2e-');
    // Demo mode needs no privilege: run as root (CI), the service is started as nobody to prove it.
    const asNobody = process.getuid?.() === 0;
    if (asNobody) chmodSync(dataDir, 0o777);
    ingest = await startServe(['--demo', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--token', TOKEN], {
      ...(asNobody ? { uid: 65534, gid: 65534 } : {}),
      what: 'netwatch-ingest serve --demo',
      timeoutMs: 20_000,
    });
    readyAt = Date.now();

    // go-plugin's host side: the magic cookie and protocol versions in the environment, the address on stdout.
    plugin = spawnTracked(PLUGIN_EXE, [], { env: childEnv({ grafana_plugin_type: 'datasource', PLUGIN_PROTOCOL_VERSIONS: '2', GF_PLUGIN_GRPC_ADDRESS: '' }) });
    const handshake = await waitForLine(plugin, 'stdout', (l) => /^1\|2\|tcp\|/.test(l), { what: 'plugin backend', line: 'handshake', timeoutMs: 20_000 });
    const address = handshake.split('|')[3];

    const def = loadSync(path.join(ROOT, 'plugin/backend/proto/backend.proto'), { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true });
    const v2 = (loadPackageDefinition(def) as GrpcObject).pluginv2 as Record<string, ServiceClientConstructor>;
    const opts = { 'grpc.max_receive_message_length': 64 * 1024 * 1024 };
    data = new v2.Data(address, credentials.createInsecure(), opts) as typeof data;
    resource = new v2.Resource(address, credentials.createInsecure(), opts) as typeof resource;
    diagnostics = new v2.Diagnostics(address, credentials.createInsecure(), opts) as typeof diagnostics;

    // The data source exactly as provisioned, with the variables Grafana's environment gives it.
    const { datasources } = readYaml<{ datasources: Array<Record<string, unknown>> }>('datasources', 'netwatch.yml');
    const ds = expandEnv(datasources[0], { NETWATCH_URL: ingest.url, NETWATCH_TOKEN: TOKEN }) as { uid: string; name: string; url: string; jsonData: unknown; secureJsonData: Record<string, string> };
    expect(ds.uid).toBe(DATASOURCE_UID);
    settings = {
      id: 1,
      uid: ds.uid,
      name: ds.name,
      url: ds.url,
      jsonData: Buffer.from(JSON.stringify(ds.jsonData)),
      decryptedSecureJsonData: ds.secureJsonData,
      lastUpdatedMS: Date.now(),
    };
  }, 60_000);

  afterAll(async () => {
    data?.close();
    resource?.close();
    diagnostics?.close();
    if (plugin) await stop(plugin);
    if (ingest) await stop(ingest);
  });

  const pluginContext = (user = true) => ({
    orgId: 1,
    pluginId: PLUGIN_ID,
    ...(user ? { user: { login: 'admin', name: 'admin', email: '', role: 'Admin' } } : {}),
    dataSourceInstanceSettings: settings,
  });

  const unary = <T>(client: Record<string, Function>, method: string, req: unknown): Promise<T> =>
    new Promise((resolve, reject) => client[method](req, (err: Error | null, res: T) => (err ? reject(err) : resolve(res))));

  async function queryData(queries: Array<{ refId: string; fromMs: number; toMs: number; model: Record<string, unknown>; intervalMs?: number; maxDataPoints?: number }>, fromAlert: boolean): Promise<Map<string, Answer>> {
    const res = await unary<{ responses: Record<string, { frames: Buffer[]; error: string; status: number }> }>(data, 'QueryData', {
      pluginContext: pluginContext(!fromAlert),
      headers: fromAlert ? { FromAlert: 'true' } : {},
      queries: queries.map((q) => ({
        refId: q.refId,
        maxDataPoints: q.maxDataPoints ?? MAX_DATA_POINTS,
        intervalMS: q.intervalMs ?? Math.max(1000, Math.round((q.toMs - q.fromMs) / MAX_DATA_POINTS)),
        timeRange: { fromEpochMS: q.fromMs, toEpochMS: q.toMs },
        json: Buffer.from(JSON.stringify(q.model)),
        queryType: '',
      })),
      format: 'ARROW',
    });
    const out = new Map<string, Answer>();
    for (const [refId, r] of Object.entries(res.responses)) out.set(refId, { frames: r.frames.map(decodeFrame), error: r.error || undefined, status: r.status });
    return out;
  }

  /** The values of a query variable, as Grafana gets them: the backend's values/<list> resource. */
  async function listValues(list: string): Promise<string[]> {
    const chunks: Array<{ code: number; body: Buffer }> = [];
    await new Promise<void>((resolve, reject) => {
      const call = resource.CallResource({ pluginContext: pluginContext(), path: `values/${list}`, method: 'GET', url: `values/${list}`, headers: {}, body: Buffer.alloc(0) });
      call.on('data', (c: { code: number; body: Buffer }) => chunks.push(c));
      call.on('error', reject);
      call.on('end', resolve);
    });
    const body = JSON.parse(Buffer.concat(chunks.map((c) => c.body)).toString('utf8'));
    if (chunks[0]?.code !== 200) throw new Error(`values/${list}: ${chunks[0]?.code} ${JSON.stringify(body)}`);
    return body.values as string[];
  }

  interface PanelQuery {
    where: string;
    fromMs: number;
    toMs: number;
    targets: Target[];
  }

  async function dashboardQueries(d: Dashboard): Promise<PanelQuery[]> {
    const vars = new Map<string, string[] | { all: string }>();
    for (const v of d.templating.list) vars.set(v.name, await variableValues(v, (qv: Variable) => listValues((qv.query as { list: string }).list)));
    const now = Date.now();
    const fromMs = parseTime(d.time.from, '', now);
    const toMs = parseTime(d.time.to, '', now);
    const out: PanelQuery[] = [];
    for (const p of allPanels(d)) {
      if (!p.targets) continue;
      out.push({ where: `${d.title} / panel ${p.id} "${p.title}"`, fromMs, toMs, targets: p.targets.map((t) => interpolateTarget(t, vars)) });
    }
    for (const a of d.annotations.list) if (a.target) out.push({ where: `${d.title} / annotation "${a.name}"`, fromMs, toMs, targets: [interpolateTarget(a.target, vars)] });
    return out;
  }

  it('answers the health check with the provisioned settings (URL and token)', async () => {
    const res = await unary<{ status: string; message: string }>(diagnostics, 'CheckHealth', { pluginContext: pluginContext() });
    expect(res.status).toBe('OK');
  });

  it('gives every panel and annotation of every provisioned dashboard at least one frame with rows within 60 s', async () => {
    const dashboards = dashboardFiles().map(loadDashboard);
    let missing: string[] = [];
    let rounds = 0;
    for (;;) {
      rounds++;
      missing = [];
      for (const d of dashboards) {
        for (const pq of await dashboardQueries(d)) {
          const answers = await queryData(pq.targets.map((t) => ({ refId: t.refId, fromMs: pq.fromMs, toMs: pq.toMs, model: t })), false);
          for (const t of pq.targets) {
            const a = answers.get(t.refId);
            if (!a) missing.push(`${pq.where} ${t.refId}: no response`);
            else if (a.error) missing.push(`${pq.where} ${t.refId}: ${a.error}`);
            else if (!a.frames.some((f) => f.rows > 0)) missing.push(`${pq.where} ${t.refId}: ${a.frames.length} frame(s), no rows`);
          }
        }
      }
      if (missing.length === 0 || Date.now() - readyAt > DATA_DEADLINE_MS) break;
      await new Promise((r) => setTimeout(r, 3000));
    }
    if (missing.length > 0) console.error(`after ${rounds} rounds, ${Math.round((Date.now() - readyAt) / 1000)} s:\n${missing.join('\n')}`);
    expect(missing).toEqual([]);
  }, 120_000);

  it('filters the Flows explorer by what its variables offer: a listed port, tcp, the LAN subnet', async () => {
    const d = dashboardFiles().map(loadDashboard).find((x) => x.uid === 'netwatch-flows')!;
    const ports = await listValues('top_ports');
    expect(ports.length).toBeGreaterThan(0);
    const port = ports.includes('22') ? '22' : ports[0];
    const vars = new Map<string, string[] | { all: string }>([
      ['subnet', ['192.168.10.0/24']],
      ['port', [port]],
      ['protocol', ['tcp']],
    ]);
    const table = allPanels(d).find((p) => p.type === 'table' && p.targets![0].kind === 'flows')!;
    const now = Date.now();
    const raw = await unary<{ responses: Record<string, { frames: Buffer[]; error: string }> }>(data, 'QueryData', {
      pluginContext: pluginContext(),
      headers: {},
      queries: [{ refId: 'A', maxDataPoints: 1000, intervalMS: 1000, timeRange: { fromEpochMS: now - 15 * 60_000, toEpochMS: now }, json: Buffer.from(JSON.stringify(interpolateTarget(table.targets![0], vars))), queryType: '' }],
      format: 'ARROW',
    });
    expect(raw.responses.A.error).toBe('');
    // Every row of the flow table is tcp, on that port at one end, with an end in 192.168.10.0/24.
    const t = tableFromIPC(raw.responses.A.frames[0]);
    expect(t.numRows).toBeGreaterThan(0);
    const col = (name: string) => t.getChild(name)!.toArray() as unknown[];
    const [src, dst, sport, dport, proto] = [col('src_ip'), col('dst_ip'), col('src_port'), col('dst_port'), col('protocol')];
    const bad: string[] = [];
    for (let i = 0; i < t.numRows; i++) {
      const lan = [src[i], dst[i]].some((ip) => String(ip).startsWith('192.168.10.'));
      const onPort = [sport[i], dport[i]].map(Number).includes(Number(port));
      if (!lan || !onPort || proto[i] !== 'tcp') bad.push(`${src[i]}:${sport[i]} > ${dst[i]}:${dport[i]} ${proto[i]}`);
    }
    expect(bad).toEqual([]);
  });

  it('answers every alert rule query, marked as from alerting, with series whose labels carry the address or target; the demo attack fires the threat score and brute-force rules', async () => {
    const rules = allRules().map(({ rule }) => rule);
    const results = new Map<string, { answers: Map<string, Answer>; firing: Array<Record<string, string>> }>();
    for (;;) {
      results.clear();
      for (const rule of rules) {
        const now = Date.now();
        const queries = rule.data
          .filter((q: AlertQuery) => q.datasourceUid === DATASOURCE_UID)
          .map((q: AlertQuery) => ({
            refId: q.refId,
            fromMs: now - q.relativeTimeRange!.from * 1000,
            toMs: now - q.relativeTimeRange!.to * 1000,
            model: q.model,
            // What Grafana's rule evaluation sends when the model leaves them out.
            intervalMs: 1000,
            maxDataPoints: 43_200,
          }));
        const answers = await queryData(queries, true);
        results.set(rule.uid, { answers, firing: answers.size === queries.length && queries.every((q) => !answers.get(q.refId)!.error) ? firing(rule, answers) : [] });
      }
      const attackSeen = ['netwatch-threat-score', 'netwatch-ssh-brute-force'].every((uid) => results.get(uid)!.firing.length > 0);
      if (attackSeen || Date.now() - readyAt > DATA_DEADLINE_MS) break;
      await new Promise((r) => setTimeout(r, 3000));
    }
    const problems: string[] = [];
    for (const rule of rules) {
      for (const [refId, a] of results.get(rule.uid)!.answers) {
        if (a.error) problems.push(`${rule.uid} ${refId}: ${a.error}`);
        else if (!a.frames.some((f) => f.rows > 0)) problems.push(`${rule.uid} ${refId}: no rows`);
      }
    }
    expect(problems).toEqual([]);

    const threat = results.get('netwatch-threat-score')!;
    for (const f of threat.answers.get('A')!.frames) for (const s of f.series) expect(Object.keys(s.labels)).toEqual(['ip']);
    expect(threat.firing).toContainEqual({ ip: '203.0.113.45' });
    // The brute-force rule fires on the engine's detected pattern, per address: the demo's guesser, and not the
    // administrator whose logins succeed.
    const brute = results.get('netwatch-ssh-brute-force')!;
    for (const f of brute.answers.get('A')!.frames) for (const s of f.series) expect(Object.keys(s.labels).sort()).toEqual(['ip', 'pattern']);
    expect(brute.firing).toContainEqual({ ip: '203.0.113.45', pattern: 'ssh_brute_force' });
    expect(brute.firing.map((l) => l.ip)).not.toContain('192.168.10.20');
    // Loopback answers every probe, and the demo feeds well-formed frames: these two must stay quiet.
    const loss = results.get('netwatch-ping-loss')!;
    expect(loss.answers.get('A')!.frames.flatMap((f) => f.series.map((s) => s.labels.target)).sort()).toEqual(['127.0.0.1', '::1']);
    expect(loss.firing).toEqual([]);
    expect(results.get('netwatch-capture-drops')!.firing).toEqual([]);
  }, 120_000);
});
