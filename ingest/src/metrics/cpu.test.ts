import { readFileSync } from 'node:fs';
import { CpuCollector, cpuPercent, parseProcStat, type CpuTimes } from './cpu';
import { DEFAULT_HOST_PATHS } from './collector';
import { fakeHost, PROC_STAT } from './test-fixtures';
import { Sample, SYS } from './sample';

const times = (user: number, idle: number, extra: Partial<CpuTimes> = {}): CpuTimes => ({ user, nice: 0, system: 0, idle, iowait: 0, irq: 0, softirq: 0, steal: 0, ...extra });

describe('parseProcStat', () => {
  it('reads the aggregate line and one entry per cpuN line', () => {
    expect(parseProcStat(PROC_STAT)).toEqual({
      all: { user: 59926, nice: 2883, system: 13904, idle: 188910, iowait: 1295, irq: 0, softirq: 281, steal: 251 },
      cpus: [
        { user: 25708, nice: 246, system: 6051, idle: 101308, iowait: 249, irq: 0, softirq: 46, steal: 124 },
        { user: 34218, nice: 2637, system: 7852, idle: 87602, iowait: 1045, irq: 0, softirq: 234, steal: 127 },
      ],
      ids: [0, 1],
    });
  });

  it('keeps the number of each core, with holes where a core is offline', () => {
    const text = 'cpu  30 0 0 70 0 0 0 0\ncpu0 10 0 0 40 0 0 0 0\ncpu3 20 0 0 30 0 0 0 0\ncpufreq 1\n';
    expect(parseProcStat(text)).toEqual({ all: times(30, 70), cpus: [times(10, 40), times(20, 30)], ids: [0, 3] });
  });

  it.each([
    ['no aggregate line', 'cpu0 1 2 3 4\nintr 5\n', /no aggregate cpu line/],
    ['a non-number field', 'cpu  1 2 x 4 5\n', /bad number/],
    ['a short line', 'cpu  1 2\n', /short cpu line/],
  ])('refuses %s with a message naming the problem', (_name, text, want) => {
    expect(() => parseProcStat(text)).toThrow(want);
  });
});

describe('cpuPercent', () => {
  it.each([
    ['all busy', times(0, 0), times(100, 0), 100],
    ['half busy', times(0, 0), times(50, 50), 50],
    ['iowait counts as idle', times(0, 0), times(25, 50, { iowait: 25 }), 25],
    ['steal and irq count as busy', times(0, 0), times(0, 50, { steal: 25, irq: 25 }), 50],
    ['no time passed', times(10, 10), times(10, 10), NaN],
  ])('%s', (_name, a, b, want) => {
    expect(cpuPercent(a, b)).toEqual(want);
  });
});

/** A /proc/stat text from the aggregate and per-core [user, idle] jiffies. */
const stat = (all: [number, number], cores: Array<[number, number, number]>) =>
  `cpu  ${all[0]} 0 0 ${all[1]} 0 0 0 0 0 0\n${cores.map(([id, u, i]) => `cpu${id} ${u} 0 0 ${i} 0 0 0 0 0 0`).join('\n')}\nintr 1\n`;

function coreSeries(s: Sample): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < s.cores.count; i++) out[s.cores.names[i]] = s.cores.values[i];
  return out;
}

describe('CpuCollector per core', () => {
  const host = fakeHost();
  const host2 = fakeHost();
  const c = new CpuCollector(host.paths);
  const s = new Sample();
  const round = (text: string) => {
    host.write('stat', text);
    s.clear(0);
    c.update(s);
    return coreSeries(s);
  };

  it('gives each core its busy percent from the second read, named by its number', () => {
    expect(round(stat([0, 0], [[0, 0, 0], [1, 0, 0]]))).toEqual({});
    expect(round(stat([150, 50], [[0, 100, 0], [1, 50, 50]]))).toEqual({ '0': 100, '1': 50 });
  });

  it('leaves out a core while offline, and restarts its deltas when it is back', () => {
    expect(round(stat([200, 100], [[0, 150, 0]]))).toEqual({ '0': 100 });
    // cpu1 back with times far ahead of its last read: no delta against that one.
    expect(round(stat([260, 140], [[0, 170, 20], [1, 9000, 9000]]))).toEqual({ '0': 50 });
    expect(round(stat([320, 240], [[0, 190, 40], [1, 9040, 9040]]))).toEqual({ '0': 50, '1': 50 });
  });

  it('gives no series beyond the sample limit, counted as overflow', () => {
    const small = new Sample({ maxInterfaces: 1, maxMounts: 1, maxCpus: 1 });
    const c2 = new CpuCollector(host2.paths);
    for (const text of [stat([0, 0], [[0, 0, 0], [1, 0, 0]]), stat([100, 100], [[0, 50, 50], [1, 50, 50]])]) {
      host2.write('stat', text);
      small.clear(0);
      c2.update(small);
    }
    expect([coreSeries(small), small.cores.overflow, small.sys[SYS.cpu_count]]).toEqual([{ '0': 50 }, 1, 2]);
  });
});

describe('CpuCollector on this machine', () => {
  it('reports cpu_percent, overall and per core, within 2 points of a reference computed from two /proc/stat reads around it', () => {
    const c = new CpuCollector(DEFAULT_HOST_PATHS);
    const s = new Sample();
    // Reference: user+nice+system+irq+softirq+steal over everything but guest, between two reads.
    const refLine = (line: string) => {
      const f = line.trim().split(/\s+/).slice(1).map(Number);
      const busy = f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
      return { busy, total: busy + f[3] + f[4] };
    };
    const ref = (text: string) => refLine(text.split('\n')[0]);
    const refCores = (text: string) => Object.fromEntries(text.split('\n').filter((l) => /^cpu\d/.test(l)).map((l) => [/^cpu(\d+)/.exec(l)![1], refLine(l)]));
    const before = readFileSync('/proc/stat', 'latin1');
    const a = ref(before);
    const aCores = refCores(before);
    c.update(s);
    expect(s.sys[SYS.cpu_percent]).toBeNaN();
    // Some real load for the interval, so the comparison is not between two zeros.
    const until = Date.now() + 400;
    let x = 0;
    while (Date.now() < until) x += Math.sqrt(x + 1);
    c.update(s);
    const after = readFileSync('/proc/stat', 'latin1');
    const b = ref(after);
    const want = (100 * (b.busy - a.busy)) / (b.total - a.total);
    expect(Math.abs(s.sys[SYS.cpu_percent] - want)).toBeLessThanOrEqual(2);
    const bCores = refCores(after);
    const got = coreSeries(s);
    expect(Object.keys(got).sort()).toEqual(Object.keys(bCores).sort());
    for (const [id, r] of Object.entries(bCores)) {
      const wantCore = (100 * (r.busy - aCores[id].busy)) / (r.total - aCores[id].total);
      expect([id, Math.abs(got[id] - wantCore) <= 2]).toEqual([id, true]);
    }
    expect(s.sys[SYS.cpu_count]).toBe(readFileSync('/proc/stat', 'latin1').split('\n').filter((l) => /^cpu\d/.test(l)).length);
  });
});
