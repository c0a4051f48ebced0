/**
 * The pings component as main.ts wires it: configuration from a YAML file, a real SQLite file, the real API, and
 * real probes on loopback (ICMP, TCP, HTTPS with a certificate made here).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { Registry } from 'prom-client';
import { ApiRegistry } from '../api/registry';
import { buildApi } from '../api/server';
import { loadConfig } from '../config/load';
import { createLogger } from '../log';
import { createLogEventWriter } from '../logs/events';
import type { QueryResponse } from '../protocol';
import { Store } from '../store';
import { createPingComponent } from './component';
import { selfSignedCert } from './test-tls';
import { systemResolver, type Resolver } from './scheduler';

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
}

// Only .invalid names fail, without asking a DNS server (tests send nothing off the machine).
const resolve: Resolver = (host, family, timeoutMs) =>
  host.endsWith('.invalid') ? Promise.reject(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' })) : systemResolver(host, family, timeoutMs);

describe('createPingComponent', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'netwatch-pingc-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('probes every kind of target in rounds, stores them, serves pings, ping_summary and targets, and flushes on stop', async () => {
    const { key, cert } = selfSignedCert(dir, 42);
    const web = https.createServer({ key, cert }, (_req, res) => res.end('ok'));
    const open = net.createServer((c) => c.destroy());
    const closed = net.createServer();
    const [webPort, openPort, closedPort] = await Promise.all([listen(web), listen(open), listen(closed)]);
    await new Promise((r) => closed.close(r));

    const yml = path.join(dir, 'netwatch.yml');
    writeFileSync(
      yml,
      [
        'ping-interval: 1.5',
        'ping-count: 3',
        'ping-spacing: 50',
        'ping-timeout: 500',
        'ping:',
        '  - 127.0.0.1',
        '  - icmp://[::1]',
        `  - tcp://127.0.0.1:${openPort}`,
        `  - target: tcp://127.0.0.1:${closedPort}`,
        '    name: closed',
        `  - target: https://127.0.0.1:${webPort}/health`,
        '    name: web',
        '    insecure: true',
        '  - target: icmp://nowhere.invalid',
        '    count: 1',
        '',
      ].join('\n'),
    );
    const { config } = loadConfig({ argv: ['--config', yml], env: {} });
    const lines: string[] = [];
    const logger = createLogger('info', new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }));
    const dbPath = path.join(dir, 'netwatch.db');
    const store = Store.open({ path: dbPath });
    const registry = new ApiRegistry();
    const deps = { config, logger, store, api: registry, metrics: new Registry(), events: createLogEventWriter(store), now: Date.now };
    const c = createPingComponent(deps, { resolve });
    const app = buildApi({ version: 'test', registry, logger });
    const t0 = Date.now();
    try {
      await c.start();
      expect(c.icmp?.mechanism).toBe(process.getuid!() === 0 ? 'raw' : 'fping');
      const chosen = lines.map((l) => JSON.parse(l)).find((l) => l.icmp);
      expect(chosen).toMatchObject({ level: 30, icmp: c.icmp!.mechanism, msg: `pings: ICMP echo by ${c.icmp!.label}: ${c.icmp!.reason}; ${c.icmp!.ttl.reason}` });
      // oping (installed by setup.sh) reads the TTLs the mechanism cannot: IPv6 hop limits under raw, all under fping.
      expect([c.icmp!.label, chosen.ttl.v4, chosen.ttl.v6]).toEqual(
        c.icmp!.mechanism === 'raw' ? ['raw (IPv4), oping for IPv6 hop limits', 'reply header', 'oping'] : ['fping, oping for TTL and hop limits', 'oping', 'oping'],
      );

      // Two rounds: at 0 and 1.5 s.
      await new Promise((r) => setTimeout(r, 2600));

      const query = async (q: Record<string, unknown>) => {
        const res = await app.inject({ method: 'POST', url: '/api/v1/query', payload: { from: t0 - 1000, to: Date.now() + 1000, queries: [{ refId: 'A', ...q }] } });
        expect(res.statusCode).toBe(200);
        return (res.json() as QueryResponse).results.A.frames!;
      };
      const summary = await query({ kind: 'ping_summary' });
      const cols = summary[0].schema.fields.map((f) => f.name);
      const rows = summary[0].data.values[0].map((_, i) => Object.fromEntries(cols.map((n, k) => [n, summary[0].data.values[k][i]])));
      const byName = Object.fromEntries(rows.map((r) => [r.target as string, r]));
      expect(Object.keys(byName).sort()).toEqual(['127.0.0.1', 'closed', 'icmp://[::1]', 'icmp://nowhere.invalid', `tcp://127.0.0.1:${openPort}`, 'web']);
      const view = (name: string) => {
        const r = byName[name];
        return { loss: r.loss, up: r.last_success !== null, latency: typeof r.avg_ms === 'number' && r.avg_ms > 0, ttl: r.ttl, cert: r.cert_days_left, error: r.last_error };
      };
      expect(view('127.0.0.1')).toEqual({ loss: 0, up: true, latency: true, ttl: 64, cert: null, error: null });
      expect(view('icmp://[::1]')).toEqual({ loss: 0, up: true, latency: true, ttl: 64, cert: null, error: null });
      expect(view(`tcp://127.0.0.1:${openPort}`)).toEqual({ loss: 0, up: true, latency: true, ttl: null, cert: null, error: null });
      expect(view('closed')).toEqual({ loss: 100, up: false, latency: false, ttl: null, cert: null, error: 'connect: ECONNREFUSED' });
      expect(view('web')).toEqual({ loss: 0, up: true, latency: true, ttl: null, cert: 42, error: null });
      expect(view('icmp://nowhere.invalid')).toEqual({ loss: 100, up: false, latency: false, ttl: null, cert: null, error: 'resolve nowhere.invalid: ENOTFOUND' });

      const series = await query({ kind: 'pings', target: ['web', 'closed'], metric: ['latency_ms', 'packet_loss'] });
      expect(series.map((f) => [f.schema.name, f.schema.fields[1].labels, f.data.values[0].length])).toEqual([
        ['closed latency_ms', { target: 'closed' }, 2],
        ['closed packet_loss', { target: 'closed' }, 2],
        ['web latency_ms', { target: 'web' }, 2],
        ['web packet_loss', { target: 'web' }, 2],
      ]);
      expect(series[1].data.values[1]).toEqual([100, 100]);

      const values = await app.inject({ method: 'GET', url: '/api/v1/values/targets' });
      expect(values.json()).toEqual({ name: 'targets', values: Object.keys(byName).sort() });

      const health = (await app.inject({ method: 'GET', url: '/api/v1/health' })).json() as { components: Record<string, { state: string; detail: string }> };
      expect(health.components.pings).toEqual({ state: 'degraded', detail: `2 of 6 targets failing; ICMP by ${c.icmp!.label}` });
      const stats = (await app.inject({ method: 'GET', url: '/api/v1/stats' })).json() as { components: { pings: Record<string, unknown> } };
      expect(stats.components.pings).toMatchObject({ targets: 6, rounds: 12, rounds_failed: 4, resolve_failures: 2, icmp_mechanism: c.icmp!.mechanism, icmp_ttl_v6: 'oping', rows_dropped: 0 });
      // One companion echo per ICMP target with an address and round: IPv6 only under raw, both families under fping.
      const p = stats.components.pings;
      expect([p.icmp_ttl_asked, p.icmp_ttl_answered, p.icmp_ttl_processes]).toEqual(c.icmp!.mechanism === 'raw' ? [2, 2, 2] : [4, 4, 2]);
      // Failing targets are logged once when they start failing, not every round.
      expect(lines.filter((l) => l.includes('ping target is failing')).length).toBe(2);
    } finally {
      await c.stop();
      await app.close();
      store.close();
      web.close();
      open.close();
    }
    const db = new Database(dbPath, { readonly: true });
    try {
      const count = (t: string) => db.prepare(`SELECT count(*) FROM ${t}`).pluck().get();
      // 6 targets x 2 rounds; ping_probes: web every round, closed and nowhere for their failures.
      expect([count('pings'), count('ping_metadata'), count('ping_probes')]).toEqual([12, 12, 6]);
      expect(db.prepare("SELECT DISTINCT kind, tls_version, cert_issuer, cert_days_left, status_code FROM ping_probes WHERE target = 'web'").raw().all()).toEqual([['https', 'TLSv1.3', 'CN=netwatch-test, O=Netwatch Tests', 42, 200]]);
    } finally {
      db.close();
    }
  });

  it.each([
    ['oping', { opingBin: '/nonexistent/oping' }, '--ping-ttl oping: '],
    ['ping', { pingBin: '/nonexistent/ping' }, '--ping-ttl ping: '],
  ] as const)('--ping-ttl %s insists on that tool: without it the service refuses to start, saying why', async (tool, bins, prefix) => {
    const { config } = loadConfig({ argv: ['--ping', '::1', '--ping-ttl', tool], env: {} });
    const store = Store.open({ path: ':memory:' });
    try {
      const deps = { config, logger: createLogger('silent'), store, api: new ApiRegistry(), metrics: new Registry(), events: createLogEventWriter(store), now: Date.now };
      const raw = process.getuid!() === 0;
      const what = raw ? 'IPv4 TTL from the reply header; no IPv6 hop limit (raw IPv6 sockets never see the IPv6 header)' : 'no TTL (fping 5.1 prints none)';
      const name = tool === 'oping' ? 'oping' : 'ping(8)';
      await expect(createPingComponent(deps, bins).start()).rejects.toThrow(
        `${prefix}${what}: ${name}: cannot run /nonexistent/${tool}: spawnSync /nonexistent/${tool} ENOENT (127.0.0.1 answered with TTL none, ::1 with hop limit none)`,
      );
    } finally {
      store.close();
    }
  });

  it('refuses a target list whose rounds would overlap, at start, naming the target', async () => {
    const { config } = loadConfig({ argv: ['--ping', '127.0.0.1', '--ping-interval', '1', '--ping-timeout', '900'], env: {} });
    const store = Store.open({ path: ':memory:' });
    try {
      const deps = { config, logger: createLogger('silent'), store, api: new ApiRegistry(), metrics: new Registry(), events: createLogEventWriter(store), now: Date.now };
      await expect(createPingComponent(deps).start()).rejects.toThrow('target "127.0.0.1": a round takes up to 1700 ms (5 probes 200 ms apart, 900 ms timeout), not less than its interval of 1000 ms');
    } finally {
      store.close();
    }
  });
});
