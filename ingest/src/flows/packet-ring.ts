/**
 * A single-producer, single-consumer ring of decoded packets on a SharedArrayBuffer: the offline `flows` pass
 * reads and decodes capture files on a worker thread (offline-worker.ts) while the main thread runs the flow
 * table, so the two halves of the work overlap on two cores.
 *
 * Each record is 8 int32 words (32 bytes, half a cache line, which is what crosses between the cores per packet):
 * the fields of a DecodedPacket that the flow table reads, word 0 of each address, and the flow hash, computed by
 * the producer so that the consumer does not. Words 1-3 of IPv6 addresses go to a side area at the same index.
 * Control words hold the running counts of records written and consumed (compared modulo 2^32, so they may
 * wrap), and the producer publishes records in batches, so the threads touch the shared counters once per batch
 * rather than per packet. A record with family 0 marks the end of a capture file.
 */
import type { DecodedPacket } from '../decode/packet';
import { flowHash, type FlowTable } from './table';

const RECORD_WORDS = 8;
const SIDE_WORDS = 6;
/** 32,768 records (1 MiB): deep enough that neither side waits on the other's jitter. */
export const RING_RECORDS = 1 << 15;
/** Records the producer writes before publishing them. */
export const RING_BATCH = 512;

// Control words (Int32Array over their own SharedArrayBuffer).
export const CTRL_HEAD = 0;
export const CTRL_TAIL = 1;
/** 0 while running, 1 when every file is done, 2 when the producer failed (the message says why). */
export const CTRL_STATE = 2;
/** KiB of the current file read so far: progress for a terminal. */
export const CTRL_PROGRESS_KIB = 3;
/** Set to 1 by the worker once it has posted the output it was asked to format. */
export const CTRL_FORMATTED = 4;
export const CTRL_WORDS = 5;

export const STATE_RUNNING = 0;
export const STATE_DONE = 1;
export const STATE_FAILED = 2;

// Record layout, in int32 words.
const W_META = 0; // family | protocol << 8 | tcpFlags << 16; family 0: end of file
const W_PORTS = 1; // srcPort << 16 | dstPort
const W_WIRE = 2;
const W_HASH = 3;
const W_SRC0 = 4;
const W_DST0 = 5;
/** The timestamp as a float64 at words 6-7 (float64 index 3 of the record). */
const F_TS = 3;

export interface PacketRing {
  data: SharedArrayBuffer;
  side: SharedArrayBuffer;
  ctrl: SharedArrayBuffer;
}

export function createPacketRing(): PacketRing {
  return {
    data: new SharedArrayBuffer(RING_RECORDS * RECORD_WORDS * 4),
    side: new SharedArrayBuffer(RING_RECORDS * SIDE_WORDS * 4),
    ctrl: new SharedArrayBuffer(CTRL_WORDS * 4),
  };
}

/** Producer side, on the worker thread. */
export class RingWriter {
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly side: Int32Array;
  readonly ctrl: Int32Array;
  private head = 0;
  /** Tail as last read: free space is known without touching the shared word on every record. */
  private tail = 0;
  private unpublished = 0;

  constructor(ring: PacketRing) {
    this.i32 = new Int32Array(ring.data);
    this.f64 = new Float64Array(ring.data);
    this.side = new Int32Array(ring.side);
    this.ctrl = new Int32Array(ring.ctrl);
  }

  /** Appends a decoded packet, waiting while the ring is full. */
  packet(p: DecodedPacket): void {
    const r = this.reserve();
    const w = this.i32;
    const b = r * RECORD_WORDS;
    const s = p.src;
    const d = p.dst;
    const v6 = p.family === 6;
    const s0 = s[0] | 0;
    const d0 = d[0] | 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let d1 = 0;
    let d2 = 0;
    let d3 = 0;
    if (v6) {
      s1 = s[1] | 0;
      s2 = s[2] | 0;
      s3 = s[3] | 0;
      d1 = d[1] | 0;
      d2 = d[2] | 0;
      d3 = d[3] | 0;
      const x = this.side;
      const c = r * SIDE_WORDS;
      x[c] = s1;
      x[c + 1] = s2;
      x[c + 2] = s3;
      x[c + 3] = d1;
      x[c + 4] = d2;
      x[c + 5] = d3;
    }
    w[b + W_META] = p.family | (p.protocol << 8) | (p.tcpFlags << 16);
    w[b + W_PORTS] = (p.srcPort << 16) | p.dstPort;
    w[b + W_WIRE] = p.wireLength;
    w[b + W_HASH] = flowHash(v6, p.protocol, p.srcPort, p.dstPort, s0, s1, s2, s3, d0, d1, d2, d3);
    w[b + W_SRC0] = s0;
    w[b + W_DST0] = d0;
    this.f64[r * (RECORD_WORDS / 2) + F_TS] = p.tsUs;
    this.commit();
  }

  /** Appends the end-of-file marker of file `index` and publishes everything written. */
  endOfFile(index: number): void {
    const b = this.reserve() * RECORD_WORDS;
    this.i32[b + W_META] = 0;
    this.i32[b + W_PORTS] = index;
    this.commit();
    this.publish();
  }

  progress(bytesRead: number): void {
    Atomics.store(this.ctrl, CTRL_PROGRESS_KIB, Math.min(0x7fffffff, Math.floor(bytesRead / 1024)));
  }

  finish(state: number): void {
    this.publish();
    Atomics.store(this.ctrl, CTRL_STATE, state);
    Atomics.notify(this.ctrl, CTRL_HEAD);
  }

  private reserve(): number {
    while (((this.head - this.tail) | 0) >= RING_RECORDS) {
      this.publish();
      this.tail = Atomics.load(this.ctrl, CTRL_TAIL);
      if (((this.head - this.tail) | 0) >= RING_RECORDS) Atomics.wait(this.ctrl, CTRL_TAIL, this.tail, 50);
      this.tail = Atomics.load(this.ctrl, CTRL_TAIL);
    }
    return this.head & (RING_RECORDS - 1);
  }

  private commit(): void {
    this.head = (this.head + 1) | 0;
    if (++this.unpublished >= RING_BATCH) this.publish();
  }

  private publish(): void {
    if (this.unpublished === 0) return;
    this.unpublished = 0;
    Atomics.store(this.ctrl, CTRL_HEAD, this.head);
    Atomics.notify(this.ctrl, CTRL_HEAD);
  }
}

/** Consumer side, on the main thread. */
export class RingReader {
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly side: Int32Array;
  readonly ctrl: Int32Array;
  private tail = 0;

  constructor(ring: PacketRing) {
    this.i32 = new Int32Array(ring.data);
    this.f64 = new Float64Array(ring.data);
    this.side = new Int32Array(ring.side);
    this.ctrl = new Int32Array(ring.ctrl);
  }

  /**
   * Adds every record to `table` and calls `onEndOfFile` at each file's marker, until the producer is done;
   * returns the producer's final state (STATE_DONE or STATE_FAILED). `idle` runs while waiting for records, at
   * most every 50 ms.
   */
  drain(table: FlowTable, onEndOfFile: (index: number) => void, idle?: () => void): number {
    const w = this.i32;
    const f = this.f64;
    const x = this.side;
    const ctrl = this.ctrl;
    for (;;) {
      const head = Atomics.load(ctrl, CTRL_HEAD);
      if (head === this.tail) {
        const state = Atomics.load(ctrl, CTRL_STATE);
        // The producer publishes its last records before it sets the state: look once more after seeing it.
        if (state !== STATE_RUNNING && Atomics.load(ctrl, CTRL_HEAD) === this.tail) return state;
        if (state === STATE_RUNNING) Atomics.wait(ctrl, CTRL_HEAD, head, 50);
        idle?.();
        continue;
      }
      let tail = this.tail;
      while (tail !== head) {
        const r = tail & (RING_RECORDS - 1);
        const b = r * RECORD_WORDS;
        const meta = w[b + W_META];
        tail = (tail + 1) | 0;
        const family = meta & 0xff;
        if (family === 0) {
          // Release the records before the callback, which may wait on the producer's message.
          this.release(tail);
          onEndOfFile(w[b + W_PORTS]);
          continue;
        }
        const ports = w[b + W_PORTS];
        const ts = f[r * (RECORD_WORDS / 2) + F_TS];
        if (family === 6) {
          const c = r * SIDE_WORDS;
          table.addFields(true, (meta >>> 8) & 0xff, (meta >>> 16) & 0xff, ports >>> 16, ports & 0xffff, w[b + W_WIRE] >>> 0, ts, w[b + W_SRC0], x[c], x[c + 1], x[c + 2], w[b + W_DST0], x[c + 3], x[c + 4], x[c + 5], w[b + W_HASH]);
        } else {
          table.addFields(false, (meta >>> 8) & 0xff, (meta >>> 16) & 0xff, ports >>> 16, ports & 0xffff, w[b + W_WIRE] >>> 0, ts, w[b + W_SRC0], 0, 0, 0, w[b + W_DST0], 0, 0, 0, w[b + W_HASH]);
        }
        if ((tail & (RING_BATCH - 1)) === 0) this.release(tail);
      }
      this.release(tail);
    }
  }

  private release(tail: number): void {
    this.tail = tail;
    Atomics.store(this.ctrl, CTRL_TAIL, tail);
    Atomics.notify(this.ctrl, CTRL_TAIL);
  }
}
