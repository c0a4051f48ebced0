/**
 * ICMP echo (RFC 792 for IPv4, RFC 4443 §4 for IPv6): the interface every mechanism implements, and the packet
 * layout the in-process raw socket mechanism builds and parses.
 */
import type { ProbeResult } from './round';

export type IcmpMechanismName = 'raw' | 'datagram' | 'fping';

export interface BurstOptions {
  count: number;
  spacingMs: number;
  timeoutMs: number;
  /** The target's round interval: fping's loop period (the raw mechanism times each burst itself). */
  intervalMs?: number;
}

/** Sends `count` echo requests `spacingMs` apart to one address; resolves with one result per probe, in order. */
export interface IcmpPinger {
  readonly mechanism: IcmpMechanismName;
  echoBurst(address: string, family: 4 | 6, opts: BurstOptions): Promise<ProbeResult[]>;
  counters(): Record<string, number>;
  close(): void;
}

export const ICMP_ECHO_REQUEST = 8;
export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACHABLE = 3;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP6_DEST_UNREACHABLE = 1;
export const ICMP6_TIME_EXCEEDED = 3;
export const ICMP6_ECHO_REQUEST = 128;
export const ICMP6_ECHO_REPLY = 129;

/** Echo header (8 bytes) plus a payload that names the sender, so stray echoes of other programs are easy to tell. */
export const ECHO_LENGTH = 8 + 8;
const PAYLOAD = Buffer.from('netwatch', 'latin1');

/** Internet checksum (RFC 1071) of the buffer. */
export function internetChecksum(buf: Uint8Array): number {
  let sum = 0;
  const n = buf.length & ~1;
  for (let i = 0; i < n; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (buf.length & 1) sum += buf[buf.length - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * Writes an echo request into `out` (ECHO_LENGTH bytes). IPv4 needs the checksum here; for ICMPv6 the kernel
 * computes it over the pseudo-header on raw sockets (RFC 3542 §3.1), so it is left zero.
 */
export function writeEchoRequest(out: Buffer, family: 4 | 6, id: number, seq: number): void {
  out[0] = family === 4 ? ICMP_ECHO_REQUEST : ICMP6_ECHO_REQUEST;
  out[1] = 0;
  out.writeUInt16BE(0, 2);
  out.writeUInt16BE(id, 4);
  out.writeUInt16BE(seq, 6);
  PAYLOAD.copy(out, 8);
  if (family === 4) out.writeUInt16BE(internetChecksum(out.subarray(0, ECHO_LENGTH)), 2);
}

export interface ParsedIcmp {
  /** 'reply' for an echo reply, 'error' for an error about one of our requests (unreachable, time exceeded). */
  what: 'reply' | 'error';
  id: number;
  seq: number;
  /** IPv4 reply TTL; null for IPv6 (raw sockets do not deliver the IPv6 header). */
  ttl: number | null;
  /** For errors: type/code in words. */
  reason?: string;
}

const V4_UNREACH = ['network unreachable', 'host unreachable', 'protocol unreachable', 'port unreachable', 'fragmentation needed', 'source route failed'];
const V6_UNREACH = ['no route to destination', 'administratively prohibited', 'beyond scope of source address', 'address unreachable', 'port unreachable'];

/**
 * Parses what an IPv4 raw ICMP socket receives: the whole IPv4 datagram. Returns null for anything that is not an
 * echo reply or an error quoting an echo request (our own requests seen on loopback, other ICMP).
 */
export function parseIcmp4(buf: Buffer): ParsedIcmp | null {
  if (buf.length < 20 || buf[0] >> 4 !== 4) return null;
  const ihl = (buf[0] & 0x0f) * 4;
  if (ihl < 20 || buf.length < ihl + 8) return null;
  const type = buf[ihl];
  if (type === ICMP_ECHO_REPLY) {
    return { what: 'reply', id: buf.readUInt16BE(ihl + 4), seq: buf.readUInt16BE(ihl + 6), ttl: buf[8] };
  }
  if (type === ICMP_DEST_UNREACHABLE || type === ICMP_TIME_EXCEEDED) {
    // The error quotes the offending datagram's IP header and at least 8 bytes of its payload (RFC 792).
    const inner = ihl + 8;
    if (buf.length < inner + 20 || buf[inner] >> 4 !== 4) return null;
    const innerIhl = (buf[inner] & 0x0f) * 4;
    const icmp = inner + innerIhl;
    if (buf.length < icmp + 8 || buf[inner + 9] !== 1 || buf[icmp] !== ICMP_ECHO_REQUEST) return null;
    const code = buf[ihl + 1];
    const reason = type === ICMP_TIME_EXCEEDED ? 'time exceeded' : (V4_UNREACH[code] ?? `destination unreachable (code ${code})`);
    return { what: 'error', id: buf.readUInt16BE(icmp + 4), seq: buf.readUInt16BE(icmp + 6), ttl: null, reason };
  }
  return null;
}

/** Parses what an ICMPv6 raw socket receives: the ICMPv6 message alone. */
export function parseIcmp6(buf: Buffer): ParsedIcmp | null {
  if (buf.length < 8) return null;
  const type = buf[0];
  if (type === ICMP6_ECHO_REPLY) return { what: 'reply', id: buf.readUInt16BE(4), seq: buf.readUInt16BE(6), ttl: null };
  if (type === ICMP6_DEST_UNREACHABLE || type === ICMP6_TIME_EXCEEDED) {
    // Quoted: the invoking packet's 40-byte IPv6 header, then (no extension headers from us) our echo request.
    const icmp = 8 + 40;
    if (buf.length < icmp + 8 || buf[8 + 6] !== 58 || buf[icmp] !== ICMP6_ECHO_REQUEST) return null;
    const code = buf[1];
    const reason = type === ICMP6_TIME_EXCEEDED ? 'time exceeded' : (V6_UNREACH[code] ?? `destination unreachable (code ${code})`);
    return { what: 'error', id: buf.readUInt16BE(icmp + 4), seq: buf.readUInt16BE(icmp + 6), ttl: null, reason };
  }
  return null;
}

/** Waits `ms`, or resolves early when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
