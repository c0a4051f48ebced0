import { readFileSync, statfsSync } from 'node:fs';
import { Registry } from 'prom-client';
import { ApiRegistry } from '../api/registry';
import { buildApi } from '../api/server';
import { loadConfig } from '../config/load';
import { createLogger } from '../log';
import { createLogEventWriter } from '../logs/events';
import type { QueryResponse } from '../protocol';
import { Store } from '../store';
import { createMetricsComponent, metricsRetention } from './component';
import { tempStorePath } from './test-fixtures';

const memTotal = () => Number(/^MemTotal:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'latin1'))![1]) * 1024;

function deps(store: Store, argv: string[] = []) {
  const registry = new ApiRegistry();
  const metrics = new Registry();
  return { config: loadConfig({ argv, env: {} }).config, logger: createLogger('silent'), store, api: registry, metrics, events: createLogEventWriter(store), now: Date.now };
}

describe('createMetricsComponent', () => {
  const file = tempStorePath();

  it('samples every second while started, and a stop writes the window being filled', async () => {
    const path = file();
    const store = Store.open({ path });
    const d = deps(store, ['--metrics-persist-interval', '3600']);
    const c = createMetricsComponent(d);
    c.start();
    await new Promise((r) => setTimeout(r, 2300));
    const sampled = c.ring.size;
    c.stop();
    // One hour windows: nothing reached SQLite before the stop, everything after it.
    store.close();
    const reopened = Store.open({ path });
    const rows = reopened.db.prepare('SELECT memory_total, cpu_count FROM system_metrics').raw().all();
    const ifaces = reopened.db.prepare("SELECT DISTINCT interface FROM network_metrics ORDER BY 1").pluck().all();
    const mounts = reopened.db.prepare('SELECT DISTINCT mount FROM disk_metrics ORDER BY 1').pluck().all();
    const root = reopened.db.prepare("SELECT disk_total, disk_used FROM disk_metrics WHERE mount = '/'").raw().all() as number[][];
    const cores = reopened.db.prepare('SELECT DISTINCT cpu FROM cpu_metrics ORDER BY 1').pluck().all();
    reopened.close();
    expect(sampled).toBeGreaterThanOrEqual(3);
    // One row, or two when the test straddled the top of an hour.
    expect(rows.length === 1 || rows.length === 2).toBe(true);
    expect(rows).toEqual(rows.map(() => [memTotal(), readFileSync('/proc/stat', 'latin1').split('\n').filter((l) => /^cpu\d/.test(l)).length]));
    expect(ifaces).toEqual(expect.arrayContaining(['', 'lo']));
    // Per mount and per core too, the same series as the ring holds.
    expect(mounts).toEqual(c.ring.mountNames().sort());
    const fs = statfsSync('/');
    expect(root.length).toBe(mounts.includes('/') ? rows.length : 0);
    expect(root.map(([total]) => total)).toEqual(root.map(() => fs.blocks * fs.bsize));
    expect(root.every(([total, used]) => used > 0 && used <= total)).toBe(true);
    expect(cores).toEqual(readFileSync('/proc/stat', 'latin1').split('\n').filter((l) => /^cpu\d/.test(l)).map((l) => Number(/^cpu(\d+)/.exec(l)![1])));
  });

  it('serves the kinds over a real socket, reports health, and collector duration and success on /metrics', async () => {
    const store = Store.open({ path: file() });
    const d = deps(store);
    const c = createMetricsComponent(d);
    c.start();
    c.sampleNow();
    const app = buildApi({ version: 't', registry: d.api, logger: d.logger, metrics: d.metrics });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as { port: number };
    const base = `http://127.0.0.1:${port}`;
    try {
      const now = Date.now();
      const res = await fetch(`${base}/api/v1/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ from: now - 60_000, to: now + 1000, queries: [{ refId: 'A', kind: 'system_metrics', metric: 'memory_total', intervalMs: 1000 }] }),
      });
      const body = (await res.json()) as QueryResponse;
      const frame = body.results.A.frames![0];
      // The ring holds only the last seconds, less than the range: the raw rows (and the ring's unpersisted tail) serve it.
      expect(frame.schema.meta?.custom).toEqual({ source: 'raw', stepMs: 10_000 });
      const values = (frame.data.values[1] as Array<number | null>).filter((v) => v !== null);
      expect(values.length).toBeGreaterThan(0);
      expect(values).toEqual(values.map(() => memTotal()));
      const fromRing = (await (
        await fetch(`${base}/api/v1/query`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ from: c.ring.oldestMs(), to: Date.now() + 1000, queries: [{ refId: 'A', kind: 'system_metrics', metric: 'memory_total', intervalMs: 1000 }] }),
        })
      ).json()) as QueryResponse;
      expect(fromRing.results.A.frames![0].schema.meta?.custom).toEqual({ source: 'ring', stepMs: 1000 });

      const health = (await (await fetch(`${base}/api/v1/health`)).json()) as { components: Record<string, unknown> };
      expect(health.components.metrics).toEqual({ state: 'ok', detail: 'capture disabled: no capture' });
      const text = await (await fetch(`${base}/metrics`)).text();
      for (const name of ['cpu', 'memory', 'disk', 'load', 'network']) {
        expect(text).toContain(`netwatch_metrics_collector_success{collector="${name}"} 1`);
        expect(text).toMatch(new RegExp(`netwatch_metrics_collector_duration_seconds\\{collector="${name}"\\} \\d`));
      }
      expect(text).toContain('netwatch_metrics_collector_success{collector="capture"} 0');
    } finally {
      await app.close();
      c.stop();
      store.close();
    }
  });

  it('takes the flow component counters for the capture collector', () => {
    const store = Store.open({ path: file() });
    const d = deps(store);
    let packets = 0;
    const c = createMetricsComponent(d, { captureCounters: () => ({ packets: (packets += 10), bytes: packets * 100, flowsActive: 2, dropped: 0, captureErrors: 0 }) });
    c.sampleNow();
    c.sampleNow();
    expect(c.collectors.status().find((s) => s.name === 'capture')).toMatchObject({ state: 'ok' });
    const last = c.ring.physical(c.ring.size - 1);
    expect(Array.from(c.ring.capture.subarray(last * 5, last * 5 + 5))).toEqual([20, 2000, 2, 0, 0]);
    c.stop();
    store.close();
  });

  it('serves the capture counters of the last hour as rates from the ring, and says they are not kept beyond', async () => {
    const store = Store.open({ path: file() });
    const d = deps(store);
    const clock = { ms: Math.floor(Date.now() / 10_000) * 10_000 - 60_000 };
    let packets = 0;
    const c = createMetricsComponent({ ...d, now: () => clock.ms }, { captureCounters: () => ({ packets, bytes: packets * 100, flowsActive: 7, dropped: 0, captureErrors: 0 }) });
    const from = clock.ms;
    for (let i = 0; i < 30; i++) {
      packets += 50 * (i + 1);
      c.sampleNow();
      clock.ms += 1000;
    }
    const app = buildApi({ version: 't', registry: d.api, logger: d.logger });
    const run = async (f: number) =>
      (
        (await app.inject({ method: 'POST', url: '/api/v1/query', payload: { from: f, to: from + 30_000, queries: [{ refId: 'A', kind: 'system_metrics', metric: ['capture_packets', 'flows_active'], intervalMs: 10_000 }] } })).json() as QueryResponse
      ).results.A.frames!;
    const frames = await run(from);
    // Growth per second i is 50 * (i + 1): each 10 s step averages its nine or ten growths.
    const grew = (a: number, b: number) => Array.from({ length: b - a }, (_, k) => 50 * (a + k + 1));
    const avg = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / xs.length;
    expect(frames.map((f) => [f.schema.name, f.data.values[1], f.schema.fields[1].config])).toEqual([
      ['capture_packets', [avg(grew(1, 10)), avg(grew(10, 20)), avg(grew(20, 30))], { unit: 'pps' }],
      ['flows_active', [7, 7, 7], { unit: 'short' }],
    ]);
    const older = await run(Date.now() - 3 * 86_400_000);
    expect(older[0].schema.meta?.notices).toEqual([{ severity: 'warning', text: 'capture counters are kept for the last 60 minutes only (ring buffer)' }]);
    await app.close();
    c.stop();
    store.close();
  });

  it('rolls up at start the hours that closed while the service was down', () => {
    const store = Store.open({ path: file() });
    const hour = Math.floor(Date.now() / 3_600_000) * 3600;
    const ins = store.db.prepare('INSERT INTO system_metrics (ts, cpu_percent) VALUES (?, ?)');
    for (let ts = hour - 3 * 3600; ts < hour - 3600; ts += 10) ins.run(ts, 50);
    const c = createMetricsComponent(deps(store));
    c.start();
    c.stop();
    expect(store.db.prepare('SELECT hour_timestamp, samples, cpu_avg FROM hourly_aggregates ORDER BY 1').raw().all()).toEqual([
      [hour - 3 * 3600, 360, 50],
      [hour - 2 * 3600, 360, 50],
    ]);
    store.close();
  });

  it('refuses an unknown collector name at creation', () => {
    const store = Store.open({ path: file() });
    expect(() => createMetricsComponent(deps(store, ['--collectors', 'cpu', '--collectors', 'gpu']))).toThrow('unknown collector "gpu" (available: cpu, memory, disk, load, network, capture)');
    store.close();
  });

  it('gives the store the retention of its tables from the options', () => {
    const config = loadConfig({ argv: ['--metrics-retention-days', '3', '--daily-retention-days', '365'], env: {} }).config;
    expect(metricsRetention(config)).toEqual({
      system_metrics: 3 * 86_400,
      network_metrics: 3 * 86_400,
      disk_metrics: 3 * 86_400,
      cpu_metrics: 3 * 86_400,
      hourly_aggregates: 90 * 86_400,
      daily_aggregates: 365 * 86_400,
    });
  });
});

describe('retention of the metrics tables', () => {
  const file = tempStorePath();

  it('deletes raw rows past 7 days and hourly aggregates past 90 by default, and trims the oldest raw rows to the size cap', () => {
    const config = loadConfig({ argv: [], env: {} }).config;
    const store = Store.open({ path: file(), retention: metricsRetention(config), maxSizeBytes: 1024 * 1024 });
    const now = Math.floor(Date.now() / 1000);
    const day = 86_400;
    const insS = store.db.prepare('INSERT INTO system_metrics (ts, cpu_percent, memory_total) VALUES (?, 1, 1)');
    const insH = store.db.prepare('INSERT INTO hourly_aggregates (hour_timestamp, computed_at) VALUES (?, 0)');
    const insD = store.db.prepare("INSERT INTO disk_metrics (ts, mount, disk_used) VALUES (?, '/', 1)");
    const insC = store.db.prepare('INSERT INTO cpu_metrics (ts, cpu, cpu_percent) VALUES (?, 0, 1)');
    store.db.transaction(() => {
      for (const age of [8 * day, 6 * day]) {
        insS.run(now - age);
        insD.run(now - age);
        insC.run(now - age);
      }
      for (const age of [91 * day, 89 * day]) insH.run(now - age);
    })();
    const r = store.runRetention(now);
    expect([r.deleted.system_metrics, r.deleted.disk_metrics, r.deleted.cpu_metrics, r.deleted.hourly_aggregates]).toEqual([1, 1, 1, 1]);
    // About 3 MiB of 10 s rows over the last 6 days against a 1 MiB cap: the oldest go until it fits.
    const ins = store.db.prepare("INSERT INTO network_metrics (ts, interface, bytes_sent, bytes_recv) VALUES (?, 'eth0', ?, ?)");
    store.db.transaction(() => {
      for (let ts = now - 6 * day; ts < now; ts += 10) ins.run(ts, ts * 1000, ts * 2000);
    })();
    store.runRetention(now);
    const left = store.db.prepare('SELECT min(ts), count(*) FROM network_metrics').raw().get() as [number, number];
    const used = (Number(store.db.pragma('page_count', { simple: true })) - Number(store.db.pragma('freelist_count', { simple: true }))) * Number(store.db.pragma('page_size', { simple: true }));
    expect(used).toBeLessThanOrEqual(1024 * 1024);
    expect(left[0]).toBeGreaterThan(now - 6 * day);
    expect(left[1]).toBeGreaterThan(0);
    store.close();
  });
});
