import { MetricsRing } from './ring';
import { NET, NET_FIELDS, Sample, SYS, SYS_FIELDS } from './sample';

function sample(tsMs: number, cpu: number, ifs: string[] = []): Sample {
  const s = new Sample({ maxInterfaces: 8, maxMounts: 2, maxCpus: 2 });
  s.clear(tsMs);
  s.sys[SYS.cpu_percent] = cpu;
  for (const name of ifs) s.interfaces.values[s.interfaces.add(name) + NET.bytes_recv] = cpu * 10;
  return s;
}

function cpuSeries(r: MetricsRing, from = -Infinity, to = Infinity): Array<[number, number]> {
  const [a, b] = r.range(from, to);
  const out: Array<[number, number]> = [];
  for (let i = a; i < b; i++) {
    const p = r.physical(i);
    out.push([r.ts[p], r.sys[p * SYS_FIELDS + SYS.cpu_percent]]);
  }
  return out;
}

describe('MetricsRing', () => {
  it('keeps the newest records in time order once full, counting the overwritten ones', () => {
    const r = new MetricsRing({ capacity: 3, maxInterfaces: 2, maxMounts: 2, maxCpus: 2 });
    for (let i = 1; i <= 5; i++) r.push(sample(i * 1000, i));
    expect(cpuSeries(r)).toEqual([[3000, 3], [4000, 4], [5000, 5]]);
    expect([r.size, r.overwritten, r.oldestMs(), r.newestMs()]).toEqual([3, 2, 3000, 5000]);
  });

  it('finds a time range by binary search across the wrap point', () => {
    const r = new MetricsRing({ capacity: 4, maxInterfaces: 2, maxMounts: 2, maxCpus: 2 });
    for (let i = 1; i <= 6; i++) r.push(sample(i * 1000, i));
    expect(cpuSeries(r, 4000, 6000)).toEqual([[4000, 4], [5000, 5]]);
    expect(cpuSeries(r, 10_000, 20_000)).toEqual([]);
  });

  it('refuses a sample not newer than the last one (the clock stepped back), counted', () => {
    const r = new MetricsRing({ capacity: 4, maxInterfaces: 2, maxMounts: 2, maxCpus: 2 });
    r.push(sample(2000, 1));
    expect(r.push(sample(1000, 2))).toBe(false);
    expect([r.size, r.outOfOrder]).toEqual([1, 1]);
  });

  it('gives a labelled series a slot, NaN where it was absent, and hands a slot over only once its data aged out', () => {
    const r = new MetricsRing({ capacity: 3, maxInterfaces: 1, maxMounts: 1, maxCpus: 1 });
    r.push(sample(1000, 1, ['eth0']));
    r.push(sample(2000, 2, []));
    // No free slot and eth0 still has a record: veth1 is refused and counted.
    r.push(sample(3000, 3, ['veth1']));
    expect([r.seriesRefused, r.interfaceNames()]).toEqual([1, ['eth0']]);
    const eth0 = r.interface('eth0')!;
    const at = (i: number) => eth0.values[r.physical(i) * NET_FIELDS + NET.bytes_recv];
    expect([at(0), at(1), at(2)]).toEqual([10, NaN, NaN]);
    // eth0's only record is overwritten now: the slot goes to veth1.
    r.push(sample(4000, 4, ['veth1']));
    expect([r.interfaceNames(), r.interface('eth0'), r.interface('veth1')!.values[r.physical(2) * NET_FIELDS + NET.bytes_recv]]).toEqual([['veth1'], undefined, 40]);
  });

  it('costs the same memory full as empty: fixed-size typed-array records', () => {
    const r = new MetricsRing({ capacity: 3600, maxInterfaces: 4, maxMounts: 4, maxCpus: 4 });
    r.push(sample(1000, 1, ['eth0']));
    const before = r.bytes;
    for (let i = 2; i <= 4000; i++) r.push(sample(i * 1000, i % 100, ['eth0']));
    expect(r.bytes).toBe(before);
    // 8 bytes of time plus 8 per field of the system, network total, capture and eth0 blocks.
    expect(before).toBe(3600 * 8 * (1 + 13 + 11 + 5 + 11));
  });
});
