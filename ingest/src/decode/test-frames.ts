/**
 * Builds real frame bytes for the decoder tests: each function writes one header as its RFC lays it out and
 * wraps a payload, so a test reads as the stack it sends (`ethernet(ETH_IPV4, ipv4({…, payload: tcp({…})}))`).
 */
import { parseIp } from '../protocol/ip';

export const ETH_IPV4 = 0x0800;
export const ETH_IPV6 = 0x86dd;
export const ETH_ARP = 0x0806;
export const ETH_VLAN = 0x8100;
export const ETH_QINQ = 0x88a8;
export const ETH_MPLS = 0x8847;
export const ETH_PPPOE_SESSION = 0x8864;
export const ETH_LLDP = 0x88cc;

function addressBytes(text: string, family: 4 | 6): Buffer {
  const ip = parseIp(text);
  if (!ip || ip.family !== family) throw new Error(`not an IPv${family} address: ${text}`);
  const b = Buffer.alloc(family === 4 ? 4 : 16);
  if (family === 4) b.writeUInt32BE(ip.words[0] >>> 0, 0);
  else for (let i = 0; i < 4; i++) b.writeUInt32BE(ip.words[i] >>> 0, i * 4);
  return b;
}

/** RFC 1071 ones' complement sum over the header. */
function checksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < b.length; i += 2) sum += b.readUInt16BE(i);
  if (b.length % 2) sum += b[b.length - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export interface TcpSpec {
  sport: number;
  dport: number;
  /** Flags byte (TCP_SYN | TCP_ACK …). */
  flags?: number;
  /** Data offset in 32-bit words; default 5. Only the first 20 bytes are written whatever it says. */
  dataOffset?: number;
  payload?: Buffer;
}

export function tcp(s: TcpSpec): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(s.sport, 0);
  h.writeUInt16BE(s.dport, 2);
  h.writeUInt32BE(0x01020304, 4);
  h[12] = (s.dataOffset ?? 5) << 4;
  h[13] = s.flags ?? 0;
  h.writeUInt16BE(65535, 14);
  return Buffer.concat([h, s.payload ?? Buffer.alloc(0)]);
}

export function udp(sport: number, dport: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE(8 + payload.length, 4);
  return Buffer.concat([h, payload]);
}

/** SCTP common header (RFC 9260 §3.1): ports, verification tag, checksum. */
export function sctp(sport: number, dport: number): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  return h;
}

export function icmp(type: number, code: number, payload: Buffer = Buffer.alloc(4)): Buffer {
  return Buffer.concat([Buffer.from([type, code, 0, 0]), payload]);
}

export interface Ipv4Spec {
  src: string;
  dst: string;
  protocol: number;
  payload: Buffer;
  id?: number;
  /** More-fragments flag. */
  mf?: boolean;
  /** Fragment offset in bytes (a multiple of 8). */
  fragmentOffset?: number;
  /** Options (padded to 4 bytes); they raise the IHL. */
  options?: Buffer;
  /** Overrides the IHL field (32-bit words). */
  ihl?: number;
  /** Overrides the total length field. */
  totalLength?: number;
}

export function ipv4(s: Ipv4Spec): Buffer {
  const options = s.options ?? Buffer.alloc(0);
  const optionBytes = Buffer.concat([options, Buffer.alloc((4 - (options.length % 4)) % 4)]);
  const h = Buffer.alloc(20 + optionBytes.length);
  h[0] = 0x40 | (s.ihl ?? h.length / 4);
  h.writeUInt16BE(s.totalLength ?? h.length + s.payload.length, 2);
  h.writeUInt16BE(s.id ?? 0x1234, 4);
  h.writeUInt16BE((s.mf ? 0x2000 : 0) | ((s.fragmentOffset ?? 0) >> 3), 6);
  h[8] = 64;
  h[9] = s.protocol;
  addressBytes(s.src, 4).copy(h, 12);
  addressBytes(s.dst, 4).copy(h, 16);
  optionBytes.copy(h, 20);
  h.writeUInt16BE(checksum(h), 10);
  return Buffer.concat([h, s.payload]);
}

export type Ipv6Extension =
  /** Hop-by-hop (0), routing (43), destination options (60), mobility (135): `length` bytes, a multiple of 8. */
  | { type: 0 | 43 | 60 | 135; length?: number }
  /** Authentication header (51): `length` bytes, a multiple of 4 (RFC 4302 §2.2). */
  | { type: 51; length?: number }
  /** Fragment header (44): offset in bytes, M flag, 32-bit identification. */
  | { type: 44; offset: number; more: boolean; id: number };

export interface Ipv6Spec {
  src: string;
  dst: string;
  /** Extension headers in order; the last one's next header is `protocol`. */
  extensions?: Ipv6Extension[];
  protocol: number;
  payload: Buffer;
  /** Overrides the payload length field. */
  payloadLength?: number;
}

function extensionBytes(e: Ipv6Extension, next: number): Buffer {
  if (e.type === 44) {
    const b = Buffer.alloc(8);
    b[0] = next;
    b.writeUInt16BE(e.offset | (e.more ? 1 : 0), 2);
    b.writeUInt32BE(e.id >>> 0, 4);
    return b;
  }
  if (e.type === 51) {
    const b = Buffer.alloc(e.length ?? 24);
    b[0] = next;
    b[1] = b.length / 4 - 2;
    return b;
  }
  const b = Buffer.alloc(e.length ?? 8);
  b[0] = next;
  b[1] = b.length / 8 - 1;
  if (e.type === 0 || e.type === 60) b[2] = 1; // a PadN option (RFC 8200 §4.2) filling the rest
  if (e.type === 0 || e.type === 60) b[3] = b.length - 4;
  return b;
}

export function ipv6(s: Ipv6Spec): Buffer {
  const ext = s.extensions ?? [];
  const parts = ext.map((e, i) => extensionBytes(e, i + 1 < ext.length ? ext[i + 1].type : s.protocol));
  const payload = Buffer.concat([...parts, s.payload]);
  const h = Buffer.alloc(40);
  h.writeUInt32BE(0x60000000, 0);
  h.writeUInt16BE(s.payloadLength ?? payload.length, 4);
  h[6] = ext.length > 0 ? ext[0].type : s.protocol;
  h[7] = 64;
  addressBytes(s.src, 6).copy(h, 8);
  addressBytes(s.dst, 6).copy(h, 24);
  return Buffer.concat([h, payload]);
}

/** Ethernet II with optional stacked tags, outermost first: [tpid, vlan id]. */
export function ethernet(type: number, payload: Buffer, tags: Array<[number, number]> = []): Buffer {
  const h = Buffer.alloc(14 + 4 * tags.length);
  Buffer.from([0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01]).copy(h, 0);
  let off = 12;
  for (const [tpid, vid] of tags) {
    h.writeUInt16BE(tpid, off);
    h.writeUInt16BE(vid, off + 2);
    off += 4;
  }
  h.writeUInt16BE(type, off);
  return Buffer.concat([h, payload]);
}

/** IEEE 802.3 with an 802.2 LLC header: the type field is the length. */
export function ethernet8023(llc: Buffer): Buffer {
  return ethernet(llc.length, llc);
}

/** RFC 1042 SNAP encapsulation of an ethertype, inside 802.2 LLC. */
export function llcSnap(type: number, payload: Buffer): Buffer {
  const h = Buffer.from([0xaa, 0xaa, 0x03, 0, 0, 0, type >> 8, type & 0xff]);
  return Buffer.concat([h, payload]);
}

/** Ethernet padded to the 60-byte minimum frame (without FCS), as a NIC sends short frames. */
export function padded(frame: Buffer, size = 60): Buffer {
  return frame.length >= size ? frame : Buffer.concat([frame, Buffer.alloc(size - frame.length, 0xee)]);
}

/** Linux cooked capture v1 (LINKTYPE_LINUX_SLL): packet type, ARPHRD, address, protocol. */
export function sll(protocol: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(0, 0); // to us
  h.writeUInt16BE(1, 2); // ARPHRD_ETHER
  h.writeUInt16BE(6, 4);
  h.writeUInt16BE(protocol, 14);
  return Buffer.concat([h, payload]);
}

/** Linux cooked capture v2 (LINKTYPE_LINUX_SLL2): protocol first, then interface index, ARPHRD, address. */
export function sll2(protocol: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(protocol, 0);
  h.writeUInt32BE(2, 4);
  h.writeUInt16BE(1, 8);
  h[11] = 6;
  return Buffer.concat([h, payload]);
}

/** BSD loopback (LINKTYPE_NULL): the address family in the capturing host's byte order. */
export function nullLink(af: number, payload: Buffer, littleEndianHost = true): Buffer {
  const h = Buffer.alloc(4);
  if (littleEndianHost) h.writeUInt32LE(af, 0);
  else h.writeUInt32BE(af, 0);
  return Buffer.concat([h, payload]);
}

/** OpenBSD loopback (LINKTYPE_LOOP): the address family in network byte order. */
export function loopLink(af: number, payload: Buffer): Buffer {
  return nullLink(af, payload, false);
}

/** PPPoE session stage (RFC 2516 §4) carrying one PPP frame of `pppProtocol`. */
export function pppoe(pppProtocol: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = 0x11;
  h.writeUInt16BE(0x0001, 2);
  h.writeUInt16BE(payload.length + 2, 4);
  h.writeUInt16BE(pppProtocol, 6);
  return Buffer.concat([h, payload]);
}

/** MPLS label stack (RFC 3032 §2.1), outermost first; the last entry gets the bottom-of-stack bit. */
export function mpls(labels: number[], payload: Buffer): Buffer {
  const h = Buffer.alloc(4 * labels.length);
  labels.forEach((label, i) => h.writeUInt32BE(((label << 12) | (i === labels.length - 1 ? 0x100 : 0) | 64) >>> 0, i * 4));
  return Buffer.concat([h, payload]);
}

/** An ARP request (RFC 826) for Ethernet/IPv4. */
export function arp(): Buffer {
  return Buffer.from('0001080006040001020000000002c0a80001000000000000c0a80002', 'hex');
}
