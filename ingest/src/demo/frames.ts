/**
 * Frame bytes as a network card would capture them: Ethernet II (IEEE 802.3 §3.1.1) carrying IPv4 (RFC 791, header
 * checksum RFC 1071) or IPv6 (RFC 8200), carrying TCP (RFC 9293), UDP (RFC 768) or ICMP/ICMPv6 (RFC 792,
 * RFC 4443), with the transport checksums over the pseudo-headers those RFCs define. The demo generator builds
 * every packet with these, and they go through the real decoder like captured ones; tshark reads them too.
 */
import { parseIp } from '../protocol/ip';

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_ICMPV6 = 58;

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;

/** An IP address as 4 (IPv4) or 16 (IPv6) network-order bytes. */
export function addressBytes(text: string): Buffer {
  const ip = parseIp(text);
  if (!ip) throw new Error(`not an IP address: ${text}`);
  const b = Buffer.alloc(ip.family === 4 ? 4 : 16);
  if (ip.family === 4) b.writeUInt32BE(ip.words[0] >>> 0, 0);
  else for (let i = 0; i < 4; i++) b.writeUInt32BE(ip.words[i] >>> 0, i * 4);
  return b;
}

export function macBytes(text: string): Buffer {
  const parts = text.split(':');
  if (parts.length !== 6) throw new Error(`not a MAC address: ${text}`);
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

/** RFC 1071 ones' complement sum of the buffers, folded to 16 bits (not yet complemented). */
function onesSum(parts: readonly Buffer[]): number {
  let sum = 0;
  let odd = -1;
  for (const b of parts) {
    let i = 0;
    if (odd >= 0 && b.length > 0) {
      sum += (odd << 8) | b[0];
      odd = -1;
      i = 1;
    }
    for (; i + 1 < b.length; i += 2) sum += (b[i] << 8) | b[i + 1];
    if (i < b.length) odd = b[i];
  }
  if (odd >= 0) sum += odd << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

export function internetChecksum(...parts: Buffer[]): number {
  return ~onesSum(parts) & 0xffff;
}

/** The pseudo-header of the transport checksum: RFC 9293 §3.1 for IPv4, RFC 8200 §8.1 for IPv6. */
function pseudoHeader(src: Buffer, dst: Buffer, protocol: number, length: number): Buffer {
  if (src.length === 4) {
    const p = Buffer.alloc(12);
    src.copy(p, 0);
    dst.copy(p, 4);
    p[9] = protocol;
    p.writeUInt16BE(length, 10);
    return p;
  }
  const p = Buffer.alloc(40);
  src.copy(p, 0);
  dst.copy(p, 16);
  p.writeUInt32BE(length, 32);
  p[39] = protocol;
  return p;
}

export interface Endpoints {
  src: string;
  dst: string;
}

export interface TcpSegment extends Endpoints {
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
  window?: number;
  /** Maximum segment size option on SYNs (RFC 9293 §3.7.1). */
  mss?: number;
  payload?: Buffer;
}

/** A TCP segment with its checksum; a SYN carries the MSS option. */
export function tcpSegment(s: TcpSegment): Buffer {
  const options = s.mss !== undefined ? Buffer.from([2, 4, s.mss >> 8, s.mss & 0xff]) : Buffer.alloc(0);
  const h = Buffer.alloc(20 + options.length);
  h.writeUInt16BE(s.sport, 0);
  h.writeUInt16BE(s.dport, 2);
  h.writeUInt32BE(s.seq >>> 0, 4);
  h.writeUInt32BE(s.flags & ACK ? s.ack >>> 0 : 0, 8);
  h[12] = (h.length / 4) << 4;
  h[13] = s.flags;
  h.writeUInt16BE(s.window ?? 64240, 14);
  options.copy(h, 20);
  const payload = s.payload ?? Buffer.alloc(0);
  const src = addressBytes(s.src);
  const dst = addressBytes(s.dst);
  h.writeUInt16BE(internetChecksum(pseudoHeader(src, dst, PROTO_TCP, h.length + payload.length), h, payload), 16);
  return Buffer.concat([h, payload]);
}

export interface UdpDatagram extends Endpoints {
  sport: number;
  dport: number;
  payload: Buffer;
}

export function udpDatagram(u: UdpDatagram): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(u.sport, 0);
  h.writeUInt16BE(u.dport, 2);
  h.writeUInt16BE(8 + u.payload.length, 4);
  const c = internetChecksum(pseudoHeader(addressBytes(u.src), addressBytes(u.dst), PROTO_UDP, 8 + u.payload.length), h, u.payload);
  // RFC 768: a computed zero is sent as all ones (zero means "no checksum").
  h.writeUInt16BE(c === 0 ? 0xffff : c, 6);
  return Buffer.concat([h, u.payload]);
}

export interface EchoMessage extends Endpoints {
  /** true for the request (ICMP type 8 / ICMPv6 128), false for the reply (0 / 129). */
  request: boolean;
  id: number;
  seq: number;
  payload?: Buffer;
}

/** ICMP echo (RFC 792) for IPv4 endpoints, ICMPv6 echo (RFC 4443 §4.1, checksum over the pseudo-header) for IPv6. */
export function echoMessage(e: EchoMessage): Buffer {
  const v6 = e.src.includes(':');
  const payload = e.payload ?? Buffer.alloc(56, 0x61);
  const h = Buffer.alloc(8);
  h[0] = v6 ? (e.request ? 128 : 129) : e.request ? 8 : 0;
  h.writeUInt16BE(e.id, 4);
  h.writeUInt16BE(e.seq, 6);
  const c = v6 ? internetChecksum(pseudoHeader(addressBytes(e.src), addressBytes(e.dst), PROTO_ICMPV6, 8 + payload.length), h, payload) : internetChecksum(h, payload);
  h.writeUInt16BE(c, 2);
  return Buffer.concat([h, payload]);
}

export interface IpPacket extends Endpoints {
  protocol: number;
  payload: Buffer;
  ttl?: number;
  /** IPv4 identification. */
  id?: number;
  /** IPv6 flow label. */
  flowLabel?: number;
}

/** An IPv4 or IPv6 packet, by the family of the addresses; IPv4 with DF set and its header checksum. */
export function ipPacket(p: IpPacket): Buffer {
  const src = addressBytes(p.src);
  const dst = addressBytes(p.dst);
  if (src.length !== dst.length) throw new Error(`mixed address families: ${p.src} -> ${p.dst}`);
  if (src.length === 4) {
    const h = Buffer.alloc(20);
    h[0] = 0x45;
    h.writeUInt16BE(20 + p.payload.length, 2);
    h.writeUInt16BE((p.id ?? 0) & 0xffff, 4);
    h.writeUInt16BE(0x4000, 6);
    h[8] = p.ttl ?? 64;
    h[9] = p.protocol;
    src.copy(h, 12);
    dst.copy(h, 16);
    h.writeUInt16BE(internetChecksum(h), 10);
    return Buffer.concat([h, p.payload]);
  }
  const h = Buffer.alloc(40);
  h.writeUInt32BE((6 << 28) | ((p.flowLabel ?? 0) & 0xfffff), 0);
  h.writeUInt16BE(p.payload.length, 4);
  h[6] = p.protocol;
  h[7] = p.ttl ?? 64;
  src.copy(h, 8);
  dst.copy(h, 24);
  return Buffer.concat([h, p.payload]);
}

/** An Ethernet II frame (no FCS, as libpcap delivers them), padded to the 60-byte minimum. */
export function ethernetFrame(srcMac: Buffer, dstMac: Buffer, ethertype: number, payload: Buffer): Buffer {
  const f = Buffer.alloc(Math.max(60, 14 + payload.length));
  dstMac.copy(f, 0);
  srcMac.copy(f, 6);
  f.writeUInt16BE(ethertype, 12);
  payload.copy(f, 14);
  return f;
}

// ---- application payloads, each in its protocol's wire format ----

function dnsName(name: string): Buffer {
  const parts: Buffer[] = [];
  for (const label of name.split('.').filter((l) => l !== '')) {
    const b = Buffer.from(label, 'ascii');
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

export const DNS_A = 1;
export const DNS_AAAA = 28;

/** A DNS query (RFC 1035 §4.1) with recursion desired. */
export function dnsQuery(id: number, name: string, qtype: number): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(0x0100, 2);
  h.writeUInt16BE(1, 4);
  const q = Buffer.alloc(4);
  q.writeUInt16BE(qtype, 0);
  q.writeUInt16BE(1, 2);
  return Buffer.concat([h, dnsName(name), q]);
}

/** The answer to {@link dnsQuery}: the question again and one A or AAAA record pointing at `address`. */
export function dnsResponse(id: number, name: string, qtype: number, address: string, ttl: number): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(0x8180, 2);
  h.writeUInt16BE(1, 4);
  h.writeUInt16BE(1, 6);
  const q = Buffer.alloc(4);
  q.writeUInt16BE(qtype, 0);
  q.writeUInt16BE(1, 2);
  const rdata = addressBytes(address);
  const rr = Buffer.alloc(12);
  rr.writeUInt16BE(0xc00c, 0); // a pointer to the name in the question (RFC 1035 §4.1.4)
  rr.writeUInt16BE(qtype, 2);
  rr.writeUInt16BE(1, 4);
  rr.writeUInt32BE(ttl, 6);
  rr.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([h, dnsName(name), q, rr, rdata]);
}

/** An NTPv4 client request (mode 3) or server reply (mode 4), RFC 5905 §7.3; `ntpSeconds` since 1900. */
export function ntpPacket(server: boolean, ntpSeconds: number): Buffer {
  const b = Buffer.alloc(48);
  b[0] = (0 << 6) | (4 << 3) | (server ? 4 : 3);
  if (server) {
    b[1] = 2; // stratum
    b[2] = 6;
    b[3] = 0xe9;
    b.write('GPS\0', 12, 'latin1');
    for (const off of [16, 32, 40]) b.writeUInt32BE(ntpSeconds >>> 0, off);
  }
  b.writeUInt32BE(ntpSeconds >>> 0, server ? 24 : 40);
  return b;
}

/** A TLS 1.2-framed ClientHello (RFC 8446 §4.1.2) with the server_name extension (RFC 6066 §3). */
export function tlsClientHello(serverName: string, random: Buffer): Buffer {
  const name = Buffer.from(serverName, 'ascii');
  const sniList = Buffer.alloc(5 + name.length);
  sniList.writeUInt16BE(3 + name.length, 0);
  sniList[2] = 0; // host_name
  sniList.writeUInt16BE(name.length, 3);
  name.copy(sniList, 5);
  const ext = Buffer.alloc(4);
  ext.writeUInt16BE(0, 0); // server_name
  ext.writeUInt16BE(sniList.length, 2);
  const extensions = Buffer.concat([ext, sniList]);
  const suites = Buffer.from([0x00, 0x06, 0x13, 0x01, 0x13, 0x02, 0xc0, 0x2f]);
  const body = Buffer.concat([
    Buffer.from([0x03, 0x03]),
    random.subarray(0, 32),
    Buffer.from([0]),
    suites,
    Buffer.from([1, 0]),
    Buffer.from([extensions.length >> 8, extensions.length & 0xff]),
    extensions,
  ]);
  const hs = Buffer.concat([Buffer.from([1, (body.length >> 16) & 0xff, (body.length >> 8) & 0xff, body.length & 0xff]), body]);
  return tlsRecord(22, hs);
}

/** A TLS record (RFC 8446 §5.1) of `type` (22 handshake, 23 application data) around `fragment`. */
export function tlsRecord(type: number, fragment: Buffer): Buffer {
  const h = Buffer.from([type, 0x03, 0x03, fragment.length >> 8, fragment.length & 0xff]);
  return Buffer.concat([h, fragment]);
}

export function httpRequest(host: string, path: string): Buffer {
  return Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: */*\r\nConnection: close\r\n\r\n`, 'latin1');
}

export function httpResponseHead(length: number): Buffer {
  return Buffer.from(`HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n`, 'latin1');
}

/** The SSH identification string both ends send first (RFC 4253 §4.2). */
export function sshIdentification(software: string): Buffer {
  return Buffer.from(`SSH-2.0-${software}\r\n`, 'latin1');
}

/**
 * One SSH binary packet (RFC 4253 §6) in the clear: length, padding length, message type, body, padding to a
 * multiple of 8 (at least 4 bytes). Packets after both sides' NEWKEYS are encrypted and carry no readable
 * structure; the demo sends those as opaque bytes.
 */
export function sshPacket(messageType: number, body: Buffer): Buffer {
  const unpadded = 4 + 1 + 1 + body.length;
  let padding = 8 - (unpadded % 8);
  if (padding < 4) padding += 8;
  const b = Buffer.alloc(unpadded + padding);
  b.writeUInt32BE(b.length - 4, 0);
  b[4] = padding;
  b[5] = messageType;
  body.copy(b, 6);
  return b;
}

export const SSH_MSG_KEXINIT = 20;
export const SSH_MSG_NEWKEYS = 21;
export const SSH_MSG_KEX_ECDH_INIT = 30;
export const SSH_MSG_KEX_ECDH_REPLY = 31;

function sshString(b: Buffer | string): Buffer {
  const v = typeof b === 'string' ? Buffer.from(b, 'latin1') : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(v.length, 0);
  return Buffer.concat([len, v]);
}

/** KEXINIT (RFC 4253 §7.1): cookie, the ten algorithm name-lists, first_kex_packet_follows, reserved. */
export function sshKexInit(cookie: Buffer): Buffer {
  const lists = [
    'curve25519-sha256,ecdh-sha2-nistp256,diffie-hellman-group14-sha256',
    'ssh-ed25519,rsa-sha2-512,rsa-sha2-256',
    'chacha20-poly1305@openssh.com,aes128-gcm@openssh.com,aes256-ctr',
    'chacha20-poly1305@openssh.com,aes128-gcm@openssh.com,aes256-ctr',
    'hmac-sha2-256-etm@openssh.com,hmac-sha2-256',
    'hmac-sha2-256-etm@openssh.com,hmac-sha2-256',
    'none,zlib@openssh.com',
    'none,zlib@openssh.com',
    '',
    '',
  ];
  return sshPacket(SSH_MSG_KEXINIT, Buffer.concat([cookie.subarray(0, 16), ...lists.map(sshString), Buffer.alloc(5)]));
}

/** The client's ECDH public key (RFC 5656 §4), 32 bytes for curve25519 (RFC 8731). */
export function sshKexEcdhInit(publicKey: Buffer): Buffer {
  return sshPacket(SSH_MSG_KEX_ECDH_INIT, sshString(publicKey.subarray(0, 32)));
}

/** The server's host key, ECDH public key and signature (RFC 5656 §4), with ed25519 blobs (RFC 8709). */
export function sshKexEcdhReply(hostKey: Buffer, publicKey: Buffer, signature: Buffer): Buffer {
  const keyBlob = Buffer.concat([sshString('ssh-ed25519'), sshString(hostKey.subarray(0, 32))]);
  const sigBlob = Buffer.concat([sshString('ssh-ed25519'), sshString(signature.subarray(0, 64))]);
  return sshPacket(SSH_MSG_KEX_ECDH_REPLY, Buffer.concat([sshString(keyBlob), sshString(publicKey.subarray(0, 32)), sshString(sigBlob)]));
}

export function sshNewKeys(): Buffer {
  return sshPacket(SSH_MSG_NEWKEYS, Buffer.alloc(0));
}
