/**
 * Writes pcap and pcapng files for tests, so that packets of the real shared captures can be re-serialised in
 * the variants no installed tool produces: big-endian files, other timestamp resolutions and offsets, Simple and
 * obsolete Packet Blocks, unknown blocks, several sections. Layouts follow draft-ietf-opsawg-pcap and
 * draft-ietf-opsawg-pcapng; the reader under test is never used to produce them.
 */
import type { PacketRecord } from './pcap-file';

/** A packet as the tests keep it: the record fields plus a copy of its bytes. */
export interface CapturedPacket {
  linkType: number;
  interfaceId: number;
  tsUs: number;
  captureLength: number;
  originalLength: number;
  bytes: Buffer;
}

export function capturedPacket(rec: PacketRecord): CapturedPacket {
  return {
    linkType: rec.linkType,
    interfaceId: rec.interfaceId,
    tsUs: rec.tsUs,
    captureLength: rec.captureLength,
    originalLength: rec.originalLength,
    bytes: Buffer.from(rec.data.subarray(rec.offset, rec.offset + rec.captureLength)),
  };
}

function u16(v: number, le: boolean): Buffer {
  const b = Buffer.alloc(2);
  if (le) b.writeUInt16LE(v);
  else b.writeUInt16BE(v);
  return b;
}

function u32(v: number, le: boolean): Buffer {
  const b = Buffer.alloc(4);
  if (le) b.writeUInt32LE(v >>> 0);
  else b.writeUInt32BE(v >>> 0);
  return b;
}

function i64(v: bigint, le: boolean): Buffer {
  const b = Buffer.alloc(8);
  if (le) b.writeBigInt64LE(v);
  else b.writeBigInt64BE(v);
  return b;
}

function pad4(b: Buffer): Buffer {
  const rest = (4 - (b.length & 3)) & 3;
  return rest === 0 ? b : Buffer.concat([b, Buffer.alloc(rest)]);
}

export interface PcapOptions {
  le: boolean;
  nano: boolean;
  linkType: number;
  snapLen?: number;
  /** The whole "LinkType and additional information" word, to set the FCS bits (pcap §4). */
  linkTypeField?: number;
}

/** A classic pcap file (pcap §4 file header, §5 packet records). */
export function pcapFile(packets: CapturedPacket[], o: PcapOptions): Buffer {
  const parts: Buffer[] = [
    u32(o.nano ? 0xa1b23c4d : 0xa1b2c3d4, o.le),
    u16(2, o.le),
    u16(4, o.le),
    u32(0, o.le),
    u32(0, o.le),
    u32(o.snapLen ?? 262144, o.le),
    u32(o.linkTypeField ?? o.linkType, o.le),
  ];
  for (const p of packets) {
    const sec = Math.floor(p.tsUs / 1e6);
    const us = p.tsUs - sec * 1e6;
    parts.push(u32(sec, o.le), u32(o.nano ? us * 1000 : us, o.le), u32(p.bytes.length, o.le), u32(p.originalLength, o.le), p.bytes);
  }
  return Buffer.concat(parts);
}

export interface InterfaceOptions {
  snapLen?: number;
  /** The if_tsresol byte (pcapng §4.2); absent means 10^-6. */
  tsresol?: number;
  /** if_tsoffset in seconds. */
  tsoffset?: bigint;
}

/** Builds a pcapng file block by block (pcapng §3.1 block structure), each section in its own byte order. */
export class PcapngBuilder {
  private readonly blocks: Buffer[] = [];
  private le = true;
  private interfaces: Array<{ unitsPerSec: bigint; offsetSec: bigint }> = [];

  /** §4.1 Section Header Block; the byte order of everything up to the next one. */
  section(le: boolean, major = 1): this {
    this.le = le;
    this.interfaces = [];
    const opts = Buffer.concat([u16(4, le), u16(7, le), pad4(Buffer.from('netwatch')), u16(0, le), u16(0, le)]);
    // Section Length -1: not specified.
    return this.block(0x0a0d0d0a, Buffer.concat([u32(0x1a2b3c4d, le), u16(major, le), u16(0, le), i64(-1n, le), opts]));
  }

  /** §4.2 Interface Description Block. */
  interface(linkType: number, o: InterfaceOptions = {}): this {
    const le = this.le;
    const opts: Buffer[] = [u16(2, le), u16(4, le), Buffer.from('eth0')];
    if (o.tsresol !== undefined) opts.push(u16(9, le), u16(1, le), Buffer.from([o.tsresol, 0, 0, 0]));
    if (o.tsoffset !== undefined) opts.push(u16(14, le), u16(8, le), i64(o.tsoffset, le));
    opts.push(u16(0, le), u16(0, le));
    const r = o.tsresol ?? 6;
    const unitsPerSec = r & 0x80 ? 1n << BigInt(r & 0x7f) : 10n ** BigInt(r);
    this.interfaces.push({ unitsPerSec, offsetSec: o.tsoffset ?? 0n });
    return this.block(1, Buffer.concat([u16(linkType, le), u16(0, le), u32(o.snapLen ?? 0, le), ...opts]));
  }

  /** §4.3 Enhanced Packet Block, with an epb_flags option so that options follow the data. */
  epb(interfaceId: number, p: CapturedPacket): this {
    const le = this.le;
    const [hi, lo] = this.units(interfaceId, p.tsUs);
    const flags = Buffer.concat([u16(2, le), u16(4, le), u32(1, le), u16(0, le), u16(0, le)]);
    return this.block(6, Buffer.concat([u32(interfaceId, le), u32(hi, le), u32(lo, le), u32(p.bytes.length, le), u32(p.originalLength, le), pad4(p.bytes), flags]));
  }

  /** Appendix A: the obsolete Packet Block (16-bit Interface ID and drops count). */
  packetBlock(interfaceId: number, p: CapturedPacket): this {
    const le = this.le;
    const [hi, lo] = this.units(interfaceId, p.tsUs);
    return this.block(2, Buffer.concat([u16(interfaceId, le), u16(0xffff, le), u32(hi, le), u32(lo, le), u32(p.bytes.length, le), u32(p.originalLength, le), pad4(p.bytes)]));
  }

  /** §4.4 Simple Packet Block: original length and data only. */
  spb(p: CapturedPacket): this {
    return this.block(3, Buffer.concat([u32(p.originalLength, this.le), pad4(p.bytes)]));
  }

  /** Any block, e.g. a Custom Block (0x00000BAD) or a local-use type; the body is padded to 32 bits. */
  block(type: number, body: Buffer): this {
    const b = pad4(body);
    const len = 12 + b.length;
    this.blocks.push(Buffer.concat([u32(type, this.le), u32(len, this.le), b, u32(len, this.le)]));
    return this;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.blocks);
  }

  /** Timestamp units for the interface, rounded up so that a reader's floor gives back exactly `tsUs`. */
  private units(interfaceId: number, tsUs: number): [number, number] {
    const { unitsPerSec, offsetSec } = this.interfaces[interfaceId];
    const us = BigInt(tsUs) - offsetSec * 1_000_000n;
    const units = (us * unitsPerSec + 999_999n) / 1_000_000n;
    return [Number(units >> 32n), Number(units & 0xffffffffn)];
  }
}
