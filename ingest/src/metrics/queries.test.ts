import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { ApiRegistry } from '../api/registry';
import { buildApi, type ApiServer } from '../api/server';
import { loadConfig } from '../config/load';
import { createLogger } from '../log';
import { createLogEventWriter } from '../logs/events';
import type { Frame, QueryResponse } from '../protocol';
import { Store } from '../store';
import { createMetricsComponent, type MetricsComponent } from './component';
import { NET, NET_FIELDS, SYS, SYS_FIELDS } from './sample';
import { tempStorePath } from './test-fixtures';

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

interface Harness {
  app: ApiServer;
  store: Store;
  metrics: MetricsComponent;
  clock: { ms: number };
}

/** The real component on a real SQLite file behind the real API; its clock is the test's, sampling is driven by hand. */
function harness(file: string): Harness {
  const store = Store.open({ path: file });
  const registry = new ApiRegistry();
  const clock = { ms: 0 };
  const logger = createLogger('silent');
  const deps = { config: loadConfig({ argv: [], env: {} }).config, logger, store, api: registry, metrics: new Registry(), events: createLogEventWriter(store), now: () => clock.ms };
  const metrics = createMetricsComponent(deps);
  const app = buildApi({ version: 't', registry, logger });
  return { app, store, metrics, clock };
}

async function query(app: ApiServer, from: number, to: number, q: Record<string, unknown>): Promise<Frame[]> {
  const res = await app.inject({ method: 'POST', url: '/api/v1/query', payload: { from, to, queries: [{ refId: 'A', ...q }] } });
  const body = res.json() as QueryResponse;
  if (body.results.A.error) throw new Error(`${body.results.A.error.code}: ${body.results.A.error.message}`);
  return body.results.A.frames!;
}

const steps = (from: number, to: number, step: number) => Array.from({ length: Math.ceil((to - from) / step) }, (_, i) => from + i * step);

function series(f: Frame): { name?: string; time: unknown[]; values: unknown[]; labels?: Record<string, string>; source: unknown } {
  return { name: f.schema.name, time: f.data.values[0], values: f.data.values[1], labels: f.schema.fields[1].labels, source: (f.schema.meta?.custom as { source: string }).source };
}

describe('system_metrics and network_metrics through the HTTP API', () => {
  const file = tempStorePath();
  let h: Harness;
  let now: number;
  beforeAll(() => {
    h = harness(file());
    now = Date.now();
  });
  afterAll(async () => {
    await h.app.close();
    h.metrics.stop();
    h.store.close();
  });

  it('serves the last minutes from the ring buffer at 1 s, memory_total equal to MemTotal x 1024', async () => {
    // 120 samples one (test clock) second apart, ending 10 s ago.
    const start = Math.floor(now / 10_000) * 10_000 - 130_000;
    for (let i = 0; i < 120; i++) {
      h.clock.ms = start + i * 1000;
      h.metrics.sampleNow();
    }
    const from = start + 20_000;
    const to = start + 120_000;
    const frames = await query(h.app, from, to, { kind: 'system_metrics', metric: ['memory_total', 'cpu_percent'], intervalMs: 10_000 });
    const memTotal = Number(/^MemTotal:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'latin1'))![1]) * 1024;
    const ring = h.metrics.ring;
    const wantCpu = steps(from, to, 10_000).map((t) => {
      const xs: number[] = [];
      for (let i = 0; i < ring.size; i++) {
        const p = ring.physical(i);
        if (ring.ts[p] >= t && ring.ts[p] < t + 10_000) xs.push(ring.sys[p * SYS_FIELDS + SYS.cpu_percent]);
      }
      return xs.reduce((a, b) => a + b, 0) / xs.length;
    });
    expect(frames.map(series)).toEqual([
      { name: 'memory_total', time: steps(from, to, 10_000), values: steps(from, to, 10_000).map(() => memTotal), labels: undefined, source: 'ring' },
      { name: 'cpu_percent', time: steps(from, to, 10_000), values: wantCpu.map((v) => expect.closeTo(v, 9)), labels: undefined, source: 'ring' },
    ]);
    expect(frames[0].schema.fields[1]).toEqual({ name: 'memory_total', type: 'number', config: { unit: 'bytes' } });
  });

  it('serves interface rates from the ring: growth of the counter over the time between samples', async () => {
    const ring = h.metrics.ring;
    const from = ring.oldestMs() + 10_000;
    const to = ring.newestMs() + 1;
    const frames = await query(h.app, from, to, { kind: 'network_metrics', metric: ['bytes_recv'], interface: ['lo'], intervalMs: 30_000, aggregate: 'sum' });
    const lo = ring.interface('lo')!;
    const want = steps(Math.floor(from / 30_000) * 30_000, to, 30_000).map((t) => {
      let grew = 0;
      let n = 0;
      for (let i = 1; i < ring.size; i++) {
        const p = ring.physical(i);
        const q = ring.physical(i - 1);
        if (ring.ts[p] < from || ring.ts[p] < t || ring.ts[p] >= t + 30_000) continue;
        grew += lo.values[p * NET_FIELDS + NET.bytes_recv] - lo.values[q * NET_FIELDS + NET.bytes_recv];
        n++;
      }
      return n > 0 ? grew : null;
    });
    expect(series(frames[0])).toMatchObject({ name: 'bytes_recv', labels: { interface: 'lo' }, values: want, source: 'ring' });
    expect(frames[0].schema.fields[1].config).toEqual({ unit: 'bytes' });
  });

  it('serves raw rows within their retention, folded into 1-minute steps with avg, min, max and sum', async () => {
    const base = Math.floor((now - 2 * DAY) / MIN) * MIN;
    const ins = h.store.db.prepare('INSERT INTO system_metrics (ts, cpu_percent) VALUES (?, ?)');
    const insN = h.store.db.prepare('INSERT INTO network_metrics (ts, interface, bytes_recv, connections_established) VALUES (?, ?, ?, ?)');
    const cpu: number[] = [];
    let counter = 1e6;
    const incs: number[] = [];
    for (let i = 0; i < 60; i++) {
      const ts = base / 1000 + i * 10;
      cpu.push((i * 37) % 100);
      ins.run(ts, cpu[i]);
      const inc = 1000 + i * 10;
      counter += inc;
      incs.push(inc);
      insN.run(ts, 'eth0', counter, null);
      insN.run(ts, '', counter, i % 5);
    }
    const from = base;
    const to = base + 10 * MIN;
    const perMinute = <T>(xs: T[]) => Array.from({ length: 10 }, (_, m) => xs.slice(m * 6, m * 6 + 6));
    const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    for (const [agg, fold] of [
      ['avg', avg],
      ['min', (xs: number[]) => Math.min(...xs)],
      ['max', (xs: number[]) => Math.max(...xs)],
      ['sum', (xs: number[]) => xs.reduce((a, b) => a + b, 0)],
    ] as const) {
      const frames = await query(h.app, from, to, { kind: 'system_metrics', metric: 'cpu_percent', intervalMs: MIN, aggregate: agg });
      expect(series(frames[0])).toEqual({ name: 'cpu_percent', time: steps(from, to, MIN), values: perMinute(cpu).map((xs) => expect.closeTo(fold(xs), 9)), labels: undefined, source: 'raw' });
    }
    // Rates: each row grew by incs[i] in 10 s; the first row has no previous one, so minute 0 has five growths.
    const frames = await query(h.app, from, to, { kind: 'network_metrics', metric: ['bytes_recv', 'connections_established'], interface: 'eth0', intervalMs: MIN });
    const grew = perMinute(incs).map((xs, m) => (m === 0 ? xs.slice(1) : xs));
    expect(frames.map(series)).toEqual([
      { name: 'bytes_recv', time: steps(from, to, MIN), values: grew.map((xs) => expect.closeTo(avg(xs) / 10, 9)), labels: { interface: 'eth0' }, source: 'raw' },
      // Connection states are host-wide: one unlabelled series whatever interfaces are asked for.
      { name: 'connections_established', time: steps(from, to, MIN), values: perMinute(Array.from({ length: 60 }, (_, i) => i % 5)).map((xs) => expect.closeTo(avg(xs), 9)), labels: undefined, source: 'raw' },
    ]);
    const sums = await query(h.app, from, to, { kind: 'network_metrics', metric: 'bytes_recv', intervalMs: MIN, aggregate: 'sum' });
    expect(series(sums[0]).values).toEqual(grew.map((xs) => xs.reduce((a, b) => a + b, 0)));
  });

  it('serves hourly aggregates beyond the raw retention, weighted by samples, with a notice for what they do not keep', async () => {
    const base = Math.floor((now - 20 * DAY) / DAY) * DAY;
    const ins = h.store.db.prepare('INSERT INTO hourly_aggregates (hour_timestamp, samples, cpu_avg, cpu_max, network_bytes_recv, computed_at) VALUES (?, ?, ?, ?, ?, 0)');
    const rows = Array.from({ length: 24 }, (_, i) => ({ t: base + i * HOUR, samples: 300 + i, avg: 10 + i, max: 50 + i, bytes: 3_600_000 * (i + 1) }));
    for (const r of rows) ins.run(r.t / 1000, r.samples, r.avg, r.max, r.bytes);
    const from = base;
    const to = base + DAY;
    const six = (i: number) => rows.slice(i * 6, i * 6 + 6);
    const frames = await query(h.app, from, to, { kind: 'system_metrics', metric: ['cpu_percent', 'memory_available'], intervalMs: 6 * HOUR });
    const weighted = [0, 1, 2, 3].map((i) => six(i).reduce((a, r) => a + r.avg * r.samples, 0) / six(i).reduce((a, r) => a + r.samples, 0));
    expect(frames.map(series)).toEqual([
      { name: 'cpu_percent', time: steps(from, to, 6 * HOUR), values: weighted.map((v) => expect.closeTo(v, 9)), labels: undefined, source: 'hourly' },
      { name: 'memory_available', time: steps(from, to, 6 * HOUR), values: [null, null, null, null], labels: undefined, source: 'hourly' },
    ]);
    expect(frames[1].schema.meta?.notices).toEqual([{ severity: 'warning', text: 'memory_available (avg) is not kept in the hourly aggregates' }]);
    const max = await query(h.app, from, to, { kind: 'system_metrics', metric: 'cpu_percent', intervalMs: 6 * HOUR, aggregate: 'max' });
    expect(series(max[0]).values).toEqual([0, 1, 2, 3].map((i) => Math.max(...six(i).map((r) => r.max))));
    // Bytes per hour as a rate (bytes / 3600 s), and as bytes with sum.
    const rate = await query(h.app, from, to, { kind: 'network_metrics', metric: 'bytes_recv', intervalMs: 6 * HOUR });
    expect(series(rate[0]).values).toEqual([0, 1, 2, 3].map((i) => expect.closeTo(six(i).reduce((a, r) => a + r.bytes, 0) / (6 * 3600), 9)));
    const sum = await query(h.app, from, to, { kind: 'network_metrics', metric: 'bytes_recv', intervalMs: 6 * HOUR, aggregate: 'sum' });
    expect(series(sum[0]).values).toEqual([0, 1, 2, 3].map((i) => six(i).reduce((a, r) => a + r.bytes, 0)));
  });

  it('serves daily aggregates beyond the hourly retention, never finer than a day', async () => {
    const base = Math.floor((now - 400 * DAY) / DAY) * DAY;
    const ins = h.store.db.prepare('INSERT INTO daily_aggregates (date, samples, cpu_max, computed_at) VALUES (?, 8640, ?, 0)');
    for (let d = 0; d < 10; d++) ins.run(new Date(base + d * DAY).toISOString().slice(0, 10), 40 + d);
    const frames = await query(h.app, base, base + 10 * DAY, { kind: 'system_metrics', metric: 'cpu_percent', aggregate: 'max', intervalMs: HOUR });
    expect(series(frames[0])).toEqual({ name: 'cpu_percent', time: steps(base, base + 10 * DAY, DAY), values: Array.from({ length: 10 }, (_, d) => 40 + d), labels: undefined, source: 'daily' });
    expect(frames[0].schema.meta?.custom).toEqual({ source: 'daily', stepMs: DAY });
  });

  it('answers an unknown metric with a coded 400 naming the field', async () => {
    const res = await h.app.inject({ method: 'POST', url: '/api/v1/query', payload: { from: now - HOUR, to: now, queries: [{ refId: 'A', kind: 'network_metrics', metric: ['bytes_recv', 'cpu_percent'] }] } });
    expect(res.json().results.A).toEqual({
      error: { code: 'NETWATCH_ERR_VALIDATION', message: expect.stringContaining('unknown metric "cpu_percent" for network_metrics'), path: '/queries/0/metric/1' },
      status: 400,
    });
  });

  it('lists network interfaces (ring and stored rows) and mounts as value lists', async () => {
    const ifs = (await h.app.inject({ url: '/api/v1/values/net_interfaces' })).json();
    expect(ifs.values).toEqual(expect.arrayContaining(['lo', 'eth0']));
    const mounts = (await h.app.inject({ url: '/api/v1/values/mounts' })).json();
    expect(mounts).toEqual({ name: 'mounts', values: expect.arrayContaining(['/']) });
  });
});
