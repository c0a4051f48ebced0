/**
 * The security component as main.ts wires it: configuration through the real loader, a real SQLite file, the
 * real API (buildApi + inject), events parsed from real logs plus constructed ones, and a real FlowTable.
 */
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { ApiRegistry } from '../api/registry';
import { buildApi } from '../api/server';
import type { ComponentDeps } from '../component';
import { loadConfig } from '../config/load';
import { loadSnapshot, saveSnapshot } from '../flows/snapshot';
import { FlowTable } from '../flows/table';
import { T0, feed as feedPackets, type PacketSpec } from '../flows/test-packets';
import { createLogger } from '../log';
import type { LogEvent } from '../logs/events';
import type { Frame, QueryResponse } from '../protocol';
import { describeWithData } from '../testing/data';
import { createSecurityComponent } from './index';
import { seriesValues } from './queries';
import { ev, openStore, parsedLog, tempDir } from './test-harness';
import { writeMmdb } from './test-mmdb';

const tmp = tempDir('netwatch-secc-');
const silent = createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() }));
const IP = '203.0.113.9';
const OTHER = '198.51.100.20';

function start(argv: string[] = [], nowMs = () => Date.now(), flowTable?: FlowTable, dbFile = tmp.file('component.db')) {
  const { config } = loadConfig({ argv, env: {} });
  const { store, events } = openStore(dbFile);
  const api = new ApiRegistry();
  const deps: ComponentDeps = { config, logger: silent, store, api, metrics: new Registry(), events, now: nowMs };
  const security = createSecurityComponent(deps, { flowTable });
  const app = buildApi({ version: 'test', registry: api, logger: silent });
  const feed = (list: LogEvent[]) => {
    for (const e of list) {
      events.push(e);
      security.ingest(e);
    }
  };
  return { store, security, app, feed, api };
}

async function query(app: ReturnType<typeof buildApi>, from: number, to: number, q: Record<string, unknown>): Promise<{ status: number; frames: Frame[]; error?: { code: string; path?: string } }> {
  const res = await app.inject({ method: 'POST', url: '/api/v1/query', payload: { from, to, queries: [{ refId: 'A', ...q }] } });
  const body = res.json() as QueryResponse;
  return { status: res.statusCode, frames: body.results.A.frames ?? [], error: body.results.A.error as { code: string; path?: string } | undefined };
}

function rows(f: Frame, keys?: string[]): Array<Record<string, unknown>> {
  const names = f.schema.fields.map((x) => x.name);
  const n = f.data.values[0]?.length ?? 0;
  return Array.from({ length: n }, (_, i) => Object.fromEntries(names.map((name, j) => [name, f.data.values[j][i]]).filter(([k]) => !keys || keys.includes(k as string))));
}

describe('the security query kinds through the API', () => {
  // An hour ago: five failures and a ban from IP, a login from OTHER; the clock is real, the events are in the past.
  const now = Date.now();
  const t0 = Math.floor(now / 1000) - 3600;
  let store: ReturnType<typeof start>['store'];
  let security: ReturnType<typeof start>['security'];
  let app: ReturnType<typeof start>['app'];
  beforeAll(async () => {
    let feed: ReturnType<typeof start>['feed'];
    ({ store, security, app, feed } = start(['--threat-half-life', '600']));
    await security.start();
    feed([
      ev(t0, 'invalid_user', { ip: IP, user: 'oracle' }),
      ...Array.from({ length: 5 }, (_, i) => ev(t0 + 10 + i, 'failed_password', { ip: IP, user: 'root' })),
      ev(t0 + 20, 'f2b_ban', { ip: IP, source: 'fail2ban', service: 'fail2ban', level: 'notice', metadata: { jail: 'sshd' } }),
      ev(t0 + 620, 'f2b_unban', { ip: IP, source: 'fail2ban', service: 'fail2ban', level: 'notice', metadata: { jail: 'sshd' } }),
      ev(t0 + 30, 'accepted_publickey', { ip: OTHER, user: 'alice' }),
    ]);
  });
  afterAll(async () => {
    await security.stop();
    await app.close();
    store.close();
  });
  const from = (t0 - 60) * 1000;

  it('traces: newest first, filtered by minSeverity and CIDR, with the log line', async () => {
    const all = await query(app, from, now, { kind: 'traces' });
    // Severity climbs with each failure (the invalid-user line counts as the first): 35, then 46.8 ... 61.3.
    expect(rows(all.frames[0], ['ip', 'action', 'severity']).map((r) => `${r.ip} ${r.action} ${r.severity}`)).toEqual([
      `${IP} f2b_unban info`,
      `${OTHER} accepted_publickey info`,
      `${IP} f2b_ban error`,
      `${IP} failed_password error`,
      `${IP} failed_password warning`,
      `${IP} failed_password warning`,
      `${IP} failed_password warning`,
      `${IP} failed_password warning`,
      `${IP} invalid_user notice`,
    ]);
    const high = await query(app, from, now, { kind: 'traces', minSeverity: 'error', cidr: '203.0.113.0/24' });
    expect(rows(high.frames[0], ['ip', 'action', 'root_cause', 'chain', 'message']).filter((r) => r.action === 'f2b_ban')).toEqual([
      { ip: IP, action: 'f2b_ban', root_cause: `fail2ban jail sshd banned ${IP} after 6 failures in 20s`, chain: 'invalid_user → failed_password ×5 → f2b_ban', message: `f2b_ban  ${IP}` },
    ]);
    const none = await query(app, from, now, { kind: 'traces', cidr: '10.0.0.0/8' });
    expect(rows(none.frames[0])).toEqual([]);
  });

  it('traces: a bad CIDR is a coded 400 naming the field', async () => {
    const bad = await query(app, from, now, { kind: 'traces', cidr: '10.0.0.0/33' });
    expect(bad.error).toMatchObject({ code: 'NETWATCH_ERR_BAD_CIDR', path: '/queries/0/cidr/0' });
  });

  it('threats: by decayed score, with counters, filtered by minScore', async () => {
    const res = await query(app, from, now, { kind: 'threats' });
    const got = rows(res.frames[0], ['ip', 'threat_score', 'failures', 'invalid_users', 'bans', 'accepted']);
    // IP: 110 points (78.2, 78.0 with the decay over its 20 s) at t0+20; the unban adds nothing; then about 6
    // half-lives of 600 s to the end of the range.
    const decayed = 78.0 * 2 ** -((now / 1000 - (t0 + 20)) / 600);
    expect(got).toEqual([
      { ip: IP, threat_score: expect.closeTo(decayed, 1), failures: 6, invalid_users: 1, bans: 1, accepted: 0 },
      { ip: OTHER, threat_score: 0, failures: 0, invalid_users: 0, bans: 0, accepted: 1 },
    ]);
    const min = await query(app, from, now, { kind: 'threats', minScore: 0.5 });
    expect(rows(min.frames[0], ['ip'])).toEqual([{ ip: IP }]);
  });

  it('threat_scores: one series per address labelled ip, ending at the end of the range with the current score', async () => {
    const res = await query(app, from, now, { kind: 'threat_scores', intervalMs: 60_000 });
    expect(res.frames.map((f) => f.schema.fields[1].labels)).toEqual([{ ip: IP }]);
    const f = res.frames[0];
    const times = f.data.values[0] as number[];
    const values = f.data.values[1] as number[];
    expect(times.at(-1)).toBe(now);
    expect(times[1] - times[0]).toBe(60_000);
    // Peak right after the ban, then halving every 10 minutes.
    expect(Math.max(...values)).toBeCloseTo(78, 0);
    const peakAt = values.indexOf(Math.max(...values));
    // Ten 60 s steps later is one half-life later, give or take where in its step the peak fell.
    expect(values[peakAt + 10]).toBeGreaterThanOrEqual(values[peakAt] / 2 - 0.1);
    expect(values[peakAt + 10]).toBeLessThanOrEqual((values[peakAt] / 2) * 2 ** (60 / 600) + 0.1);
    // An alert "above 80" never fires on this series; "above 70" fires only in the first minutes after the ban.
    expect(values.filter((v) => v > 70).length).toBeLessThanOrEqual(3);
    const filtered = await query(app, from, now, { kind: 'threat_scores', minScore: 90 });
    expect(filtered.frames).toEqual([]);
  });

  it('annotations: the ban as a region up to its unban, the unban, and the brute force pattern', async () => {
    const res = await query(app, from, now, { kind: 'annotations' });
    expect(rows(res.frames[0], ['time', 'timeEnd', 'title', 'tags', 'source'])).toEqual([
      // The invalid-user line at t0 is the first of the failures; the sixth (t0+14) extends the episode (severity 61).
      { time: t0 * 1000, timeEnd: (t0 + 14) * 1000, title: `Pattern: ssh brute force from ${IP}`, tags: 'pattern,ssh_brute_force,error', source: 'auth' },
      { time: (t0 + 20) * 1000, timeEnd: (t0 + 620) * 1000, title: `Ban ${IP}`, tags: 'ban,sshd', source: 'fail2ban' },
      { time: (t0 + 620) * 1000, timeEnd: null, title: `Unban ${IP}`, tags: 'unban,sshd', source: 'fail2ban' },
    ]);
    const f2b = await query(app, from, now, { kind: 'annotations', source: 'fail2ban' });
    expect(rows(f2b.frames[0], ['title'])).toEqual([{ title: `Ban ${IP}` }, { title: `Unban ${IP}` }]);
  });

  it('reports health and counters', async () => {
    const health = (await app.inject({ method: 'GET', url: '/api/v1/health' })).json();
    expect(health.components.security).toEqual({ state: 'ok', detail: '2 addresses in memory' });
    const stats = (await app.inject({ method: 'GET', url: '/api/v1/stats' })).json();
    expect(stats.components.security).toMatchObject({ events: 9, traced: 9, ignored: 0, bruteForce: 1, ingest_errors: 0, reputation_ips: 2 });
  });
});

describe('threat score series values', () => {
  it('gives each point the highest score of its step, decaying between changes', () => {
    // A score of 80 at t=100, then nothing: points at 100, 160, ..., with a 60 s half-life.
    expect(seriesValues([[100, 80]], [40, 100, 160, 220, 280], 60, 60)).toEqual([0, 80, 80, 40, 20]);
    // Two changes inside one step: the higher counts.
    expect(seriesValues([[10, 30], [20, 60], [30, 50]], [0, 60], 60, 3600)).toEqual([0, 60]);
  });
});

describe('scans through the component', () => {
  it('turns a port scan in the flow table into a pattern, a trace and a higher score for the scanner', async () => {
    const table = new FlowTable({ maxFlows: 10_000 });
    const specs: PacketSpec[] = [];
    for (let i = 0; i < 20; i++) specs.push({ src: '192.0.2.66', dst: '192.0.2.10', sport: 40000 + i, dport: 1000 + i, flags: 'S', t: i * 10 }, { src: '192.0.2.10', dst: '192.0.2.66', sport: 1000 + i, dport: 40000 + i, flags: 'RA', t: i * 10 + 1 });
    feedPackets(table, specs);
    table.sweep((T0 + 10_000) * 1000);
    const { store, security, app } = start([], () => T0 + 10_000, table);
    await security.start();
    security.scanFlows();
    const range = { from: T0 - 60_000, to: T0 + 60_000 };
    const ann = await query(app, range.from, range.to, { kind: 'annotations', source: 'flows' });
    expect(rows(ann.frames[0], ['title', 'text', 'tags'])).toEqual([
      { title: 'Pattern: port scan from 192.0.2.66', text: 'port scan: 192.0.2.66 failed to connect to 20 ports of 192.0.2.10 in 0s', tags: 'pattern,port_scan,error' },
    ]);
    const threats = await query(app, range.from, range.to, { kind: 'threats' });
    // 50 at the scan, decayed to the end of the range (one minute of a one-hour half-life).
    expect(rows(threats.frames[0], ['ip', 'threat_score', 'scans'])).toEqual([{ ip: '192.0.2.66', threat_score: 49.4, scans: 1 }]);
    const traces = await query(app, range.from, range.to, { kind: 'traces', source: 'flows' });
    expect(rows(traces.frames[0], ['ip', 'action', 'severity_score', 'threat_score'])).toEqual([{ ip: '192.0.2.66', action: 'port_scan', severity_score: 70, threat_score: 50 }]);
    const evidence = JSON.parse(store.db.prepare('SELECT evidence FROM trace_patterns').pluck().get() as string);
    expect([evidence.target, evidence.ports.length, evidence.flow_keys[0]]).toEqual(['192.0.2.10', 20, 'tcp 192.0.2.66:40000 > 192.0.2.10:1000 refused']);
    await security.stop();
    await app.close();
    store.close();
  });
});

describe('scans across a restart from a flow table snapshot', () => {
  const SCANNER = '192.0.2.66';
  const VICTIM = '192.0.2.10';
  /** SYNs from SCANNER to `ports` of VICTIM, each refused, 10 ms apart from `atMs` (after T0). */
  function scan(ports: number[], atMs: number): PacketSpec[] {
    return ports.flatMap((port, i) => [
      { src: SCANNER, dst: VICTIM, sport: 40000 + port, dport: port, flags: 'S', t: atMs + i * 10 },
      { src: VICTIM, dst: SCANNER, sport: port, dport: 40000 + port, flags: 'RA', t: atMs + i * 10 + 1 },
    ]);
  }
  const range = (n: number, from: number) => Array.from({ length: n }, (_, i) => from + i);

  /** One run of the service: the table restored from `snapshot` (if any), `packets` fed, scanned, stopped, saved. */
  async function run(dbFile: string, snapshot: string, restore: boolean, packets: PacketSpec[], untilMs: number) {
    const table = new FlowTable({ maxFlows: 10_000 });
    if (restore) expect(loadSnapshot(table, snapshot, (T0 + untilMs) * 1000)).toMatchObject({ dropped: 0 });
    feedPackets(table, packets);
    table.sweep((T0 + untilMs) * 1000);
    const { store, security, app } = start([], () => T0 + untilMs, table, dbFile);
    await security.start();
    security.scanFlows();
    await security.stop();
    await app.close();
    saveSnapshot(table, snapshot);
    // What stop() queued, written now (store.close() would), to be read here.
    security.engine.flushAll();
    const db = store.db;
    const out = {
      patterns: (db.prepare('SELECT pattern_type, ip, first_seen, last_seen, count, evidence FROM trace_patterns ORDER BY id').all() as Array<{ pattern_type: string; ip: string; first_seen: number; last_seen: number; count: number; evidence: string }>).map((p) => {
        const e = JSON.parse(p.evidence) as { ports: number[]; target: string };
        return { ...p, evidence: { target: e.target, ports: [...e.ports].sort((x, y) => x - y) } };
      }),
      scans: db.prepare('SELECT scans FROM ip_reputation WHERE ip = ?').pluck().get(SCANNER),
      traces: db.prepare("SELECT count(*) FROM event_traces WHERE source = 'flows'").pluck().get(),
    };
    store.close();
    return out;
  }

  const t0 = Math.floor(T0 / 1000);
  it('reports a scan once when the restored flows are scanned again, and goes on with the same episode', async () => {
    const db = tmp.file('restart.db');
    const snap = tmp.file('flows.snapshot');
    const first = await run(db, snap, false, scan(range(20, 1000), 0), 10_000);
    expect(first).toEqual({ patterns: [{ pattern_type: 'port_scan', ip: SCANNER, first_seen: t0, last_seen: t0, count: 20, evidence: { target: VICTIM, ports: range(20, 1000) } }], scans: 1, traces: 1 });
    // Restarted with the same 20 flows in the table: nothing new.
    expect(await run(db, snap, true, [], 20_000)).toEqual(first);
    // Restarted again, and the scanner goes on with 10 more ports a minute later: the same episode grows.
    const after = await run(db, snap, true, scan(range(10, 2000), 60_000), 70_000);
    expect(after).toEqual({
      patterns: [{ pattern_type: 'port_scan', ip: SCANNER, first_seen: t0, last_seen: t0 + 60, count: 30, evidence: { target: VICTIM, ports: [...range(20, 1000), ...range(10, 2000)] } }],
      scans: 1,
      traces: 1,
    });
  });

  it('still reports a new episode after the restart: the same scanner back after a quiet window', async () => {
    const db = tmp.file('restart.db');
    const snap = tmp.file('flows.snapshot');
    await run(db, snap, false, scan(range(20, 1000), 0), 10_000);
    // Ten minutes later (the window is five), 20 other ports of the same host.
    const later = await run(db, snap, true, scan(range(20, 3000), 600_000), 610_000);
    expect(later.patterns.map((p) => [p.first_seen, p.count])).toEqual([
      [t0, 20],
      [t0 + 600, 20],
    ]);
    expect([later.scans, later.traces]).toEqual([2, 2]);
  });
});

describeWithData('the component on a real log', () => {
  it('serves the brute force of crowdsec_ssh-slow-bf.log as a threat above 80 at its last line', async () => {
    const log = parsedLog('crowdsec_ssh-slow-bf.log', 'auth');
    const last = log.at(-1)!.timestamp;
    const { store, security, app, feed } = start([], () => last * 1000);
    await security.start();
    feed(log);
    const res = await query(app, (log[0].timestamp - 60) * 1000, last * 1000, { kind: 'threat_scores', intervalMs: 30_000 });
    const values = res.frames[0].data.values[1] as number[];
    expect(res.frames.map((f) => f.schema.fields[1].labels?.ip)).toEqual(['103.100.210.198']);
    // 22 invalid-user lines: 44 failures' worth of points arriving over 11 minutes, never decaying faster than they come.
    expect(values.at(-1)!).toBeGreaterThan(80);
    expect([...values].sort((a, b) => a - b)).toEqual(values);
    await security.stop();
    await app.close();
    store.close();
  });
});

describe('GeoIP in the threats table', () => {
  it('fills country and ASN from the --maxmind-db files, and reports a missing one in the health', async () => {
    const asn = tmp.file('asn.mmdb');
    const country = tmp.file('country.mmdb');
    writeMmdb(asn, 'GeoLite2-ASN', '203.0.113.0', { autonomous_system_number: 64500 });
    writeMmdb(country, 'GeoLite2-Country', '203.0.113.0', { country: { iso_code: 'NL' } });
    const missing = tmp.file('gone.mmdb');
    const now = Date.now();
    const { store, security, app, feed } = start(['--maxmind-db', asn, '--maxmind-db', country, '--maxmind-db', missing], () => now);
    await security.start();
    feed([ev(now / 1000, 'failed_password', { ip: IP, user: 'root' }), ev(now / 1000, 'failed_password', { ip: OTHER, user: 'root' })]);
    const res = await query(app, now - 60_000, now, { kind: 'threats', orderBy: 'last_seen' });
    expect(rows(res.frames[0], ['ip', 'country', 'asn'])).toEqual([
      { ip: OTHER, country: null, asn: null },
      { ip: IP, country: 'NL', asn: 64500 },
    ]);
    const health = (await app.inject({ method: 'GET', url: '/api/v1/health' })).json();
    expect(health.components.security.state).toBe('degraded');
    expect(health.components.security.detail).toContain(missing);
    await security.stop();
    await app.close();
    store.close();
  });
});
