/**
 * The built plugin backend as Grafana runs it: the executable `plugin/dist/gpx_netwatch_linux_amd64` started
 * the way hashicorp/go-plugin starts it (magic cookie and protocol versions in the environment, nothing else:
 * no PATH, as with Grafana's skipHostEnvVars), the handshake read from the first stdout line, then a real gRPC
 * client (@grpc/grpc-js with our .proto files) calling every service, against a live `netwatch-ingest serve` on
 * loopback. Arrow bytes are decoded with apache-arrow and compared with a direct `POST /api/v1/query`.
 * Needs `npm run build` and the plugin backend build first (npm test does both).
 */
import { existsSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { credentials, loadPackageDefinition, Metadata, type Client, type GrpcObject, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { Type, tableFromIPC } from 'apache-arrow';
import { testDataPath } from '../ingest/src/testing/data';
import { BIN as INGEST_BIN, ROOT, runToExit, spawnTracked, startServe, stop, tempDir, waitForLine, type Proc, type Serve } from './harness';

const PLUGIN_EXE = path.join(ROOT, 'plugin/dist/gpx_netwatch_linux_amd64');
const PROTO_DIR = path.join(ROOT, 'plugin/backend/proto');
const PCAP = testDataPath('pcap/tcpreplay_test.pcap');
const TOKEN = 'e2e-token-0123456789';

// ---------- the ingest service ----------

interface Ingest extends Serve {
  /** Capabilities this build of the ingest service ran with: flows from a replayed capture, pings to loopback. */
  flows: boolean;
  pings: boolean;
}

function startIngest(args: string[]): Promise<Serve> {
  const dataDir = tempDir('netwatch-plugin-e2e-');
  return startServe(['--listen', '127.0.0.1:0', '--data-dir', dataDir, '--token', TOKEN, ...args], { what: 'ingest', timeoutMs: 20_000 });
}

/**
 * The ingest service with real data: a replayed capture (flows) and probes of 127.0.0.1 every second (pings),
 * each dropped when this build of the service refuses it as not available yet; `stats` always works.
 */
async function startIngestWithData(): Promise<Ingest> {
  const want = { flows: existsSync(PCAP), pings: true };
  for (;;) {
    const args = [...(want.flows ? ['--pcap', PCAP, '--replay-speed', 'max'] : []), ...(want.pings ? ['--ping', '127.0.0.1', '--ping-interval', '1', '--ping-count', '1', '--ping-timeout', '500'] : [])];
    try {
      return Object.assign(await startIngest(args), want);
    } catch (e) {
      const m = /(--[\w-]+)[^\n]* is not available|unknown flag (--[\w-]+)/.exec((e as Error).message);
      const flag = m?.[1] ?? m?.[2] ?? '';
      if (flag === '--pcap' && want.flows) want.flows = false;
      else if (flag.startsWith('--ping') && want.pings) want.pings = false;
      else throw e;
    }
  }
}

async function direct(ingest: Ingest, body: unknown): Promise<{ results: Record<string, { frames?: ProtoFrame[]; error?: { code: string; message: string }; status?: number }> }> {
  const res = await fetch(`${ingest.url}/api/v1/query`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(body) });
  expect(res.status).toBe(200);
  return res.json() as never;
}

/** Requests the ingest service has answered on one route (its own Prometheus counter, summed over statuses). */
async function ingestRequests(ingest: Ingest, route = '/api/v1/query', method = 'POST'): Promise<number> {
  const text = await (await fetch(`${ingest.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('netwatch_http_requests_total{') && l.includes(`route="${route}"`) && l.includes(`method="${method}"`))
    .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}

// ---------- the plugin, started as go-plugin does ----------

interface Plugin extends Proc {
  address: string;
}

const GO_PLUGIN_ENV = { grafana_plugin_type: 'datasource', PLUGIN_MIN_PORT: '10000', PLUGIN_MAX_PORT: '25000', PLUGIN_PROTOCOL_VERSIONS: '2' };

async function startPlugin(env: Record<string, string> = GO_PLUGIN_ENV): Promise<Plugin> {
  const p = spawnTracked(PLUGIN_EXE, [], { env });
  const line = await waitForLine(p, 'stdout', () => true, { what: 'plugin', line: 'handshake', timeoutMs: 10_000 });
  const m = /^1\|2\|tcp\|(127\.0\.0\.1:\d+)\|grpc$/.exec(line);
  if (!m) {
    await stop(p, 'SIGKILL');
    throw new Error(`bad handshake line ${JSON.stringify(line)}`);
  }
  return Object.assign(p, { address: m[1] });
}

function runPluginToExit(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runToExit(PLUGIN_EXE, [], { env });
}

// ---------- the gRPC client ----------

const pkg = loadPackageDefinition(
  loadSync(['backend.proto', 'health.proto', 'go-plugin.proto'].map((f) => path.join(PROTO_DIR, f)), { keepCase: true, longs: Number, enums: String, defaults: true }),
) as GrpcObject;
const svc = (p: string) => p.split('.').reduce<GrpcObject>((o, k) => o[k] as GrpcObject, pkg) as unknown as ServiceClientConstructor;
const CLIENT_OPTIONS = { 'grpc.max_receive_message_length': -1 };

interface Clients {
  data: Client;
  diagnostics: Client;
  resource: Client;
  health: Client;
  controller: Client;
  stdio: Client;
  broker: Client;
}

function connect(address: string): Clients {
  const mk = (name: string) => new (svc(name))(address, credentials.createInsecure(), CLIENT_OPTIONS);
  return {
    data: mk('pluginv2.Data'),
    diagnostics: mk('pluginv2.Diagnostics'),
    resource: mk('pluginv2.Resource'),
    health: mk('grpc.health.v1.Health'),
    controller: mk('plugin.GRPCController'),
    stdio: mk('plugin.GRPCStdio'),
    broker: mk('plugin.GRPCBroker'),
  };
}

function unary<T>(client: Client, method: string, req: unknown): Promise<T> {
  return new Promise((resolve, reject) => (client as unknown as Record<string, (r: unknown, m: Metadata, cb: (e: Error | null, v: T) => void) => void>)[method](req, new Metadata(), (e, v) => (e ? reject(e) : resolve(v))));
}

function streamAll<T>(client: Client, method: string, req: unknown): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const out: T[] = [];
    const call = (client as unknown as Record<string, (r: unknown) => NodeJS.EventEmitter>)[method](req);
    call.on('data', (d: T) => out.push(d));
    call.on('end', () => resolve(out));
    call.on('error', reject);
  });
}

interface DataSourceOpts {
  url: string;
  token?: string;
  uid?: string;
  lastUpdatedMS?: number;
  timeoutSeconds?: number;
}

function pluginContext(ds: DataSourceOpts, user = true) {
  return {
    orgId: 1,
    pluginId: 'netwatch-ingest-datasource',
    user: user ? { login: 'admin', name: 'admin', email: 'admin@localhost', role: 'Admin' } : null,
    dataSourceInstanceSettings: {
      id: 1,
      uid: ds.uid ?? 'netwatch-e2e',
      name: 'Netwatch',
      url: '',
      jsonData: Buffer.from(JSON.stringify({ url: ds.url, ...(ds.timeoutSeconds ? { timeoutSeconds: ds.timeoutSeconds } : {}) })),
      decryptedSecureJsonData: ds.token === undefined ? { token: TOKEN } : { token: ds.token },
      lastUpdatedMS: ds.lastUpdatedMS ?? 1,
    },
    pluginVersion: '0.1.0',
    userAgent: 'Grafana/13.2.2',
  };
}

interface DataResponse {
  frames: Buffer[];
  error: string;
  status: number;
  errorSource: string;
  format: string;
}

function dataQuery(refId: string, model: unknown, fromMs: number, toMs: number, extra: Record<string, unknown> = {}) {
  return { refId, maxDataPoints: 1000, intervalMS: 1000, timeRange: { fromEpochMS: fromMs, toEpochMS: toMs }, json: Buffer.from(typeof model === 'string' ? model : JSON.stringify(model)), queryType: '', ...extra };
}

function queryData(c: Clients, ds: DataSourceOpts, queries: unknown[], opts: { headers?: Record<string, string>; user?: boolean } = {}) {
  return unary<{ responses: Record<string, DataResponse> }>(c.data, 'QueryData', { pluginContext: pluginContext(ds, opts.user ?? true), headers: opts.headers ?? {}, queries });
}

function checkHealth(c: Clients, ds: DataSourceOpts) {
  return unary<{ status: string; message: string; jsonDetails: Buffer }>(c.diagnostics, 'CheckHealth', { pluginContext: pluginContext(ds), headers: {} });
}

// ---------- frames: the Arrow the plugin sends vs the JSON the ingest service answers ----------

interface ProtoFrame {
  schema: { name?: string; refId: string; meta?: Record<string, unknown>; fields: Array<{ name: string; type: string; labels?: Record<string, string>; config?: Record<string, unknown> }> };
  data: { values: unknown[][] };
}

interface ComparableFrame {
  name: string;
  refId: string;
  meta?: unknown;
  fields: Array<{ name: string; type: string; labels?: unknown; config?: unknown; values: unknown[] }>;
}

const ARROW_TYPE: Record<string, string> = { 'Timestamp<NANOSECOND>': 'time', Int64: 'number', Float64: 'number', Utf8: 'string', Bool: 'boolean' };

/** Decodes one Arrow IPC file as Grafana's reader does; times stay raw int64 nanoseconds. */
function fromArrow(bytes: Buffer): ComparableFrame & { arrowTypes: string[]; nullable: boolean[]; tstypes: string[] } {
  expect(bytes.subarray(0, 6).toString('latin1')).toBe('ARROW1');
  const t = tableFromIPC(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const md = t.schema.metadata;
  const fields = t.schema.fields.map((f, i) => {
    const vec = t.getChildAt(i)!;
    let values: unknown[];
    if (f.type.typeId === Type.Timestamp || f.type.typeId === Type.Int) {
      const raw: bigint[] = [];
      for (const d of vec.data) raw.push(...new BigInt64Array(d.values.buffer, d.values.byteOffset, d.length));
      values = raw.map((v, r) => (!vec.isValid(r) ? null : f.type.typeId === Type.Int ? Number(v) : v));
    } else {
      values = [...Array(vec.length).keys()].map((r) => vec.get(r));
    }
    const out: ComparableFrame['fields'][number] = { name: f.name, type: ARROW_TYPE[String(f.type)] ?? String(f.type), values };
    if (f.metadata.has('labels')) out.labels = JSON.parse(f.metadata.get('labels')!);
    if (f.metadata.has('config')) out.config = JSON.parse(f.metadata.get('config')!);
    return out;
  });
  const frame: ComparableFrame & { arrowTypes: string[]; nullable: boolean[]; tstypes: string[] } = {
    name: md.get('name') ?? '',
    refId: md.get('refId') ?? '',
    fields,
    arrowTypes: t.schema.fields.map((f) => String(f.type)),
    nullable: t.schema.fields.map((f) => f.nullable),
    tstypes: t.schema.fields.map((f) => f.metadata.get('tstype') ?? ''),
  };
  if (md.has('meta')) frame.meta = JSON.parse(md.get('meta')!);
  return frame;
}

/** The direct answer in the same shape: times as int64 nanoseconds, as Grafana must read them. */
function fromJson(f: ProtoFrame): ComparableFrame {
  const out: ComparableFrame = {
    name: f.schema.name ?? '',
    refId: f.schema.refId,
    fields: f.schema.fields.map((fs, i) => {
      const values = f.data.values[i].map((v) => (fs.type === 'time' && v !== null ? BigInt(Math.round((v as number) * 1000)) * 1000n : v));
      const field: ComparableFrame['fields'][number] = { name: fs.name, type: fs.type, values };
      if (fs.labels && Object.keys(fs.labels).length > 0) field.labels = fs.labels;
      if (fs.config) field.config = fs.config;
      return field;
    }),
  };
  if (f.schema.meta) out.meta = f.schema.meta;
  return out;
}

const strip = ({ arrowTypes: _a, nullable: _n, tstypes: _t, ...f }: ReturnType<typeof fromArrow>): ComparableFrame => f;

// ---------- the tests ----------

let ingest: Ingest;
let plugin: Plugin;
let c: Clients;
let fromMs: number;
let toMs: number;

beforeAll(async () => {
  for (const f of [INGEST_BIN, path.join(ROOT, 'ingest/dist/cli.js'), PLUGIN_EXE, path.join(ROOT, 'plugin/dist/gpx_netwatch.js')]) {
    if (!existsSync(f)) throw new Error(`${f} is missing: run npm run build (and node plugin/scripts/build-backend.mjs) first`);
  }
  ingest = await startIngestWithData();
  plugin = await startPlugin();
  c = connect(plugin.address);
  toMs = Date.now() + 60_000;
  fromMs = toMs - 24 * 3600_000;
  if (ingest.flows) {
    // The replay runs at full speed; wait until its flows are in the table.
    for (let i = 0; i < 40; i++) {
      const r = (await direct(ingest, { from: 0, to: toMs, queries: [{ refId: 'F', kind: 'flows', limit: 1000 }] })).results.F;
      if ((r.frames?.[0]?.data.values[0]?.length ?? 0) >= 10) break;
      await new Promise((res) => setTimeout(res, 250));
    }
  }
  if (ingest.pings) {
    // Wait for a few probe results so the pings frames carry real times.
    for (let i = 0; i < 40; i++) {
      const r = (await direct(ingest, { from: fromMs, to: toMs, queries: [{ refId: 'P', kind: 'pings' }] })).results.P;
      if ((r.frames?.[0]?.data.values[0]?.length ?? 0) >= 2) break;
      await new Promise((res) => setTimeout(res, 500));
    }
  }
}, 60_000);

afterAll(async () => {
  for (const cl of Object.values(c ?? {})) (cl as Client).close();
  if (plugin) await stop(plugin, 'SIGKILL');
  if (ingest) await stop(ingest);
});

describe('plugin backend process', () => {
  it('exits 1 with a message on stderr when started without the magic cookie', async () => {
    const r = await runPluginToExit({ PLUGIN_PROTOCOL_VERSIONS: '2' });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/not meant to be run directly/);
  });

  it('exits 1 with a message on stderr when the host does not offer protocol version 2', async () => {
    const r = await runPluginToExit({ grafana_plugin_type: 'datasource', PLUGIN_PROTOCOL_VERSIONS: '1' });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/PLUGIN_PROTOCOL_VERSIONS=1, but this plugin speaks Grafana plugin protocol version 2 only/);
  });

  it('answers grpc.health.v1 SERVING for the service "plugin" and NOT_FOUND for others', async () => {
    expect(await unary(c.health, 'Check', { service: 'plugin' })).toEqual({ status: 'SERVING' });
    await expect(unary(c.health, 'Check', { service: 'pluginv2.Data.nope' })).rejects.toMatchObject({ code: 5 });
  });

  it("keeps go-plugin's stdio and broker streams open without sending anything", async () => {
    const stdio = (c.stdio as unknown as { StreamStdio: (r: unknown) => NodeJS.EventEmitter & { cancel(): void } }).StreamStdio({});
    const broker = (c.broker as unknown as { StartStream: () => NodeJS.EventEmitter & { end(): void; cancel(): void } }).StartStream();
    const got: unknown[] = [];
    let errored: unknown;
    for (const s of [stdio, broker]) {
      s.on('data', (d: unknown) => got.push(d));
      s.on('error', (e: { code?: number }) => {
        if (e.code !== 1) errored = e; // 1 = CANCELLED, our own cancel below
      });
    }
    await new Promise((r) => setTimeout(r, 300));
    stdio.cancel();
    broker.cancel();
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toEqual([]);
    expect(errored).toBeUndefined();
  });
});

describe('QueryData', () => {
  it('answers every kind the ingest service answers, in one ingest request: same frames as a direct /api/v1/query, times in nanoseconds', async () => {
    // Every kind: those this build answers are compared frame by frame, the others must pass its error on.
    const models = [
      { refId: 'S', kind: 'stats' },
      { refId: 'F', kind: 'flows', orderBy: 'bytes', limit: 50 },
      { refId: 'FS', kind: 'flow_series', metric: ['bytes'], groupBy: 'dst_port', intervalMs: 60000, limit: 5 },
      { refId: 'T', kind: 'top_talkers', groupBy: 'ip', orderBy: 'bytes', limit: 10 },
      { refId: 'P', kind: 'pings', metric: ['latency_ms', 'packet_loss'], intervalMs: 60000 },
      { refId: 'PS', kind: 'ping_summary' },
      { refId: 'SM', kind: 'system_metrics', metric: ['cpu_percent'] },
      { refId: 'NM', kind: 'network_metrics', metric: ['bytes_recv'] },
      { refId: 'L', kind: 'logs', limit: 20 },
      { refId: 'TR', kind: 'traces', limit: 20 },
      { refId: 'TH', kind: 'threats', limit: 20 },
      { refId: 'TS', kind: 'threat_scores', limit: 5 },
      { refId: 'AN', kind: 'annotations', limit: 20 },
    ];
    // Live counters (stats) may tick between the two reads; a few rounds give one where nothing moved.
    let last: unknown;
    for (let round = 0; round < 5; round++) {
      const before = await ingestRequests(ingest);
      // No intervalMS/maxDataPoints from Grafana here, so both sides run exactly the same models.
      const got = await queryData(c, { url: ingest.url }, models.map((m) => dataQuery(m.refId, m, fromMs, toMs, { intervalMS: 0, maxDataPoints: 0 })));
      const after = await ingestRequests(ingest);
      expect(after - before).toBe(1);
      const want = await direct(ingest, { from: fromMs, to: toMs, queries: models });
      const gotCmp: Record<string, unknown> = {};
      const wantCmp: Record<string, unknown> = {};
      for (const m of models) {
        const g = got.responses[m.refId];
        const w = want.results[m.refId];
        if (w.error) {
          // A kind this build does not have (or an ingest-side failure) is passed on as a downstream error.
          wantCmp[m.refId] = { frames: [], error: expect.stringContaining(w.error.code), status: w.status, errorSource: 'downstream' };
          gotCmp[m.refId] = { frames: g.frames.map((b) => fromArrow(b)), error: g.error, status: g.status, errorSource: g.errorSource };
        } else {
          wantCmp[m.refId] = { frames: w.frames!.map(fromJson), status: 200, error: '' };
          gotCmp[m.refId] = { frames: g.frames.map((b) => strip(fromArrow(b))), status: g.status, error: g.error };
        }
      }
      last = { gotCmp, wantCmp };
      if (JSON.stringify(gotCmp, (_k, v) => (typeof v === 'bigint' ? String(v) : v)) === JSON.stringify(wantCmp, (_k, v) => (typeof v === 'bigint' ? String(v) : v))) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const { gotCmp, wantCmp } = last as { gotCmp: unknown; wantCmp: unknown };
    expect(gotCmp).toEqual(wantCmp);
    const frames = gotCmp as Record<string, { frames: ComparableFrame[] }>;
    const stats = frames.S.frames;
    expect(stats.length).toBe(1);
    if (ingest.pings) {
      // Real probe times: int64 nanoseconds within the queried range, equal to the direct answer's milliseconds x 1e6.
      const times = frames.P.frames.flatMap((f) => f.fields.filter((x) => x.type === 'time').flatMap((x) => x.values));
      expect(times.length).toBeGreaterThanOrEqual(2);
      for (const t of times as bigint[]) expect(t >= BigInt(fromMs) * 1_000_000n && t <= BigInt(toMs) * 1_000_000n).toBe(true);
      expect(frames.P.frames[0].fields[1].labels).toEqual({ target: '127.0.0.1' });
    }
    expect(stats[0].fields.map((f) => f.name)).toEqual(['component', 'name', 'value', 'text']);
    expect(stats[0].fields[0].values.length).toBeGreaterThan(0);
  });

  it('types the Arrow fields as Grafana reads them: Utf8 strings, Int64/Float64 numbers, nullable where nulls occur, tstype metadata', async () => {
    const got = await queryData(c, { url: ingest.url }, [dataQuery('S', { kind: 'stats' }, fromMs, toMs)]);
    const f = fromArrow(got.responses.S.frames[0]);
    expect(f.arrowTypes[0]).toBe('Utf8');
    expect(f.arrowTypes[1]).toBe('Utf8');
    expect(['Int64', 'Float64']).toContain(f.arrowTypes[2]);
    expect(f.arrowTypes[3]).toBe('Utf8');
    expect(f.tstypes).toEqual(['string', 'string', 'number', 'string']);
    // Text counters have a null value and numeric ones a null text.
    expect(f.nullable).toEqual([false, false, f.fields[2].values.includes(null), f.fields[3].values.includes(null)]);
    expect(f.nullable[3]).toBe(true);
    expect(f.refId).toBe('S');
    expect(f.name).toBe('stats');
  });

  it("takes the step from Grafana's intervalMS and maxDataPoints when the query model has none", async () => {
    const model = { kind: 'pings', metric: ['latency_ms'] };
    let got: DataResponse;
    let want: Awaited<ReturnType<typeof direct>>['results'][string];
    // A probe result may land between the two reads: a few rounds give one where nothing moved.
    for (let round = 0; ; round++) {
      got = (await queryData(c, { url: ingest.url }, [dataQuery('A', model, fromMs, toMs, { intervalMS: 30000, maxDataPoints: 500 })])).responses.A;
      want = (await direct(ingest, { from: fromMs, to: toMs, queries: [{ refId: 'A', ...model, intervalMs: 30000, maxDataPoints: 500 }] })).results.A;
      const same = want.error || JSON.stringify(got.frames.map((b) => strip(fromArrow(b))), (_k, v) => (typeof v === 'bigint' ? String(v) : v)) === JSON.stringify(want.frames!.map(fromJson), (_k, v) => (typeof v === 'bigint' ? String(v) : v));
      if (same || round === 4) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    if (want.error) expect(got).toMatchObject({ status: want.status, errorSource: 'downstream' });
    else expect(got.frames.map((b) => strip(fromArrow(b)))).toEqual(want.frames!.map(fromJson));
    if (ingest.pings) {
      // A different step gives a different series, so the comparison above did test the step. The probes run
      // every second for a few seconds, so a 1 s step has more points than a 30 s one (a coarser step than 30 s
      // can hold them all in the same single bucket).
      const points = (r: typeof want) => r.frames!.reduce((n, f) => n + (f.data.values[0]?.length ?? 0), 0);
      let other = want;
      for (let i = 0; i < 20; i++) {
        other = (await direct(ingest, { from: toMs - 600_000, to: toMs, queries: [{ refId: 'A', ...model, intervalMs: 1000 }] })).results.A;
        if (points(other) >= 3) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(points(other)).toBeGreaterThan(points(want));
    }
  });

  it('flows: real rows from the replayed capture match the direct query (or the 501 of a build without flows is a downstream error)', async () => {
    const model = { kind: 'flows', orderBy: 'bytes', limit: 100 };
    const got = (await queryData(c, { url: ingest.url }, [dataQuery('A', model, 0, toMs)])).responses.A;
    const want = (await direct(ingest, { from: 0, to: toMs, queries: [{ refId: 'A', ...model }] })).results.A;
    if (ingest.flows) {
      expect(want.error).toBeUndefined();
      const frames = got.frames.map(fromArrow);
      expect(frames.map(strip)).toEqual(want.frames!.map(fromJson));
      // tcpreplay_test.pcap: 7 TCP and 12 UDP conversations (tshark), IPv4 and IPv6.
      expect(frames[0].fields[0].values.length).toBeGreaterThanOrEqual(10);
      expect(frames[0].fields[0].values.some((ip) => String(ip).includes(':'))).toBe(true);
      const times = frames[0].fields.filter((x) => x.type === 'time');
      expect(times.length).toBeGreaterThan(0);
      for (const t of times) for (const v of t.values) expect(v === null || (v as bigint) > 10n ** 18n).toBe(true);
      expect(frames[0].arrowTypes.filter((t) => t.startsWith('Timestamp'))).toEqual(times.map(() => 'Timestamp<NANOSECOND>'));
    } else {
      expect(want).toMatchObject({ error: { code: 'NETWATCH_ERR_NOT_IMPLEMENTED' }, status: 501 });
      expect(got).toMatchObject({ frames: [], status: 501, errorSource: 'downstream', error: expect.stringContaining('NETWATCH_ERR_NOT_IMPLEMENTED') });
    }
  });

  it('answers a bad query model with a per-refId plugin error and still answers the other queries', async () => {
    const got = await queryData(c, { url: ingest.url }, [
      dataQuery('BAD', '{"kind": "flows", "cidr": ', fromMs, toMs),
      dataQuery('CIDR', { kind: 'flows', cidr: ['10.0.0.0/33'] }, fromMs, toMs),
      dataQuery('KIND', { kind: 'packets' }, fromMs, toMs),
      dataQuery('OK', { kind: 'stats' }, fromMs, toMs),
    ]);
    expect(Object.keys(got.responses).sort()).toEqual(['BAD', 'CIDR', 'KIND', 'OK']);
    expect(got.responses.BAD).toMatchObject({ frames: [], status: 400, errorSource: 'plugin', error: expect.stringMatching(/^NETWATCH_ERR_BAD_JSON: the query model is not valid JSON/) });
    expect(got.responses.CIDR).toMatchObject({ frames: [], status: 400, errorSource: 'plugin', error: expect.stringMatching(/^NETWATCH_ERR_BAD_CIDR: .*10\.0\.0\.0\/33.*\(field cidr\/0\)$/) });
    expect(got.responses.KIND).toMatchObject({ frames: [], status: 400, errorSource: 'plugin', error: expect.stringMatching(/^NETWATCH_ERR_UNKNOWN_KIND: unknown kind "packets"/) });
    expect(got.responses.OK).toMatchObject({ status: 200, error: '', errorSource: '' });
    expect(fromArrow(got.responses.OK.frames[0]).name).toBe('stats');
    // The process is still serving.
    expect(await unary(c.health, 'Check', { service: 'plugin' })).toEqual({ status: 'SERVING' });
  });

  it('answers alert rule evaluation (FromAlert header, no user) the same as a dashboard', async () => {
    const q = [dataQuery('A', { kind: 'stats', source: ['store'] }, fromMs, toMs)];
    const dash = fromArrow((await queryData(c, { url: ingest.url }, q)).responses.A.frames[0]);
    const alert = (await queryData(c, { url: ingest.url }, q, { headers: { FromAlert: 'true' }, user: false })).responses.A;
    expect(alert.status).toBe(200);
    const a = fromArrow(alert.frames[0]);
    expect({ ...a, fields: a.fields.map((f) => ({ ...f, values: f.name === 'value' ? [] : f.values })) }).toEqual({ ...dash, fields: dash.fields.map((f) => ({ ...f, values: f.name === 'value' ? [] : f.values })) });
  });

  it('answers JSON frames with Go typeInfo when the request asks for format JSON', async () => {
    const got = await unary<{ responses: Record<string, DataResponse> }>(c.data, 'QueryData', { pluginContext: pluginContext({ url: ingest.url }), headers: {}, queries: [dataQuery('J', { kind: 'stats' }, fromMs, toMs)], format: 'JSON' });
    expect(got.responses.J.format).toBe('JSON');
    const f = JSON.parse(got.responses.J.frames[0].toString('utf8'));
    expect(f.schema.fields.map((x: { name: string; typeInfo: { frame: string } }) => [x.name, x.typeInfo.frame])).toEqual([
      ['component', 'string'],
      ['name', 'string'],
      ['value', expect.stringMatching(/^(int64|float64)$/)],
      ['text', 'string'],
    ]);
  });

  it('answers QueryChunkedData as a Go SDK plugin without a chunked handler does: one message with status 501', async () => {
    const got = await streamAll<{ refId: string; status: number; frame: Buffer }>(c.data, 'QueryChunkedData', { pluginContext: pluginContext({ url: ingest.url }), headers: {}, queries: [dataQuery('A', { kind: 'stats' }, fromMs, toMs)] });
    expect(got.map((m) => ({ refId: m.refId, status: m.status, frame: m.frame.length }))).toEqual([{ refId: '', status: 501, frame: 0 }]);
  });

  it('answers downstream errors when the ingest service is down or refuses the token', async () => {
    const down = await closedPortUrl();
    const refused = await queryData(c, { url: down, uid: 'down' }, [dataQuery('A', { kind: 'stats' }, fromMs, toMs)]);
    expect(refused.responses.A).toMatchObject({ frames: [], status: 502, errorSource: 'downstream', error: expect.stringContaining('connection refused') });
    const wrong = await queryData(c, { url: ingest.url, token: 'wrong', uid: 'wrong-token' }, [dataQuery('A', { kind: 'stats' }, fromMs, toMs)]);
    expect(wrong.responses.A).toMatchObject({ frames: [], status: 401, errorSource: 'downstream', error: expect.stringContaining('unauthorized') });
  });

  it('rebuilds the cached client when lastUpdatedMS changes, and only then', async () => {
    const built = async () => Number(/^netwatch_plugin_ingest_clients_built_total (\d+)$/m.exec(await collectMetrics())![1]);
    const ds = { url: ingest.url, uid: 'rotating', lastUpdatedMS: 100 };
    const q = [dataQuery('A', { kind: 'stats', source: ['store'] }, fromMs, toMs)];
    expect((await queryData(c, ds, q)).responses.A.status).toBe(200);
    const n0 = await built();
    expect((await queryData(c, ds, q)).responses.A.status).toBe(200);
    expect(await built()).toBe(n0);
    // New settings (a rotated, wrong token) under a new lastUpdatedMS take effect at once.
    expect((await queryData(c, { ...ds, token: 'rotated-wrong', lastUpdatedMS: 200 }, q)).responses.A.status).toBe(401);
    expect(await built()).toBe(n0 + 1);
  });
});

describe('QueryData with Arrow frames from the ingest service', () => {
  const ARROW = 'application/vnd.netwatch.arrow-frames';
  const model = (refId: string) => (ingest.flows ? { refId, kind: 'flows', orderBy: 'bytes', limit: 100 } : { refId, kind: 'stats', source: ['store'] });

  /** The ingest service's own answer to a client asking for Arrow: each refId's Arrow files (hex), read from the envelope by hand. */
  async function directArrow(refId: string): Promise<string[]> {
    const res = await fetch(`${ingest.url}/api/v1/query`, { method: 'POST', headers: { 'content-type': 'application/json', accept: ARROW, authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ from: 0, to: toMs, queries: [model(refId)] }) });
    expect([res.status, res.headers.get('content-type')]).toEqual([200, ARROW]);
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.subarray(0, 5)).toEqual(Buffer.from('NWAF\x01', 'latin1'));
    const headerLength = body.readUInt32LE(8);
    const header = JSON.parse(body.subarray(12, 12 + headerLength).toString('utf8')) as { results: Array<{ refId: string; frames: number[] }> };
    let at = (12 + headerLength + 7) & ~7;
    return header.results[0].frames.map((n) => {
      const f = body.subarray(at, at + n).toString('hex');
      at += (n + 7) & ~7;
      return f;
    });
  }

  /** An ingest service that predates the envelope: the live one behind a proxy that drops Accept. */
  async function olderIngest(): Promise<{ url: string; close: () => void }> {
    const target = new URL(ingest.url);
    const server = http.createServer((req, res) => {
      const headers = { ...req.headers };
      delete headers.accept;
      const up = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      req.pipe(up);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, close: () => server.close() };
  }

  const answers = async (format: string) => Number(new RegExp(`^netwatch_plugin_ingest_query_answers_total\\{format="${format}"\\} (\\d+)$`, 'm').exec(await collectMetrics())?.[1] ?? 0);

  it("passes the ingest service's Arrow files through to Grafana byte for byte", async () => {
    const arrow0 = await answers('arrow');
    let got: string[] = [];
    let want: string[] = [];
    // Live flows may change state between the two reads: a few rounds give one where nothing moved.
    for (let round = 0; round < 5; round++) {
      got = (await queryData(c, { url: ingest.url }, [dataQuery('A', model('A'), 0, toMs)])).responses.A.frames.map((b) => b.toString('hex'));
      want = await directArrow('A');
      if (JSON.stringify(got) === JSON.stringify(want)) break;
    }
    expect(got.length).toBeGreaterThan(0);
    expect(got).toEqual(want);
    expect(await answers('arrow')).toBeGreaterThan(arrow0);
  });

  it('falls back to its JSON path for an ingest service that answers JSON only, giving the same frames', async () => {
    const older = await olderIngest();
    try {
      const json0 = await answers('json');
      let viaOlder: string[] = [];
      let viaArrow: string[] = [];
      let rounds = 0;
      for (; rounds < 5; ) {
        rounds++;
        viaOlder = (await queryData(c, { url: older.url, uid: 'older-ingest' }, [dataQuery('A', model('A'), 0, toMs)])).responses.A.frames.map((b) => b.toString('hex'));
        viaArrow = (await queryData(c, { url: ingest.url }, [dataQuery('A', model('A'), 0, toMs)])).responses.A.frames.map((b) => b.toString('hex'));
        if (JSON.stringify(viaOlder) === JSON.stringify(viaArrow)) break;
      }
      expect(viaOlder.length).toBeGreaterThan(0);
      expect(viaOlder).toEqual(viaArrow);
      // Every round through the older service was answered in JSON.
      expect(await answers('json')).toBe(json0 + rounds);
    } finally {
      older.close();
    }
  });
});

function closedPortUrl(): Promise<string> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(`http://127.0.0.1:${port}`));
    });
  });
}

async function collectMetrics(): Promise<string> {
  const r = await unary<{ metrics: { prometheus: Buffer } }>(c.diagnostics, 'CollectMetrics', { pluginContext: { orgId: 1, pluginId: 'netwatch-ingest-datasource' } });
  return r.metrics.prometheus.toString('utf8');
}

describe('CheckHealth', () => {
  it('is OK with the ingest version and a one-line summary when reachable and authorized', async () => {
    const version = ((await (await fetch(`${ingest.url}/api/v1/health`)).json()) as { version: string }).version;
    const r = await checkHealth(c, { url: ingest.url });
    expect(r.status).toBe('OK');
    expect(r.message).toMatch(new RegExp(`^Netwatch ingest ${version.replace(/\./g, '\\.')}.* at ${ingest.url.replace(/\./g, '\\.')}: flows: (\\d[\\d,]* active|not enabled) · targets: (\\d+|not enabled) · log sources: (\\d+|not enabled)$`));
    expect(r.message.split('\n')).toHaveLength(1);
    expect(JSON.parse(r.jsonDetails.toString('utf8'))).toMatchObject({ version, components: expect.any(Object) });
  });

  it.each<[string, () => Promise<DataSourceOpts>, RegExp]>([
    ['a wrong token', async () => ({ url: ingest.url, token: 'wrong', uid: 'h-token' }), /^unauthorized: .* refused the token \(HTTP 401\)/],
    ['no token where one is required', async () => ({ url: ingest.url, token: '', uid: 'h-notoken' }), /^unauthorized: .* requires a token/],
    ['the ingest service down (connection refused)', async () => ({ url: await closedPortUrl(), uid: 'h-down' }), /^connection refused by http:\/\/127\.0\.0\.1:\d+ \(is netwatch-ingest running/],
    ['a URL without scheme', async () => ({ url: '127.0.0.1:7070', uid: 'h-url' }), /^bad URL "127\.0\.0\.1:7070": missing http:\/\/ or https:\/\//],
    ['an unknown host', async () => ({ url: 'http://no-such-host.invalid:7070', uid: 'h-dns' }), /^cannot resolve host "no-such-host\.invalid"/],
  ])('is ERROR with a precise message for %s', async (_name, ds, message) => {
    const r = await checkHealth(c, await ds());
    expect(r.status).toBe('ERROR');
    expect(r.message).toMatch(message);
  });

  it('is ERROR "timeout" when the ingest service accepts but never answers', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const t0 = Date.now();
      const r = await checkHealth(c, { url: `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`, uid: 'h-timeout', timeoutSeconds: 0.5 });
      expect(r.status).toBe('ERROR');
      expect(r.message).toMatch(/^timeout: no answer from http:\/\/127\.0\.0\.1:\d+ within 0\.5 s$/);
      expect(Date.now() - t0).toBeLessThan(3000);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });
});

describe('CallResource', () => {
  const call = (ds: DataSourceOpts, p: string, method = 'GET') =>
    streamAll<{ code: number; headers: Record<string, { values: string[] }>; body: Buffer }>(c.resource, 'CallResource', { pluginContext: pluginContext(ds), path: p, method, url: p, headers: {}, body: Buffer.alloc(0) });

  it('proxies values/<name> to /api/v1/values/<name> with the token', async () => {
    for (const name of ['kinds', 'protocols']) {
      const want = await fetch(`${ingest.url}/api/v1/values/${name}`, { headers: { authorization: `Bearer ${TOKEN}` } });
      const before = await ingestRequests(ingest, '/api/v1/values/:name', 'GET');
      const got = await call({ url: ingest.url }, `values/${name}`);
      expect(await ingestRequests(ingest, '/api/v1/values/:name', 'GET')).toBe(before + 1);
      expect(got).toHaveLength(1);
      expect({ code: got[0].code, body: JSON.parse(got[0].body.toString('utf8')) }).toEqual({ code: want.status, body: await want.json() });
      expect(got[0].headers['Content-Type'].values[0]).toMatch(/^application\/json/);
    }
  });

  it.each<[string, string, string, number, RegExp]>([
    ['an unknown value list', 'values/passwords', 'GET', 404, /unknown value list "passwords"/],
    ['a path outside values/', 'admin/settings', 'GET', 404, /no resource "admin\/settings"/],
    ['a method other than GET', 'values/kinds', 'POST', 405, /answers GET only/],
  ])('answers %s without calling the ingest service', async (_name, p, method, code, message) => {
    const before = await ingestRequests(ingest, '/api/v1/values/:name', 'GET');
    const got = await call({ url: ingest.url }, p, method);
    expect(got[0].code).toBe(code);
    expect(JSON.parse(got[0].body.toString('utf8')).error.message).toMatch(message);
    expect(await ingestRequests(ingest, '/api/v1/values/:name', 'GET')).toBe(before);
  });

  it("passes the ingest service's 401 on for a wrong token", async () => {
    const got = await call({ url: ingest.url, token: 'wrong', uid: 'r-wrong' }, 'values/kinds');
    expect(got[0].code).toBe(401);
    expect(JSON.parse(got[0].body.toString('utf8')).error.code).toBe('NETWATCH_ERR_UNAUTHORIZED');
  });
});

describe('CollectMetrics and logs', () => {
  it("serves the plugin's own metrics as Prometheus text", async () => {
    const text = await collectMetrics();
    expect(text).toMatch(/^# HELP netwatch_plugin_grpc_requests_total /m);
    expect(text).toMatch(/^# TYPE netwatch_plugin_grpc_requests_total counter$/m);
    expect(Number(/^netwatch_plugin_grpc_requests_total\{method="QueryData",code="OK"\} (\d+)$/m.exec(text)?.[1])).toBeGreaterThan(0);
    expect(text).toMatch(/^netwatch_plugin_queries_total\{kind="stats",outcome="ok",origin="alert"\} [1-9]\d*$/m);
    expect(text).toMatch(/^netwatch_plugin_queries_total\{kind="flows",outcome="plugin_error",origin="dashboard"\} [1-9]\d*$/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d+$/m);
    // Every sample line is `name{labels} value` with no address, URL or query text in a label.
    for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) {
      expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [-+0-9.eEInfNa]+$/);
      expect(line).not.toMatch(/127\.0\.0\.1|http:|10\.0\.0\.0/);
    }
  });

  it('wrote only the handshake line to stdout and only hclog JSON lines to stderr', () => {
    expect(plugin.stdout()).toBe(`1|2|tcp|${plugin.address}|grpc\n`);
    const lines = plugin.stderr().split('\n').filter((l) => l !== '');
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) {
      const e = JSON.parse(l);
      expect(typeof e['@message']).toBe('string');
      expect(['trace', 'debug', 'info', 'warn', 'error']).toContain(e['@level']);
      expect(e['@timestamp']).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
    }
  });
});

describe('Shutdown', () => {
  it('exits 0 promptly on SIGTERM', async () => {
    const other = await startPlugin();
    const t0 = Date.now();
    other.child.kill('SIGTERM');
    const { code, at } = await other.exited;
    expect(code).toBe(0);
    expect(at - t0).toBeLessThan(1000);
  });

  it('ends the process within 1 s of GRPCController/Shutdown, exit code 0', async () => {
    const t0 = Date.now();
    await unary(c.controller, 'Shutdown', {});
    const { code, at } = await plugin.exited;
    expect(code).toBe(0);
    expect(at - t0).toBeLessThan(1000);
  });
});
