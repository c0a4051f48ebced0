/**
 * Plugin backend benchmark (`npm run bench -- plugin`): the QueryData round trip through the built plugin
 * process (gRPC in, HTTP to the ingest service, Arrow out) against the same query sent directly to
 * `POST /api/v1/query`, for a 10,000-row `flows` frame. The ingest side is the real fastify API over a real
 * FlowTable holding 20,000 flows, in a process of its own; the plugin is `plugin/dist/gpx_netwatch_linux_amd64`
 * started as go-plugin starts it. Both clients run in this process, alternating, over loopback with
 * keep-alive connections: direct is client -> ingest, the plugin path client -> plugin -> ingest.
 *
 * The direct figure is what a client gets from the ingest service: the HTTP answer parsed from JSON (the
 * issue's reference). A second direct figure asks for the Arrow frames envelope instead
 * (`Accept: application/vnd.netwatch.arrow-frames`, envelope decoded: the files as views): the plugin asks for the
 * same, and passes the files through, so plugin vs direct Arrow is the cost of the plugin hop alone. The plugin
 * figure is what Grafana gets: the gRPC answer with its Arrow frame bytes (Grafana decodes them in Go); a
 * further figure adds decoding the Arrow bytes with apache-arrow, for reference.
 *
 * Options: --runs=N (default 60), --rows=N (default 10000).
 */
import { execFileSync, fork, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { credentials, loadPackageDefinition, Metadata, type GrpcObject, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { tableFromIPC } from 'apache-arrow';
import pino from 'pino';
import { ApiRegistry } from '../src/api/registry';
import { buildApi } from '../src/api/server';
import { ARROW_FRAMES_MEDIA_TYPE, decodeArrowFrames } from '../src/protocol/arrow';
import { DecodedPacket, TCP_SYN } from '../src/decode/packet';
import { queryFlows, type FlowOrderBy } from '../src/flows/queries';
import { FlowTable } from '../src/flows/table';

const arg = (name: string, dflt: number) => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.slice(name.length + 3)) : dflt;
};
const RUNS = arg('runs', 60);
const ROWS = arg('rows', 10_000);
const FLOWS = 2 * ROWS;
const TOKEN = 'bench-token';
/** The repository root, found upwards from this file (it runs bundled from ingest/bench/.build). */
const ROOT = (() => {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) if (existsSync(path.join(dir, 'plugin/scripts/build-backend.mjs'))) return dir;
  throw new Error('repository root not found above ' + __dirname);
})();

const T0_US = Date.UTC(2026, 0, 1) * 1000;
const SPAN_US = 1800e6;
const FROM_MS = T0_US / 1000 - 1000;
const TO_MS = (T0_US + SPAN_US) / 1000 + 1000;
const MODEL = { kind: 'flows', orderBy: 'bytes', limit: ROWS };

// ---- the ingest side, in a process of its own as in production: a FlowTable with real flows behind the real API ----

let seed = 0x2545f491;
function rnd(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
}
async function serveIngest(): Promise<void> {
  const table = new FlowTable({ maxFlows: FLOWS * 2 });
  const p = new DecodedPacket();
  p.family = 4;
  const PORTS = [443, 80, 53, 22, 8080, 3306, 5432, 123, 25, 993];
  for (let i = 0; i < FLOWS; i++) {
    p.src[0] = ((10 << 24) | (rnd() & 0xffffff)) >>> 0;
    p.dst[0] = ((172 << 24) | (16 << 16) | (rnd() & 0xffff)) >>> 0;
    p.protocol = i % 10 === 0 ? 17 : 6;
    p.srcPort = 1024 + (i % 60000);
    p.dstPort = PORTS[rnd() % PORTS.length];
    p.tcpFlags = TCP_SYN;
    p.wireLength = 60 + (rnd() % 1400);
    p.tsUs = T0_US + Math.floor((i / FLOWS) * SPAN_US);
    table.add(p);
  }
  const registry = new ApiRegistry();
  registry.registerKind('flows', (q, ctx) => [
    queryFlows(table, { cidr: q.cidr, srcCidr: q.srcCidr, dstCidr: q.dstCidr, port: q.port, srcPort: q.srcPort, dstPort: q.dstPort, protocol: q.protocol }, { fromMs: ctx.fromMs, toMs: ctx.toMs, orderBy: q.orderBy as FlowOrderBy | undefined, limit: q.limit }),
  ]);
  const app = buildApi({ version: 'bench', registry, logger: pino({ level: 'silent' }), token: TOKEN });
  await app.listen({ host: '127.0.0.1', port: 0 });
  process.send!({ url: `http://127.0.0.1:${(app.server.address() as { port: number }).port}` });
  process.on('disconnect', () => void app.close().then(() => process.exit(0)));
}

function percentile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function main() {
  // Bench the current plugin code: rebuild the bundle first (half a second).
  execFileSync(process.execPath, [path.join(ROOT, 'plugin/scripts/build-backend.mjs')], { stdio: 'ignore' });
  const ingest = fork(process.argv[1], ['--serve-ingest'], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const url = await new Promise<string>((resolve, reject) => {
    ingest.once('message', (m: { url: string }) => resolve(m.url));
    ingest.once('exit', (code) => reject(new Error(`ingest process exited with ${code}`)));
  });

  // NETWATCH_BENCH_PLUGIN_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/p") runs the bundle under node with
  // those flags instead of through the launcher, for profiling the plugin.
  const nodeArgs = (process.env.NETWATCH_BENCH_PLUGIN_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const [cmd, cmdArgs] = nodeArgs.length > 0 ? [process.execPath, [...nodeArgs, path.join(ROOT, 'plugin/dist/gpx_netwatch.js')]] : [path.join(ROOT, 'plugin/dist/gpx_netwatch_linux_amd64'), []];
  const child = spawn(cmd, cmdArgs, {
    env: { grafana_plugin_type: 'datasource', PLUGIN_PROTOCOL_VERSIONS: '2', PLUGIN_MIN_PORT: '10000', PLUGIN_MAX_PORT: '25000', NETWATCH_PLUGIN_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const address = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /^1\|2\|tcp\|([\d.]+:\d+)\|grpc\n/.exec(out);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`plugin exited with ${code}`)));
  });
  const pkg = loadPackageDefinition(loadSync(['backend.proto'].map((f) => path.join(ROOT, 'plugin/backend/proto', f)), { keepCase: true, longs: Number, enums: String, defaults: true })) as GrpcObject;
  const Data = (pkg.pluginv2 as GrpcObject).Data as ServiceClientConstructor;
  // Grafana's Go gRPC client grows its HTTP/2 flow-control window by BDP estimation (up to 16 MiB); grpc-js
  // keeps the 64 KiB default unless told, which costs a window update every 64 KiB of a 1 MB answer. The
  // main figure uses a 16 MiB window like Go's; the default-window figure is printed too.
  const grpcClient = new Data(address, credentials.createInsecure(), { 'grpc.max_receive_message_length': -1, 'grpc-node.flow_control_window': 16 * 1024 * 1024 });
  const grpcDefaultWindow = new Data(address, credentials.createInsecure(), { 'grpc.max_receive_message_length': -1 });
  const Diagnostics = (pkg.pluginv2 as GrpcObject).Diagnostics as ServiceClientConstructor;
  const diagClient = new Diagnostics(address, credentials.createInsecure());
  /** Sum and count of a histogram in the plugin's own metrics (CollectMetrics). */
  const pluginHistogram = async (name: string, label: string) => {
    const text = await new Promise<string>((resolve, reject) =>
      (diagClient as unknown as { CollectMetrics: (r: unknown, m: Metadata, cb: (e: Error | null, v: { metrics: { prometheus: Buffer } }) => void) => void }).CollectMetrics({}, new Metadata(), (e, v) => (e ? reject(e) : resolve(v.metrics.prometheus.toString()))),
    );
    const get = (suffix: string) => Number(new RegExp(`^${name}_${suffix}\\{${label}\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    return { sum: get('sum'), count: get('count') };
  };
  const request = {
    pluginContext: {
      orgId: 1,
      pluginId: 'netwatch-ingest-datasource',
      dataSourceInstanceSettings: { id: 1, uid: 'bench', name: 'Netwatch', jsonData: Buffer.from(JSON.stringify({ url })), decryptedSecureJsonData: { token: TOKEN }, lastUpdatedMS: 1 },
    },
    headers: {},
    queries: [{ refId: 'A', maxDataPoints: 1000, intervalMS: 1000, timeRange: { fromEpochMS: FROM_MS, toEpochMS: TO_MS }, json: Buffer.from(JSON.stringify(MODEL)), queryType: '' }],
  };
  const viaPlugin = (client = grpcClient) =>
    new Promise<Buffer>((resolve, reject) =>
      (client as unknown as { QueryData: (r: unknown, m: Metadata, cb: (e: Error | null, v: { responses: Record<string, { frames: Buffer[]; error: string }> }) => void) => void }).QueryData(request, new Metadata(), (e, v) => {
        if (e) return reject(e);
        const r = v.responses.A;
        if (r.error) return reject(new Error(r.error));
        resolve(r.frames[0]);
      }),
    );

  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const body = JSON.stringify({ from: FROM_MS, to: TO_MS, queries: [{ refId: 'A', ...MODEL }] });
  const post = <T>(accept: string, read: (b: Buffer) => T) =>
    new Promise<T>((resolve, reject) => {
      const req = http.request(`${url}/api/v1/query`, { method: 'POST', agent, headers: { 'content-type': 'application/json', accept, authorization: `Bearer ${TOKEN}`, 'content-length': Buffer.byteLength(body) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(read(Buffer.concat(chunks))));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  const viaHttp = () => post('application/json', (b) => JSON.parse(b.toString('utf8')) as { results: { A: { frames: Array<{ data: { values: unknown[][] } }> } } });
  const viaHttpArrow = () =>
    post(ARROW_FRAMES_MEDIA_TYPE, (b) => {
      const r = decodeArrowFrames(b).get('A');
      if (!r || !('frames' in r)) throw new Error(`direct Arrow query failed: ${JSON.stringify(r)}`);
      return r.frames[0];
    });

  // Same answer both ways, and the size that is being measured.
  const direct = await viaHttp();
  if (!direct.results) throw new Error(`direct query failed: ${JSON.stringify(direct).slice(0, 300)}`);
  const rows = direct.results.A.frames[0].data.values[0].length;
  const arrowBytes = await viaPlugin();
  const decoded = tableFromIPC(arrowBytes);
  // The plugin passes the ingest service's Arrow file through: the same bytes as a direct Arrow query.
  if (!Buffer.from(await viaHttpArrow()).equals(arrowBytes)) throw new Error('the plugin did not answer the Arrow file the ingest service sends');
  if (rows !== ROWS || decoded.numRows !== rows) throw new Error(`expected ${ROWS} rows, got ${rows} direct and ${decoded.numRows} through the plugin`);
  const fields = decoded.schema.fields.length;

  const time = async (fn: () => Promise<unknown>) => {
    const t0 = process.hrtime.bigint();
    await fn();
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  for (let i = 0; i < 10; i++) {
    await viaHttp();
    await viaHttpArrow();
    await viaPlugin();
    await viaPlugin(grpcDefaultWindow);
  }
  const handler0 = await pluginHistogram('netwatch_plugin_grpc_request_duration_seconds', 'method="QueryData"');
  const decode0 = await pluginHistogram('netwatch_plugin_query_stage_duration_seconds', 'stage="decode"');
  const encode0 = await pluginHistogram('netwatch_plugin_query_stage_duration_seconds', 'stage="encode"');
  const ingest0 = await pluginHistogram('netwatch_plugin_ingest_request_duration_seconds', 'route="query"');
  const d: number[] = [];
  const da: number[] = [];
  const p: number[] = [];
  const pd: number[] = [];
  const pw: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    // Alternate the order so neither side always runs right after a GC of the other.
    if (i % 2 === 0) {
      d.push(await time(viaHttp));
      p.push(await time(viaPlugin));
    } else {
      p.push(await time(viaPlugin));
      d.push(await time(viaHttp));
    }
    da.push(await time(viaHttpArrow));
    pd.push(await time(async () => tableFromIPC(await viaPlugin())));
    pw.push(await time(() => viaPlugin(grpcDefaultWindow)));
  }
  const handler1 = await pluginHistogram('netwatch_plugin_grpc_request_duration_seconds', 'method="QueryData"');
  const ingest1 = await pluginHistogram('netwatch_plugin_ingest_request_duration_seconds', 'route="query"');
  const perCall = (a: { sum: number; count: number }, b: { sum: number; count: number }) => ((b.sum - a.sum) / (b.count - a.count)) * 1000;
  const handlerMs = perCall(handler0, handler1);
  const decodeMs = perCall(decode0, await pluginHistogram('netwatch_plugin_query_stage_duration_seconds', 'stage="decode"'));
  const encodeMs = perCall(encode0, await pluginHistogram('netwatch_plugin_query_stage_duration_seconds', 'stage="encode"'));
  const ingestMs = perCall(ingest0, ingest1);
  const line = (label: string, xs: number[]) => `| ${label} | ${percentile(xs, 0.5).toFixed(2)} | ${mean(xs).toFixed(2)} | ${percentile(xs, 0.9).toFixed(2)} |`;
  const overhead = (xs: number[], ref = d) => `${((percentile(xs, 0.5) / percentile(ref, 0.5) - 1) * 100).toFixed(1)} %`;
  const ms = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)} ms` : 'none');
  console.log(`node ${process.version}, ${os.cpus().length} cores, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; ${rows} rows x ${fields} fields, JSON ${Buffer.byteLength(JSON.stringify(direct))} B, Arrow ${arrowBytes.length} B; ${RUNS} runs each`);
  console.log('| round trip | p50 ms | mean ms | p90 ms |');
  console.log('| --- | --- | --- | --- |');
  console.log(line('direct `POST /api/v1/query` (HTTP + JSON.parse)', d));
  console.log(line('direct `POST /api/v1/query`, Accept Arrow frames (HTTP + envelope decode)', da));
  console.log(line('plugin `QueryData` (gRPC, Arrow bytes received)', p));
  console.log(line('plugin `QueryData` + apache-arrow decode', pd));
  console.log(line('plugin `QueryData`, grpc-js default 64 KiB window', pw));
  console.log(`inside the plugin, mean per QueryData: ${handlerMs.toFixed(2)} ms in the handler, of which ${ingestMs.toFixed(2)} ms waiting for the ingest service's answer and ${(handlerMs - ingestMs).toFixed(2)} ms in the plugin (reading the answer ${ms(decodeMs)}, encoding Arrow itself ${ms(encodeMs)})`);
  console.log(`overhead of the plugin at p50 vs direct JSON: ${overhead(p)} (limit 20 %); with Arrow decode in the client: ${overhead(pd)}; with grpc-js's default window: ${overhead(pw)}`);
  console.log(`overhead of the plugin at p50 vs direct Arrow frames (the plugin hop alone): ${overhead(p, da)}`);

  grpcClient.close();
  grpcDefaultWindow.close();
  diagClient.close();
  agent.destroy();
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  ingest.disconnect();
  await new Promise((r) => ingest.once('exit', r));
}

(process.argv.includes('--serve-ingest') ? serveIngest() : main()).catch((e) => {
  console.error(e);
  process.exit(1);
});
