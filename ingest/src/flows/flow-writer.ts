/**
 * Writes flows of the offline `flows` command as JSON lines or CSV rows straight into a large output buffer,
 * byte by byte, and hands the buffer to fs.writeSync when it is nearly full.
 *
 * Why not a string per line: building a template string per flow, concatenating them and converting the result
 * to a Buffer cost 270 ms of CPU (a third of them in the garbage collector) for the 127k flows of the benchmark
 * capture, more than decoding its million packets. Digits written into a Buffer cost a tenth of that. Every value
 * is a number or an address, so nothing needs JSON escaping; the state names are constants.
 */
import { writeSync } from 'node:fs';
import { formatIPv6 } from '../protocol/ip';
import { F_V6, type FLOW_COLUMNS } from './table';

/**
 * What the writer reads of a flow: the FlowTable itself, or a view of its shared columns on another thread
 * (offline-worker.ts).
 */
export type FlowColumns = {
  readonly [K in (typeof FLOW_COLUMNS)[number]]: K extends 'bytesFwd' | 'bytesRev' ? Float64Array : K extends 'v6Slot' ? Int32Array : Uint8Array | Uint16Array | Uint32Array;
} & {
  readonly epochMs: number;
  addrWord(dst: boolean, slot: number, k: number): number;
};

/** The fields `--format json` and `csv` print, in order: protocol as its IANA number, times as epoch ms. */
export const FLOW_FIELDS = [
  'src_ip',
  'src_port',
  'dst_ip',
  'dst_port',
  'protocol',
  'packets',
  'bytes',
  'packets_rev',
  'bytes_rev',
  'first_seen',
  'last_seen',
  'tcp_flags',
  'tcp_flags_rev',
  'state',
] as const;

export const FLOW_STATE_NAMES = ['active', 'idle', 'closed'];

const BUFFER_SIZE = 1 << 20;
/** Longest line: two IPv6 addresses (39 characters each), 12 numbers of at most 16 digits, names and punctuation. */
const MAX_LINE = 512;

const QUOTE = 0x22;
const DOT = 0x2e;
const ZERO = 0x30;
const POW10 = Int32Array.from({ length: 10 }, (_, i) => 10 ** i);
/** The two digits of 0..99 as one little-endian 16-bit value: numbers are written two digits a step. */
const DIGIT_PAIRS = Uint16Array.from({ length: 100 }, (_, i) => (ZERO + Math.floor(i / 10)) | ((ZERO + (i % 10)) << 8));

/**
 * What precedes each field, then the line end per state, as one byte string per format with offsets:
 * JSON `{"src_ip":` ... `,"state":` and `"active"}\n`; CSV `,` and `active\n`. Copied byte by byte: for strings
 * this short a loop is several times faster than Buffer#copy, whose call costs more than the copy.
 */
interface Template {
  /** Each part as little-endian 32-bit words, zero-padded to a whole word: copied a word at a time. */
  words: Int32Array;
  /** First word of part i (field i's prefix; the tail of state k at FLOW_FIELDS.length + k); one more at the end. */
  at: Int32Array;
  /** Length in bytes of part i. */
  len: Int32Array;
}

function template(parts: string[]): Template {
  const at = new Int32Array(parts.length + 1);
  const len = Int32Array.from(parts, (x) => x.length);
  const words: number[] = [];
  parts.forEach((x, i) => {
    at[i] = words.length;
    const b = Buffer.alloc(Math.ceil(x.length / 4) * 4);
    b.write(x, 'latin1');
    for (let k = 0; k < b.length; k += 4) words.push(b.readInt32LE(k));
  });
  at[parts.length] = words.length;
  return { words: Int32Array.from(words), at, len };
}

const JSON_TEMPLATE = template([
  ...FLOW_FIELDS.map((f, i) => `${i === 0 ? '{' : ','}"${f}":`),
  ...FLOW_STATE_NAMES.map((x) => `"${x}"}\n`),
]);
const CSV_TEMPLATE = template([...FLOW_FIELDS.map((_, i) => (i === 0 ? '' : ',')), ...FLOW_STATE_NAMES.map((x) => `${x}\n`)]);
const STATE_PART = FLOW_FIELDS.length;

/** Decimal digits of 0..255 packed as (length << 24 | d0 << 16 | d1 << 8 | d2): an IPv4 octet is one table read. */
const OCTET = new Int32Array(256);
for (let v = 0; v < 256; v++) {
  const s = String(v);
  let packed = s.length << 24;
  for (let i = 0; i < s.length; i++) packed |= s.charCodeAt(i) << (16 - 8 * i);
  OCTET[v] = packed;
}

/** IPv6 text forms of recent addresses, direct-mapped by a hash of the words: a flow's ends recur across flows. */
const V6_CACHE_SIZE = 1024;

export class FlowLineWriter {
  private readonly buf = Buffer.allocUnsafe(BUFFER_SIZE);
  private pos = 0;
  /**
   * Fill level that triggers a flush: small until the first one, so that V8 has run the flush branch before it
   * optimises flow(). Optimised code for a branch never taken deoptimises when it is, and re-optimising the
   * formatter cost 20 ms of the first 40,000 lines.
   */
  private limit = 4096;
  /** A closed pipe (`| head`) ends the output quietly. */
  closed = false;
  private readonly v6Words = new Int32Array(4 * V6_CACHE_SIZE);
  private readonly v6Text: Array<string | undefined> = new Array(V6_CACHE_SIZE).fill(undefined);
  /** The buffer again, for 16- and 32-bit writes at any offset. */
  private readonly view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  private readonly words: Int32Array;
  private readonly at: Int32Array;
  private readonly len: Int32Array;
  private readonly quote: boolean;
  /** The numbers of the line being written, by field index (see flow). */
  private readonly values = new Float64Array(STATE_PART);

  /** Full buffers kept instead of written, when the writer was made with fd -1 (see takeChunks). */
  private readonly chunks: Uint8Array[] = [];

  constructor(
    private readonly fd: number,
    format: 'json' | 'csv',
  ) {
    const t = format === 'json' ? JSON_TEMPLATE : CSV_TEMPLATE;
    this.words = t.words;
    this.at = t.at;
    this.len = t.len;
    this.quote = format === 'json';
  }

  /** Writes text as it is (a header, a table row): latin1 is exact for the ASCII this command prints. */
  text(s: string): void {
    if (this.closed) return;
    if (this.pos + s.length > BUFFER_SIZE) this.flush();
    if (s.length > BUFFER_SIZE) {
      this.drain(Buffer.from(s, 'latin1'));
      return;
    }
    this.pos += this.buf.write(s, this.pos, 'latin1');
  }

  /** One flow as a line; `state` is FLOW_*. */
  flow(t: FlowColumns, s: number, state: number): void {
    if (this.closed) return;
    if (this.pos > this.limit) this.flush();
    const v6 = (t.status[s] & F_V6) !== 0;
    const e = t.epochMs;
    // The numeric fields gathered first, so that one small loop writes the line: a compact function is optimised
    // by V8 after fewer lines than one with a call site per field, and the first lines are the slow ones.
    const v = this.values;
    v[1] = t.srcPort[s];
    v[3] = t.dstPort[s];
    v[4] = t.proto[s];
    v[5] = t.packetsFwd[s];
    v[6] = t.bytesFwd[s];
    v[7] = t.packetsRev[s];
    v[8] = t.bytesRev[s];
    v[9] = e + t.firstRel[s];
    v[10] = e + t.lastRel[s];
    v[11] = t.tcpFlagsFwd[s];
    v[12] = t.tcpFlagsRev[s];
    let p = this.pos;
    for (let i = 0; i < STATE_PART; i++) {
      p = this.part(p, i);
      if (i === 0 || i === 2) p = this.address(p, t, i === 2, s, v6);
      else if (i < STATE_PART - 1) p = this.uint(p, v[i]);
    }
    this.pos = this.part(p, STATE_PART + state);
  }

  flush(): void {
    this.limit = BUFFER_SIZE - MAX_LINE;
    if (this.closed || this.pos === 0) return;
    const n = this.pos;
    this.pos = 0;
    // A copy with an ArrayBuffer of its own (never the Buffer pool), so that it can be transferred.
    if (this.fd < 0) this.chunks.push(Uint8Array.prototype.slice.call(this.buf, 0, n));
    else this.drain(this.buf.subarray(0, n));
  }

  /** The output of a writer made with fd -1, for another writer to write in its turn. */
  takeChunks(): Uint8Array[] {
    this.flush();
    return this.chunks.splice(0);
  }

  /** Writes output formatted elsewhere (takeChunks of another writer), after what this writer holds. */
  writeChunks(chunks: readonly Uint8Array[]): void {
    this.flush();
    for (const c of chunks) if (!this.closed) this.drain(c);
  }

  private drain(data: Uint8Array): void {
    let off = 0;
    while (off < data.length) {
      try {
        off += writeSync(this.fd, data, off);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') {
          // A non-blocking pipe that is full: wait a little for the reader.
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
          continue;
        }
        if (code === 'EPIPE') {
          this.closed = true;
          return;
        }
        throw e;
      }
    }
  }

  /**
   * Template part `i` (see Template), a word at a time: up to 3 bytes past its end are written too, and
   * overwritten by what follows (MAX_LINE leaves room for them at the end of the buffer).
   */
  private part(p: number, i: number): number {
    const w = this.words;
    const v = this.view;
    const end = this.at[i + 1];
    let q = p;
    for (let k = this.at[i]; k < end; k++, q += 4) v.setInt32(q, w[k], true);
    return p + this.len[i];
  }

  /** A non-negative integer below 2^53 in decimal. */
  private uint(p: number, v: number): number {
    if (v < 2147483648) return this.smallUint(p, v | 0);
    // Times in epoch ms and large byte counts: the top part and the last 8 digits, each in 32-bit arithmetic.
    const hi = Math.floor(v / 1e8);
    p = this.smallUint(p, hi);
    let lo = (v - hi * 1e8) | 0;
    const dv = this.view;
    for (let q = p + 6; q >= p; q -= 2) {
      const d = (lo / 100) | 0;
      dv.setUint16(q, DIGIT_PAIRS[lo - d * 100], true);
      lo = d;
    }
    return p + 8;
  }

  private smallUint(p: number, x: number): number {
    let digits = 1;
    while (digits < 10 && x >= POW10[digits]) digits++;
    const dv = this.view;
    let q = p + digits;
    while (x >= 100) {
      const d = (x / 100) | 0;
      q -= 2;
      dv.setUint16(q, DIGIT_PAIRS[x - d * 100], true);
      x = d;
    }
    if (x >= 10) dv.setUint16(p, DIGIT_PAIRS[x], true);
    else this.buf[p] = ZERO + x;
    return p + digits;
  }

  private address(p: number, t: FlowColumns, dst: boolean, s: number, v6: boolean): number {
    const b = this.buf;
    const quote = this.quote;
    if (quote) b[p++] = QUOTE;
    if (!v6) {
      const a = t.addrWord(dst, s, 0);
      p = this.octet(p, a >>> 24);
      b[p++] = DOT;
      p = this.octet(p, (a >>> 16) & 255);
      b[p++] = DOT;
      p = this.octet(p, (a >>> 8) & 255);
      b[p++] = DOT;
      p = this.octet(p, a & 255);
    } else {
      p += b.write(this.v6(t.addrWord(dst, s, 0), t.addrWord(dst, s, 1), t.addrWord(dst, s, 2), t.addrWord(dst, s, 3)), p, 'latin1');
    }
    if (quote) b[p++] = QUOTE;
    return p;
  }

  private octet(p: number, v: number): number {
    const d = OCTET[v];
    const b = this.buf;
    const len = d >>> 24;
    b[p] = (d >>> 16) & 255;
    if (len > 1) b[p + 1] = (d >>> 8) & 255;
    if (len > 2) b[p + 2] = d & 255;
    return p + len;
  }

  private v6(w0: number, w1: number, w2: number, w3: number): string {
    let h = Math.imul(w0 ^ Math.imul(w1, 0x9e3779b1), 0x85ebca6b) ^ Math.imul(w2 ^ Math.imul(w3, 0xc2b2ae35), 0x27d4eb2f);
    h = (h ^ (h >>> 15)) & (V6_CACHE_SIZE - 1);
    const k = 4 * h;
    const w = this.v6Words;
    const cached = this.v6Text[h];
    if (cached !== undefined && w[k] === (w0 | 0) && w[k + 1] === (w1 | 0) && w[k + 2] === (w2 | 0) && w[k + 3] === (w3 | 0)) return cached;
    const text = formatIPv6(w0, w1, w2, w3);
    w[k] = w0;
    w[k + 1] = w1;
    w[k + 2] = w2;
    w[k + 3] = w3;
    this.v6Text[h] = text;
    return text;
  }
}
