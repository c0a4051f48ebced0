import { readFileSync } from 'node:fs';
import { DEFAULT_HOST_PATHS } from './collector';
import { LoadCollector, parseLoadavg } from './load';
import { Sample, SYS } from './sample';
import { LOADAVG } from './test-fixtures';

describe('parseLoadavg', () => {
  it('reads the three averages', () => {
    expect(parseLoadavg(LOADAVG)).toEqual([0.34, 0.77, 0.56]);
  });

  it.each(['', '0.1 0.2\n', 'a b c 1/2 3\n', '-1 0 0 1/1 1\n'])('refuses %j', (text) => {
    expect(() => parseLoadavg(text)).toThrow(/cannot parse/);
  });
});

describe('LoadCollector on this machine', () => {
  it('reports what /proc/loadavg says (the 15-minute average moves slowly enough to compare)', () => {
    const s = new Sample();
    new LoadCollector(DEFAULT_HOST_PATHS).update(s);
    const [, , l15] = readFileSync('/proc/loadavg', 'latin1').split(' ').map(Number);
    expect(Math.abs(s.sys[SYS.load_15] - l15)).toBeLessThan(0.05);
  });
});
