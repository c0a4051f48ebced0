/**
 * Demo mode wired as `serve --demo` wires it (startService): the scenario's frames through the flow component's
 * sink, its lines through the log files the logs component tails, into the security engine; answered over a
 * real socket. Also what demo mode adds to the configuration, and the rotation of its log files.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../config/load';
import type { ServeConfig } from '../config/options';
import { createLogger } from '../log';
import { startService, type Service } from '../main';
import { ApiRegistry } from '../api/registry';
import { Store } from '../store';
import { createLogEventWriter } from '../logs/events';
import { Registry } from 'prom-client';
import { DEMO_LOG_FILES, createDemoComponent, demoConfig, demoLogDir } from './component';
import { DEMO_ADDRESSES } from './scenario';
import { describeWithData, testDataPath } from '../testing/data';
import { parseIp } from '../protocol/ip';
import { cidrListMatchesV4, cidrListMatchesV6, parseCidr } from '../protocol/cidr';

function config(argv: string[]): ServeConfig {
  return loadConfig({ argv, env: {} }).config;
}

describe('demoConfig', () => {
  it.each([
    ['leaves the configuration alone without --demo', ['--data-dir', '/d'], [], []],
    [
      'adds the demo log files and the loopback ping targets',
      ['--demo', '--data-dir', '/d'],
      ['auth:/d/demo-logs/auth.log', 'fail2ban:/d/demo-logs/fail2ban.log', 'syslog:/d/demo-logs/syslog', 'kern:/d/demo-logs/kern.log'],
      ['127.0.0.1', '::1'],
    ],
    [
      'keeps what the user gave (--log, --ping) and does not probe a target twice',
      ['--demo', '--data-dir', '/d', '--log', 'auth:/var/log/auth.log', '--ping', '::1', '--ping', 'tcp://127.0.0.1:22'],
      ['auth:/var/log/auth.log', 'auth:/d/demo-logs/auth.log', 'fail2ban:/d/demo-logs/fail2ban.log', 'syslog:/d/demo-logs/syslog', 'kern:/d/demo-logs/kern.log'],
      ['::1', 'tcp://127.0.0.1:22', '127.0.0.1'],
    ],
  ])('%s', (_name, argv, log, ping) => {
    const c = demoConfig(config(argv));
    expect({ log: c.log, ping: c.ping }).toEqual({ log, ping });
  });
});

describe('serve --demo', () => {
  let dir: string;
  let service: Service;
  const query = async (queries: object[], from = 'now-15m') => {
    const r = await fetch(`${service.url}/api/v1/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer demo-test' },
      body: JSON.stringify({ from, to: 'now', queries }),
    });
    expect(r.status).toBe(200);
    return (await r.json()) as { results: Record<string, { frames?: Array<{ schema: { fields: Array<{ name: string }> }; data: { values: unknown[][] } }>; error?: unknown }> };
  };
  const column = (res: Awaited<ReturnType<typeof query>>, refId: string, name: string): unknown[] => {
    const f = res.results[refId].frames![0];
    return f.data.values[f.schema.fields.findIndex((x) => x.name === name)];
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'netwatch-demo-serve-'));
    service = await startService(config(['--demo', '--listen', '127.0.0.1:0', '--data-dir', dir, '--token', 'demo-test', '--ping-interval', '2']), createLogger('silent'));
  }, 30_000);

  afterAll(async () => {
    await service?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the generated flows (the attacker, IPv6, the large transfers) at once', async () => {
    const res = await query([
      { refId: 'A', kind: 'top_talkers', groupBy: 'ip', limit: 50 },
      { refId: 'B', kind: 'flows', cidr: ['2001:db8::/32'], limit: 5 },
      { refId: 'C', kind: 'flows', cidr: [DEMO_ADDRESSES.bruteForcer], dstPort: [22], limit: 1000 },
    ]);
    expect(column(res, 'A', 'ip')).toEqual(expect.arrayContaining([DEMO_ADDRESSES.server, DEMO_ADDRESSES.bruteForcer, '198.51.100.20']));
    expect(column(res, 'B', 'src_ip').length).toBeGreaterThan(0);
    expect(column(res, 'C', 'src_ip').length).toBeGreaterThanOrEqual(2);
  });

  it('tails its own log files into log events, traces and threat scores: the brute-forcer is banned and scores above 80', async () => {
    for (const file of Object.values(DEMO_LOG_FILES)) expect(statSync(path.join(demoLogDir({ dataDir: dir }), file)).size).toBeGreaterThan(0);
    expect(readFileSync(path.join(demoLogDir({ dataDir: dir }), 'auth.log'), 'utf8')).toContain(`Failed password for root from ${DEMO_ADDRESSES.bruteForcer}`);
    // The tailer polls every 500 ms and the event writer flushes every second.
    let res: Awaited<ReturnType<typeof query>> | undefined;
    for (let i = 0; i < 30; i++) {
      res = await query([
        { refId: 'A', kind: 'threats', limit: 5 },
        { refId: 'B', kind: 'annotations', source: ['fail2ban'] },
        { refId: 'C', kind: 'logs', source: ['auth'], limit: 5 },
      ]);
      const scores = column(res, 'A', 'threat_score') as number[];
      if (scores.length > 0 && scores[0] > 80 && column(res, 'B', 'title').length > 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(column(res!, 'A', 'ip')[0]).toBe(DEMO_ADDRESSES.bruteForcer);
    expect((column(res!, 'A', 'threat_score') as number[])[0]).toBeGreaterThan(80);
    expect(column(res!, 'B', 'title')).toContain(`Ban ${DEMO_ADDRESSES.bruteForcer}`);
    expect(column(res!, 'C', 'message').length).toBe(5);
  }, 30_000);

  it('probes 127.0.0.1 and ::1 and reports its own counters', async () => {
    let targets: unknown[] = [];
    for (let i = 0; i < 40 && targets.length < 2; i++) {
      targets = column(await query([{ refId: 'A', kind: 'ping_summary' }]), 'A', 'target');
      if (targets.length < 2) await new Promise((r) => setTimeout(r, 500));
    }
    expect([...targets].sort()).toEqual(['127.0.0.1', '::1']);
    const stats = service.registry.stats().demo;
    expect(stats.packets as number).toBeGreaterThan(10_000);
    expect(stats.lines as number).toBeGreaterThan(10);
    expect(stats.sessions_dropped).toBe(0);
  }, 30_000);
});

/** Every address the demo story uses lies in these blocks; anything else came from somewhere else. */
const DEMO_BLOCKS = ['192.168.10.0/24', '198.51.100.0/24', '203.0.113.0/24', '192.0.2.0/24', '2001:db8::/32'].map((c) => parseCidr(c));
function inDemo(ip: string): boolean {
  const p = parseIp(ip)!;
  return p.family === 4 ? cidrListMatchesV4(DEMO_BLOCKS, p.words[0]) : cidrListMatchesV6(DEMO_BLOCKS, p.words[0], p.words[1], p.words[2], p.words[3]);
}

describeWithData('serve --demo with --pcap, --log and --token', () => {
  let dir: string;
  let service: Service;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'netwatch-demo-mixed-'));
    const argv = ['--demo', '--listen', '127.0.0.1:0', '--data-dir', dir, '--token', 'mixed-token', '--pcap', testDataPath('pcap', 'ndpi_teams.pcap'), '--log', `auth:${testDataPath('logs', 'crowdsec_ssh-bf.log')}`, '--log-from-start'];
    service = await startService(config(argv), createLogger('silent'));
  }, 30_000);

  afterAll(async () => {
    await service?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the replayed capture and the given log beside the generated traffic and logs, behind the token', async () => {
    const unauthorized = await fetch(`${service.url}/api/v1/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ from: 'now-1h', to: 'now', queries: [{ refId: 'A', kind: 'stats' }] }) });
    expect(unauthorized.status).toBe(401);
    let flowIps: string[] = [];
    let logIps: string[] = [];
    for (let i = 0; i < 40; i++) {
      const r = await fetch(`${service.url}/api/v1/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer mixed-token' },
        body: JSON.stringify({
          from: 0,
          to: 'now',
          queries: [
            { refId: 'A', kind: 'top_talkers', groupBy: 'ip', limit: 1000 },
            { refId: 'B', kind: 'logs', source: ['auth'], limit: 10_000 },
          ],
        }),
      });
      const body = (await r.json()) as { results: Record<string, { frames: Array<{ schema: { fields: Array<{ name: string }> }; data: { values: unknown[][] } }> }> };
      const col = (refId: string, name: string) => {
        const f = body.results[refId].frames[0];
        return f.data.values[f.schema.fields.findIndex((x) => x.name === name)] as string[];
      };
      flowIps = col('A', 'ip');
      logIps = col('B', 'ip');
      if (flowIps.some((ip) => !inDemo(ip)) && flowIps.some(inDemo) && logIps.includes('35.188.49.176') && logIps.includes(DEMO_ADDRESSES.bruteForcer)) break;
      await new Promise((res) => setTimeout(res, 500));
    }
    expect(flowIps.filter((ip) => !inDemo(ip)).length).toBeGreaterThan(0);
    expect(flowIps).toContain(DEMO_ADDRESSES.bruteForcer);
    expect(logIps.filter((ip) => ip === '35.188.49.176').length).toBe(6);
    expect(logIps).toContain(DEMO_ADDRESSES.bruteForcer);
  }, 30_000);
});

describe('demo restarts', () => {
  it('continue the history where the last run stopped instead of generating the backfill again', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'netwatch-demo-resume-'));
    const store = Store.open({ path: path.join(dir, 'netwatch.db') });
    try {
      const cfg = config(['--demo', '--data-dir', dir]);
      const events = createLogEventWriter(store);
      /** The time span of the packets one start generates, ms. */
      const run = (nowMs: number) => {
        const api = new ApiRegistry();
        let first = Infinity;
        let last = -Infinity;
        const sink = (_l: number, _f: Buffer, _c: number, _w: number, tsUs: number) => {
          first = Math.min(first, tsUs / 1000);
          last = Math.max(last, tsUs / 1000);
        };
        const demo = createDemoComponent({ config: cfg, logger: createLogger('silent'), store, api, metrics: new Registry(), events, now: () => nowMs }, { sink });
        demo.start();
        demo.stop();
        return { first, last };
      };
      const t0 = Date.UTC(2026, 11, 1, 12);
      const a = run(t0);
      expect(a.first).toBeGreaterThanOrEqual(t0 - 5 * 60_000);
      expect(a.first).toBeLessThan(t0 - 4 * 60_000);
      expect(a.last).toBeLessThanOrEqual(t0);
      // One minute later: only that minute is new.
      const b = run(t0 + 60_000);
      expect(b.first).toBeGreaterThan(t0);
      expect(b.last).toBeLessThanOrEqual(t0 + 60_000);
      expect(JSON.parse(readFileSync(path.join(demoLogDir(cfg), 'clock.json'), 'utf8'))).toEqual({ generatedUntilMs: t0 + 60_000 });
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('demo log files', () => {
  it('are rotated by rename when they pass the size cap, as logrotate does', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'netwatch-demo-rotate-'));
    const store = Store.open({ path: path.join(dir, 'netwatch.db') });
    try {
      const cfg = { ...config(['--demo', '--data-dir', dir]) };
      const api = new ApiRegistry();
      const demo = createDemoComponent(
        { config: cfg, logger: createLogger('silent'), store, api, metrics: new Registry(), events: createLogEventWriter(store), now: () => Date.UTC(2026, 11, 1, 12) },
        { backfillMs: 60_000, maxLogBytes: 4096 },
      );
      demo.start();
      for (let t = Date.UTC(2026, 11, 1, 12); t <= Date.UTC(2026, 11, 1, 12, 3); t += 5000) demo.tick(t);
      demo.stop();
      const auth = path.join(demoLogDir(cfg), 'auth.log');
      expect(existsSync(`${auth}.1`)).toBe(true);
      expect(statSync(auth).size).toBeLessThanOrEqual(4096);
      expect(api.stats().demo.rotations as number).toBeGreaterThan(0);
      expect(api.stats().demo.log_write_errors).toBe(0);
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
