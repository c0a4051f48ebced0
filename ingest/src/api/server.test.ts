import { Writable } from 'node:stream';
import { createLogger } from '../log';
import { column, frame, ErrorCodes, KINDS, MAX_QUERIES, type QueryResponse } from '../protocol';
import { ApiRegistry } from './registry';
import { buildApi, type ApiServer } from './server';

const silent = createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() }));
const FROM = Date.parse('2026-11-22T10:00:00Z');
const TO = Date.parse('2026-11-22T11:00:00Z');

function makeApp(token?: string): { app: ApiServer; registry: ApiRegistry; seen: unknown[] } {
  const registry = new ApiRegistry();
  const seen: unknown[] = [];
  // A real handler over a small in-memory table: it filters by the parsed CIDRs, ports and protocols it receives.
  const rows = [
    { ip: 0x0a000001, port: 22, proto: 6 },
    { ip: 0x0a010203, port: 443, proto: 6 },
    { ip: 0xc0a80101, port: 53, proto: 17 },
  ];
  registry.registerKind('flows', (q, ctx) => {
    seen.push({ q, ctx });
    const keep = rows.filter(
      (r) =>
        (q.cidr.length === 0 || q.cidr.some((c) => c.family === 4 && (r.ip & c.masks[0]) >>> 0 === c.words[0])) &&
        (q.port.length === 0 || q.port.some(([lo, hi]) => r.port >= lo && r.port <= hi)) &&
        (q.protocol.length === 0 || q.protocol.includes(r.proto)),
    );
    return [frame('flows', [column('port', 'number', keep.map((r) => r.port)), column('protocol', 'number', keep.map((r) => r.proto))])];
  });
  registry.registerKind('logs', () => {
    throw new Error('database is on fire');
  });
  registry.registerValues('targets', () => ['1.1.1.1', '::1']);
  registry.registerComponent('store', { health: () => ({ state: 'ok' }), stats: () => ({ rows_pings: 12, file_size_bytes: 4096 }) });
  registry.registerComponent('flows', { health: () => ({ state: 'degraded', detail: 'capture drops' }), stats: () => ({ packets: 100, interface: 'lo' }) });
  const app = buildApi({ version: '9.9.9', registry, logger: silent, token });
  return { app, registry, seen };
}

async function query(app: ApiServer, queries: unknown[], extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  const res = await app.inject({ method: 'POST', url: '/api/v1/query', payload: { from: FROM, to: TO, queries, ...extra }, headers });
  return { status: res.statusCode, body: res.json() as QueryResponse & { error?: { code: string; path?: string; message: string }; status?: number } };
}

describe('POST /api/v1/query', () => {
  const { app, seen } = makeApp();
  afterAll(() => app.close());

  it('runs a query with parsed filters and returns frames tagged with its refId', async () => {
    const { status, body } = await query(app, [{ refId: 'A', kind: 'flows', cidr: ['10.0.0.0/16'], port: ['20-25', 443], protocol: ['tcp'] }]);
    expect(status).toBe(200);
    expect(body.results.A.frames).toEqual([
      {
        schema: { name: 'flows', refId: 'A', fields: [{ name: 'port', type: 'number' }, { name: 'protocol', type: 'number' }] },
        data: { values: [[22], [6]] },
      },
    ]);
    expect((seen.at(-1) as { ctx: { fromMs: number; toMs: number } }).ctx).toMatchObject({ fromMs: FROM, toMs: TO });
  });

  it('accepts RFC 3339 and relative times and comma-separated template values', async () => {
    const { status, body } = await query(app, [{ refId: 'A', kind: 'flows', cidr: '10.1.0.0/16,192.168.0.0/16', port: '{443,53}' }], {
      from: '2026-11-22T10:00:00Z',
      to: 'now',
    });
    expect(status).toBe(200);
    expect(body.results.A.frames![0].data.values[0]).toEqual([443, 53]);
  });

  it('answers each refId on its own: a failing query does not fail the others', async () => {
    const { status, body } = await query(app, [
      { refId: 'ok', kind: 'flows' },
      { refId: 'cidr', kind: 'flows', cidr: ['10.0.0.0/8', '10.0.0.0/33'] },
      { refId: 'port', kind: 'flows', dstPort: ['70000'] },
      { refId: 'proto', kind: 'flows', protocol: ['tcpp'] },
      { refId: 'kind', kind: 'nonsense' },
      { refId: 'todo', kind: 'pings' },
      { refId: 'val', kind: 'flows', limit: 0 },
      { refId: 'grp', kind: 'flow_series', groupBy: 'mac' },
      { refId: 'boom', kind: 'logs' },
    ]);
    expect(status).toBe(200);
    const summary = Object.fromEntries(Object.entries(body.results).map(([k, r]) => [k, r.error ? [r.status, r.error.code, r.error.path] : 'frames']));
    expect(summary).toEqual({
      ok: 'frames',
      cidr: [400, 'NETWATCH_ERR_BAD_CIDR', '/queries/1/cidr/1'],
      port: [400, 'NETWATCH_ERR_BAD_PORT', '/queries/2/dstPort/0'],
      proto: [400, 'NETWATCH_ERR_BAD_PROTOCOL', '/queries/3/protocol/0'],
      kind: [400, 'NETWATCH_ERR_UNKNOWN_KIND', '/queries/4/kind'],
      todo: [501, 'NETWATCH_ERR_NOT_IMPLEMENTED', '/kind'],
      val: [400, 'NETWATCH_ERR_VALIDATION', '/queries/6/limit'],
      grp: [400, 'NETWATCH_ERR_VALIDATION', '/queries/7/groupBy'],
      boom: [500, 'NETWATCH_ERR_INTERNAL', undefined],
    });
    expect(body.results.boom.error!.message).not.toMatch(/fire/);
  });

  it('ignores stale fields of other kinds left in a query model', async () => {
    const { body } = await query(app, [{ refId: 'A', kind: 'stats', cidr: ['not a cidr'], target: 'x' }]);
    expect(body.results.A.error).toBeUndefined();
  });

  it('answers every kind of the protocol either with frames or a coded error, never an unknown-kind error', async () => {
    const { body } = await query(app, KINDS.map((kind, i) => ({ refId: `q${i}`, kind })));
    for (const r of Object.values(body.results)) {
      if (r.error) expect(['NETWATCH_ERR_NOT_IMPLEMENTED', 'NETWATCH_ERR_INTERNAL']).toContain(r.error.code);
      else expect(r.frames!.length).toBeGreaterThan(0);
    }
  });

  it('implements the stats kind from the components counters', async () => {
    const { body } = await query(app, [{ refId: 'S', kind: 'stats', source: 'store' }]);
    const [f] = body.results.S.frames!;
    expect(f.schema.fields.map((x) => x.name)).toEqual(['component', 'name', 'value', 'text']);
    expect(f.data.values).toEqual([
      ['store', 'store'],
      ['rows_pings', 'file_size_bytes'],
      [12, 4096],
      [null, null],
    ]);
  });

  it.each([
    [{ from: 'yesterday' }, '/from'],
    [{ to: '2026-13-45T00:00:00Z' }, '/to'],
    [{ from: TO, to: FROM }, '/from'],
  ])('refuses a bad time range %j with 400 NETWATCH_ERR_BAD_TIME_RANGE', async (extra, path) => {
    const { status, body } = await query(app, [{ refId: 'A', kind: 'flows' }], extra);
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ code: 'NETWATCH_ERR_BAD_TIME_RANGE', path });
    expect(body.status).toBe(400);
  });

  it(`refuses more than ${MAX_QUERIES} queries with 400`, async () => {
    const qs = Array.from({ length: MAX_QUERIES + 1 }, (_, i) => ({ refId: `q${i}`, kind: 'flows' }));
    const { status, body } = await query(app, qs);
    expect(status).toBe(400);
    expect(body.error!.code).toBe('NETWATCH_ERR_TOO_MANY_QUERIES');
    expect((await query(app, qs.slice(0, MAX_QUERIES))).status).toBe(200);
  });

  it('refuses duplicate refIds, missing fields and unknown top-level keys with NETWATCH_ERR_VALIDATION and the path', async () => {
    expect((await query(app, [{ refId: 'A', kind: 'flows' }, { refId: 'A', kind: 'flows' }])).body.error).toMatchObject({ code: 'NETWATCH_ERR_VALIDATION', path: '/queries/1/refId' });
    expect((await query(app, [{ kind: 'flows' }])).body.error).toMatchObject({ code: 'NETWATCH_ERR_VALIDATION', path: '/queries/0/refId' });
    expect((await query(app, [{ refId: 'A', kind: 'flows' }], { extra: 1 })).body.error).toMatchObject({ code: 'NETWATCH_ERR_VALIDATION', path: '/extra' });
    expect((await query(app, [])).body.error).toMatchObject({ code: 'NETWATCH_ERR_VALIDATION', path: '/queries' });
  });

  it('refuses a body over 1 MiB with 413', async () => {
    const big = { from: FROM, to: TO, queries: [{ refId: 'A', kind: 'flows', text: 'x'.repeat(1024 * 1024) }] };
    const res = await app.inject({ method: 'POST', url: '/api/v1/query', payload: JSON.stringify(big), headers: { 'content-type': 'application/json' } });
    expect(res.statusCode).toBe(413);
    expect(res.json().error.code).toBe('NETWATCH_ERR_BODY_TOO_LARGE');
  });

  it('refuses malformed JSON with 400 and other content types with 415', async () => {
    const bad = await app.inject({ method: 'POST', url: '/api/v1/query', payload: '{"from": 1,', headers: { 'content-type': 'application/json' } });
    expect([bad.statusCode, bad.json().error.code]).toEqual([400, 'NETWATCH_ERR_BAD_JSON']);
    const text = await app.inject({ method: 'POST', url: '/api/v1/query', payload: 'hello', headers: { 'content-type': 'text/plain' } });
    expect([text.statusCode, text.json().error.code]).toEqual([415, 'NETWATCH_ERR_UNSUPPORTED_MEDIA_TYPE']);
  });
});

describe('other routes', () => {
  const { app } = makeApp();
  afterAll(() => app.close());

  it('GET /api/v1/health reports version, uptime and each component, degraded when one is', async () => {
    const res = await app.inject('/api/v1/health');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      status: 'degraded',
      version: '9.9.9',
      uptimeSeconds: expect.any(Number),
      components: { store: { state: 'ok' }, flows: { state: 'degraded', detail: 'capture drops' } },
    });
  });

  it('GET /api/v1/stats returns every component counters', async () => {
    const res = await app.inject('/api/v1/stats');
    expect(res.json().components).toEqual({ store: { rows_pings: 12, file_size_bytes: 4096 }, flows: { packets: 100, interface: 'lo' } });
  });

  it('GET /api/v1/values/:name serves registered and built-in lists, 501 for unprovided ones and 404 for unknown ones', async () => {
    expect((await app.inject('/api/v1/values/targets')).json()).toEqual({ name: 'targets', values: ['1.1.1.1', '::1'] });
    expect((await app.inject('/api/v1/values/kinds')).json().values).toEqual([...KINDS]);
    expect((await app.inject('/api/v1/values/protocols')).json().values).toEqual(expect.arrayContaining(['tcp', 'udp', 'icmp']));
    const todo = await app.inject('/api/v1/values/interfaces');
    expect([todo.statusCode, todo.json().error.code]).toEqual([501, 'NETWATCH_ERR_NOT_IMPLEMENTED']);
    const unknown = await app.inject('/api/v1/values/passwords');
    expect([unknown.statusCode, unknown.json().error.code]).toEqual([404, 'NETWATCH_ERR_NOT_FOUND']);
  });

  it('GET /api/v1/openapi.json documents every route and the schemas', async () => {
    const doc = (await app.inject('/api/v1/openapi.json')).json();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual(['/api/v1/health', '/api/v1/openapi.json', '/api/v1/query', '/api/v1/stats', '/api/v1/values/{name}', '/metrics']);
    expect(doc.components.schemas.QueryRequest.properties.queries.maxItems).toBe(MAX_QUERIES);
    for (const code of Object.keys(ErrorCodes)) expect(doc.info.description).toContain(code);
  });

  it('GET /metrics exposes request counts and latencies by route template, never a raw path', async () => {
    await app.inject('/api/v1/values/targets');
    await app.inject('/api/v1/values/10.1.2.3');
    const text = (await app.inject('/metrics')).body;
    expect(text).toMatch(/netwatch_http_requests_total\{route="\/api\/v1\/values\/:name",method="GET",status="200"\} \d+/);
    expect(text).toMatch(/netwatch_http_request_duration_seconds_bucket/);
    expect(text).not.toContain('10.1.2.3');
  });

  it('unknown routes answer 404 NETWATCH_ERR_NOT_FOUND', async () => {
    const res = await app.inject('/api/v2/nothing');
    expect([res.statusCode, res.json().error.code]).toEqual([404, 'NETWATCH_ERR_NOT_FOUND']);
  });
});

describe('bearer token', () => {
  const { app } = makeApp('s3cret-token');
  afterAll(() => app.close());

  it.each([
    ['no header', undefined],
    ['wrong token', 'Bearer nope'],
    ['token prefix', 'Bearer s3cret'],
    ['wrong scheme', 'Basic s3cret-token'],
  ])('refuses %s with 401 NETWATCH_ERR_UNAUTHORIZED on every protected route', async (_name, authorization) => {
    const headers: Record<string, string> = authorization ? { authorization } : {};
    for (const url of ['/api/v1/stats', '/api/v1/values/targets', '/api/v1/openapi.json']) {
      const res = await app.inject({ url, headers });
      expect([res.statusCode, res.json().error.code]).toEqual([401, 'NETWATCH_ERR_UNAUTHORIZED']);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    }
    const q = await query(app, [{ refId: 'A', kind: 'flows' }], {}, headers);
    expect(q.status).toBe(401);
  });

  it('accepts the right token and leaves health and metrics open', async () => {
    expect((await app.inject({ url: '/api/v1/stats', headers: { authorization: 'Bearer s3cret-token' } })).statusCode).toBe(200);
    expect((await query(app, [{ refId: 'A', kind: 'flows' }], {}, { authorization: 'bearer s3cret-token' })).status).toBe(200);
    expect((await app.inject('/api/v1/health')).statusCode).toBe(200);
    expect((await app.inject('/metrics')).statusCode).toBe(200);
  });
});

describe('over a real socket', () => {
  it('serves queries on loopback with the token', async () => {
    const { app } = makeApp('tok');
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const { port } = app.server.address() as { port: number };
      const url = `http://127.0.0.1:${port}`;
      const res = await fetch(`${url}/api/v1/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer tok' },
        body: JSON.stringify({ from: FROM, to: TO, queries: [{ refId: 'A', kind: 'flows', port: 53 }] }),
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as QueryResponse).results.A.frames![0].data.values).toEqual([[53], [17]]);
      expect((await fetch(`${url}/api/v1/stats`)).status).toBe(401);
      expect((await fetch(`${url}/api/v1/health`)).status).toBe(200);
    } finally {
      await app.close();
    }
  });
});
