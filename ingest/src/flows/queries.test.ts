import { parseCidr } from '../protocol/cidr';
import { TopN, flowStats, queryFlowSeries, queryFlows, queryTopTalkers, type FlowFilter, type FlowSeriesOptions } from './queries';
import { FlowTable } from './table';
import { ALL_TIME, T0, feed, filter, pick, rows, type PacketSpec } from './test-packets';

const A = '10.0.0.1';
const B = '10.0.0.2';
const C = '10.0.0.3';
const D = '10.0.0.4';

/** One flow of `packets` packets of `len` bytes from src to dst, starting at `t` ms, one every `every` ms. */
function flow(src: string, sport: number, dst: string, dport: number, proto: PacketSpec['proto'], o: { packets?: number; len?: number; t?: number; every?: number } = {}): PacketSpec[] {
  return Array.from({ length: o.packets ?? 1 }, (_, i) => ({ src, sport, dst, dport, proto, flags: 'A', len: o.len ?? 100, t: (o.t ?? 0) + i * (o.every ?? 1) }));
}

/** A table fed the flows' packets in time order, as a capture delivers them. */
function tableOf(...specs: PacketSpec[][]): FlowTable {
  const t = new FlowTable({ maxFlows: 1000 });
  feed(
    t,
    specs.flat().sort((a, b) => (a.t ?? 0) - (b.t ?? 0)),
  );
  return t;
}

function select(t: FlowTable, f: FlowFilter, key: (r: Record<string, unknown>) => string): string[] {
  return rows(queryFlows(t, f, { ...ALL_TIME, limit: 1000 })).map(key).sort();
}

describe('flow filters', () => {
  const t = tableOf(
    ...['10.1.2.0', '10.1.2.255', '10.1.1.255', '10.1.3.0'].map((s) => flow(s, 40000, '192.0.2.1', 443, 'tcp')),
    ...['2001:db8:0:1::', '2001:db8:0:1:ffff:ffff:ffff:ffff', '2001:db8::ffff:ffff:ffff:ffff', '2001:db8:0:2::'].map((s) => flow(s, 40000, '2001:db8:ffff::1', 443, 'tcp')),
  );
  const cidrs = (...texts: string[]) => texts.map((x) => parseCidr(x));
  const cases: Array<[string, Partial<FlowFilter>, string[]]> = [
    ['an IPv4 /24 keeps its first and last address, not its neighbours', { srcCidr: cidrs('10.1.2.0/24') }, ['10.1.2.0', '10.1.2.255']],
    ['an IPv4 /25 keeps only its half', { srcCidr: cidrs('10.1.2.128/25') }, ['10.1.2.255']],
    ['an IPv6 /64 keeps its first and last address, not its neighbours', { srcCidr: cidrs('2001:db8:0:1::/64') }, ['2001:db8:0:1::', '2001:db8:0:1:ffff:ffff:ffff:ffff']],
    ['cidr matches either end', { cidr: cidrs('10.1.2.0/24') }, ['10.1.2.0', '10.1.2.255']],
    ['cidr matches the responder end too', { cidr: cidrs('192.0.2.1/32') }, ['10.1.1.255', '10.1.2.0', '10.1.2.255', '10.1.3.0']],
    ['dstCidr matches only the responder', { dstCidr: cidrs('10.1.2.0/24') }, []],
    ['0.0.0.0/0 matches every IPv4 flow and no IPv6 one', { srcCidr: cidrs('0.0.0.0/0') }, ['10.1.1.255', '10.1.2.0', '10.1.2.255', '10.1.3.0']],
    ['::/0 matches every IPv6 flow and no IPv4 one', { srcCidr: cidrs('::/0') }, ['2001:db8:0:1::', '2001:db8:0:1:ffff:ffff:ffff:ffff', '2001:db8:0:2::', '2001:db8::ffff:ffff:ffff:ffff']],
    ['blocks of one list are ORed, across families', { srcCidr: cidrs('10.1.1.255/32', '2001:db8:0:2::/64') }, ['10.1.1.255', '2001:db8:0:2::']],
    ['lists are ANDed', { srcCidr: cidrs('10.1.0.0/16'), dstCidr: cidrs('2001:db8::/32') }, []],
    ['a v4-mapped IPv6 block does not match IPv4 flows', { srcCidr: cidrs('::ffff:10.1.2.0/120') }, []],
  ];
  it.each(cases)('%s', (_name, f, want) => {
    expect(select(t, filter(f), (r) => r.src_ip as string)).toEqual(want);
  });
});

describe('port and protocol filters', () => {
  const t = tableOf(
    flow(A, 999, B, 80, 'tcp'),
    flow(A, 1000, B, 80, 'tcp'),
    flow(A, 2000, B, 80, 'tcp'),
    flow(A, 2001, B, 80, 'tcp'),
    flow(A, 5000, B, 1500, 'udp'),
    flow(C, 1500, B, 80, 'tcp'),
    flow(A, 8, B, 0, 'icmp'),
    flow(A, 0, B, 0, 47),
  );
  const cases: Array<[string, Partial<FlowFilter>, string[]]> = [
    ['port ranges include both edges, at either end', { port: [[1000, 2000]] }, ['tcp:1000', 'tcp:1500', 'tcp:2000', 'udp:5000']],
    ['srcPort matches the initiator port only', { srcPort: [[1000, 2000]] }, ['tcp:1000', 'tcp:1500', 'tcp:2000']],
    ['dstPort matches the responder port only', { dstPort: [[1000, 2000]] }, ['udp:5000']],
    ['ranges of one list are ORed', { dstPort: [[1500, 1500], [80, 80]] }, ['tcp:1000', 'tcp:1500', 'tcp:2000', 'tcp:2001', 'tcp:999', 'udp:5000']],
    ['a port filter leaves out ICMP, whose type and code sit in the port fields', { port: [[0, 10]] }, []],
    ['protocol', { protocol: [17] }, ['udp:5000']],
    ['protocols are ORed', { protocol: [1, 47] }, ['gre:0', 'icmp:8']],
    ['protocol and port are ANDed', { protocol: [6], port: [[1500, 5000]] }, ['tcp:1500', 'tcp:2000', 'tcp:2001']],
    ['cidr, port and protocol combined', { srcCidr: [parseCidr(`${A}/32`)], dstPort: [[80, 80]], protocol: [6, 17] }, ['tcp:1000', 'tcp:2000', 'tcp:2001', 'tcp:999']],
  ];
  it.each(cases)('%s', (_name, f, want) => {
    expect(select(t, filter(f), (r) => `${r.protocol}:${r.src_port}`)).toEqual(want);
  });
});

describe('queryFlows', () => {
  it('returns one row per flow with both directions, as a whole frame', () => {
    const t = tableOf([
      { src: A, sport: 40000, dst: B, dport: 443, flags: 'S', len: 74, t: 1000 },
      { src: B, sport: 443, dst: A, dport: 40000, flags: 'SA', len: 74, t: 1001 },
      { src: A, sport: 40000, dst: B, dport: 443, flags: 'A', len: 66, t: 1002 },
      { src: B, sport: 443, dst: A, dport: 40000, flags: 'R', len: 60, t: 2500 },
    ]);
    expect(queryFlows(t, filter(), ALL_TIME)).toEqual({
      schema: {
        name: 'flows',
        refId: '',
        fields: [
          { name: 'src_ip', type: 'string' },
          { name: 'src_port', type: 'number' },
          { name: 'dst_ip', type: 'string' },
          { name: 'dst_port', type: 'number' },
          { name: 'protocol', type: 'string' },
          { name: 'packets', type: 'number' },
          { name: 'bytes', type: 'number' },
          { name: 'packets_rev', type: 'number' },
          { name: 'bytes_rev', type: 'number' },
          { name: 'first_seen', type: 'time' },
          { name: 'last_seen', type: 'time' },
          { name: 'state', type: 'string' },
        ],
      },
      data: { values: [[A], [40000], [B], [443], ['tcp'], [2], [140], [2], [134], [T0 + 1000], [T0 + 2500], ['closed']] },
    });
  });

  const t = tableOf(
    flow(A, 1, B, 80, 'tcp', { packets: 5, len: 1000, t: 0, every: 2500 }), // bytes 5000, last 10 s
    flow(A, 2, B, 80, 'tcp', { packets: 30, len: 100, t: 0, every: 689 }), // bytes 3000, last 19.98 s
    flow(A, 3, B, 80, 'tcp', { packets: 2, len: 4000, t: 0, every: 5000 }), // bytes 8000, last 5 s
  );
  it.each([
    ['bytes', 2, [3, 1]],
    ['packets', 2, [2, 1]],
    ['last_seen', 3, [2, 1, 3]],
    ['bytes', 0, []],
    ['bytes', 10, [3, 1, 2]],
  ] as const)('orders by %s and keeps the top %d', (orderBy, limit, want) => {
    expect(rows(queryFlows(t, filter(), { ...ALL_TIME, orderBy, limit })).map((r) => r.src_port)).toEqual(want);
  });

  it.each([
    ['a range inside one flow', 2000, 3000, [1, 2, 3]],
    ['a range starting at a last packet (inclusive)', 10_000, 60_000, [1, 2]],
    ['a range after every flow', 20_000, 60_000, []],
    ['a range before every flow', -60_000, -1, []],
  ])('returns the flows overlapping %s', (_name, from, to, want) => {
    expect(rows(queryFlows(t, filter(), { fromMs: T0 + from, toMs: T0 + to })).map((r) => r.src_port as number).sort()).toEqual(want);
  });
});

describe('queryFlowSeries', () => {
  // Buckets are 10 s and T0 is on a bucket boundary: bucket 0 is [T0, T0+10 s), bucket 1 the next.
  const t = tableOf(
    flow(A, 40000, B, 443, 'tcp', { len: 6000, t: 1000 }),
    flow(A, 40000, B, 443, 'tcp', { len: 4000, t: 11_000 }),
    flow(A, 40001, C, 80, 'tcp', { len: 5000, t: 2000 }),
    flow(C, 5353, B, 53, 'udp', { len: 2000, t: 12_000 }),
    flow(D, 40002, B, 22, 'tcp', { len: 1000, t: 3000 }),
    flow(A, 8, D, 0, 'icmp', { len: 500, t: 13_000 }),
  );
  const range = { fromMs: T0, toMs: T0 + 19_999 };
  const series = (f: Partial<FlowFilter>, o: Partial<FlowSeriesOptions>) =>
    queryFlowSeries(t, filter(f), { ...range, intervalMs: 10_000, metric: 'bytes', ...o }).map((fr) => ({
      name: fr.schema.name,
      labels: fr.schema.fields[1].labels,
      field: fr.schema.fields[1].name,
      time: fr.data.values[0],
      value: fr.data.values[1],
    }));
  const times = [T0, T0 + 10_000];

  it('groups by destination port, keeping the top N and summing the rest into "other"', () => {
    expect(series({}, { groupBy: 'dst_port', limit: 2 })).toEqual([
      { name: '443', labels: { dst_port: '443' }, field: 'bytes', time: times, value: [600, 400] },
      { name: '80', labels: { dst_port: '80' }, field: 'bytes', time: times, value: [500, 0] },
      // 22 and 53, and ICMP which has no port.
      { name: 'other', labels: { dst_port: 'other' }, field: 'bytes', time: times, value: [100, 250] },
    ]);
  });

  it('sums "other" from the filtered flows only under a filter', () => {
    expect(series({ protocol: [6, 17] }, { groupBy: 'dst_port', limit: 2 }).map((s) => [s.name, s.value])).toEqual([
      ['443', [600, 400]],
      ['80', [500, 0]],
      ['other', [100, 200]],
    ]);
  });

  it('leaves "other" out when every group fits', () => {
    expect(series({}, { groupBy: 'protocol', limit: 5 }).map((s) => [s.name, s.value])).toEqual([
      ['tcp', [1200, 400]],
      ['udp', [0, 200]],
      ['icmp', [0, 50]],
    ]);
  });

  it.each([
    ['src_ip', {}, [[A, [1100, 450]], [C, [0, 200]], ['other', [100, 0]]]],
    ['dst_ip', {}, [[B, [700, 600]], [C, [500, 0]], ['other', [0, 50]]]],
    ['subnet', { subnetPrefix: 24 }, [['10.0.0.0/24', [1200, 650]]]],
  ] as const)('groups by %s', (groupBy, extra, want) => {
    expect(series({}, { groupBy, limit: 2, ...extra }).map((s) => [s.name, s.value])).toEqual(want);
  });

  it('adds up to the ungrouped series', () => {
    const grouped = series({}, { groupBy: 'dst_port', limit: 1 });
    const [total] = series({}, {});
    expect(times.map((_, k) => grouped.reduce((sum, s) => sum + (s.value[k] as number), 0))).toEqual(total.value);
    expect(total).toEqual({ name: 'bytes', labels: undefined, field: 'bytes', time: times, value: [1200, 650] });
  });

  it.each([
    ['packets per second', { metric: 'packets', intervalMs: 20_000 }, [T0], [0.3]],
    ['new flows per interval', { metric: 'flows' }, [T0, T0 + 10_000], [3, 2]],
    ['an interval rounded up to a multiple of the bucket', { intervalMs: 15_000 }, [T0], [925]],
  ] as Array<[string, Partial<FlowSeriesOptions>, number[], number[]]>)('computes %s', (_name, o, time, value) => {
    expect(series({}, o).map((s) => ({ time: s.time, value: s.value }))).toEqual([{ time, value }]);
  });

  it('counts new flows per group', () => {
    expect(series({}, { metric: 'flows', groupBy: 'dst_ip', limit: 1 }).map((s) => [s.name, s.value])).toEqual([
      [B, [2, 1]],
      ['other', [1, 1]],
    ]);
  });

  it('returns one empty series for a range outside the window', () => {
    expect(series({}, { fromMs: T0 - 86_400_000, toMs: T0 - 1 })).toEqual([{ name: 'bytes', labels: undefined, field: 'bytes', time: [], value: [] }]);
  });
});

describe('queryTopTalkers', () => {
  const t = tableOf(
    flow(A, 40000, B, 443, 'tcp', { len: 1000 }),
    flow(A, 40001, C, 443, 'tcp', { len: 500, t: 1 }),
    flow(C, 5353, B, 53, 'udp', { len: 300, t: 2 }),
    flow(D, 40002, B, 80, 'tcp', { len: 200, t: 3 }),
  );
  it.each([
    ['ip', 'bytes', { ip: [A, B, C, D], bytes: [1500, 1500, 800, 200], packets: [2, 3, 2, 1], flows: [2, 3, 2, 1] }],
    ['ip', 'flows', { ip: [B, A, C, D], bytes: [1500, 1500, 800, 200], packets: [3, 2, 2, 1], flows: [3, 2, 2, 1] }],
    ['src_ip', 'bytes', { src_ip: [A, C, D], bytes: [1500, 300, 200], packets: [2, 1, 1], flows: [2, 1, 1] }],
    ['dst_ip', 'bytes', { dst_ip: [B, C], bytes: [1500, 500], packets: [3, 1], flows: [3, 1] }],
    ['pair', 'bytes', { src_ip: [A, A, C, D], dst_ip: [B, C, B, B], bytes: [1000, 500, 300, 200], packets: [1, 1, 1, 1], flows: [1, 1, 1, 1] }],
    ['dst_port', 'packets', { dst_port: [443, 53, 80], bytes: [1500, 300, 200], packets: [2, 1, 1], flows: [2, 1, 1] }],
  ] as const)('totals by %s, ordered by %s', (by, orderBy, want) => {
    const f = queryTopTalkers(t, filter(), { ...ALL_TIME, by, orderBy });
    expect(Object.fromEntries(f.schema.fields.map((x, i) => [x.name, f.data.values[i]]))).toEqual(want);
  });

  it('keeps the top N', () => {
    expect(rows(queryTopTalkers(t, filter(), { ...ALL_TIME, by: 'ip', limit: 2 })).map((r) => r.ip)).toEqual([A, B]);
  });

  it('counts only the part of a flow inside the range, to the bucket', () => {
    // Packets at 0, 10, ..., 60 s; the range 25-45 s touches buckets [20, 30), [30, 40), [40, 50).
    const long = tableOf(flow(A, 1, B, 2, 'udp', { packets: 7, every: 10_000 }), flow(C, 1, B, 2, 'udp', { t: 32_000, len: 50 }));
    const f = queryTopTalkers(long, filter(), { fromMs: T0 + 25_000, toMs: T0 + 45_000, by: 'src_ip' });
    expect(pick(rows(f), ['src_ip', 'bytes', 'packets', 'flows'])).toEqual([
      { src_ip: A, bytes: 300, packets: 3, flows: 1 },
      { src_ip: C, bytes: 50, packets: 1, flows: 1 },
    ]);
  });

  it('applies the filter', () => {
    const f = queryTopTalkers(t, filter({ protocol: [17] }), { ...ALL_TIME, by: 'ip' });
    expect(pick(rows(f), ['ip', 'bytes'])).toEqual([
      { ip: B, bytes: 300 },
      { ip: C, bytes: 300 },
    ]);
  });
});

describe('TopN', () => {
  /** xorshift32: deterministic keys with many ties. */
  function keysOf(n: number, distinct: number, seed: number): Float64Array {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      out[i] = (seed >>> 0) % distinct;
    }
    return out;
  }
  it.each([
    [10, 1000, 1000],
    [100, 10_000, 7],
    [1000, 5000, 3],
    [5000, 5000, 1],
    [7, 3, 10],
    [0, 100, 10],
  ])('keeps the best %d of %d keys (%d distinct), ties by the tie order, as a full sort would', (limit, n, distinct) => {
    const keys = keysOf(n, distinct, 0x9e3779b9 ^ n);
    // Lower ids rank first on equal keys.
    const top = new TopN(limit, (a, b) => b - a);
    for (let i = 0; i < n; i++) if (keys[i] >= top.floor) top.offer(i, keys[i]);
    const want = Array.from({ length: n }, (_, i) => i)
      .sort((a, b) => keys[b] - keys[a] || a - b)
      .slice(0, limit);
    expect(Array.from(top.sorted())).toEqual(want);
  });
});

describe('ties and IPv6 groups', () => {
  const equal = tableOf(
    flow('2001:db8::10', 1, '2001:db8::1', 80, 'tcp', { len: 100 }),
    flow('2001:db8::9', 1, '2001:db8::1', 80, 'tcp', { len: 100, t: 1 }),
    flow('10.0.0.2', 1, B, 80, 'tcp', { len: 100, t: 2 }),
    flow('9.0.0.1', 1, B, 80, 'tcp', { len: 100, t: 3 }),
    flow('255.0.0.1', 1, B, 80, 'tcp', { len: 100, t: 4 }),
  );

  it('ranks equal talkers by ascending key: IPv4 before IPv6, each address compared as a number', () => {
    const f = queryTopTalkers(equal, filter(), { ...ALL_TIME, by: 'src_ip' });
    expect(rows(f).map((r) => r.src_ip)).toEqual(['9.0.0.1', '10.0.0.2', '255.0.0.1', '2001:db8::9', '2001:db8::10']);
  });

  it('ranks equal series by ascending key and keeps the rest in "other"', () => {
    const f = queryFlowSeries(equal, filter(), { ...ALL_TIME, fromMs: T0, toMs: T0 + 9999, intervalMs: 10_000, metric: 'flows', groupBy: 'src_ip', limit: 4 });
    expect(f.map((x) => [x.schema.name, x.data.values[1]])).toEqual([
      ['9.0.0.1', [1]],
      ['10.0.0.2', [1]],
      ['255.0.0.1', [1]],
      ['2001:db8::9', [1]],
      ['other', [1]],
    ]);
  });

  it('ranks equal pairs by initiator, then responder, IPv4 pairs first', () => {
    const t = tableOf(
      flow('2001:db8::2', 1, '2001:db8::1', 80, 'udp', { len: 100 }),
      flow('10.0.0.2', 1, '10.0.0.1', 80, 'udp', { len: 100, t: 1 }),
      flow('10.0.0.1', 1, '10.0.0.3', 80, 'udp', { len: 100, t: 2 }),
      flow('10.0.0.1', 1, '10.0.0.2', 80, 'udp', { len: 100, t: 3 }),
      flow('2001:db8::1', 1, '2001:db8::2', 80, 'udp', { len: 100, t: 4 }),
    );
    const f = queryTopTalkers(t, filter(), { ...ALL_TIME, by: 'pair' });
    expect(pick(rows(f), ['src_ip', 'dst_ip'])).toEqual([
      { src_ip: '10.0.0.1', dst_ip: '10.0.0.2' },
      { src_ip: '10.0.0.1', dst_ip: '10.0.0.3' },
      { src_ip: '10.0.0.2', dst_ip: '10.0.0.1' },
      { src_ip: '2001:db8::1', dst_ip: '2001:db8::2' },
      { src_ip: '2001:db8::2', dst_ip: '2001:db8::1' },
    ]);
  });

  const mixed = tableOf(
    flow('2001:db8:0:1::5', 1, '2001:db8::53', 53, 'udp', { len: 300 }),
    flow('2001:db8:0:1::6', 1, '2001:db8::53', 53, 'udp', { len: 200, t: 1 }),
    flow('2001:db8:0:2::1', 1, '2001:db8::53', 53, 'udp', { len: 400, t: 2 }),
    flow('10.0.0.1', 1, B, 53, 'udp', { len: 450, t: 3 }),
    flow('::ffff:10.0.0.1', 1, '::ffff:10.0.0.2', 53, 'udp', { len: 50, t: 4 }),
  );
  const grouped = (groupBy: FlowSeriesOptions['groupBy'], extra: Partial<FlowSeriesOptions> = {}) =>
    queryFlowSeries(mixed, filter(), { fromMs: T0, toMs: T0 + 9999, intervalMs: 10_000, metric: 'bytes', groupBy, limit: 10, ...extra }).map((x) => [
      x.schema.name,
      x.data.values[1],
    ]);

  it.each([
    ['src_ip', {}, [['10.0.0.1', [45]], ['2001:db8:0:2::1', [40]], ['2001:db8:0:1::5', [30]], ['2001:db8:0:1::6', [20]], ['::ffff:10.0.0.1', [5]]]],
    ['subnet', { subnetPrefix: 8 }, [['2001:db8:0:1::/64', [50]], ['10.0.0.0/8', [45]], ['2001:db8:0:2::/64', [40]], ['::/64', [5]]]],
    ['dst_ip', {}, [['2001:db8::53', [90]], [B, [45]], ['::ffff:10.0.0.2', [5]]]],
  ] as const)('groups IPv6 flows by %s apart from IPv4 ones (an IPv4-mapped address is IPv6)', (groupBy, extra, want) => {
    expect(grouped(groupBy, extra)).toEqual(want);
  });

  it('credits both ends of a flow that straddles the range with its traffic inside it, by ip', () => {
    // Packets at 0, 10, ..., 60 s; the range 25-45 s touches buckets [20, 30), [30, 40), [40, 50).
    const long = tableOf(flow(A, 1, B, 2, 'udp', { packets: 7, every: 10_000 }), flow(C, 1, B, 2, 'udp', { t: 32_000, len: 50 }));
    const f = queryTopTalkers(long, filter(), { fromMs: T0 + 25_000, toMs: T0 + 45_000, by: 'ip' });
    expect(pick(rows(f), ['ip', 'bytes', 'packets', 'flows'])).toEqual([
      { ip: B, bytes: 350, packets: 4, flows: 2 },
      { ip: A, bytes: 300, packets: 3, flows: 1 },
      { ip: C, bytes: 50, packets: 1, flows: 1 },
    ]);
  });
});

describe('grouped series over more groups x points than one walk sums', () => {
  // 400 sources x 3600 one-second points is past the one-walk bound (2^20 cells): totals first, then a second
  // walk for the chosen groups. Each group's series must be the source's own, as a /32 filter computes it.
  const t = new FlowTable({ maxFlows: 2000, bucketMs: 1000 });
  const specs: PacketSpec[][] = [];
  for (let i = 0; i < 400; i++) {
    const src = `10.1.${i >> 8}.${i & 255}`;
    // Every source in two buckets (a log entry each), some with more traffic, and a spread of start times.
    specs.push(flow(src, 1000 + i, B, 443, 'tcp', { packets: 2, len: 100 + (i % 37) * 10, t: (i * 8_997) % 3_590_000, every: 1500 }));
  }
  specs.push(flow(C, 5, B, 0, 'icmp', { packets: 3, len: 500, t: 3_599_000, every: 200 }));
  feed(
    t,
    specs.flat().sort((a, b) => (a.t ?? 0) - (b.t ?? 0)),
  );
  const range = { fromMs: T0, toMs: T0 + 3_600_000, intervalMs: 1000 };

  const cases: Array<['bytes' | 'packets' | 'flows', Partial<FlowFilter>]> = [
    ['bytes', {}],
    ['packets', {}],
    ['flows', {}],
    ['bytes', { protocol: [6] }],
    ['packets', { dstPort: [[443, 443]] }],
  ];
  it.each(cases)('matches each chosen source\'s own series and sums "other" from the rest (%s, filter %j)', (metric, f) => {
    const got = queryFlowSeries(t, filter(f), { ...range, metric, groupBy: 'src_ip', limit: 5 });
    expect(got).toHaveLength(6);
    expect(got[0].data.values[0]).toHaveLength(3600);
    const own = got.slice(0, 5).map((x) => queryFlowSeries(t, filter({ ...f, srcCidr: [parseCidr(`${x.schema.name}/32`)] }), { ...range, metric })[0].data.values[1]);
    expect(got.slice(0, 5).map((x) => x.data.values[1])).toEqual(own);
    const total = queryFlowSeries(t, filter(f), { ...range, metric })[0].data.values[1] as number[];
    const other = total.map((v, k) => v - own.reduce((sum, s) => sum + (s[k] as number), 0));
    expect(got[5].data.values[1]).toEqual(other);
  });

  it('chooses the sources with the largest totals, as top talkers ranks them', () => {
    const got = queryFlowSeries(t, filter(), { ...range, metric: 'bytes', groupBy: 'src_ip', limit: 5 }).map((x) => x.schema.name);
    const talkers = rows(queryTopTalkers(t, filter(), { ...ALL_TIME, by: 'src_ip', limit: 5 })).map((r) => r.src_ip);
    expect([...got.slice(0, 5), got[5]]).toEqual([...talkers, 'other']);
  });
});

describe('flowStats', () => {
  it('reports counters, states and memory', () => {
    const t = tableOf(
      flow(A, 1, B, 2, 'udp', { t: 0 }),
      [
        { src: A, sport: 40000, dst: B, dport: 80, flags: 'S', t: 100_000 },
        { src: B, sport: 80, dst: A, dport: 40000, flags: 'R', t: 100_001 },
      ],
      flow(C, 1, B, 2, 'udp', { t: 100_002, len: 50 }),
    );
    const mem = t.memory();
    expect(flowStats(t)).toEqual({
      packets: 4,
      bytes: 350,
      flowsCreated: 3,
      flowsActive: 3,
      evictions: 0,
      expired: 0,
      closed: 1,
      bucketLogDrops: 0,
      fillRatio: 0.003,
      maxFlows: 1000,
      warning80: false,
      flowsOpen: 1,
      flowsIdle: 1,
      flowsClosed: 1,
      memoryFlowBytes: mem.flows,
      memoryBucketLogBytes: mem.bucketLog,
      nowMs: T0 + 100_002,
    });
  });
});
