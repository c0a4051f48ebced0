import { Store } from '../store';
import { createMetricsWriters, MetricsPersister } from './persist';
import { NET, Sample, SYS } from './sample';
import { tempStorePath } from './test-fixtures';

const T0 = Date.UTC(2026, 10, 22, 10, 0, 0);

function sample(sec: number, cpu: number, bytes: number): Sample {
  const s = new Sample();
  s.clear(T0 + sec * 1000 + 3);
  s.sys[SYS.cpu_percent] = cpu;
  s.sys[SYS.memory_total] = 1000;
  s.sys[SYS.memory_available] = 100 + sec;
  s.sys[SYS.disk_read_bytes] = 5000 + sec * 512;
  s.netTotal[NET.bytes_recv] = bytes;
  s.netTotal[NET.connections_established] = sec % 2;
  s.interfaces.values[s.interfaces.add('eth0') + NET.bytes_recv] = bytes;
  return s;
}

describe('MetricsPersister', () => {
  const file = tempStorePath();

  it('writes one row per window: gauges as the mean of the samples, counters as the last value, byte means rounded', () => {
    const path = file();
    const store = Store.open({ path });
    const p = new MetricsPersister(createMetricsWriters(store), 10, 8);
    // 25 seconds: two whole windows and a partial one, flushed as at stop.
    for (let sec = 0; sec < 25; sec++) p.add(sample(sec, sec, 1000 * sec));
    p.flush();
    // Closing the store flushes its writers: the rows are read back from the file.
    store.close();
    const db = Store.open({ path });
    const sys = db.db.prepare('SELECT ts, cpu_percent, memory_total, memory_available, disk_read_bytes, load_1 FROM system_metrics ORDER BY ts').raw().all();
    const net = db.db.prepare('SELECT ts, interface, bytes_recv, connections_established FROM network_metrics ORDER BY ts, interface').raw().all();
    db.close();
    const t = T0 / 1000;
    const mean = (a: number, b: number) => (a + b) / 2;
    expect(sys).toEqual([
      [t, mean(0, 9), 1000, Math.round(100 + mean(0, 9)), 5000 + 9 * 512, null],
      [t + 10, mean(10, 19), 1000, Math.round(100 + mean(10, 19)), 5000 + 19 * 512, null],
      [t + 20, mean(20, 24), 1000, Math.round(100 + mean(20, 24)), 5000 + 24 * 512, null],
    ]);
    expect(net).toEqual([
      [t, '', 9000, 0.5],
      [t, 'eth0', 9000, null],
      [t + 10, '', 19000, 0.5],
      [t + 10, 'eth0', 19000, null],
      [t + 20, '', 24000, 0.4],
      [t + 20, 'eth0', 24000, null],
    ]);
  });

  it('at 1 s resolution writes every sample as it is', () => {
    const store = Store.open({ path: file() });
    const writers = createMetricsWriters(store);
    const p = new MetricsPersister(writers, 1, 8);
    for (let sec = 0; sec < 3; sec++) p.add(sample(sec, 10 + sec, 0));
    p.flush();
    writers.system.flush();
    const got = store.db.prepare('SELECT ts, cpu_percent FROM system_metrics ORDER BY ts').raw().all();
    store.close();
    expect(got).toEqual([0, 1, 2].map((s) => [T0 / 1000 + s, 10 + s]));
  });

  it('refuses a resolution that is not a whole number of seconds', () => {
    const store = Store.open({ path: file() });
    expect(() => new MetricsPersister(createMetricsWriters(store), 0.5, 8)).toThrow(/whole number of seconds/);
    store.close();
  });
});
