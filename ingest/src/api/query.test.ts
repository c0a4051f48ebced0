import { Writable } from 'node:stream';
import { tableFromIPC } from 'apache-arrow';
import { createLogger } from '../log';
import { column, frame, type Frame, type QueryResponse } from '../protocol';
import { ARROW_FRAMES_MEDIA_TYPE, decodeArrowFrames, frameToArrow } from '../protocol/arrow';
import { acceptsArrowFrames } from './query';
import { ApiRegistry } from './registry';
import { buildApi } from './server';

const silent = createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() }));
const FROM = Date.parse('2026-11-22T10:00:00Z');
const TO = Date.parse('2026-11-22T11:00:00Z');
const ARROW_ACCEPT = `${ARROW_FRAMES_MEDIA_TYPE}, application/json;q=0.5`;

describe('acceptsArrowFrames', () => {
  it.each<[string | undefined, boolean]>([
    [undefined, false],
    ['', false],
    ['*/*', false],
    ['application/json', false],
    ['application/*', false],
    [ARROW_FRAMES_MEDIA_TYPE, true],
    ['Application/Vnd.Netwatch.Arrow-Frames', true],
    [ARROW_ACCEPT, true],
    [`application/json, ${ARROW_FRAMES_MEDIA_TYPE}`, true],
    [`application/json, ${ARROW_FRAMES_MEDIA_TYPE};q=0.9`, false],
    [`${ARROW_FRAMES_MEDIA_TYPE};q=0.9, */*;q=0.1`, true],
    [`${ARROW_FRAMES_MEDIA_TYPE};q=0`, false],
    [`${ARROW_FRAMES_MEDIA_TYPE};q=0.5, application/json;q=0.2, */*`, true],
    [`${ARROW_FRAMES_MEDIA_TYPE};q=0.5, */*`, false],
    ['application/vnd.apache.arrow.file', false],
  ])('Accept %j selects Arrow frames: %s', (accept, want) => {
    expect(acceptsArrowFrames(accept)).toBe(want);
  });
});

function makeApp() {
  const registry = new ApiRegistry();
  registry.registerKind('flows', () => {
    const f = frame('flows', [column('src_ip', 'string', ['10.0.0.1', '2001:db8::1', null]), column('bytes', 'number', [1500, 2 ** 40, 3]), column('first_seen', 'time', [FROM, FROM + 1.5, null])], { preferredVisualisationType: 'table' });
    return [f, frame('empty', [column('v', 'number', [])])];
  });
  registry.registerKind('pings', () => [frame('pings', [column('latency_ms', 'number', ['fast'])])]);
  registry.registerKind('logs', () => {
    throw new Error('database is on fire');
  });
  return buildApi({ version: '9.9.9', registry, logger: silent });
}

const QUERIES = [
  { refId: 'A', kind: 'flows' },
  { refId: 'B', kind: 'flows', cidr: ['10.0.0.0/33'] },
  { refId: 'C', kind: 'logs' },
  { refId: 'D', kind: 'threats' },
];

describe('POST /api/v1/query content negotiation', () => {
  const app = makeApp();
  afterAll(() => app.close());
  const post = (accept: string | undefined, queries: unknown[] = QUERIES, extra: Record<string, unknown> = {}) =>
    app.inject({ method: 'POST', url: '/api/v1/query', payload: { from: FROM, to: TO, queries, ...extra }, headers: accept === undefined ? {} : { accept } });

  it('answers JSON without Accept, with */* and with application/json, the same body each time', async () => {
    const answers = await Promise.all([undefined, '*/*', 'application/json'].map((a) => post(a)));
    for (const r of answers) {
      expect(r.statusCode).toBe(200);
      expect(r.headers['content-type']).toMatch(/^application\/json/);
      expect(r.headers.vary).toMatch(/accept/i);
    }
    expect(answers[1].body).toBe(answers[0].body);
    expect(answers[2].body).toBe(answers[0].body);
  });

  it('answers the Arrow frames envelope when asked: per refId the Arrow files of the JSON frames, or the same coded error', async () => {
    const [json, arrow] = await Promise.all([post(undefined), post(ARROW_ACCEPT)]);
    expect(arrow.statusCode).toBe(200);
    expect(arrow.headers['content-type']).toBe(ARROW_FRAMES_MEDIA_TYPE);
    expect(arrow.headers.vary).toMatch(/accept/i);
    const want = (json.json() as QueryResponse).results;
    const got = decodeArrowFrames(arrow.rawPayload);
    expect([...got.keys()].sort()).toEqual(['A', 'B', 'C', 'D']);
    // The JSON answer's frames written as Arrow give exactly the envelope's bytes: one encoding, two carriers.
    expect(got.get('A')).toEqual({ frames: (want.A.frames as Frame[]).map((f) => Buffer.from(frameToArrow(f))) });
    for (const refId of ['B', 'C', 'D']) expect({ refId, ...got.get(refId) }).toEqual({ refId, error: want[refId].error, status: want[refId].status });
    expect(got.get('B')).toMatchObject({ error: { code: 'NETWATCH_ERR_BAD_CIDR', path: '/queries/1/cidr/0' }, status: 400 });
    expect(got.get('C')).toMatchObject({ error: { code: 'NETWATCH_ERR_INTERNAL' }, status: 500 });
    expect(got.get('D')).toMatchObject({ error: { code: 'NETWATCH_ERR_NOT_IMPLEMENTED' }, status: 501 });
    const t = tableFromIPC((got.get('A') as { frames: Uint8Array[] }).frames[0]);
    expect([t.numRows, t.schema.metadata.get('refId'), t.schema.metadata.get('name'), t.schema.fields.map((f) => String(f.type))]).toEqual([3, 'A', 'flows', ['Utf8', 'Int64', 'Timestamp<NANOSECOND>']]);
  });

  it('answers a refId whose frame does not match its declared types with NETWATCH_ERR_INTERNAL, the others unaffected, and counts it', async () => {
    const r = await post(ARROW_ACCEPT, [
      { refId: 'P', kind: 'pings' },
      { refId: 'A', kind: 'flows' },
    ]);
    const got = decodeArrowFrames(r.rawPayload);
    expect(got.get('P')).toEqual({ error: { code: 'NETWATCH_ERR_INTERNAL', message: 'internal error while encoding the frames as Arrow: field "latency_ms" row 0: expected a number, got "fast"' }, status: 500 });
    expect((got.get('A') as { frames: Uint8Array[] }).frames).toHaveLength(2);
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/^netwatch_query_errors_total\{code="NETWATCH_ERR_INTERNAL"\} [1-9]/m);
  });

  it('documents both representations of the answer and the Accept header in the OpenAPI document', async () => {
    const post = (await app.inject('/api/v1/openapi.json')).json().paths['/api/v1/query'].post;
    expect(Object.keys(post.responses['200'].content)).toEqual(['application/json', ARROW_FRAMES_MEDIA_TYPE]);
    expect(post.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`)).toEqual(['header:Accept']);
    expect(post.description).toContain('NWAF');
  });

  it.each<[string, Record<string, unknown>, unknown[], number, string]>([
    ['a bad time range', { from: TO, to: FROM }, QUERIES, 400, 'NETWATCH_ERR_BAD_TIME_RANGE'],
    ['a duplicate refId', {}, [QUERIES[0], QUERIES[0]], 400, 'NETWATCH_ERR_VALIDATION'],
  ])('keeps whole-request errors (%s) as JSON even when Arrow is asked for', async (_name, extra, queries, status, code) => {
    const r = await post(ARROW_ACCEPT, queries, extra);
    expect(r.statusCode).toBe(status);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.json()).toMatchObject({ error: { code }, status });
  });
});

describe('POST /api/v1/query with Arrow frames over a real socket', () => {
  const app = makeApp();
  let url = '';
  beforeAll(async () => {
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  });
  afterAll(() => app.close());

  it('sends the envelope with its length and content type, which decodes to the frames', async () => {
    const res = await fetch(`${url}/api/v1/query`, { method: 'POST', headers: { 'content-type': 'application/json', accept: ARROW_ACCEPT }, body: JSON.stringify({ from: FROM, to: TO, queries: [QUERIES[0]] }) });
    const body = Buffer.from(await res.arrayBuffer());
    expect([res.status, res.headers.get('content-type'), Number(res.headers.get('content-length'))]).toEqual([200, ARROW_FRAMES_MEDIA_TYPE, body.length]);
    const a = decodeArrowFrames(body).get('A') as { frames: Uint8Array[] };
    expect(a.frames.map((f) => tableFromIPC(f).numRows)).toEqual([3, 0]);
  });
});
