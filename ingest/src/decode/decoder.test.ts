import { formatIPv4, formatIPv6 } from '../protocol/ip';
import {
  DLT_RAW_12,
  DLT_RAW_14,
  LINKTYPE_ETHERNET,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  LINKTYPE_LOOP,
  LINKTYPE_NULL,
  LINKTYPE_RAW,
  PacketDecoder,
  SKIP_REASONS,
  type SkipReason,
} from './decoder';
import { DecodedPacket, TCP_ACK, TCP_PSH, TCP_SYN } from './packet';
import {
  ETH_ARP,
  ETH_IPV4,
  ETH_IPV6,
  ETH_LLDP,
  ETH_MPLS,
  ETH_PPPOE_SESSION,
  ETH_QINQ,
  ETH_VLAN,
  arp,
  ethernet,
  ethernet8023,
  icmp,
  ipv4,
  ipv6,
  llcSnap,
  loopLink,
  mpls,
  nullLink,
  padded,
  pppoe,
  sctp,
  sll,
  sll2,
  tcp,
  udp,
} from './test-frames';

const A4 = '192.0.2.1';
const B4 = '198.51.100.7';
const A6 = '2001:db8::1';
const B6 = '2001:db8:0:1::80';
const TS = 1_700_000_000_000_000;

interface Decoded {
  family: number;
  src: string;
  dst: string;
  protocol: number;
  srcPort: number;
  dstPort: number;
  tcpFlags: number;
  fragment: number;
  wireLength: number;
  ipLength: number;
  tsUs: number;
}
type Result = Decoded | { skipped: SkipReason };

function summary(p: DecodedPacket): Decoded {
  const fmt = (w: Uint32Array) => (p.family === 4 ? formatIPv4(w[0]) : formatIPv6(w[0], w[1], w[2], w[3]));
  return {
    family: p.family,
    src: fmt(p.src),
    dst: fmt(p.dst),
    protocol: p.protocol,
    srcPort: p.srcPort,
    dstPort: p.dstPort,
    tcpFlags: p.tcpFlags,
    fragment: p.fragment,
    wireLength: p.wireLength,
    ipLength: p.ipLength,
    tsUs: p.tsUs,
  };
}

interface FrameOptions {
  /** Bytes captured (snaplen); default the whole frame. */
  capture?: number;
  /** Original length; default the whole frame. */
  wire?: number;
  tsUs?: number;
}

/** Decodes one frame and checks the counting contract: exactly one skip reason on false, `decoded` on true. */
function decodeFrame(d: PacketDecoder, linkType: number, frame: Buffer, o: FrameOptions = {}): Result {
  const before = { ...d.counters };
  const out = new DecodedPacket();
  const ok = d.decode(linkType, frame, 0, o.capture ?? frame.length, o.wire ?? frame.length, o.tsUs ?? TS, out);
  const after = d.counters;
  const moved = SKIP_REASONS.filter((r) => after[r] !== before[r]);
  expect(after.packets - before.packets).toBe(1);
  expect({ decoded: after.decoded - before.decoded, skipped: moved.length }).toEqual({ decoded: ok ? 1 : 0, skipped: ok ? 0 : 1 });
  return ok ? summary(out) : { skipped: moved[0] };
}

/** The expected result of a TCP/UDP/… packet, defaults filled in. */
function want(p: Partial<Decoded> & Pick<Decoded, 'wireLength' | 'ipLength'>): Decoded {
  return { family: 4, src: A4, dst: B4, protocol: 6, srcPort: 0, dstPort: 0, tcpFlags: 0, fragment: 0, tsUs: TS, ...p };
}

const tcpSyn = tcp({ sport: 49152, dport: 443, flags: TCP_SYN });
const v4Tcp = ipv4({ src: A4, dst: B4, protocol: 6, payload: tcpSyn }); // 40 bytes
const v4Udp = ipv4({ src: A4, dst: B4, protocol: 17, payload: udp(5353, 53, Buffer.alloc(12)) }); // 40 bytes
const v6Tcp = ipv6({ src: A6, dst: B6, protocol: 6, payload: tcpSyn }); // 60 bytes
const v6Udp = ipv6({ src: A6, dst: B6, protocol: 17, payload: udp(546, 547, Buffer.alloc(12)) }); // 60 bytes
const v4TcpWant = (wireLength: number) => want({ srcPort: 49152, dstPort: 443, tcpFlags: TCP_SYN, wireLength, ipLength: 40 });
const v4UdpWant = (wireLength: number) => want({ protocol: 17, srcPort: 5353, dstPort: 53, wireLength, ipLength: 40 });
const v6TcpWant = (wireLength: number) => want({ family: 6, src: A6, dst: B6, srcPort: 49152, dstPort: 443, tcpFlags: TCP_SYN, wireLength, ipLength: 60 });
const v6UdpWant = (wireLength: number) => want({ family: 6, src: A6, dst: B6, protocol: 17, srcPort: 546, dstPort: 547, wireLength, ipLength: 60 });

type Case = [name: string, linkType: number, frame: Buffer, expected: Result, options?: FrameOptions];

// A rest parameter: jest takes a callback declaring more parameters than its row has as one awaiting `done`.
function decodesCase(...[, linkType, frame, expected, options]: Case): void {
  expect(decodeFrame(new PacketDecoder(), linkType, frame, options)).toEqual(expected);
}

describe('PacketDecoder link layers', () => {
  const cases: Case[] = [
    ['Ethernet II with IPv4/TCP', LINKTYPE_ETHERNET, ethernet(ETH_IPV4, v4Tcp), v4TcpWant(54)],
    ['Ethernet II with IPv6/TCP', LINKTYPE_ETHERNET, ethernet(ETH_IPV6, v6Tcp), v6TcpWant(74)],
    ['an 802.1Q tag', LINKTYPE_ETHERNET, ethernet(ETH_IPV4, v4Udp, [[ETH_VLAN, 100]]), v4UdpWant(58)],
    ['VLAN 0 (priority tag only)', LINKTYPE_ETHERNET, ethernet(ETH_IPV4, v4Udp, [[ETH_VLAN, 0]]), v4UdpWant(58)],
    ['802.1ad QinQ: S-tag then C-tag', LINKTYPE_ETHERNET, ethernet(ETH_IPV6, v6Tcp, [[ETH_QINQ, 10], [ETH_VLAN, 20]]), v6TcpWant(82)],
    ['pre-standard 0x9100 QinQ', LINKTYPE_ETHERNET, ethernet(ETH_IPV4, v4Udp, [[0x9100, 10], [ETH_VLAN, 20]]), v4UdpWant(62)],
    ['three stacked tags', LINKTYPE_ETHERNET, ethernet(ETH_IPV4, v4Udp, [[ETH_QINQ, 1], [ETH_QINQ, 2], [ETH_VLAN, 3]]), v4UdpWant(66)],
    ['PPPoE session with PPP IPv4', LINKTYPE_ETHERNET, ethernet(ETH_PPPOE_SESSION, pppoe(0x0021, v4Tcp)), v4TcpWant(62)],
    ['PPPoE session with PPP IPv6', LINKTYPE_ETHERNET, ethernet(ETH_PPPOE_SESSION, pppoe(0x0057, v6Udp)), v6UdpWant(82)],
    ['MPLS label with IPv4', LINKTYPE_ETHERNET, ethernet(ETH_MPLS, mpls([16], v4Tcp)), v4TcpWant(58)],
    ['MPLS label stack with IPv6', LINKTYPE_ETHERNET, ethernet(ETH_MPLS, mpls([16, 17, 2], v6Tcp)), v6TcpWant(86)],
    ['LLC/SNAP (RFC 1042) with IPv4', LINKTYPE_ETHERNET, ethernet8023(llcSnap(ETH_IPV4, v4Udp)), v4UdpWant(62)],
    ['Linux SLL with IPv4', LINKTYPE_LINUX_SLL, sll(ETH_IPV4, v4Tcp), v4TcpWant(56)],
    ['Linux SLL with a VLAN tag kept', LINKTYPE_LINUX_SLL, sll(ETH_VLAN, Buffer.concat([Buffer.from([0, 5, 0x86, 0xdd]), v6Udp])), v6UdpWant(80)],
    ['Linux SLL2 with IPv6', LINKTYPE_LINUX_SLL2, sll2(ETH_IPV6, v6Udp), v6UdpWant(80)],
    ['BSD null, little-endian host, AF_INET', LINKTYPE_NULL, nullLink(2, v4Tcp), v4TcpWant(44)],
    ['BSD null, big-endian host, AF_INET', LINKTYPE_NULL, nullLink(2, v4Tcp, false), v4TcpWant(44)],
    ['BSD null, AF_INET6 of NetBSD/OpenBSD (24)', LINKTYPE_NULL, nullLink(24, v6Tcp), v6TcpWant(64)],
    ['BSD null, AF_INET6 of FreeBSD (28)', LINKTYPE_NULL, nullLink(28, v6Tcp), v6TcpWant(64)],
    ['BSD null, AF_INET6 of Darwin (30), big-endian host', LINKTYPE_NULL, nullLink(30, v6Tcp, false), v6TcpWant(64)],
    ['OpenBSD loop, AF_INET in network order', LINKTYPE_LOOP, loopLink(2, v4Udp), v4UdpWant(44)],
    ['OpenBSD loop, AF_INET6', LINKTYPE_LOOP, loopLink(24, v6Udp), v6UdpWant(64)],
    ['raw IP (101) carrying IPv4', LINKTYPE_RAW, v4Tcp, v4TcpWant(40)],
    ['raw IP (101) carrying IPv6', LINKTYPE_RAW, v6Tcp, v6TcpWant(60)],
    ['DLT_RAW 12', DLT_RAW_12, v6Udp, v6UdpWant(60)],
    ['DLT_RAW 14', DLT_RAW_14, v4Udp, v4UdpWant(40)],
    ['LINKTYPE_IPV4', LINKTYPE_IPV4, v4Udp, v4UdpWant(40)],
    ['LINKTYPE_IPV6', LINKTYPE_IPV6, v6Udp, v6UdpWant(60)],

    ['ARP is not IP', LINKTYPE_ETHERNET, padded(ethernet(ETH_ARP, arp())), { skipped: 'nonIp' }],
    ['LLDP is not IP', LINKTYPE_ETHERNET, ethernet(ETH_LLDP, Buffer.alloc(40)), { skipped: 'nonIp' }],
    ['802.3 with STP LLC is not IP', LINKTYPE_ETHERNET, padded(ethernet8023(Buffer.from([0x42, 0x42, 0x03, 0, 0, 0, 0]))), { skipped: 'nonIp' }],
    ['PPPoE session with LCP is not IP', LINKTYPE_ETHERNET, padded(ethernet(ETH_PPPOE_SESSION, pppoe(0xc021, Buffer.alloc(8)))), { skipped: 'nonIp' }],
    ['PPPoE discovery is not IP', LINKTYPE_ETHERNET, padded(ethernet(0x8863, Buffer.alloc(20))), { skipped: 'nonIp' }],
    ['an MPLS pseudowire (control word) is not IP', LINKTYPE_ETHERNET, ethernet(ETH_MPLS, mpls([100], Buffer.concat([Buffer.alloc(4), ethernet(ETH_IPV4, v4Tcp)]))), { skipped: 'nonIp' }],
    ['a Linux SLL netlink frame is not IP', LINKTYPE_LINUX_SLL, sll(0x0000, Buffer.alloc(20)), { skipped: 'nonIp' }],
    ['BSD null with another address family', LINKTYPE_NULL, nullLink(7, v4Tcp), { skipped: 'nonIp' }],
    ['an unknown link type (802.11 radiotap)', 127, ethernet(ETH_IPV4, v4Tcp), { skipped: 'unknownLinkType' }],
    ['an Ethernet header cut short', LINKTYPE_ETHERNET, ethernet(ETH_IPV4, v4Tcp), { skipped: 'truncatedLink' }, { capture: 13 }],
    ['a VLAN tag cut short', LINKTYPE_ETHERNET, ethernet(ETH_IPV4, v4Tcp, [[ETH_VLAN, 1]]), { skipped: 'truncatedLink' }, { capture: 17 }],
    ['a PPPoE header cut short', LINKTYPE_ETHERNET, ethernet(ETH_PPPOE_SESSION, pppoe(0x0021, v4Tcp)), { skipped: 'truncatedLink' }, { capture: 20 }],
    ['an MPLS stack cut short', LINKTYPE_ETHERNET, ethernet(ETH_MPLS, mpls([1, 2], v4Tcp)), { skipped: 'truncatedLink' }, { capture: 20 }],
    ['an SLL header cut short', LINKTYPE_LINUX_SLL, sll(ETH_IPV4, v4Tcp), { skipped: 'truncatedLink' }, { capture: 15 }],
    ['an SLL2 header cut short', LINKTYPE_LINUX_SLL2, sll2(ETH_IPV4, v4Tcp), { skipped: 'truncatedLink' }, { capture: 19 }],
    ['a null header cut short', LINKTYPE_NULL, nullLink(2, v4Tcp), { skipped: 'truncatedLink' }, { capture: 3 }],
    ['an empty frame', LINKTYPE_RAW, Buffer.alloc(0), { skipped: 'truncatedLink' }],
    ['raw IP with version 5', LINKTYPE_RAW, Buffer.from([0x50, ...v4Tcp.subarray(1)]), { skipped: 'badIpVersion' }],
    ['LINKTYPE_IPV4 holding IPv6', LINKTYPE_IPV4, v6Tcp, { skipped: 'badIpVersion' }],
    ['ethertype IPv4 holding IPv6', LINKTYPE_ETHERNET, ethernet(ETH_IPV4, v6Tcp), { skipped: 'badIpVersion' }],
    ['ethertype IPv6 holding IPv4', LINKTYPE_ETHERNET, ethernet(ETH_IPV6, padded(v4Tcp)), { skipped: 'badIpVersion' }],
  ];
  it.each(cases)('decodes %s', decodesCase);

  it('decodes a frame in place inside a larger buffer and never reads past captureLength', () => {
    const frame = ethernet(ETH_IPV4, v4Tcp);
    const buf = Buffer.concat([Buffer.alloc(100, 0xff), frame, Buffer.alloc(100, 0xff)]);
    const d = new PacketDecoder();
    const out = new DecodedPacket();
    expect(d.decode(LINKTYPE_ETHERNET, buf, 100, frame.length, 1514, 7, out)).toBe(true);
    expect(summary(out)).toEqual({ ...v4TcpWant(1514), tsUs: 7 });
    // Cut inside the TCP ports: the bytes that follow in the buffer must not be read as ports.
    expect(d.decode(LINKTYPE_ETHERNET, buf, 100, 14 + 20 + 3, 1514, 7, out)).toBe(false);
    expect(d.counters.truncatedTransport).toBe(1);
  });

  it('takes a captureLength beyond the buffer as a truncated capture, not an out-of-bounds read', () => {
    const frame = ethernet(ETH_IPV4, v4Tcp);
    expect(decodeFrame(new PacketDecoder(), LINKTYPE_ETHERNET, frame.subarray(0, 30), { capture: 54, wire: 54 })).toEqual({ skipped: 'truncatedIp' });
  });
});

describe('PacketDecoder IPv4', () => {
  const eth = (ip: Buffer) => ethernet(ETH_IPV4, ip);
  const cases: Case[] = [
    [
      'options: ports follow the IHL, not byte 20',
      LINKTYPE_ETHERNET,
      eth(ipv4({ src: A4, dst: B4, protocol: 6, options: Buffer.from([0x94, 0x04, 0, 0, 0x01, 0x01, 0x01, 0x00]), payload: tcpSyn })),
      want({ srcPort: 49152, dstPort: 443, tcpFlags: TCP_SYN, wireLength: 62, ipLength: 48 }),
    ],
    [
      'Ethernet padding: the total length bounds the packet',
      LINKTYPE_ETHERNET,
      padded(eth(ipv4({ src: A4, dst: B4, protocol: 17, payload: udp(1, 2) }))),
      want({ protocol: 17, srcPort: 1, dstPort: 2, wireLength: 60, ipLength: 28 }),
    ],
    [
      'padding is not a transport header: a 2-byte UDP "header" padded to 60 bytes',
      LINKTYPE_ETHERNET,
      padded(eth(ipv4({ src: A4, dst: B4, protocol: 17, payload: Buffer.from([0, 53]) }))),
      { skipped: 'truncatedTransport' },
    ],
    [
      'snaplen cut the payload: ipLength is still the total length',
      LINKTYPE_ETHERNET,
      eth(ipv4({ src: A4, dst: B4, protocol: 6, payload: tcp({ sport: 80, dport: 50000, flags: TCP_ACK, payload: Buffer.alloc(1446) }) })),
      want({ srcPort: 80, dstPort: 50000, tcpFlags: TCP_ACK, wireLength: 1500, ipLength: 1486 }),
      { capture: 68, wire: 1500 },
    ],
    [
      'a TCP header cut after the ports still gives the ports, without flags',
      LINKTYPE_ETHERNET,
      eth(ipv4({ src: A4, dst: B4, protocol: 6, payload: tcpSyn })),
      want({ srcPort: 49152, dstPort: 443, wireLength: 54, ipLength: 40 }),
      { capture: 14 + 20 + 4 },
    ],
    [
      'a TCP header cut after byte 13 has flags',
      LINKTYPE_ETHERNET,
      eth(ipv4({ src: A4, dst: B4, protocol: 6, payload: tcp({ sport: 1, dport: 2, flags: TCP_PSH | TCP_ACK }) })),
      want({ srcPort: 1, dstPort: 2, tcpFlags: TCP_PSH | TCP_ACK, wireLength: 54, ipLength: 40 }),
      { capture: 14 + 20 + 14 },
    ],
    [
      'a TCP data offset below 5 words: ports kept, flags not trusted',
      LINKTYPE_ETHERNET,
      eth(ipv4({ src: A4, dst: B4, protocol: 6, payload: tcp({ sport: 1, dport: 2, flags: TCP_SYN, dataOffset: 3 }) })),
      want({ srcPort: 1, dstPort: 2, wireLength: 54, ipLength: 40 }),
    ],
    ['a TCP header with 3 bytes', LINKTYPE_ETHERNET, eth(v4Tcp), { skipped: 'truncatedTransport' }, { capture: 14 + 20 + 3 }],
    ['a UDP header with 3 bytes', LINKTYPE_ETHERNET, eth(v4Udp), { skipped: 'truncatedTransport' }, { capture: 14 + 20 + 3 }],
    [
      'SCTP ports',
      LINKTYPE_ETHERNET,
      eth(ipv4({ src: A4, dst: B4, protocol: 132, payload: sctp(2905, 2905) })),
      want({ protocol: 132, srcPort: 2905, dstPort: 2905, wireLength: 46, ipLength: 32 }),
    ],
    [
      'ICMP: type and code in the port fields',
      LINKTYPE_ETHERNET,
      eth(ipv4({ src: A4, dst: B4, protocol: 1, payload: icmp(8, 0) })),
      want({ protocol: 1, srcPort: 8, dstPort: 0, wireLength: 42, ipLength: 28 }),
    ],
    [
      'an ICMP error quoting a TCP header is ICMP, not TCP',
      LINKTYPE_ETHERNET,
      eth(ipv4({ src: B4, dst: A4, protocol: 1, payload: icmp(3, 3, Buffer.concat([Buffer.alloc(4), v4Tcp.subarray(0, 28)])) })),
      want({ src: B4, dst: A4, protocol: 1, srcPort: 3, dstPort: 3, wireLength: 70, ipLength: 56 }),
    ],
    ['ICMP with only its type', LINKTYPE_ETHERNET, eth(ipv4({ src: A4, dst: B4, protocol: 1, payload: icmp(8, 0) })), { skipped: 'truncatedTransport' }, { capture: 35 }],
    [
      'GRE is a flow of its outer header: the inner TCP is not decoded',
      LINKTYPE_ETHERNET,
      eth(ipv4({ src: A4, dst: B4, protocol: 47, payload: Buffer.concat([Buffer.from([0, 0, 0x08, 0x00]), v4Tcp]) })),
      want({ protocol: 47, wireLength: 78, ipLength: 64 }),
    ],
    ['IP in IP (4)', LINKTYPE_ETHERNET, eth(ipv4({ src: A4, dst: B4, protocol: 4, payload: v4Tcp })), want({ protocol: 4, wireLength: 74, ipLength: 60 })],
    ['IPv6 in IPv4 (41)', LINKTYPE_ETHERNET, eth(ipv4({ src: A4, dst: B4, protocol: 41, payload: v6Tcp })), want({ protocol: 41, wireLength: 94, ipLength: 80 })],
    ['OSPF, with no ports', LINKTYPE_ETHERNET, padded(eth(ipv4({ src: A4, dst: B4, protocol: 89, payload: Buffer.alloc(0) }))), want({ protocol: 89, wireLength: 60, ipLength: 20 })],
    [
      'total length 0: a TSO super-packet seen on the sender takes its length from the frame',
      LINKTYPE_ETHERNET,
      eth(ipv4({ src: A4, dst: B4, protocol: 6, totalLength: 0, payload: tcp({ sport: 1, dport: 2, flags: TCP_ACK }) })),
      want({ srcPort: 1, dstPort: 2, tcpFlags: TCP_ACK, wireLength: 9014, ipLength: 9000 }),
      { wire: 9014 },
    ],
    ['IHL 4', LINKTYPE_ETHERNET, eth(ipv4({ src: A4, dst: B4, protocol: 6, ihl: 4, payload: tcpSyn })), { skipped: 'badIpHeaderLength' }],
    ['IHL 0', LINKTYPE_RAW, ipv4({ src: A4, dst: B4, protocol: 6, ihl: 0, payload: tcpSyn }), { skipped: 'badIpHeaderLength' }],
    ['total length below the header length', LINKTYPE_ETHERNET, eth(ipv4({ src: A4, dst: B4, protocol: 6, totalLength: 19, payload: tcpSyn })), { skipped: 'badIpTotalLength' }],
    ['total length below the IHL with options', LINKTYPE_ETHERNET, eth(ipv4({ src: A4, dst: B4, protocol: 6, options: Buffer.alloc(8, 1), totalLength: 24, payload: tcpSyn })), { skipped: 'badIpTotalLength' }],
    ['19 bytes of IPv4 header', LINKTYPE_ETHERNET, eth(v4Tcp), { skipped: 'truncatedIp' }, { capture: 14 + 19 }],
    [
      'options cut by the capture',
      LINKTYPE_ETHERNET,
      eth(ipv4({ src: A4, dst: B4, protocol: 6, options: Buffer.alloc(40, 1), payload: tcpSyn })),
      { skipped: 'truncatedIp' },
      { capture: 14 + 40 },
    ],
  ];
  it.each(cases)('decodes %s', decodesCase);
});

describe('PacketDecoder IPv6', () => {
  const eth = (ip: Buffer) => ethernet(ETH_IPV6, ip);
  const v6 = (p: Partial<Decoded> & Pick<Decoded, 'wireLength' | 'ipLength'>) => want({ family: 6, src: A6, dst: B6, ...p });
  const cases: Case[] = [
    [
      'hop-by-hop, routing and destination options before TCP',
      LINKTYPE_ETHERNET,
      eth(ipv6({ src: A6, dst: B6, extensions: [{ type: 0 }, { type: 43, length: 24 }, { type: 60, length: 16 }], protocol: 6, payload: tcpSyn })),
      v6({ srcPort: 49152, dstPort: 443, tcpFlags: TCP_SYN, wireLength: 122, ipLength: 108 }),
    ],
    [
      'an authentication header counts its length in 4-byte units',
      LINKTYPE_ETHERNET,
      eth(ipv6({ src: A6, dst: B6, extensions: [{ type: 51, length: 28 }], protocol: 17, payload: udp(500, 4500) })),
      v6({ protocol: 17, srcPort: 500, dstPort: 4500, wireLength: 90, ipLength: 76 }),
    ],
    [
      'a mobility header',
      LINKTYPE_ETHERNET,
      eth(ipv6({ src: A6, dst: B6, extensions: [{ type: 135, length: 16 }], protocol: 59, payload: Buffer.alloc(0) })),
      v6({ protocol: 59, wireLength: 70, ipLength: 56 }),
    ],
    [
      'ESP ends the walk: protocol 50 without ports',
      LINKTYPE_ETHERNET,
      eth(ipv6({ src: A6, dst: B6, extensions: [{ type: 60 }], protocol: 50, payload: Buffer.alloc(40, 0xab) })),
      v6({ protocol: 50, wireLength: 102, ipLength: 88 }),
    ],
    [
      'ICMPv6: type and code in the port fields',
      LINKTYPE_ETHERNET,
      eth(ipv6({ src: A6, dst: B6, protocol: 58, payload: icmp(135, 0, Buffer.alloc(20)) })),
      v6({ protocol: 58, srcPort: 135, dstPort: 0, wireLength: 78, ipLength: 64 }),
    ],
    [
      'IPv4 in IPv6 (4) is a flow of the outer header',
      LINKTYPE_ETHERNET,
      eth(ipv6({ src: A6, dst: B6, protocol: 4, payload: v4Tcp })),
      v6({ protocol: 4, wireLength: 94, ipLength: 80 }),
    ],
    [
      'an atomic fragment (offset 0, no M; RFC 6946) is a whole packet',
      LINKTYPE_ETHERNET,
      eth(ipv6({ src: A6, dst: B6, extensions: [{ type: 44, offset: 0, more: false, id: 7 }], protocol: 17, payload: udp(1, 2) })),
      v6({ protocol: 17, srcPort: 1, dstPort: 2, wireLength: 70, ipLength: 56 }),
    ],
    [
      'a jumbogram (payload length 0, hop-by-hop) takes its length from the frame',
      LINKTYPE_RAW,
      ipv6({ src: A6, dst: B6, extensions: [{ type: 0 }], protocol: 6, payloadLength: 0, payload: tcpSyn }),
      v6({ srcPort: 49152, dstPort: 443, tcpFlags: TCP_SYN, wireLength: 70000, ipLength: 70000 }),
      { wire: 70000 },
    ],
    [
      'an extension header longer than the payload length',
      LINKTYPE_ETHERNET,
      eth(ipv6({ src: A6, dst: B6, extensions: [{ type: 60, length: 64 }], protocol: 6, payloadLength: 32, payload: tcpSyn })),
      { skipped: 'badIpv6ExtHeader' },
    ],
    [
      'a fragment header past the payload length',
      LINKTYPE_ETHERNET,
      padded(eth(ipv6({ src: A6, dst: B6, extensions: [{ type: 44, offset: 0, more: true, id: 1 }], protocol: 17, payloadLength: 4, payload: udp(1, 2) })), 80),
      { skipped: 'badIpv6ExtHeader' },
    ],
    [
      'an extension header chain cut by the capture',
      LINKTYPE_ETHERNET,
      eth(ipv6({ src: A6, dst: B6, extensions: [{ type: 0 }, { type: 60 }], protocol: 6, payload: tcpSyn })),
      { skipped: 'truncatedIp' },
      { capture: 14 + 40 + 9 },
    ],
    ['a TCP header with 2 bytes', LINKTYPE_ETHERNET, eth(v6Tcp), { skipped: 'truncatedTransport' }, { capture: 14 + 40 + 2 }],
    ['39 bytes of IPv6 header', LINKTYPE_ETHERNET, eth(v6Tcp), { skipped: 'truncatedIp' }, { capture: 14 + 39 }],
  ];
  it.each(cases)('decodes %s', decodesCase);
});

describe('PacketDecoder fragments', () => {
  const payload = udp(53, 40000, Buffer.alloc(1472 + 200));
  const v4Fragment = (offset: number, more: boolean, id = 0xbeef, src = A4) =>
    ethernet(ETH_IPV4, ipv4({ src, dst: B4, protocol: 17, id, mf: more, fragmentOffset: offset, payload: offset === 0 ? payload.subarray(0, 1480) : payload.subarray(offset, offset + 100) }));
  const v6Fragment = (offset: number, more: boolean, id: number) =>
    ethernet(
      ETH_IPV6,
      ipv6({ src: A6, dst: B6, extensions: [{ type: 44, offset, more, id }], protocol: 17, payload: offset === 0 ? payload.subarray(0, 1448) : payload.subarray(offset, offset + 100) }),
    );
  const dnsV4 = (fragment: number, wireLength: number, ipLength: number, tsUs = TS) =>
    want({ protocol: 17, srcPort: 53, dstPort: 40000, fragment, wireLength, ipLength, tsUs });

  it('gives later IPv4 fragments the ports of their first fragment', () => {
    const d = new PacketDecoder();
    expect([decodeFrame(d, 1, v4Fragment(0, true)), decodeFrame(d, 1, v4Fragment(1480, true)), decodeFrame(d, 1, v4Fragment(1488, false))]).toEqual([
      dnsV4(1, 1514, 1500),
      dnsV4(2, 134, 120),
      dnsV4(2, 134, 120),
    ]);
    expect(d.counters).toMatchObject({ decoded: 3, ipv4: 3, fragmentsFirst: 1, fragmentsLater: 2, fragmentsOrphan: 0 });
  });

  it('gives later IPv6 fragments the ports of their first fragment, with a 32-bit identification', () => {
    const d = new PacketDecoder();
    const v6Want = (fragment: number, wireLength: number, ipLength: number) =>
      want({ family: 6, src: A6, dst: B6, protocol: 17, srcPort: 53, dstPort: 40000, fragment, wireLength, ipLength });
    expect([decodeFrame(d, 1, v6Fragment(0, true, 0xdeadbeef)), decodeFrame(d, 1, v6Fragment(1448, false, 0xdeadbeef)), decodeFrame(d, 1, v6Fragment(1448, false, 0x5eadbeef))]).toEqual([
      v6Want(1, 1510, 1496),
      v6Want(2, 162, 148),
      { skipped: 'fragmentsOrphan' },
    ]);
  });

  it('skips a later fragment that arrives before its first fragment, as the reference does', () => {
    const d = new PacketDecoder();
    expect([decodeFrame(d, 1, v4Fragment(1480, false)), decodeFrame(d, 1, v4Fragment(0, true))]).toEqual([{ skipped: 'fragmentsOrphan' }, dnsV4(1, 1514, 1500)]);
  });

  it('keys fragments by source, destination, protocol and identification', () => {
    const d = new PacketDecoder();
    decodeFrame(d, 1, v4Fragment(0, true, 1));
    const otherProtocol = ethernet(ETH_IPV4, ipv4({ src: A4, dst: B4, protocol: 6, id: 1, fragmentOffset: 1480, payload: Buffer.alloc(8) }));
    expect([decodeFrame(d, 1, v4Fragment(1480, false, 2)), decodeFrame(d, 1, v4Fragment(1480, false, 1, '192.0.2.2')), decodeFrame(d, 1, otherProtocol)]).toEqual([
      { skipped: 'fragmentsOrphan' },
      { skipped: 'fragmentsOrphan' },
      { skipped: 'fragmentsOrphan' },
    ]);
  });

  it('forgets a first fragment after the 60 s reassembly timeout', () => {
    const d = new PacketDecoder();
    decodeFrame(d, 1, v4Fragment(0, true), { tsUs: TS });
    expect(decodeFrame(d, 1, v4Fragment(1480, true), { tsUs: TS + 59_000_000 })).toEqual(dnsV4(2, 134, 120, TS + 59_000_000));
    // The later fragment refreshed the entry; 61 s after that it is gone.
    expect(decodeFrame(d, 1, v4Fragment(1488, false), { tsUs: TS + 120_000_001 })).toEqual({ skipped: 'fragmentsOrphan' });
  });

  it('counts evictions when more datagrams are in flight than the cache holds', () => {
    const d = new PacketDecoder({ fragmentCacheSize: 4 });
    for (let id = 0; id < 5; id++) decodeFrame(d, 1, v4Fragment(0, true, id), { tsUs: TS + id });
    expect([decodeFrame(d, 1, v4Fragment(1480, false, 0)), decodeFrame(d, 1, v4Fragment(1480, false, 4))]).toEqual([{ skipped: 'fragmentsOrphan' }, dnsV4(2, 134, 120)]);
    expect(d.counters).toMatchObject({ fragmentsFirst: 5, fragmentCacheEvictions: 1, fragmentsLater: 1, fragmentsOrphan: 1 });
  });

  it('does not count an expired entry it replaces as an eviction', () => {
    const d = new PacketDecoder({ fragmentCacheSize: 4 });
    for (let id = 0; id < 4; id++) decodeFrame(d, 1, v4Fragment(0, true, id), { tsUs: TS });
    decodeFrame(d, 1, v4Fragment(0, true, 9), { tsUs: TS + 61_000_000 });
    expect(d.counters.fragmentCacheEvictions).toBe(0);
  });

  it('skips the first fragment when the transport header is cut at the fragment boundary, and so its later fragments', () => {
    const d = new PacketDecoder();
    const tiny = ethernet(ETH_IPV4, ipv4({ src: A4, dst: B4, protocol: 17, id: 0xbeef, mf: true, payload: Buffer.from([0xc0, 0x00]) }));
    expect([decodeFrame(d, 1, padded(tiny)), decodeFrame(d, 1, v4Fragment(8, false))]).toEqual([{ skipped: 'truncatedTransport' }, { skipped: 'fragmentsOrphan' }]);
  });

  it('accounts later fragments of a protocol without ports to its first fragment', () => {
    const d = new PacketDecoder();
    const gre = (offset: number, more: boolean) => ethernet(ETH_IPV4, ipv4({ src: A4, dst: B4, protocol: 47, mf: more, fragmentOffset: offset, payload: Buffer.alloc(offset === 0 ? 1480 : 100) }));
    expect([decodeFrame(d, 1, gre(0, true)), decodeFrame(d, 1, gre(1480, false))]).toEqual([
      want({ protocol: 47, fragment: 1, wireLength: 1514, ipLength: 1500 }),
      want({ protocol: 47, fragment: 2, wireLength: 134, ipLength: 120 }),
    ]);
  });
});

describe('PacketDecoder on hostile bytes', () => {
  /** xorshift32: the same frames on every run. */
  function prng(seed: number): () => number {
    let s = seed;
    return () => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return s >>> 0;
    };
  }

  it('never throws on 100k random frames and counts each one as decoded or under one skip reason', () => {
    const rnd = prng(0x9e3779b9);
    const valid = [
      [LINKTYPE_ETHERNET, ethernet(ETH_IPV4, v4Tcp, [[ETH_VLAN, 5]])],
      [LINKTYPE_ETHERNET, ethernet(ETH_IPV6, ipv6({ src: A6, dst: B6, extensions: [{ type: 0 }, { type: 44, offset: 0, more: true, id: 3 }, { type: 51 }], protocol: 6, payload: tcpSyn }))],
      [LINKTYPE_ETHERNET, ethernet(ETH_IPV4, ipv4({ src: A4, dst: B4, protocol: 17, mf: true, id: 9, payload: udp(1, 2) }))],
      [LINKTYPE_ETHERNET, ethernet(ETH_IPV4, ipv4({ src: A4, dst: B4, protocol: 17, id: 9, fragmentOffset: 8, payload: Buffer.alloc(8) }))],
      [LINKTYPE_ETHERNET, ethernet(ETH_MPLS, mpls([1, 2], v6Udp))],
      [LINKTYPE_ETHERNET, ethernet(ETH_PPPOE_SESSION, pppoe(0x0021, v4Udp))],
      [LINKTYPE_ETHERNET, ethernet8023(llcSnap(ETH_IPV6, v6Tcp))],
      [LINKTYPE_LINUX_SLL, sll(ETH_IPV4, v4Udp)],
      [LINKTYPE_LINUX_SLL2, sll2(ETH_IPV6, v6Udp)],
      [LINKTYPE_NULL, nullLink(30, v6Tcp)],
      [LINKTYPE_LOOP, loopLink(2, v4Tcp)],
      [LINKTYPE_RAW, v6Tcp],
      [LINKTYPE_IPV4, v4Tcp],
    ] as const;
    const linkTypes = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 127, 9];
    const d = new PacketDecoder({ fragmentCacheSize: 16 });
    const out = new DecodedPacket();
    const buf = Buffer.alloc(2048);
    const frames = 100_000;
    for (let i = 0; i < frames; i++) {
      let linkType: number;
      let length: number;
      if (i % 2 === 0) {
        // A valid frame with a few bytes flipped and a random cut: reaches deep into every parser.
        const [lt, frame] = valid[rnd() % valid.length];
        linkType = lt;
        frame.copy(buf);
        for (let k = rnd() % 4; k > 0; k--) buf[rnd() % frame.length] = rnd() & 0xff;
        length = rnd() % (frame.length + 1);
      } else {
        linkType = linkTypes[rnd() % linkTypes.length];
        length = rnd() % 200;
        for (let k = 0; k < length; k++) buf[k] = rnd() & 0xff;
      }
      const wire = rnd() % 4 === 0 ? rnd() % 70000 : length;
      d.decode(linkType, buf, 0, length, wire, i, out);
    }
    const c = d.counters;
    const skipped = SKIP_REASONS.reduce((sum, r) => sum + c[r], 0);
    expect({ packets: c.packets, accounted: c.decoded + skipped, families: c.ipv4 + c.ipv6 }).toEqual({ packets: frames, accounted: frames, families: c.decoded });
    // The fuzzing reached every outcome.
    for (const r of SKIP_REASONS) expect([r, c[r] > 0]).toEqual([r, true]);
    expect(c.fragmentsFirst > 0 && c.fragmentsLater > 0).toBe(true);
  });

  it('reports skip reasons by name', () => {
    const d = new PacketDecoder();
    decodeFrame(d, LINKTYPE_ETHERNET, padded(ethernet(ETH_ARP, arp())));
    decodeFrame(d, 99999, Buffer.alloc(10));
    decodeFrame(d, LINKTYPE_ETHERNET, ethernet(ETH_IPV4, v4Tcp));
    expect(d.countersByReason()).toEqual({
      nonIp: 1,
      unknownLinkType: 1,
      truncatedLink: 0,
      truncatedIp: 0,
      truncatedTransport: 0,
      badIpVersion: 0,
      badIpHeaderLength: 0,
      badIpTotalLength: 0,
      badIpv6ExtHeader: 0,
      fragmentsOrphan: 0,
    });
  });
});
