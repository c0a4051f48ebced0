import { Registry } from 'prom-client';
import { CaptureCollector } from './capture';
import { CollectorRegistry, UnknownCollectorError, type Collector } from './collector';
import { CAP, Sample, SYS } from './sample';

const ok: Collector = { name: 'load', update: (s) => void (s.sys[SYS.load_1] = 1.5) };
const broken: Collector = {
  name: 'memory',
  update: () => {
    throw new Error('/proc/meminfo: no MemTotal');
  },
};

describe('CollectorRegistry', () => {
  it('runs only the enabled collectors; a failing one leaves its fields NaN and the others still run', () => {
    const reg = new CollectorRegistry([ok, broken, { name: 'cpu', update: (s) => void (s.sys[SYS.cpu_count] = 2) }], ['load', 'memory']);
    const s = new Sample();
    reg.collect(s);
    expect([s.sys[SYS.load_1], s.sys[SYS.cpu_count], s.sys[SYS.memory_total]]).toEqual([1.5, NaN, NaN]);
    expect(reg.status().map(({ name, state, detail, failures }) => ({ name, state, detail, failures }))).toEqual([
      { name: 'load', state: 'ok', detail: undefined, failures: 0 },
      { name: 'memory', state: 'failed', detail: '/proc/meminfo: no MemTotal', failures: 1 },
    ]);
  });

  it('refuses an unknown collector name, listing the known ones', () => {
    expect(() => new CollectorRegistry([ok], ['load', 'gpu'])).toThrow(new UnknownCollectorError('unknown collector "gpu" (available: load)'));
  });

  it('reports each collector duration and success on /metrics, labelled by collector name only', async () => {
    const metrics = new Registry();
    const reg = new CollectorRegistry([ok, broken, new CaptureCollector()], ['load', 'memory', 'capture'], undefined, metrics);
    reg.collect(new Sample());
    const success = await metrics.getSingleMetric('netwatch_metrics_collector_success')!.get();
    expect(success.values.map((v) => [v.labels, v.value])).toEqual([
      [{ collector: 'load' }, 1],
      [{ collector: 'memory' }, 0],
      [{ collector: 'capture' }, 0],
    ]);
    const duration = await metrics.getSingleMetric('netwatch_metrics_collector_duration_seconds')!.get();
    expect(duration.values.map((v) => v.labels)).toEqual([{ collector: 'load' }, { collector: 'memory' }]);
    expect(duration.values.every((v) => v.value >= 0 && v.value < 1)).toBe(true);
    const text = await metrics.metrics();
    expect(text).toContain('netwatch_metrics_collector_errors_total{collector="memory"} 1');
  });
});

describe('CaptureCollector', () => {
  it('is disabled with "no capture" until the flow component gives its counters', () => {
    const reg = new CollectorRegistry([new CaptureCollector()], ['capture']);
    reg.collect(new Sample());
    expect(reg.status()[0]).toMatchObject({ state: 'disabled', detail: 'no capture' });
  });

  it('copies the flow component counters into the sample', () => {
    const s = new Sample();
    new CaptureCollector(() => ({ packets: 10, bytes: 1500, flowsActive: 3, dropped: 1, captureErrors: 0 })).update(s);
    expect(Array.from(s.capture)).toEqual([10, 1500, 3, 1, 0].map((v, i) => (i === CAP.flows_active ? 3 : v)));
  });
});
