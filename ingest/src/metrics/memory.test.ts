import { readFileSync } from 'node:fs';
import { DEFAULT_HOST_PATHS } from './collector';
import { MemoryCollector, memoryValues, parseMeminfo } from './memory';
import { Sample, SYS } from './sample';
import { MEMINFO } from './test-fixtures';

describe('parseMeminfo and memoryValues', () => {
  it('turns kB into bytes and keeps unitless counts as they are', () => {
    const m = parseMeminfo(MEMINFO);
    expect([m.get('MemTotal'), m.get('MemAvailable'), m.get('HugePages_Total'), m.get('Hugepagesize')]).toEqual([24683568 * 1024, 23573328 * 1024, 0, 2048 * 1024]);
  });

  it('uses MemAvailable, and reports used as the part not available', () => {
    expect(memoryValues(parseMeminfo(MEMINFO))).toEqual({
      total: 24683568 * 1024,
      available: 23573328 * 1024,
      percent: (100 * (24683568 - 23573328)) / 24683568,
    });
  });

  it('falls back to free + buffers + cache on kernels without MemAvailable', () => {
    const old = MEMINFO.replace(/^MemAvailable:.*\n/m, '');
    expect(memoryValues(parseMeminfo(old)).available).toBe((22968720 + 10156 + 519008) * 1024);
  });

  it('refuses a text without MemTotal', () => {
    expect(() => memoryValues(parseMeminfo('garbage\n'))).toThrow(/no MemTotal/);
  });
});

describe('MemoryCollector on this machine', () => {
  it('reports memory_total equal to MemTotal x 1024 exactly', () => {
    const s = new Sample();
    new MemoryCollector(DEFAULT_HOST_PATHS).update(s);
    const kb = Number(/^MemTotal:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'latin1'))![1]);
    expect(s.sys[SYS.memory_total]).toBe(kb * 1024);
    expect(s.sys[SYS.memory_available]).toBeGreaterThan(0);
    expect(s.sys[SYS.memory_available]).toBeLessThanOrEqual(kb * 1024);
  });
});
