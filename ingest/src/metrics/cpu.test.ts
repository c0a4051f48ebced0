import { readFileSync } from 'node:fs';
import { CpuCollector, cpuPercent, parseProcStat, type CpuTimes } from './cpu';
import { DEFAULT_HOST_PATHS } from './collector';
import { PROC_STAT } from './test-fixtures';
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
    });
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

describe('CpuCollector on this machine', () => {
  it('reports cpu_percent within 2 points of a reference computed from two /proc/stat reads around it', () => {
    const c = new CpuCollector(DEFAULT_HOST_PATHS);
    const s = new Sample();
    // Reference: user+nice+system+irq+softirq+steal over everything but guest, between two reads.
    const ref = (text: string) => {
      const f = text.split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
      const busy = f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
      return { busy, total: busy + f[3] + f[4] };
    };
    const a = ref(readFileSync('/proc/stat', 'latin1'));
    c.update(s);
    expect(s.sys[SYS.cpu_percent]).toBeNaN();
    // Some real load for the interval, so the comparison is not between two zeros.
    const until = Date.now() + 400;
    let x = 0;
    while (Date.now() < until) x += Math.sqrt(x + 1);
    c.update(s);
    const b = ref(readFileSync('/proc/stat', 'latin1'));
    const want = (100 * (b.busy - a.busy)) / (b.total - a.total);
    expect(Math.abs(s.sys[SYS.cpu_percent] - want)).toBeLessThanOrEqual(2);
    expect(s.sys[SYS.cpu_count]).toBe(readFileSync('/proc/stat', 'latin1').split('\n').filter((l) => /^cpu\d/.test(l)).length);
  });
});
