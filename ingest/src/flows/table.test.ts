import { DecodedPacket } from '../decode/packet';
import { parseCidr } from '../protocol/cidr';
import { formatIPv6 } from '../protocol/ip';
import { queryFlowSeries, queryFlows } from './queries';
import { FlowTable, type FlowTableConfig } from './table';
import { ALL_TIME, T0, feed, filter, pick, rows, type PacketSpec } from './test-packets';

const A = '10.0.0.1';
const B = '10.0.0.2';
const R = '10.0.0.254';
const A6 = '2001:db8::1';
const B6 = '2001:db8::2';

const FLOW_KEYS = ['src_ip', 'src_port', 'dst_ip', 'dst_port', 'protocol', 'packets', 'bytes', 'packets_rev', 'bytes_rev', 'state'] as const;

/** Every stored flow, oldest first, with the fields that identify and count it. */
function flows(t: FlowTable, keys: readonly string[] = FLOW_KEYS) {
  const all = rows(queryFlows(t, filter(), { ...ALL_TIME, orderBy: 'last_seen', limit: 1_000_000 })).reverse();
  return pick(all, keys);
}

function tableWith(specs: PacketSpec[], config: FlowTableConfig = {}): FlowTable {
  const t = new FlowTable({ maxFlows: 1000, ...config });
  feed(t, specs);
  return t;
}

const us = (msAfterT0: number) => (T0 + msAfterT0) * 1000;

describe('FlowTable: direction and initiator', () => {
  const cases: Array<[string, PacketSpec[], Record<string, unknown>]> = [
    [
      'the sender of a pure SYN, handshake in order',
      [
        { src: A, sport: 40000, dst: B, dport: 80, flags: 'S' },
        { src: B, sport: 80, dst: A, dport: 40000, flags: 'SA', t: 1 },
        { src: A, sport: 40000, dst: B, dport: 80, flags: 'A', t: 2 },
      ],
      { src_ip: A, src_port: 40000, dst_ip: B, dst_port: 80, protocol: 'tcp', packets: 2, bytes: 200, packets_rev: 1, bytes_rev: 100, state: 'active' },
    ],
    [
      'the receiver of a SYN-ACK seen first',
      [
        { src: B, sport: 80, dst: A, dport: 40000, flags: 'SA' },
        { src: A, sport: 40000, dst: B, dport: 80, flags: 'A', t: 1 },
        { src: B, sport: 80, dst: A, dport: 40000, flags: 'PA', t: 2, len: 500 },
      ],
      { src_ip: A, src_port: 40000, dst_ip: B, dst_port: 80, protocol: 'tcp', packets: 1, bytes: 100, packets_rev: 2, bytes_rev: 600, state: 'active' },
    ],
    [
      'the first sender when a connection is picked up mid-stream',
      [
        { src: B, sport: 80, dst: A, dport: 40000, flags: 'PA' },
        { src: A, sport: 40000, dst: B, dport: 80, flags: 'A', t: 1 },
      ],
      { src_ip: B, src_port: 80, dst_ip: A, dst_port: 40000, protocol: 'tcp', packets: 1, bytes: 100, packets_rev: 1, bytes_rev: 100, state: 'active' },
    ],
    [
      'the sender of a pure SYN seen after packets from the other side',
      [
        { src: B, sport: 80, dst: A, dport: 40000, flags: 'A', len: 60 },
        { src: A, sport: 40000, dst: B, dport: 80, flags: 'S', t: 1 },
      ],
      { src_ip: A, src_port: 40000, dst_ip: B, dst_port: 80, protocol: 'tcp', packets: 1, bytes: 100, packets_rev: 1, bytes_rev: 60, state: 'active' },
    ],
    [
      'the first SYN sender in a simultaneous open',
      [
        { src: A, sport: 40000, dst: B, dport: 80, flags: 'S' },
        { src: B, sport: 80, dst: A, dport: 40000, flags: 'S', t: 1 },
      ],
      { src_ip: A, src_port: 40000, dst_ip: B, dst_port: 80, protocol: 'tcp', packets: 1, bytes: 100, packets_rev: 1, bytes_rev: 100, state: 'active' },
    ],
    [
      'the first sender of UDP',
      [
        { src: A, sport: 5353, dst: B, dport: 53, proto: 'udp' },
        { src: B, sport: 53, dst: A, dport: 5353, proto: 'udp', t: 1 },
        { src: B, sport: 53, dst: A, dport: 5353, proto: 'udp', t: 2 },
      ],
      { src_ip: A, src_port: 5353, dst_ip: B, dst_port: 53, protocol: 'udp', packets: 1, bytes: 100, packets_rev: 2, bytes_rev: 200, state: 'active' },
    ],
    [
      'the first sender of UDP even when it is the server',
      [
        { src: B, sport: 53, dst: A, dport: 5353, proto: 'udp' },
        { src: A, sport: 5353, dst: B, dport: 53, proto: 'udp', t: 1 },
      ],
      { src_ip: B, src_port: 53, dst_ip: A, dst_port: 5353, protocol: 'udp', packets: 1, bytes: 100, packets_rev: 1, bytes_rev: 100, state: 'active' },
    ],
  ];
  it.each(cases)('makes the initiator %s', (_name, specs, want) => {
    expect(flows(tableWith(specs))).toEqual([want]);
  });
});

describe('FlowTable: merging directions', () => {
  it.each([
    ['IPv4', A, B],
    ['IPv6', A6, B6],
  ])('merges both directions of a TCP connection into one flow (%s)', (_f, a, b) => {
    const specs: PacketSpec[] = [];
    for (let i = 0; i < 10; i++) {
      specs.push(i % 2 === 0 ? { src: a, sport: 40000, dst: b, dport: 443, flags: i === 0 ? 'S' : 'A', t: i, len: 100 + i } : { src: b, sport: 443, dst: a, dport: 40000, flags: i === 1 ? 'SA' : 'A', t: i, len: 100 + i });
    }
    // Another connection between the same hosts (a different source port) stays a flow of its own.
    specs.push({ src: a, sport: 40001, dst: b, dport: 443, flags: 'S', t: 20 });
    const t = tableWith(specs);
    expect(flows(t)).toEqual([
      { src_ip: a, src_port: 40000, dst_ip: b, dst_port: 443, protocol: 'tcp', packets: 5, bytes: 520, packets_rev: 5, bytes_rev: 525, state: 'active' },
      { src_ip: a, src_port: 40001, dst_ip: b, dst_port: 443, protocol: 'tcp', packets: 1, bytes: 100, packets_rev: 0, bytes_rev: 0, state: 'active' },
    ]);
    expect(t.counters()).toEqual({
      packets: 11,
      bytes: 1145,
      flowsCreated: 2,
      flowsActive: 2,
      evictions: 0,
      expired: 0,
      closed: 0,
      bucketLogDrops: 0,
      fillRatio: 0.002,
    });
  });

  it('keeps first and last seen over out-of-order timestamps', () => {
    const t = tableWith([
      { src: A, sport: 1, dst: B, dport: 2, proto: 'udp', t: 5000 },
      { src: B, sport: 2, dst: A, dport: 1, proto: 'udp', t: 3000 },
      { src: A, sport: 1, dst: B, dport: 2, proto: 'udp', t: 7000 },
    ]);
    expect(flows(t, ['first_seen', 'last_seen', 'packets', 'packets_rev'])).toEqual([{ first_seen: T0 + 3000, last_seen: T0 + 7000, packets: 2, packets_rev: 1 }]);
  });
});

describe('FlowTable: ICMP', () => {
  const cases: Array<[string, PacketSpec[], Array<Record<string, unknown>>]> = [
    [
      'pairs an ICMP echo request with its reply',
      [
        { src: A, dst: B, proto: 'icmp', sport: 8, dport: 0, len: 98 },
        { src: B, dst: A, proto: 'icmp', sport: 0, dport: 0, len: 98, t: 1 },
      ],
      [{ src_ip: A, src_port: 8, dst_ip: B, dst_port: 0, protocol: 'icmp', packets: 1, bytes: 98, packets_rev: 1, bytes_rev: 98, state: 'active' }],
    ],
    [
      'pairs an ICMPv6 echo request with its reply',
      [
        { src: A6, dst: B6, proto: 'icmpv6', sport: 128, dport: 0, len: 118 },
        { src: B6, dst: A6, proto: 'icmpv6', sport: 129, dport: 0, len: 118, t: 1 },
        { src: A6, dst: B6, proto: 'icmpv6', sport: 128, dport: 0, len: 118, t: 1000 },
      ],
      [{ src_ip: A6, src_port: 128, dst_ip: B6, dst_port: 0, protocol: 'icmpv6', packets: 2, bytes: 236, packets_rev: 1, bytes_rev: 118, state: 'active' }],
    ],
    [
      'makes the receiver of an echo reply seen first the initiator',
      [
        { src: B, dst: A, proto: 'icmp', sport: 0, dport: 0 },
        { src: A, dst: B, proto: 'icmp', sport: 8, dport: 0, t: 1 },
      ],
      [{ src_ip: A, src_port: 8, dst_ip: B, dst_port: 0, protocol: 'icmp', packets: 1, bytes: 100, packets_rev: 1, bytes_rev: 100, state: 'active' }],
    ],
    [
      'keeps other ICMP types as flows of their own',
      [
        { src: A, dst: B, proto: 'icmp', sport: 8, dport: 0 },
        { src: R, dst: A, proto: 'icmp', sport: 3, dport: 1, t: 1 },
        { src: B, dst: A, proto: 'icmp', sport: 11, dport: 0, t: 2 },
      ],
      [
        { src_ip: A, src_port: 8, dst_ip: B, dst_port: 0, protocol: 'icmp', packets: 1, bytes: 100, packets_rev: 0, bytes_rev: 0, state: 'active' },
        { src_ip: R, src_port: 3, dst_ip: A, dst_port: 1, protocol: 'icmp', packets: 1, bytes: 100, packets_rev: 0, bytes_rev: 0, state: 'active' },
        { src_ip: B, src_port: 11, dst_ip: A, dst_port: 0, protocol: 'icmp', packets: 1, bytes: 100, packets_rev: 0, bytes_rev: 0, state: 'active' },
      ],
    ],
    [
      'tells the directions of a ping to oneself apart by type',
      [
        { src: A, dst: A, proto: 'icmp', sport: 8, dport: 0 },
        { src: A, dst: A, proto: 'icmp', sport: 0, dport: 0, t: 1 },
      ],
      [{ src_ip: A, src_port: 8, dst_ip: A, dst_port: 0, protocol: 'icmp', packets: 1, bytes: 100, packets_rev: 1, bytes_rev: 100, state: 'active' }],
    ],
  ];
  it.each(cases)('%s', (_name, specs, want) => {
    expect(flows(tableWith(specs))).toEqual(want);
  });
});

describe('FlowTable: TCP close', () => {
  const handshake: PacketSpec[] = [
    { src: A, sport: 40000, dst: B, dport: 80, flags: 'S' },
    { src: B, sport: 80, dst: A, dport: 40000, flags: 'SA', t: 1 },
    { src: A, sport: 40000, dst: B, dport: 80, flags: 'A', t: 2 },
  ];
  const fromA = (flags: string, t: number): PacketSpec => ({ src: A, sport: 40000, dst: B, dport: 80, flags, t });
  const fromB = (flags: string, t: number): PacketSpec => ({ src: B, sport: 80, dst: A, dport: 40000, flags, t });
  const cases: Array<[string, PacketSpec[], string, number]> = [
    ['closes on FIN in both directions', [fromA('FA', 10), fromB('FA', 11), fromA('A', 12)], 'closed', 1],
    ['stays open after a FIN in one direction only', [fromA('FA', 10), fromB('A', 11)], 'active', 0],
    ['closes on a RST from the responder', [fromB('R', 10)], 'closed', 1],
    ['closes on a RST from the initiator', [fromA('RA', 10)], 'closed', 1],
  ];
  it.each(cases)('%s', (_name, specs, state, closed) => {
    const t = tableWith([...handshake, ...specs]);
    expect(flows(t, ['state', 'packets', 'packets_rev'])).toEqual([
      { state, packets: specs.filter((s) => s.src === A).length + 2, packets_rev: specs.filter((s) => s.src === B).length + 1 },
    ]);
    expect(t.counters().closed).toBe(closed);
  });

  it('starts a new flow on a new SYN after close; the closed one stays queryable', () => {
    const t = tableWith([
      ...handshake,
      fromA('FA', 10),
      fromB('FA', 11),
      fromA('A', 12), // the last ACK still belongs to the closed connection
      fromA('S', 5000),
      fromB('SA', 5001),
      fromA('S', 5002), // a retransmitted SYN on the open connection is not a third flow
    ]);
    expect(flows(t, ['src_ip', 'dst_port', 'packets', 'packets_rev', 'state', 'first_seen'])).toEqual([
      { src_ip: A, dst_port: 80, packets: 4, packets_rev: 2, state: 'closed', first_seen: T0 },
      { src_ip: A, dst_port: 80, packets: 2, packets_rev: 1, state: 'active', first_seen: T0 + 5000 },
    ]);
    expect(t.counters().flowsCreated).toBe(2);
  });

  it('starts a new flow for a late non-SYN packet once the closed linger has passed', () => {
    const t = tableWith([...handshake, fromA('FA', 10), fromB('FA', 11), fromB('PA', 40_000)]);
    expect(flows(t, ['src_ip', 'packets', 'packets_rev', 'state'])).toEqual([
      { src_ip: A, packets: 3, packets_rev: 2, state: 'closed' },
      { src_ip: B, packets: 1, packets_rev: 0, state: 'active' },
    ]);
  });
});

describe('FlowTable: idle timeouts', () => {
  const cases: Array<[string, PacketSpec, number]> = [
    ['TCP', { src: A, sport: 40000, dst: B, dport: 22, flags: 'A' }, 300_000],
    ['UDP', { src: A, sport: 40000, dst: B, dport: 53, proto: 'udp' }, 60_000],
    ['ICMP', { src: A, dst: B, proto: 'icmp', sport: 8 }, 60_000],
    ['ICMPv6', { src: A6, dst: B6, proto: 'icmpv6', sport: 128 }, 60_000],
    ['GRE (other)', { src: A, dst: B, proto: 47 }, 60_000],
  ];
  it.each(cases)('turns a %s flow idle after its timeout', (_name, spec, timeout) => {
    const t = tableWith([spec]);
    const states = [timeout - 1000, timeout + 1000].map((at) => {
      t.sweep(us(at));
      return flows(t, ['state'])[0].state;
    });
    expect(states).toEqual(['active', 'idle']);
  });

  it('takes timeouts from the configuration', () => {
    const t = tableWith([{ src: A, sport: 1, dst: B, dport: 2, proto: 'udp' }], { idleTimeoutMs: { udp: 5000 } });
    t.sweep(us(6000));
    expect(flows(t, ['state'])).toEqual([{ state: 'idle' }]);
  });

  it('keeps a closed flow closed however long it is quiet', () => {
    const t = tableWith([
      { src: A, sport: 40000, dst: B, dport: 80, flags: 'S' },
      { src: B, sport: 80, dst: A, dport: 40000, flags: 'R', t: 1 },
    ]);
    t.sweep(us(600_000));
    expect(flows(t, ['state'])).toEqual([{ state: 'closed' }]);
  });

  const resumed: Array<[string, PacketSpec, PacketSpec, Array<Record<string, unknown>>]> = [
    [
      'a UDP packet after the timeout starts a new flow',
      { src: A, sport: 1, dst: B, dport: 53, proto: 'udp' },
      { src: A, sport: 1, dst: B, dport: 53, proto: 'udp', t: 61_000 },
      [
        { packets: 1, state: 'idle' },
        { packets: 1, state: 'active' },
      ],
    ],
    [
      'a TCP segment without SYN after the timeout resumes the same connection',
      { src: A, sport: 40000, dst: B, dport: 22, flags: 'A' },
      { src: A, sport: 40000, dst: B, dport: 22, flags: 'PA', t: 301_000 },
      [{ packets: 2, state: 'active' }],
    ],
    [
      'a TCP SYN after the timeout starts a new flow',
      { src: A, sport: 40000, dst: B, dport: 22, flags: 'A' },
      { src: A, sport: 40000, dst: B, dport: 22, flags: 'S', t: 301_000 },
      [
        { packets: 1, state: 'idle' },
        { packets: 1, state: 'active' },
      ],
    ],
  ];
  it.each(resumed)('%s', (_name, first, second, want) => {
    expect(flows(tableWith([first, second]), ['packets', 'state'])).toEqual(want);
  });
});

describe('FlowTable: capacity', () => {
  it('evicts under a flood of 2M sources without growing, counting every eviction', () => {
    const t = new FlowTable({ maxFlows: 100_000 });
    const arrays = [t.status, t.proto, t.srcW0, t.srcW123, t.dstW0, t.dstW123, t.srcPort, t.dstPort, t.packetsFwd, t.packetsRev, t.bytesFwd, t.bytesRev, t.firstRel, t.lastRel, t.gen, t.entSlot];
    const lengths = arrays.map((a) => a.byteLength);
    const memory = t.memory();
    const p = new DecodedPacket();
    p.protocol = 17;
    p.dst[0] = 0xc0000201;
    p.dstPort = 53;
    p.srcPort = 33333;
    p.wireLength = 80;
    const N = 2_000_000;
    // Up to capacity the hash index grows to its full size (it starts small, see growIndex); from then on nothing may.
    let buffersBefore = 0;
    for (let i = 0; i < N; i++) {
      if (i === 100_000) buffersBefore = process.memoryUsage().arrayBuffers;
      // Multiplying by an odd constant is a bijection on 32 bits: 2M distinct, scattered sources.
      p.src[0] = Math.imul(i + 1, 0x9e3779b1) >>> 0;
      p.tsUs = us(0) + i * 10;
      t.add(p);
    }
    expect(process.memoryUsage().arrayBuffers - buffersBefore).toBeLessThan(1 << 20);
    expect(t.memory()).toEqual(memory);
    expect(arrays.map((a) => a.byteLength)).toEqual(lengths);
    const now = [t.status, t.proto, t.srcW0, t.srcW123, t.dstW0, t.dstW123, t.srcPort, t.dstPort, t.packetsFwd, t.packetsRev, t.bytesFwd, t.bytesRev, t.firstRel, t.lastRel, t.gen, t.entSlot];
    expect(now.map((a, i) => a === arrays[i])).toEqual(arrays.map(() => true));
    const c = t.counters();
    expect({ created: c.flowsCreated, active: c.flowsActive, evictions: c.evictions, fill: c.fillRatio }).toEqual({ created: N, active: 100_000, evictions: N - 100_000, fill: 1 });
    // The survivors are the newest sources.
    // Every survivor is still found through the index: more packets from the newest sources create nothing.
    for (let i = N - 100_000; i < N; i++) {
      p.src[0] = Math.imul(i + 1, 0x9e3779b1) >>> 0;
      t.add(p);
    }
    expect(t.counters().flowsCreated).toBe(N);
    const has = (i: number) => rows(queryFlows(t, filter({ srcCidr: [parseCidr(`${ip4(Math.imul(i + 1, 0x9e3779b1) >>> 0)}/32`)] }), ALL_TIME)).length;
    expect([has(0), has(N - 100_001), has(N - 100_000), has(N - 1)]).toEqual([0, 0, 1, 1]);
  });

  it('reuses the IPv6 address pool under a flood of IPv6 sources: it grows to maxFlows entries and no further', () => {
    const t = new FlowTable({ maxFlows: 20_000 });
    const p = new DecodedPacket();
    p.family = 6;
    p.protocol = 17;
    p.dst.set([0x20010db8, 0, 0, 0x53]);
    p.dstPort = 53;
    p.srcPort = 33333;
    p.wireLength = 80;
    const N = 200_000;
    const source = (i: number) => [0x20010db8, 0x1000, Math.imul(i + 1, 0x9e3779b1) >>> 0, i];
    for (let i = 0; i < N; i++) {
      p.src.set(source(i));
      p.tsUs = us(0) + i * 10;
      t.add(p);
      if (i === 30_000) expect(t.srcW123.length).toBe(3 * 20_000);
    }
    expect({ pool: t.srcW123.length, created: t.counters().flowsCreated, evictions: t.counters().evictions }).toEqual({ pool: 3 * 20_000, created: N, evictions: N - 20_000 });
    // The newest 20,000 sources are stored, each with its own words: every one is found again, and read back whole.
    for (let i = N - 20_000; i < N; i++) {
      p.src.set(source(i));
      t.add(p);
    }
    expect(t.counters().flowsCreated).toBe(N);
    const stored = rows(queryFlows(t, filter({ srcCidr: [parseCidr('2001:db8:0:1000::/64')] }), { ...ALL_TIME, limit: 100_000 }));
    const text = (i: number) => formatIPv6(...(source(i) as [number, number, number, number]));
    const want = Array.from({ length: 20_000 }, (_, k) => text(N - 20_000 + k)).sort();
    expect(stored.map((r) => `${r.src_ip as string}`).sort()).toEqual(want);
  });

  it('evicts the oldest idle flow first, even when an active flow is older', () => {
    const specs: PacketSpec[] = [];
    for (let i = 0; i < 5; i++) specs.push({ src: A, sport: 1000 + i, dst: B, dport: 22, flags: 'A', t: 0 });
    for (let i = 0; i < 5; i++) specs.push({ src: A, sport: 2000 + i, dst: B, dport: 53, proto: 'udp', t: 10_000 + i });
    // At 80 s the UDP flows are idle (60 s timeout), the older TCP ones are not (300 s).
    specs.push({ src: A, sport: 3000, dst: B, dport: 53, proto: 'udp', t: 80_000 });
    const t = tableWith(specs, { maxFlows: 10 });
    expect(flows(t, ['src_port']).map((r) => r.src_port as number).sort((a, b) => a - b)).toEqual([1000, 1001, 1002, 1003, 1004, 2001, 2002, 2003, 2004, 3000]);
    expect(t.counters().evictions).toBe(1);
  });

  it('evicts the oldest flow by last seen when none is idle', () => {
    const t = tableWith(
      [
        { src: A, sport: 1, dst: B, dport: 22, flags: 'A', t: 0 },
        { src: A, sport: 2, dst: B, dport: 53, proto: 'udp', t: 2000 },
        { src: A, dst: B, proto: 'icmp', sport: 8, t: 4000 },
        { src: A, sport: 1, dst: B, dport: 22, flags: 'A', t: 6000 }, // the TCP flow is now the newest
        { src: A, sport: 3, dst: B, dport: 53, proto: 'udp', t: 8000 },
      ],
      { maxFlows: 3 },
    );
    expect(flows(t, ['protocol', 'src_port'])).toEqual([
      { protocol: 'icmp', src_port: 8 },
      { protocol: 'tcp', src_port: 1 },
      { protocol: 'udp', src_port: 3 },
    ]);
  });

  it('warns once when crossing 80 % full, and again only after falling well below', () => {
    const warn = jest.fn();
    const t = new FlowTable({ maxFlows: 1000, retentionMs: 60_000 }, { warn });
    const p = new DecodedPacket();
    p.protocol = 17;
    const fill = (from: number, to: number, atMs: number) => {
      for (let i = from; i < to; i++) {
        p.src[0] = 0x0a000000 + i;
        p.tsUs = us(atMs);
        t.add(p);
      }
    };
    fill(0, 799, 0);
    const before = [warn.mock.calls.length, t.warning80];
    fill(799, 800, 0);
    const at80 = [warn.mock.calls.length, t.warning80, t.fillRatio];
    fill(800, 3000, 0);
    const full = [warn.mock.calls.length, t.warning80, t.fillRatio, t.counters().evictions];
    t.sweep(us(200_000));
    const empty = [warn.mock.calls.length, t.warning80, t.size];
    fill(0, 800, 200_000);
    expect({ before, at80, full, empty, again: warn.mock.calls.length }).toEqual({
      before: [0, false],
      at80: [1, true, 0.8],
      full: [1, true, 1, 2000],
      empty: [1, false, 0],
      again: 2,
    });
    expect(warn.mock.calls[0]).toEqual([{ flows: 800, maxFlows: 1000 }, expect.stringContaining('80 %')]);
  });
});

describe('FlowTable: retention', () => {
  const specs: PacketSpec[] = [
    { src: A, sport: 1, dst: B, dport: 53, proto: 'udp', t: 0 },
    { src: A, sport: 2, dst: B, dport: 53, proto: 'udp', t: 30_000 },
    { src: A, sport: 3, dst: B, dport: 53, proto: 'udp', t: 50_000 },
  ];
  it.each([
    ['a sweep at wall time', (t: FlowTable) => t.sweep(us(95_000))],
    ['the packet clock', (t: FlowTable) => feed(t, [{ src: R, dst: B, proto: 'icmp', sport: 8, t: 95_000 }])],
  ])('removes flows past retention on %s', (_name, advance) => {
    const t = tableWith(specs, { retentionMs: 60_000 });
    advance(t);
    expect(flows(t, ['protocol', 'src_port'])).toEqual([{ protocol: 'udp', src_port: 3 }, ...(t.size === 2 ? [{ protocol: 'icmp', src_port: 8 }] : [])]);
    expect(t.counters().expired).toBe(2);
    expect(t.nowUs()).toBe(us(95_000));
  });
});

describe('FlowTable: clock', () => {
  it('keeps counting exactly across the epoch rebase of a month-long capture', () => {
    const t = new FlowTable({ maxFlows: 100 });
    const day = 86_400_000;
    const specs: PacketSpec[] = [];
    // A UDP stream every 30 s (below its idle timeout) for 30 days: relative times pass 2^31 ms on day 24.8.
    for (let ms = 0; ms <= 30 * day; ms += 30_000) specs.push({ src: A, sport: 123, dst: B, dport: 123, proto: 'udp', t: ms, len: 90 });
    specs.push({ src: A, sport: 53, dst: B, dport: 53, proto: 'udp', t: 30 * day, len: 80 });
    feed(t, specs);
    const got = flows(t, ['src_port', 'packets', 'bytes', 'first_seen', 'last_seen', 'state']);
    // The epoch moves when the clock is 2^31 ms past it (day 24.8), to 2^30 ms (12.4 days) before the clock:
    // only the first-seen time of a flow older than that is clamped to it.
    expect((got[0].first_seen as number) - T0).toBeGreaterThan(12 * day);
    expect((got[0].first_seen as number) - T0).toBeLessThan(13 * day);
    expect(got).toEqual([
      { src_port: 123, packets: 86_401, bytes: 86_401 * 90, first_seen: got[0].first_seen, last_seen: T0 + 30 * day, state: 'active' },
      { src_port: 53, packets: 1, bytes: 80, first_seen: T0 + 30 * day, last_seen: T0 + 30 * day, state: 'active' },
    ]);
  });
});

describe('FlowTable: time buckets', () => {
  /** Deterministic traffic: 6 flows, 3000 packets over 10 minutes, random sizes and directions. */
  function traffic(): PacketSpec[] {
    let seed = 42;
    const rnd = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const ends: Array<[string, number, string, number, 'tcp' | 'udp']> = [
      [A, 40000, B, 443, 'tcp'],
      [A, 40001, B, 80, 'tcp'],
      [R, 5353, B, 53, 'udp'],
      [B, 40002, R, 22, 'tcp'],
      [A6, 50000, B6, 443, 'udp'],
      [A6, 50001, B6, 8443, 'tcp'],
    ];
    const out: PacketSpec[] = [];
    for (let i = 0; i < 3000; i++) {
      const [s, sp, d, dp, proto] = ends[Math.floor(rnd() * ends.length)];
      const rev = rnd() < 0.4;
      out.push({ src: rev ? d : s, sport: rev ? dp : sp, dst: rev ? s : d, dport: rev ? sp : dp, proto, flags: 'A', len: 60 + Math.floor(rnd() * 1400), t: i * 200 });
    }
    return out;
  }

  it('keeps each flow series summing to the flow totals', () => {
    const t = tableWith(traffic());
    const all = flows(t, ['src_ip', 'src_port', 'dst_ip', 'dst_port', 'protocol', 'packets', 'bytes', 'packets_rev', 'bytes_rev']);
    const got = all.map((f) => {
      const only = filter({
        srcCidr: [parseCidr(f.src_ip as string)],
        dstCidr: [parseCidr(f.dst_ip as string)],
        srcPort: [[f.src_port as number, f.src_port as number]],
        dstPort: [[f.dst_port as number, f.dst_port as number]],
      });
      const sum = (metric: 'bytes' | 'packets', intervalMs: number) => {
        const [series] = queryFlowSeries(t, only, { ...ALL_TIME, intervalMs, metric });
        return (series.data.values[1] as number[]).reduce((a, v) => a + v * (intervalMs / 1000), 0);
      };
      return { bytes10s: sum('bytes', 10_000), bytes60s: sum('bytes', 60_000), packets10s: sum('packets', 10_000) };
    });
    expect(got).toEqual(all.map((f) => ({ bytes10s: (f.bytes as number) + (f.bytes_rev as number), bytes60s: (f.bytes as number) + (f.bytes_rev as number), packets10s: (f.packets as number) + (f.packets_rev as number) })));
    expect(all).toHaveLength(6);
  });

  it('gives each flow exactly its own traffic in every bucket, out-of-order packets included', () => {
    // The traffic above, with a fifth of the packets up to 15 s late (the bucket of a late packet is the one its
    // flow was last seen in, as for the global totals).
    const specs = traffic().map((p, i) => (i % 5 === 3 ? { ...p, t: Math.max(0, (p.t ?? 0) - 15_000) } : p));
    const t = tableWith(specs);
    const key = (a: string, ap: number, b: string, bp: number) => `${a}:${ap}>${b}:${bp}`;
    // Reference: replay the flow's last-seen time per packet.
    const want = new Map<string, number[]>();
    const last = new Map<string, number>();
    for (const p of specs) {
      const k = [key(p.src, p.sport!, p.dst, p.dport!), key(p.dst, p.dport!, p.src, p.sport!)].sort()[0];
      const seen = Math.max(last.get(k) ?? -Infinity, p.t!);
      last.set(k, seen);
      const bucket = Math.floor((T0 + seen) / 10_000) - Math.floor(T0 / 10_000);
      const v = want.get(k) ?? [];
      v[bucket] = (v[bucket] ?? 0) + p.len!;
      want.set(k, v);
    }
    const got = new Map<string, number[]>();
    for (const f of flows(t)) {
      const only = filter({
        srcCidr: [parseCidr(f.src_ip as string)],
        dstCidr: [parseCidr(f.dst_ip as string)],
        srcPort: [[f.src_port as number, f.src_port as number]],
        dstPort: [[f.dst_port as number, f.dst_port as number]],
      });
      const [series] = queryFlowSeries(t, only, { ...ALL_TIME, intervalMs: 10_000, metric: 'bytes' });
      const k = [key(f.src_ip as string, f.src_port as number, f.dst_ip as string, f.dst_port as number), key(f.dst_ip as string, f.dst_port as number, f.src_ip as string, f.src_port as number)].sort()[0];
      got.set(k, (series.data.values[1] as number[]).map((v) => v * 10));
    }
    const dense = (m: Map<string, number[]>) => new Map([...m].map(([k, v]) => [k, Array.from({ length: 60 }, (_, i) => v[i] ?? 0)]));
    expect(dense(got)).toEqual(dense(want));
    // And the global series is their sum, bucket by bucket.
    const [total] = queryFlowSeries(t, filter(), { ...ALL_TIME, intervalMs: 10_000, metric: 'bytes' });
    const sums = Array.from({ length: 60 }, (_, i) => [...dense(want).values()].reduce((a, v) => a + v[i], 0));
    expect(Array.from({ length: 60 }, (_, i) => ((total.data.values[1] as number[])[i] ?? 0) * 10)).toEqual(sums);
  });

  it('keeps global bucket totals exact when the bucket log drops entries, and flows with lost entries out of filtered series', () => {
    // 40 flows, each with a packet in two buckets: 40 entries through a log of 16.
    const t = new FlowTable({ maxFlows: 100, bucketLogEntries: 16 });
    const specs: PacketSpec[] = [];
    for (let i = 0; i < 40; i++) specs.push({ src: A, sport: 1000 + i, dst: B, dport: 53, proto: 'udp', t: i, len: 100 });
    for (let i = 0; i < 40; i++) specs.push({ src: A, sport: 1000 + i, dst: B, dport: 53, proto: 'udp', t: 10_000 + i, len: 100 });
    feed(t, specs);
    const [series] = queryFlowSeries(t, filter(), { ...ALL_TIME, intervalMs: 10_000, metric: 'bytes' });
    const [logged] = queryFlowSeries(t, filter({ protocol: [17] }), { ...ALL_TIME, intervalMs: 10_000, metric: 'bytes' });
    const values = (f: typeof series) => (f.data.values[1] as number[]).map((v) => v * 10);
    // Unfiltered: the bucket totals. Filtered: the 16 flows whose entries survived, from their open bucket on.
    expect({ drops: t.counters().bucketLogDrops, total: values(series), logged: values(logged) }).toEqual({ drops: 24, total: [4000, 4000], logged: [0, 1600] });
  });

  it('costs no log entry for a flow seen in one bucket only, and one per bucket a flow leaves', () => {
    const t = new FlowTable({ maxFlows: 100 });
    const specs: PacketSpec[] = [];
    for (let i = 0; i < 50; i++) specs.push({ src: A, sport: 1000 + i, dst: B, dport: 53, proto: 'udp', t: i, len: 100 });
    // One flow in buckets 0, 2 and 5: it leaves two of them.
    for (const ms of [0, 5, 20_000, 20_001, 50_000]) specs.push({ src: A, sport: 999, dst: B, dport: 80, t: ms, len: 100 });
    feed(t, specs);
    const { start, end } = t.liveEntries();
    const [series] = queryFlowSeries(t, filter({ port: [[80, 80]] }), { ...ALL_TIME, intervalMs: 10_000, metric: 'packets' });
    expect({ entries: end - start, packets: (series.data.values[1] as number[]).map((v) => v * 10) }).toEqual({ entries: 2, packets: [2, 0, 2, 0, 0, 1] });
  });
});

function ip4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}
