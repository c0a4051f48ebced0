import { Store } from '../store';
import { createMetricsWriters, flushMetricsWriters as flushAll, MetricsPersister } from './persist';
import { CORE_PERCENT, DISK, NET, Sample, SYS } from './sample';
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
  const root = s.mounts.add('/');
  s.mounts.values[root + DISK.disk_total] = 1e11;
  s.mounts.values[root + DISK.disk_used] = 4e10 + sec * 4096 + 1;
  s.mounts.values[root + DISK.disk_percent] = 40 + sec / 100;
  s.mounts.values[root + DISK.disk_read_bytes] = 5000 + sec * 512;
  s.mounts.values[root + DISK.disk_write_bytes] = 9000 + sec * 1024;
  // A mount whose device is not in /proc/diskstats: no I/O counters.
  const nfs = s.mounts.add('/srv/my data');
  s.mounts.values[nfs + DISK.disk_total] = 2e9;
  s.mounts.values[nfs + DISK.disk_used] = 1e9;
  s.mounts.values[nfs + DISK.disk_percent] = 50;
  s.cores.values[s.cores.add('0') + CORE_PERCENT] = cpu;
  s.cores.values[s.cores.add('1') + CORE_PERCENT] = 100 - cpu;
  return s;
}

const LIMITS = { maxInterfaces: 8, maxMounts: 8, maxCpus: 8 };

describe('MetricsPersister', () => {
  const file = tempStorePath();

  it('writes one row per window: gauges as the mean of the samples, counters as the last value, byte means rounded', () => {
    const path = file();
    const store = Store.open({ path });
    const p = new MetricsPersister(createMetricsWriters(store), 10, LIMITS);
    // 25 seconds: two whole windows and a partial one, flushed as at stop.
    for (let sec = 0; sec < 25; sec++) p.add(sample(sec, sec, 1000 * sec));
    p.flush();
    // Closing the store flushes its writers: the rows are read back from the file.
    store.close();
    const db = Store.open({ path });
    const sys = db.db.prepare('SELECT ts, cpu_percent, memory_total, memory_available, disk_read_bytes, load_1 FROM system_metrics ORDER BY ts').raw().all();
    const net = db.db.prepare('SELECT ts, interface, bytes_recv, connections_established FROM network_metrics ORDER BY ts, interface').raw().all();
    const disk = db.db.prepare('SELECT ts, mount, disk_total, disk_used, disk_percent, disk_read_bytes, disk_write_bytes FROM disk_metrics ORDER BY ts, mount').raw().all();
    const cores = db.db.prepare('SELECT ts, cpu, cpu_percent FROM cpu_metrics ORDER BY ts, cpu').raw().all();
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
    const windows: Array<[number, number]> = [[0, 9], [10, 19], [20, 24]];
    expect(disk).toEqual(
      windows.flatMap(([a, b]) => [
        [t + a, '/', 1e11, Math.round(4e10 + mean(a, b) * 4096 + 1), expect.closeTo(40 + mean(a, b) / 100, 9), 5000 + b * 512, 9000 + b * 1024],
        [t + a, '/srv/my data', 2e9, 1e9, 50, null, null],
      ]),
    );
    expect(cores).toEqual(windows.flatMap(([a, b]) => [[t + a, 0, mean(a, b)], [t + a, 1, 100 - mean(a, b)]]));
  });

  it('keeps at most the limit of series per family, counting the samples of the others, and forgets a series gone for a window', () => {
    const store = Store.open({ path: file() });
    const writers = createMetricsWriters(store);
    const p = new MetricsPersister(writers, 10, { maxInterfaces: 8, maxMounts: 1, maxCpus: 1 });
    for (let sec = 0; sec < 10; sec++) p.add(sample(sec, 10, 0));
    p.flush();
    expect(p.seriesRefused).toBe(20);
    // Then '/' and core 0 are gone and /mnt/new and core 7 appear: they get the slots once the old ones missed a window.
    for (let sec = 10; sec < 20; sec++) {
      const s = sample(sec, 10, 0);
      s.mounts.names[0] = '/mnt/new';
      s.cores.names[0] = '7';
      p.add(s);
    }
    p.flush();
    for (let sec = 20; sec < 30; sec++) {
      const s = sample(sec, 10, 0);
      s.mounts.names[0] = '/mnt/new';
      s.cores.names[0] = '7';
      p.add(s);
    }
    p.flush();
    flushAll(writers);
    const t = T0 / 1000;
    expect(store.db.prepare('SELECT ts, mount FROM disk_metrics ORDER BY ts, mount').raw().all()).toEqual([[t, '/'], [t + 20, '/mnt/new']]);
    expect(store.db.prepare('SELECT ts, cpu FROM cpu_metrics ORDER BY ts, cpu').raw().all()).toEqual([[t, 0], [t + 20, 7]]);
    store.close();
  });

  it('at 1 s resolution writes every sample as it is', () => {
    const store = Store.open({ path: file() });
    const writers = createMetricsWriters(store);
    const p = new MetricsPersister(writers, 1, LIMITS);
    for (let sec = 0; sec < 3; sec++) p.add(sample(sec, 10 + sec, 0));
    p.flush();
    writers.system.flush();
    const got = store.db.prepare('SELECT ts, cpu_percent FROM system_metrics ORDER BY ts').raw().all();
    store.close();
    expect(got).toEqual([0, 1, 2].map((s) => [T0 / 1000 + s, 10 + s]));
  });

  it('refuses a resolution that is not a whole number of seconds', () => {
    const store = Store.open({ path: file() });
    expect(() => new MetricsPersister(createMetricsWriters(store), 0.5, LIMITS)).toThrow(/whole number of seconds/);
    store.close();
  });
});
