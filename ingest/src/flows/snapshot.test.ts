import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseCidr } from '../protocol/cidr';
import { flowStats, queryFlowSeries, queryFlows, queryTopTalkers } from './queries';
import { loadSnapshot, saveSnapshot } from './snapshot';
import { FlowTable } from './table';
import { ALL_TIME, T0, feed, filter, rows, type PacketSpec } from './test-packets';

const A = '10.0.0.1';
const B = '10.0.0.2';
const C = '10.0.0.3';
const D = '10.0.0.4';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'netwatch-flows-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Three minutes of mixed traffic: a closed connection and its successor on the same 5-tuple, IPv6, ICMP, a long UDP flow. */
function scenario(extra: PacketSpec[] = []): PacketSpec[] {
  const tcp = (from: string, flags: string, t: number): PacketSpec =>
    from === A ? { src: A, sport: 40000, dst: B, dport: 80, flags, t } : { src: B, sport: 80, dst: A, dport: 40000, flags, t };
  const specs: PacketSpec[] = [
    tcp(A, 'S', 0),
    tcp(B, 'SA', 1),
    tcp(A, 'A', 2),
    tcp(A, 'FA', 10_000),
    tcp(B, 'FA', 10_001),
    tcp(A, 'S', 20_000),
    tcp(B, 'SA', 20_001),
    { src: '2001:db8::1', sport: 5000, dst: '2001:db8::2', dport: 53, proto: 'udp', t: 30_000, len: 90 },
    { src: '2001:db8::2', sport: 53, dst: '2001:db8::1', dport: 5000, proto: 'udp', t: 30_001, len: 200 },
    { src: A, dst: C, proto: 'icmp', sport: 8, t: 40_000, len: 98 },
    { src: C, dst: A, proto: 'icmp', sport: 0, t: 40_001, len: 98 },
    ...extra,
  ];
  for (let t = 0; t <= 180_000; t += 5000) specs.push({ src: A, sport: 6000, dst: D, dport: 123, proto: 'udp', t, len: 76 + (t % 7) });
  return specs.sort((a, b) => (a.t ?? 0) - (b.t ?? 0));
}

function tableOf(specs: PacketSpec[]): FlowTable {
  const t = new FlowTable({ maxFlows: 1000 });
  feed(t, specs);
  return t;
}

/** Every query kind over the table, for whole-result comparison. */
function answers(t: FlowTable) {
  const series = { ...ALL_TIME, intervalMs: 30_000 } as const;
  const { packets, bytes, flowsCreated, evictions, expired, closed, bucketLogDrops, ...state } = flowStats(t);
  return {
    flows: queryFlows(t, filter(), { ...ALL_TIME, orderBy: 'last_seen', limit: 100 }),
    bytes: queryFlowSeries(t, filter(), { ...series, metric: 'bytes' }),
    byPort: queryFlowSeries(t, filter(), { ...series, metric: 'packets', groupBy: 'dst_port', limit: 2 }),
    udp: queryFlowSeries(t, filter({ protocol: [17] }), { ...series, metric: 'bytes' }),
    newFlows: queryFlowSeries(t, filter(), { ...series, metric: 'flows' }),
    talkers: queryTopTalkers(t, filter(), { fromMs: T0 + 15_000, toMs: T0 + 95_000, by: 'pair' }),
    state,
  };
}

describe('flow snapshots', () => {
  it('restores identical query results, and the restored flows keep counting', () => {
    const t = tableOf(scenario());
    const file = path.join(dir, 'round-trip.snap');
    const saved = saveSnapshot(t, file);
    const u = new FlowTable({ maxFlows: 1000 });
    expect(loadSnapshot(u, file, t.nowUs())).toEqual({ loaded: 5, dropped: 0 });
    expect({ saved, files: readdirSync(dir) }).toEqual({ saved: { flows: 5, bytes: statSync(file).size }, files: ['round-trip.snap'] });
    expect(answers(u)).toEqual(answers(t));

    // The index is rebuilt: packets of restored flows land in them (including the successor of the closed one).
    const more: PacketSpec[] = [
      { src: B, sport: 80, dst: A, dport: 40000, flags: 'A', t: 181_000 },
      { src: D, sport: 123, dst: A, dport: 6000, proto: 'udp', t: 181_500 },
      { src: A, sport: 40000, dst: B, dport: 80, flags: 'R', t: 182_000 },
    ];
    feed(t, more);
    feed(u, more);
    expect(answers(u)).toEqual(answers(t));
    expect({ size: u.size, closed: u.counters().closed }).toEqual({ size: 5, closed: 1 });
  });

  it('drops flows past retention at load time', () => {
    const t = tableOf(scenario());
    const file = path.join(dir, 'retention.snap');
    saveSnapshot(t, file);
    const u = new FlowTable({ maxFlows: 1000 });
    // An hour after 45 s: only the long UDP flow (last packet at 180 s) is still inside the retention window.
    expect(loadSnapshot(u, file, (T0 + 3_645_000) * 1000)).toEqual({ loaded: 1, dropped: 4 });
    expect(queryFlows(u, filter(), ALL_TIME).data.values[3]).toEqual([123]);
  });

  it('evicts idle flows first when restoring into a smaller table, without mixing up their series', () => {
    const t = tableOf(scenario());
    const file = path.join(dir, 'smaller.snap');
    saveSnapshot(t, file);
    const u = new FlowTable({ maxFlows: 3, bucketLogEntries: 1000 });
    expect(loadSnapshot(u, file, t.nowUs())).toEqual({ loaded: 3, dropped: 2 });
    expect(u.counters().bucketLogDrops).toBe(0);
    const kept = rows(queryFlows(u, filter(), { ...ALL_TIME, orderBy: 'last_seen' }));
    // At 180 s the closed connection and the IPv6 UDP flow are idle; the TCP successor (300 s timeout) is not.
    expect(kept.map((r) => [r.protocol, r.dst_port])).toEqual([
      ['udp', 123],
      ['icmp', 0],
      ['tcp', 80],
    ]);
    // Evicted records' slots were reused during the load: their bucket entries must not leak into the new flows.
    const sums = kept.map((r) => {
      const only = filter({ srcCidr: [parseCidr(r.src_ip as string)], dstCidr: [parseCidr(r.dst_ip as string)], protocol: [({ tcp: 6, udp: 17, icmp: 1 } as Record<string, number>)[r.protocol as string]] });
      const [series] = queryFlowSeries(u, only, { ...ALL_TIME, intervalMs: 10_000, metric: 'bytes' });
      return (series.data.values[1] as number[]).reduce((a, v) => a + v * 10, 0);
    });
    expect(sums).toEqual(kept.map((r) => (r.bytes as number) + (r.bytes_rev as number)));
  });

  const corruptions: Array<[string, (b: Buffer) => Buffer, RegExp]> = [
    ['a flipped magic byte', (b) => flip(b, 0), /bad magic/],
    ['a flipped version byte', (b) => flip(b, 8), /has version 253; this build reads version 2$/],
    ['a flipped flow count', (b) => flip(b, 16), /announces/],
    ['a flipped checksum', (b) => flip(b, 28), /CRC-32/],
    ['a flipped epoch byte in the header', (b) => flip(b, 45), /CRC-32/],
    ['a flipped address byte in a flow', (b) => flip(b, 64 + 80 + 9), /CRC-32/],
    ['a flipped last byte', (b) => flip(b, b.length - 1), /CRC-32/],
    ['a file cut inside the header', (b) => b.subarray(0, 40), /truncated: 40 bytes/],
    ['a file missing its last byte', (b) => b.subarray(0, b.length - 1), /announces/],
    ['an empty file', () => Buffer.alloc(0), /truncated: 0 bytes/],
  ];
  it.each(corruptions)('ignores a snapshot with %s and says why', (_name, damage, reason) => {
    const file = path.join(dir, 'corrupt.snap');
    saveSnapshot(tableOf(scenario()), file);
    writeFileSync(file, damage(readFileSync(file)));
    const u = new FlowTable({ maxFlows: 1000 });
    const got = loadSnapshot(u, file, 0);
    expect({ type: typeof got, size: u.size, pristine: u.isPristine() }).toEqual({ type: 'string', size: 0, pristine: true });
    expect(got).toMatch(reason);
  });

  it('restores nothing from a missing file', () => {
    expect(loadSnapshot(new FlowTable({ maxFlows: 10 }), path.join(dir, 'absent.snap'), 0)).toEqual({ loaded: 0, dropped: 0 });
  });

  it('refuses to load into a table that has seen packets', () => {
    const file = path.join(dir, 'busy.snap');
    saveSnapshot(tableOf(scenario()), file);
    const busy = tableOf([{ src: A, dst: B, proto: 'udp' }]);
    expect(loadSnapshot(busy, file, 0)).toMatch(/not seen packets/);
    expect(busy.size).toBe(1);
  });

  it('writes an empty table', () => {
    const file = path.join(dir, 'empty.snap');
    expect(saveSnapshot(new FlowTable({ maxFlows: 10 }), file)).toEqual({ flows: 0, bytes: 64 });
    expect(loadSnapshot(new FlowTable({ maxFlows: 10 }), file, 0)).toEqual({ loaded: 0, dropped: 0 });
  });
});

function flip(b: Buffer, at: number): Buffer {
  const c = Buffer.from(b);
  c[at] ^= 0xff;
  return c;
}
