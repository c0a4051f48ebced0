/**
 * The decoder's output for one packet. One instance is reused for every packet on the hot path, so it
 * holds numbers only: no strings, no per-packet allocation. Addresses are four big-endian 32-bit words;
 * an IPv4 address lives in word 0 with words 1-3 zero, so both families hash and compare the same way.
 */
export class DecodedPacket {
  /** 4 or 6 (the outer IP header: tunnels are flows of their outer header). */
  family: 4 | 6 = 4;
  readonly src = new Uint32Array(4);
  readonly dst = new Uint32Array(4);
  /** IANA protocol number of the transport (after IPv6 extension headers). */
  protocol = 0;
  /** TCP/UDP/SCTP ports; ICMP and ICMPv6 carry the type in srcPort and the code in dstPort, as Zeek does; 0 for other protocols. */
  srcPort = 0;
  dstPort = 0;
  /** TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20, ECE 0x40, CWR 0x80); 0 otherwise. */
  tcpFlags = 0;
  /** 0 = not a fragment, 1 = first fragment (has the ports), 2 = a later fragment (ports copied from its first fragment when known). */
  fragment = 0;
  /** The frame's original length on the wire (what tshark's conversation statistics count). */
  wireLength = 0;
  /** Length of the IP packet (IPv4 total length, or 40 + IPv6 payload length). */
  ipLength = 0;
  /** Offset of the (outer) IP header from the start of the frame: the link-layer header's length. */
  ipOffset = 0;
  /**
   * Capture timestamp, epoch microseconds (fits a double exactly until the year 2255). Kept in a typed array
   * behind an accessor: a double stored in an object field is boxed by V8, a new heap number per packet, which
   * made the offline pass collect garbage every 30,000 packets.
   */
  get tsUs(): number {
    return this.ts[0];
  }

  set tsUs(us: number) {
    this.ts[0] = us;
  }

  private readonly ts = new Float64Array(1);
}

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
