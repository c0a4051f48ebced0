/**
 * Flow table snapshots, so a restart keeps the last hour of flows and series.
 *
 * Format (little-endian), version 2:
 *   header, 64 bytes: magic "NWFLOWS\0", version u32, header length u32, flow count u32, bucket count u32,
 *     entry count u32, CRC-32 u32, reserved 4 bytes, epoch ms f64, clock µs f64, bucket width ms f64
 *   flows, 80 bytes each, oldest first within each aging class: status u8, protocol u8, TCP flags fwd/rev u8,
 *     ports u16 x2, source and destination address 4 x u32 each, packets fwd/rev u32, bytes fwd/rev f64,
 *     first/last seen epoch ms f64
 *   buckets, 36 bytes each, oldest first: bucket number f64, bytes f64, packets f64, new flows f64, entry count u32
 *   entries, 24 bytes each, in the order they were written, grouped by the bucket current then: flow record
 *     number u32, the flow's packets u32 and bytes f64 up to the end of the bucket it left, that bucket's number f64
 *     (see the series log in table.ts; version 1 held per-bucket deltas and is not read)
 * The CRC covers the whole file with the CRC field read as zero, so any flipped byte, header included, is caught.
 *
 * Bucket log entries are restored exactly for flows that survive the load; entries of flows already gone when
 * the snapshot was taken are not saved (their traffic stays in the bucket totals). Process counters (packets,
 * evictions, ...) start from zero, as any Prometheus counter does after a restart.
 *
 * Both functions are synchronous: they run at start and stop, when nothing else is waiting on the event loop.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { F_LIVE, type FlowTable, type RestoredFlow } from './table';

const MAGIC = Buffer.from('NWFLOWS\0', 'latin1');
const VERSION = 2;
const HEADER = 64;
const FLOW_RECORD = 80;
const BUCKET_RECORD = 36;
const ENTRY_RECORD = 24;
const CRC_OFFSET = 28;

export interface SnapshotSaved {
  flows: number;
  bytes: number;
}

export interface SnapshotLoaded {
  loaded: number;
  /** Flows past retention at `nowUs`, duplicates of a restored flow's key, or beyond a smaller table's capacity. */
  dropped: number;
}

function fileCrc(buf: Buffer): number {
  return crc32(buf.subarray(CRC_OFFSET + 4), crc32(Buffer.alloc(4), crc32(buf.subarray(0, CRC_OFFSET))));
}

/** Writes the table to `path` atomically (temporary file, fsync, rename); returns what was written. */
export function saveSnapshot(t: FlowTable, path: string): SnapshotSaved {
  const slots = t.slotsInAgeOrder();
  const record = new Int32Array(t.maxFlows).fill(-1);
  slots.forEach((s, i) => (record[s] = i));

  // Buckets of the window, oldest first, with their entries that still name a stored flow.
  const buckets: Array<{ bno: number; ring: number; entries: number[] }> = [];
  const cur = t.currentBucket;
  if (cur >= 0) {
    for (let bno = cur - t.bucketCount + 1; bno <= cur; bno++) {
      const ring = t.ringIndex(bno);
      if (ring < 0) continue;
      const { start, end } = t.bucketEntries(ring);
      const entries: number[] = [];
      for (let seq = start; seq < end; seq++) {
        const pos = seq & (t.logCapacity - 1);
        const s = t.entSlot[pos];
        if (t.status[s] !== 0 && t.entGen[pos] === t.gen[s]) entries.push(pos);
      }
      buckets.push({ bno, ring, entries });
    }
  }
  const entryCount = buckets.reduce((n, b) => n + b.entries.length, 0);
  const size = HEADER + slots.length * FLOW_RECORD + buckets.length * BUCKET_RECORD + entryCount * ENTRY_RECORD;
  const buf = Buffer.alloc(size);
  MAGIC.copy(buf, 0);
  buf.writeUInt32LE(VERSION, 8);
  buf.writeUInt32LE(HEADER, 12);
  buf.writeUInt32LE(slots.length, 16);
  buf.writeUInt32LE(buckets.length, 20);
  buf.writeUInt32LE(entryCount, 24);
  buf.writeDoubleLE(t.epochMs, 40);
  buf.writeDoubleLE(t.nowUs(), 48);
  buf.writeDoubleLE(t.bucketMs, 56);

  let o = HEADER;
  const epoch = t.epochMs;
  for (const s of slots) {
    buf.writeUInt8(t.status[s], o);
    buf.writeUInt8(t.proto[s], o + 1);
    buf.writeUInt8(t.tcpFlagsFwd[s], o + 2);
    buf.writeUInt8(t.tcpFlagsRev[s], o + 3);
    buf.writeUInt16LE(t.srcPort[s], o + 4);
    buf.writeUInt16LE(t.dstPort[s], o + 6);
    for (let k = 0; k < 4; k++) {
      buf.writeUInt32LE(t.addrWord(false, s, k), o + 8 + 4 * k);
      buf.writeUInt32LE(t.addrWord(true, s, k), o + 24 + 4 * k);
    }
    buf.writeUInt32LE(t.packetsFwd[s], o + 40);
    buf.writeUInt32LE(t.packetsRev[s], o + 44);
    buf.writeDoubleLE(t.bytesFwd[s], o + 48);
    buf.writeDoubleLE(t.bytesRev[s], o + 56);
    buf.writeDoubleLE(epoch + t.firstRel[s], o + 64);
    buf.writeDoubleLE(epoch + t.lastRel[s], o + 72);
    o += FLOW_RECORD;
  }
  for (const b of buckets) {
    const tot = t.bucketTotals(b.ring);
    buf.writeDoubleLE(b.bno, o);
    buf.writeDoubleLE(tot.bytes, o + 8);
    buf.writeDoubleLE(tot.packets, o + 16);
    buf.writeDoubleLE(tot.newFlows, o + 24);
    buf.writeUInt32LE(b.entries.length, o + 32);
    o += BUCKET_RECORD;
  }
  for (const b of buckets) {
    for (const pos of b.entries) {
      buf.writeUInt32LE(record[t.entSlot[pos]], o);
      buf.writeUInt32LE(t.entPackets[pos], o + 4);
      buf.writeDoubleLE(t.entBytes[pos], o + 8);
      buf.writeDoubleLE(t.entryBucket(pos), o + 16);
      o += ENTRY_RECORD;
    }
  }
  buf.writeUInt32LE(fileCrc(buf), CRC_OFFSET);

  const tmp = `${path}.tmp-${process.pid}`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, buf);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // The temporary file may not exist; the original error is the one to report.
    }
    throw e;
  }
  return { flows: slots.length, bytes: size };
}

/**
 * Restores a snapshot into a table that has not seen any packet yet. Flows whose last packet is older than
 * the retention window at `nowUs` (or at the snapshot's own clock, if later) are dropped. A missing file
 * restores nothing. A corrupt or partial file is ignored and the reason returned, for the caller to log.
 */
export function loadSnapshot(t: FlowTable, path: string, nowUs: number): SnapshotLoaded | string {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { loaded: 0, dropped: 0 };
    return `cannot read flow snapshot ${path}: ${(e as Error).message}`;
  }
  if (buf.length < HEADER) return `flow snapshot ${path} is truncated: ${buf.length} bytes, the header alone is ${HEADER}`;
  if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) return `flow snapshot ${path} has a bad magic number`;
  const version = buf.readUInt32LE(8);
  if (version !== VERSION) return `flow snapshot ${path} has version ${version}; this build reads version ${VERSION}`;
  const flowCount = buf.readUInt32LE(16);
  const bucketCount = buf.readUInt32LE(20);
  const entryCount = buf.readUInt32LE(24);
  const expected = buf.readUInt32LE(12) + flowCount * FLOW_RECORD + bucketCount * BUCKET_RECORD + entryCount * ENTRY_RECORD;
  if (buf.readUInt32LE(12) !== HEADER || buf.length !== expected) {
    return `flow snapshot ${path} has ${buf.length} bytes where its header announces ${expected} (truncated or corrupt)`;
  }
  if (fileCrc(buf) !== buf.readUInt32LE(CRC_OFFSET)) return `flow snapshot ${path} fails its CRC-32 check`;
  if (!t.isPristine()) return 'a flow snapshot can only be loaded into a table that has not seen packets yet';
  // A snapshot of a table that never saw a packet has no clock to restore.
  if (flowCount === 0 && bucketCount === 0) return { loaded: 0, dropped: 0 };

  const clockUs = Math.max(nowUs, buf.readDoubleLE(48));
  // After a long downtime the saved epoch may be too far back for Uint32 relative times: start from a later
  // one (first-seen times older than it, of flows alive for weeks, are clamped to it).
  const epochMs = Math.max(buf.readDoubleLE(40), Math.floor(clockUs / 1000) - 2 ** 30);
  const bucketMs = buf.readDoubleLE(56);
  t.restoreClock(clockUs, epochMs);
  const cutoffMs = Math.floor(clockUs / 1000) - t.retentionMs;

  const r: RestoredFlow = {
    status: 0,
    proto: 0,
    tcpFlagsFwd: 0,
    tcpFlagsRev: 0,
    srcPort: 0,
    dstPort: 0,
    src: new Uint32Array(4),
    dst: new Uint32Array(4),
    packetsFwd: 0,
    packetsRev: 0,
    bytesFwd: 0,
    bytesRev: 0,
    firstMs: 0,
    lastMs: 0,
  };
  // Slot and generation of each record: restoring into a smaller table evicts, and an evicted record's slot
  // may be reused by a later one, whose entries must not receive the evicted flow's.
  const slotOf = new Int32Array(flowCount).fill(-1);
  const genOf = new Uint32Array(flowCount);
  let loaded = 0;
  let dropped = 0;
  let o = HEADER;
  for (let i = 0; i < flowCount; i++, o += FLOW_RECORD) {
    r.status = buf.readUInt8(o);
    r.lastMs = buf.readDoubleLE(o + 72);
    if ((r.status & F_LIVE) === 0 || r.lastMs < cutoffMs) {
      dropped++;
      continue;
    }
    r.proto = buf.readUInt8(o + 1);
    r.tcpFlagsFwd = buf.readUInt8(o + 2);
    r.tcpFlagsRev = buf.readUInt8(o + 3);
    r.srcPort = buf.readUInt16LE(o + 4);
    r.dstPort = buf.readUInt16LE(o + 6);
    for (let k = 0; k < 4; k++) {
      r.src[k] = buf.readUInt32LE(o + 8 + 4 * k);
      r.dst[k] = buf.readUInt32LE(o + 24 + 4 * k);
    }
    r.packetsFwd = buf.readUInt32LE(o + 40);
    r.packetsRev = buf.readUInt32LE(o + 44);
    r.bytesFwd = buf.readDoubleLE(o + 48);
    r.bytesRev = buf.readDoubleLE(o + 56);
    r.firstMs = buf.readDoubleLE(o + 64);
    const slot = t.restoreFlow(r);
    if (slot < 0) {
      dropped++;
      continue;
    }
    slotOf[i] = slot;
    genOf[i] = t.gen[slot];
    loaded++;
  }

  // A different bucket width would misplace every entry: the series then restart empty.
  const sameBuckets = bucketMs === t.bucketMs;
  let e = o + bucketCount * BUCKET_RECORD;
  for (let i = 0; i < bucketCount; i++, o += BUCKET_RECORD) {
    const entries = buf.readUInt32LE(o + 32);
    const open = sameBuckets && t.restoreBucket(buf.readDoubleLE(o), buf.readDoubleLE(o + 8), buf.readDoubleLE(o + 16), buf.readDoubleLE(o + 24));
    for (let j = 0; j < entries; j++, e += ENTRY_RECORD) {
      if (!open) continue;
      const rec = buf.readUInt32LE(e);
      const slot = rec < flowCount ? slotOf[rec] : -1;
      if (slot >= 0 && t.status[slot] !== 0 && t.gen[slot] === genOf[rec]) t.restoreEntry(slot, buf.readDoubleLE(e + 16), buf.readDoubleLE(e + 8), buf.readUInt32LE(e + 4));
    }
  }
  t.sweep();
  return { loaded: t.size, dropped: dropped + loaded - t.size };
}
