/**
 * QueryData against a real ingest API (the ingest service's own fastify server, in process, on loopback): the
 * Arrow frames envelope passed through, the JSON fallback of an older ingest service, and malformed envelopes.
 * The "older ingest service" and the "broken" one are HTTP proxies in front of the real API that drop the
 * Accept header (so it answers JSON, as a version without the envelope does) or cut the answer short.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tableFromIPC } from 'apache-arrow';
import pino from 'pino';
import { column, frame, type Frame, type QueryResponse } from '@netwatch/ingest/protocol';
import { ARROW_FRAMES_MEDIA_TYPE, decodeArrowFrames, frameToArrow as ingestFrameToArrow } from '@netwatch/ingest/protocol/arrow';
import { ApiRegistry } from '../../ingest/src/api/registry';
import { buildApi } from '../../ingest/src/api/server';
import { IngestClients } from './clients';
import { createLogger } from './hclog';
import type { DataQueryMsg, QueryDataRequestMsg } from './messages';
import { createPluginMetrics } from './metrics';
import { queryData } from './query-data';

const FROM = Date.parse('2026-11-22T10:00:00Z');
const TO = Date.parse('2026-11-22T11:00:00Z');

function flowsFrame(rows: number): Frame {
  const ips = Array.from({ length: rows }, (_, i) => (i % 7 === 0 ? null : i % 3 === 0 ? `2001:db8::${i.toString(16)}` : `10.0.${i >> 8}.${i & 255}`));
  return frame(
    'flows',
    [
      column('src_ip', 'string', ips),
      column('bytes', 'number', Array.from({ length: rows }, (_, i) => i * 1500 + 2 ** 33)),
      column('rate', 'number', Array.from({ length: rows }, (_, i) => (i % 5 === 0 ? null : i / 3))),
      column('first_seen', 'time', Array.from({ length: rows }, (_, i) => FROM + i * 1000.25)),
      column('open', 'boolean', Array.from({ length: rows }, (_, i) => i % 2 === 0)),
      column('note', 'string', Array.from({ length: rows }, (_, i) => (i % 4 === 0 ? 'é "q"\n' : 'ok')), { labels: { iface: 'eth0' }, config: { unit: 'bytes' } }),
    ],
    { preferredVisualisationType: 'table' },
  );
}

interface Servers {
  /** The real ingest API. */
  ingest: string;
  /** The same API behind a proxy that drops Accept: an ingest service that answers JSON only. */
  older: string;
  /** The API behind a proxy that cuts 24 bytes off every answer (Content-Length adjusted). */
  truncating: string;
  /** Accept headers the real API received, in order. */
  accepts: Array<string | undefined>;
  close(): Promise<void>;
}

async function startServers(): Promise<Servers> {
  const registry = new ApiRegistry();
  registry.registerKind('flows', (q) => [flowsFrame(q.limit ?? 100)]);
  registry.registerKind('logs', () => {
    throw new Error('disk on fire');
  });
  const app = buildApi({ version: 'test', registry, logger: pino({ level: 'silent' }) });
  const accepts: Array<string | undefined> = [];
  app.addHook('onRequest', async (req) => void accepts.push(req.headers.accept));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const ingest = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const proxy = (edit: { dropAccept?: boolean; cut?: number }) =>
    http.createServer((req, res) => {
      const headers = { ...req.headers };
      if (edit.dropAccept) delete headers.accept;
      const up = http.request(`${ingest}${req.url}`, { method: req.method, headers }, (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => {
          const body = Buffer.concat(chunks);
          const out = edit.cut ? body.subarray(0, Math.max(0, body.length - edit.cut)) : body;
          res.writeHead(r.statusCode ?? 502, { 'content-type': r.headers['content-type'] ?? '', 'content-length': out.length });
          res.end(out);
        });
      });
      req.pipe(up);
    });
  const proxies = [proxy({ dropAccept: true }), proxy({ cut: 24 })];
  await Promise.all(proxies.map((p) => new Promise<void>((r) => p.listen(0, '127.0.0.1', r))));
  const [older, truncating] = proxies.map((p) => `http://127.0.0.1:${(p.address() as AddressInfo).port}`);
  return {
    ingest,
    older,
    truncating,
    accepts,
    close: async () => {
      for (const p of proxies) p.close();
      await app.close();
    },
  };
}

const dq = (refId: string, model: unknown): DataQueryMsg => ({ refId, maxDataPoints: 0, intervalMS: 0, timeRange: { fromEpochMS: FROM, toEpochMS: TO }, json: Buffer.from(JSON.stringify(model)), queryType: '' });

function request(url: string, queries: DataQueryMsg[], format: 'ARROW' | 'JSON' = 'ARROW'): QueryDataRequestMsg {
  return {
    pluginContext: { orgId: 1, pluginId: 'netwatch-ingest-datasource', user: null, dataSourceInstanceSettings: { uid: url, lastUpdatedMS: 1, jsonData: Buffer.from(JSON.stringify({ url })), decryptedSecureJsonData: {} }, grafanaConfig: {}, pluginVersion: '', userAgent: '' },
    headers: {},
    queries,
    format,
  };
}

const QUERIES = [dq('A', { kind: 'flows', limit: 300 }), dq('L', { kind: 'logs' }), dq('T', { kind: 'threats' })];
const hex = (frames: Uint8Array[]) => frames.map((f) => Buffer.from(f).toString('hex'));

describe('QueryData against the ingest API', () => {
  let s: Servers;
  const metrics = createPluginMetrics();
  const clients = new IngestClients(metrics);
  const deps = { clients, metrics, logger: createLogger('error', () => {}) };
  beforeAll(async () => {
    s = await startServers();
  });
  afterAll(async () => {
    clients.close();
    await s.close();
  });

  /** Frames the plugin encoded itself (the stage histogram's count): none when it passes Arrow through. */
  const encodes = () => Number(/ (\d+)$/.exec(metrics.stageDuration.render().find((l) => l.startsWith('netwatch_plugin_query_stage_duration_seconds_count{stage="encode"}')) ?? ' 0')![1]);

  /** What the ingest service itself answers to a client asking for Arrow frames. */
  async function direct(): Promise<ReturnType<typeof decodeArrowFrames>> {
    const res = await fetch(`${s.ingest}/api/v1/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: ARROW_FRAMES_MEDIA_TYPE },
      body: JSON.stringify({ from: FROM, to: TO, queries: [{ refId: 'A', kind: 'flows', limit: 300 }, { refId: 'L', kind: 'logs' }, { refId: 'T', kind: 'threats' }] }),
    });
    return decodeArrowFrames(Buffer.from(await res.arrayBuffer()));
  }

  it("asks for Arrow frames and passes the ingest service's files through unchanged, per-refId errors included", async () => {
    const before = { arrow: metrics.ingestAnswers.get({ format: 'arrow' }), accepts: s.accepts.length, encodes: encodes() };
    const got = await queryData(request(s.ingest, QUERIES), deps);
    expect(encodes()).toBe(before.encodes);
    expect(s.accepts.slice(before.accepts)).toEqual([`${ARROW_FRAMES_MEDIA_TYPE}, application/json;q=0.5`]);
    expect(metrics.ingestAnswers.get({ format: 'arrow' })).toBe(before.arrow + 1);
    const want = await direct();
    expect(hex(got.responses.A.frames)).toEqual(hex((want.get('A') as { frames: Uint8Array[] }).frames));
    expect(got.responses.A).toMatchObject({ status: 200, format: 'ARROW' });
    expect({ ...got.responses.L, frames: got.responses.L.frames.length }).toEqual({ frames: 0, status: 500, errorSource: 'downstream', format: 'ARROW', error: expect.stringMatching(/^NETWATCH_ERR_INTERNAL: internal error while running the query/) });
    expect({ ...got.responses.T, frames: got.responses.T.frames.length }).toEqual({ frames: 0, status: 501, errorSource: 'downstream', format: 'ARROW', error: expect.stringMatching(/^NETWATCH_ERR_NOT_IMPLEMENTED: query kind "threats"/) });
    const t = tableFromIPC(got.responses.A.frames[0]);
    expect([t.numRows, t.schema.metadata.get('refId'), t.schema.fields.map((f) => String(f.type))]).toEqual([300, 'A', ['Utf8', 'Int64', 'Float64', 'Timestamp<NANOSECOND>', 'Bool', 'Utf8']]);
  });

  it('falls back to reading JSON from an ingest service that does not answer Arrow, with the same frame bytes and errors', async () => {
    const before = metrics.ingestAnswers.get({ format: 'json' });
    const viaArrow = await queryData(request(s.ingest, QUERIES), deps);
    const encoded = encodes();
    const viaJson = await queryData(request(s.older, QUERIES), deps);
    expect(metrics.ingestAnswers.get({ format: 'json' })).toBe(before + 1);
    expect(encodes()).toBe(encoded + 1);
    expect(hex(viaJson.responses.A.frames)).toEqual(hex(viaArrow.responses.A.frames));
    for (const r of ['L', 'T']) expect(viaJson.responses[r]).toEqual(viaArrow.responses[r]);
    // ... and the ingest's JSON frame encoded by the protocol's encoder gives the very same bytes.
    const json = (await (await fetch(`${s.ingest}/api/v1/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ from: FROM, to: TO, queries: [{ refId: 'A', kind: 'flows', limit: 300 }] }) })).json()) as QueryResponse;
    expect(hex(viaJson.responses.A.frames)).toEqual(hex((json.results.A.frames as Frame[]).map(ingestFrameToArrow)));
  });

  it('asks for JSON when Grafana asks for the JSON frame format', async () => {
    const n = s.accepts.length;
    const got = await queryData(request(s.ingest, [dq('A', { kind: 'flows', limit: 3 })], 'JSON'), deps);
    expect(s.accepts.slice(n)).toEqual(['application/json']);
    expect(JSON.parse(Buffer.from(got.responses.A.frames[0]).toString('utf8')).schema.fields.map((f: { typeInfo: { frame: string } }) => f.typeInfo.frame)).toEqual(['string', 'int64', 'float64', 'time.Time', 'bool', 'string']);
  });

  it('answers a truncated envelope with a downstream error naming it, for every refId of the call', async () => {
    const got = await queryData(request(s.truncating, QUERIES), deps);
    for (const r of ['A', 'L', 'T']) {
      expect({ ...got.responses[r], frames: got.responses[r].frames.length }).toEqual({
        frames: 0,
        status: 502,
        errorSource: 'downstream',
        format: 'ARROW',
        error: expect.stringMatching(new RegExp(`^ingest service: http://127\\.0\\.0\\.1:\\d+/api/v1/query answered a malformed ${ARROW_FRAMES_MEDIA_TYPE.replace(/\./g, '\\.')} body \\(\\d+ bytes\\): Arrow frames envelope: truncated: refId "A" frame 0 needs`)),
      });
    }
  });
});
