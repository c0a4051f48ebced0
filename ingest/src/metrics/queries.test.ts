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
        const v = ring.sys[p * SYS_FIELDS + SYS.cpu_percent];
        // Two reads within one jiffy give no cpu_percent (NaN: no sample), which the query leaves out too.
        if (ring.ts[p] >= t && ring.ts[p] < t + 10_000 && !Number.isNaN(v)) xs.push(v);
      }
      return xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length;
    });
    expect(wantCpu.some((v) => v !== null)).toBe(true);
    expect(frames.map(series)).toEqual([
      { name: 'memory_total', time: steps(from, to, 10_000), values: steps(from, to, 10_000).map(() => memTotal), labels: undefined, source: 'ring' },
      { name: 'cpu_percent', time: steps(from, to, 10_000), values: wantCpu.map((v) => (v === null ? null : expect.closeTo(v, 9))), labels: undefined, source: 'ring' },
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

  it('serves per-mount disk series from the raw rows, labelled mount, only for the mounts asked for', async () => {
    const base = Math.floor((now - 3 * DAY) / MIN) * MIN;
    const ins = h.store.db.prepare('INSERT INTO disk_metrics (ts, mount, disk_total, disk_used, disk_percent, disk_read_bytes, disk_write_bytes) VALUES (?, ?, ?, ?, ?, ?, ?)');
    const used: Record<string, number[]> = { '/': [], '/var': [] };
    const reads: Record<string, number[]> = { '/': [], '/var': [] };
    const counters: Record<string, number> = { '/': 1e9, '/var': 5e8 };
    for (let i = 0; i < 30; i++) {
      const ts = base / 1000 + i * 10;
      for (const [m, k] of [['/', 1], ['/var', 3]] as const) {
        used[m].push(4e10 + ((i * 7919 * k) % 1000) * 4096);
        const grew = 4096 * (i + k);
        reads[m].push(grew);
        counters[m] += grew;
        ins.run(ts, m, 1e11, used[m][i], used[m][i] / 1e9, counters[m], null);
      }
    }
    // The host totals are another row; they must not leak into the per-mount series.
    h.store.db.prepare('INSERT INTO system_metrics (ts, disk_used) VALUES (?, 1)').run(base / 1000);
    const from = base;
    const to = base + 5 * MIN;
    const perMinute = (xs: number[]) => Array.from({ length: 5 }, (_, m) => xs.slice(m * 6, m * 6 + 6));
    const avg = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / xs.length;
    const frames = await query(h.app, from, to, { kind: 'system_metrics', metric: ['disk_used', 'disk_read_bytes', 'disk_write_bytes'], mount: ['/', '/var'], intervalMs: MIN });
    const rate = (m: string) => perMinute(reads[m]).map((xs, k) => (k === 0 ? xs.slice(1) : xs)).map((xs) => expect.closeTo(avg(xs) / 10, 9));
    const nulls = [null, null, null, null, null];
    expect(frames.map(series)).toEqual([
      { name: 'disk_used', time: steps(from, to, MIN), values: perMinute(used['/']).map((xs) => expect.closeTo(avg(xs), 6)), labels: { mount: '/' }, source: 'raw' },
      { name: 'disk_used', time: steps(from, to, MIN), values: perMinute(used['/var']).map((xs) => expect.closeTo(avg(xs), 6)), labels: { mount: '/var' }, source: 'raw' },
      { name: 'disk_read_bytes', time: steps(from, to, MIN), values: rate('/'), labels: { mount: '/' }, source: 'raw' },
      { name: 'disk_read_bytes', time: steps(from, to, MIN), values: rate('/var'), labels: { mount: '/var' }, source: 'raw' },
      // No device counters for these mounts (NULL): a series of nulls, not zeros.
      { name: 'disk_write_bytes', time: steps(from, to, MIN), values: nulls, labels: { mount: '/' }, source: 'raw' },
      { name: 'disk_write_bytes', time: steps(from, to, MIN), values: nulls, labels: { mount: '/var' }, source: 'raw' },
    ]);
    expect(frames[0].schema.meta?.notices).toBeUndefined();
    const one = await query(h.app, from, to, { kind: 'system_metrics', metric: 'disk_percent', mount: '/var', intervalMs: MIN, aggregate: 'max' });
    expect(one.map(series)).toEqual([
      { name: 'disk_percent', time: steps(from, to, MIN), values: perMinute(used['/var']).map((xs) => expect.closeTo(Math.max(...xs) / 1e9, 9)), labels: { mount: '/var' }, source: 'raw' },
    ]);
    const unknown = await query(h.app, from, to, { kind: 'system_metrics', metric: 'disk_used', mount: '/nope', intervalMs: MIN });
    expect(unknown.map(series)).toEqual([{ name: 'disk_used', time: steps(from, to, MIN), values: nulls, labels: { mount: '/nope' }, source: 'raw' }]);
    // Beyond the raw retention the aggregates keep host totals only, and say so.
    const old = await query(h.app, now - 30 * DAY, now - 29 * DAY, { kind: 'system_metrics', metric: 'disk_used', mount: '/', intervalMs: DAY });
    expect(old[0].schema.meta?.notices).toEqual([{ severity: 'warning', text: 'disk_used {"mount":"/"}: per-mount series are not kept in the hourly aggregates (only host totals)' }]);
    const mounts = (await h.app.inject({ url: '/api/v1/values/mounts' })).json();
    expect(mounts.values).toEqual(expect.arrayContaining(['/', '/var']));
  });

  it('serves per-core CPU from the ring: one cpu_percent field per core of this machine, labelled cpu', async () => {
    const ring = h.metrics.ring;
    const from = Math.floor(ring.oldestMs() / 10_000) * 10_000 + 10_000;
    const to = Math.floor(ring.newestMs() / 10_000) * 10_000;
    const frames = await query(h.app, from, to, { kind: 'system_metrics', metric: ['cpu_percent_core'], intervalMs: 10_000 });
    const cores = readFileSync('/proc/stat', 'latin1').split('\n').filter((l) => /^cpu\d/.test(l)).map((l) => /^cpu(\d+)/.exec(l)![1]);
    const want = cores.map((id) => {
      const slot = ring.core(id)!;
      const values = steps(from, to, 10_000).map((t) => {
        const xs: number[] = [];
        for (let i = 0; i < ring.size; i++) {
          const p = ring.physical(i);
          if (ring.ts[p] >= t && ring.ts[p] < t + 10_000 && !Number.isNaN(slot.values[p])) xs.push(slot.values[p]);
        }
        // Reads microseconds apart within one jiffy give no per-core sample: a step may have none.
        return xs.length === 0 ? null : expect.closeTo(xs.reduce((a, b) => a + b, 0) / xs.length, 9);
      });
      return { name: 'cpu_percent_core', time: steps(from, to, 10_000), values, labels: { cpu: id }, source: 'ring' };
    });
    expect(frames.map(series)).toEqual(want);
    expect(frames.map((f) => (f.data.values[1] as unknown[]).some((v) => typeof v === 'number'))).toEqual(cores.map(() => true));
    expect(frames[0].schema.fields[1]).toEqual({ name: 'cpu_percent', type: 'number', labels: { cpu: cores[0] }, config: { unit: 'percent' } });
  });

  it('serves per-core CPU from the raw rows, cores in numeric order, and says the aggregates do not keep it', async () => {
    const base = Math.floor((now - 4 * DAY) / MIN) * MIN;
    const ins = h.store.db.prepare('INSERT INTO cpu_metrics (ts, cpu, cpu_percent) VALUES (?, ?, ?)');
    const cores = [0, 1, 10];
    const values = new Map(cores.map((c) => [c, [] as number[]]));
    for (let i = 0; i < 12; i++) {
      for (const c of cores) {
        const v = (i * 13 + c * 29) % 100;
        values.get(c)!.push(v);
        ins.run(base / 1000 + i * 10, c, v);
      }
    }
    const frames = await query(h.app, base, base + 2 * MIN, { kind: 'system_metrics', metric: ['cpu_percent', 'cpu_percent_core'], intervalMs: MIN, aggregate: 'min' });
    const perMinute = (xs: number[]) => [Math.min(...xs.slice(0, 6)), Math.min(...xs.slice(6, 12))];
    expect(frames.map(series)).toEqual([
      { name: 'cpu_percent', time: steps(base, base + 2 * MIN, MIN), values: [null, null], labels: undefined, source: 'raw' },
      ...cores.map((c) => ({ name: 'cpu_percent_core', time: steps(base, base + 2 * MIN, MIN), values: perMinute(values.get(c)!), labels: { cpu: String(c) }, source: 'raw' })),
    ]);
    const day = Math.floor((now - 30 * DAY) / DAY) * DAY;
    const old = await query(h.app, day, day + DAY, { kind: 'system_metrics', metric: 'cpu_percent_core', intervalMs: DAY });
    expect(old.map((f) => [series(f).labels, series(f).values, f.schema.meta?.notices])).toEqual([
      [undefined, [null], [{ severity: 'warning', text: 'cpu_percent_core: per-core CPU is not kept in the hourly aggregates (cpu_percent has the host total)' }]],
    ]);
  });

  it('serves the minimum of CPU, memory and load from the hourly and daily aggregates', async () => {
    const base = Math.floor((now - 40 * DAY) / DAY) * DAY;
    const ins = h.store.db.prepare('INSERT INTO hourly_aggregates (hour_timestamp, samples, cpu_min, memory_min, load_1_min, computed_at) VALUES (?, 360, ?, ?, ?, 0)');
    const rows = Array.from({ length: 24 }, (_, i) => ({ t: base + i * HOUR, cpu: (i * 17) % 50, mem: 20 + ((i * 7) % 9), load: ((i * 5) % 11) / 10 }));
    for (const r of rows) ins.run(r.t / 1000, r.cpu, r.mem, r.load);
    const frames = await query(h.app, base, base + DAY, { kind: 'system_metrics', metric: ['cpu_percent', 'memory_percent', 'load_1'], intervalMs: 6 * HOUR, aggregate: 'min' });
    const six = (k: 'cpu' | 'mem' | 'load') => [0, 1, 2, 3].map((i) => Math.min(...rows.slice(i * 6, i * 6 + 6).map((r) => r[k])));
    expect(frames.map(series)).toEqual([
      { name: 'cpu_percent', time: steps(base, base + DAY, 6 * HOUR), values: six('cpu'), labels: undefined, source: 'hourly' },
      { name: 'memory_percent', time: steps(base, base + DAY, 6 * HOUR), values: six('mem'), labels: undefined, source: 'hourly' },
      { name: 'load_1', time: steps(base, base + DAY, 6 * HOUR), values: six('load'), labels: undefined, source: 'hourly' },
    ]);
    expect(frames[0].schema.meta?.notices).toBeUndefined();
    // Steps are aligned to multiples of the interval since the epoch (as Grafana aligns them): start on a 2-day boundary.
    const dbase = Math.floor((now - 500 * DAY) / (2 * DAY)) * (2 * DAY);
    const insD = h.store.db.prepare('INSERT INTO daily_aggregates (date, samples, cpu_min, computed_at) VALUES (?, 8640, ?, 0)');
    for (let d = 0; d < 4; d++) insD.run(new Date(dbase + d * DAY).toISOString().slice(0, 10), 5 + ((d * 3) % 4));
    const daily = await query(h.app, dbase, dbase + 4 * DAY, { kind: 'system_metrics', metric: 'cpu_percent', intervalMs: 2 * DAY, aggregate: 'min' });
    expect(series(daily[0])).toEqual({ name: 'cpu_percent', time: steps(dbase, dbase + 4 * DAY, 2 * DAY), values: [5, 6], labels: undefined, source: 'daily' });
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
