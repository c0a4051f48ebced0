/**
 * Flow queries: pure functions over a FlowTable producing Grafana frames. The API layer has already parsed and
 * validated the parameters; these functions only read the table.
 *
 * Scans run over the struct-of-arrays storage with a filter compiled to typed arrays, and keep the top N in a
 * bounded heap, so a query over a million flows neither sorts every match nor builds an object per flow.
 */
import { column, frame, type Column, type FieldValue, type Frame } from '../protocol/frame';
import { formatIPv4, formatIPv6 } from '../protocol/ip';
import { protocolName } from '../protocol/ip-protocols';
import { CompiledFilter, HAS_PORTS, candidates, type FlowFilter } from './filter';
import { PairKeys, SmallKeys, WordKeys } from './group-keys';
import { FLOW_CLOSED, FLOW_IDLE, F_V6, type FlowTable, type FlowTableCounters } from './table';

export { CompiledFilter, NO_FLOW_FILTER, type FlowFilter } from './filter';

export type FlowOrderBy = 'bytes' | 'packets' | 'last_seen';

export interface FlowQueryOptions {
  fromMs: number;
  toMs: number;
  /** Default 'bytes' (both directions). */
  orderBy?: FlowOrderBy;
  /** Default 100. */
  limit?: number;
}

export type FlowSeriesMetric = 'bytes' | 'packets' | 'flows';
export type FlowGroupBy = 'src_ip' | 'dst_ip' | 'dst_port' | 'protocol' | 'subnet';

export interface FlowSeriesOptions {
  fromMs: number;
  toMs: number;
  /** Rounded up to a multiple of the table's bucket width. */
  intervalMs: number;
  /** bytes/s, packets/s, or new flows per interval. */
  metric: FlowSeriesMetric;
  groupBy?: FlowGroupBy;
  /** IPv4 prefix length for groupBy 'subnet' (default 24); IPv6 is always grouped by /64. */
  subnetPrefix?: number;
  /** Series kept by total; the rest are summed into "other". Default 10. */
  limit?: number;
}

export type TopTalkersBy = 'ip' | 'src_ip' | 'dst_ip' | 'pair' | 'dst_port';

export interface TopTalkersOptions {
  fromMs: number;
  toMs: number;
  by: TopTalkersBy;
  /** Default 'bytes'. */
  orderBy?: 'bytes' | 'packets' | 'flows';
  /** Default 10. */
  limit?: number;
}

const DEFAULT_FLOW_LIMIT = 100;
const DEFAULT_SERIES_LIMIT = 10;
const DEFAULT_TALKER_LIMIT = 10;
const DEFAULT_V4_SUBNET = 24;
const U32_MAX = 0xffffffff;
/**
 * A grouped series is summed per group and point in one walk when groups x points stays under this many cells
 * (8 MiB of Float64): ports and protocols always do; address groupings, up to a million groups, sum totals
 * first and walk a second time for the chosen groups only.
 */
const DENSE_CELLS = 1 << 20;

const STATE_NAMES = ['active', 'idle', 'closed'];

// Builtins bound once (see the note in table.ts: global lookups are slow under jest's vm context).
const floor = Math.floor;

// ---- helpers ----

function formatAddr(t: FlowTable, dst: boolean, slot: number): string {
  if ((t.status[slot] & F_V6) === 0) return formatIPv4(t.addrWord(dst, slot, 0));
  return formatIPv6(t.addrWord(dst, slot, 0), t.addrWord(dst, slot, 1), t.addrWord(dst, slot, 2), t.addrWord(dst, slot, 3));
}

/** An address key of a WordKeys (family 0: word 0 only) as text. */
function formatKey(keys: WordKeys, g: number): string {
  const w = keys.words;
  if (keys.family[g] === 0) return formatIPv4(w[4 * g]);
  return formatIPv6(w[4 * g], w[4 * g + 1], w[4 * g + 2], w[4 * g + 3]);
}

/** Compares word k of both ends' addresses of two flows; positive when b's is larger. */
function addrOrder(t: FlowTable, a: number, b: number): number {
  for (let end = 0; end < 2; end++) {
    const dst = end === 1;
    for (let k = 0; k < 4; k++) {
      const wa = t.addrWord(dst, a, k);
      const wb = t.addrWord(dst, b, k);
      if (wa !== wb) return wb - wa;
    }
  }
  return 0;
}

/**
 * Orders two flows by content when their sort keys tie, so results do not depend on slot numbers (which a
 * snapshot restore renumbers). Positive when `a` ranks first.
 */
function contentOrder(t: FlowTable, a: number, b: number): number {
  if (t.lastRel[a] !== t.lastRel[b]) return t.lastRel[a] - t.lastRel[b];
  if (t.firstRel[a] !== t.firstRel[b]) return t.firstRel[a] - t.firstRel[b];
  const d = addrOrder(t, a, b);
  if (d !== 0) return d;
  if (t.srcPort[a] !== t.srcPort[b]) return t.srcPort[b] - t.srcPort[a];
  if (t.dstPort[a] !== t.dstPort[b]) return t.dstPort[b] - t.dstPort[a];
  return t.proto[b] - t.proto[a];
}

/**
 * Keeps the `limit` best (id, key) pairs seen: a binary min-heap whose root is the worst kept, so most
 * candidates are rejected by one comparison (callers test `floor` inline first). Higher keys rank first;
 * `tie(a, b) > 0` ranks a first, and is called only for equal keys.
 */
export class TopN {
  private readonly ids: Int32Array;
  private readonly keys: Float64Array;
  private n = 0;

  constructor(
    private readonly limit: number,
    private readonly tie: (a: number, b: number) => number,
  ) {
    this.ids = new Int32Array(Math.max(0, limit));
    this.keys = new Float64Array(Math.max(0, limit));
  }

  /** Whether (ia, ka) ranks below (ib, kb). */
  private below(ia: number, ka: number, ib: number, kb: number): boolean {
    return ka < kb || (ka === kb && this.tie(ia, ib) < 0);
  }

  offer(id: number, key: number): void {
    if (this.limit <= 0) return;
    const ids = this.ids;
    const keys = this.keys;
    if (this.n < this.limit) {
      let i = this.n++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!this.below(id, key, ids[p], keys[p])) break;
        ids[i] = ids[p];
        keys[i] = keys[p];
        i = p;
      }
      ids[i] = id;
      keys[i] = key;
      return;
    }
    if (!this.below(ids[0], keys[0], id, key)) return;
    this.siftDown(ids, keys, this.n, id, key);
  }

  /** Places (id, key) from the root down in the heap ids/keys[0..size). */
  private siftDown(ids: Int32Array, keys: Float64Array, size: number, id: number, key: number): void {
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= size) break;
      if (c + 1 < size && this.below(ids[c + 1], keys[c + 1], ids[c], keys[c])) c++;
      if (!this.below(ids[c], keys[c], id, key)) break;
      ids[i] = ids[c];
      keys[i] = keys[c];
      i = c;
    }
    ids[i] = id;
    keys[i] = key;
  }

  get size(): number {
    return this.n;
  }

  /** Keys below this cannot enter: the worst kept key once full, -Infinity before. */
  get floor(): number {
    return this.n < this.limit ? -Infinity : this.keys[0];
  }

  /**
   * The kept ids, best first: heapsort, the worst popped from the root to the back (no comparator closure
   * handed to Array.prototype.sort, which cost 2.7 ms of 6.4 for a 10,000-row answer).
   */
  sorted(): Int32Array {
    const ids = this.ids.slice(0, this.n);
    const keys = this.keys.slice(0, this.n);
    const out = new Int32Array(this.n);
    for (let m = this.n; m > 0; m--) {
      out[m - 1] = ids[0];
      if (m > 1) this.siftDown(ids, keys, m - 1, ids[m - 1], keys[m - 1]);
    }
    return out;
  }
}

/** The table-relative range of [fromMs, toMs], clamped to what Uint32 relative times can hold. */
function relRange(t: FlowTable, fromMs: number, toMs: number): [number, number] {
  return [Math.max(0, fromMs - t.epochMs), Math.min(U32_MAX, toMs - t.epochMs)];
}

/** Offers every candidate to `top` keyed by a[s] (+ b[s]): one loop per column type, so each stays monomorphic. */
function offerSum(top: TopN, cand: Int32Array, n: number, a: Float64Array, b: Float64Array): void {
  let min = top.floor;
  for (let i = 0; i < n; i++) {
    const s = cand[i];
    const key = a[s] + b[s];
    // Most candidates lose to the worst kept row: tested here before calling into the heap.
    if (key < min) continue;
    top.offer(s, key);
    min = top.floor;
  }
}

function offerSum32(top: TopN, cand: Int32Array, n: number, a: Uint32Array, b: Uint32Array | null): void {
  let min = top.floor;
  for (let i = 0; i < n; i++) {
    const s = cand[i];
    const key = b === null ? a[s] : a[s] + b[s];
    if (key < min) continue;
    top.offer(s, key);
    min = top.floor;
  }
}

// ---- flows ----

/** Flows overlapping [fromMs, toMs], both directions per row, the top `limit` by `orderBy`. */
export function queryFlows(t: FlowTable, filter: FlowFilter, opts: FlowQueryOptions): Frame {
  const f = new CompiledFilter(filter);
  const order = opts.orderBy ?? 'bytes';
  const limit = Math.max(0, Math.min(opts.limit ?? DEFAULT_FLOW_LIMIT, t.size));
  const top = new TopN(limit, (a, b) => contentOrder(t, a, b));
  const [fromRel, toRel] = relRange(t, opts.fromMs, opts.toMs);
  if (opts.toMs - t.epochMs >= 0 && fromRel <= toRel && limit > 0) {
    const cand = candidates(t);
    const n = f.select(t, fromRel, toRel, cand);
    if (order === 'bytes') offerSum(top, cand, n, t.bytesFwd, t.bytesRev);
    else if (order === 'packets') offerSum32(top, cand, n, t.packetsFwd, t.packetsRev);
    else offerSum32(top, cand, n, t.lastRel, null);
  }
  const slots = top.sorted();
  const now = t.nowRel();
  const epoch = t.epochMs;
  const m = slots.length;
  const cols: FieldValue[][] = Array.from({ length: 12 }, () => new Array<FieldValue>(m));
  for (let i = 0; i < m; i++) {
    const s = slots[i];
    cols[0][i] = formatAddr(t, false, s);
    cols[1][i] = t.srcPort[s];
    cols[2][i] = formatAddr(t, true, s);
    cols[3][i] = t.dstPort[s];
    cols[4][i] = protocolName(t.proto[s]);
    cols[5][i] = t.packetsFwd[s];
    cols[6][i] = t.bytesFwd[s];
    cols[7][i] = t.packetsRev[s];
    cols[8][i] = t.bytesRev[s];
    cols[9][i] = epoch + t.firstRel[s];
    cols[10][i] = epoch + t.lastRel[s];
    cols[11][i] = STATE_NAMES[t.flowState(s, now)];
  }
  return frame('flows', [
    column('src_ip', 'string', cols[0]),
    column('src_port', 'number', cols[1]),
    column('dst_ip', 'string', cols[2]),
    column('dst_port', 'number', cols[3]),
    column('protocol', 'string', cols[4]),
    column('packets', 'number', cols[5]),
    column('bytes', 'number', cols[6]),
    column('packets_rev', 'number', cols[7]),
    column('bytes_rev', 'number', cols[8]),
    column('first_seen', 'time', cols[9]),
    column('last_seen', 'time', cols[10]),
    column('state', 'string', cols[11]),
  ]);
}

// ---- the traffic of flows over a grid of points ----

/**
 * Rows. Flows sum into rows of accumulators: row 0 holds the flows without a value for the grouping key (a
 * port-less protocol under dst_port), counted in "other"; group id g sums into row g + 1. SKIP is a flow the
 * walk passes over (filtered out, or its group's series are not summed in this pass).
 */
const SKIP = -1;
const NO_GROUP_ROW = 0;

interface SeriesGrid {
  bucketMs: number;
  intervalMs: number;
  /** First and last bucket inside both the query range and the ring. */
  b0: number;
  b1: number;
  /** Interval number (start / intervalMs) of the first point. */
  k0: number;
  points: number;
}

function seriesGrid(t: FlowTable, fromMs: number, toMs: number, intervalMs: number): SeriesGrid | null {
  const bucketMs = t.bucketMs;
  const interval = Math.max(1, Math.ceil(intervalMs / bucketMs)) * bucketMs;
  const cur = t.currentBucket;
  if (cur < 0) return null;
  let b0 = Math.max(Math.floor(fromMs / bucketMs), cur - t.bucketCount + 1);
  const b1 = Math.min(Math.floor(toMs / bucketMs), cur);
  // Start at the first bucket the table has opened, so a young table has no leading zeros.
  while (b0 <= b1 && t.ringIndex(b0) < 0) b0++;
  if (b0 > b1) return null;
  const k0 = Math.floor((b0 * bucketMs) / interval);
  const k1 = Math.floor((b1 * bucketMs) / interval);
  return { bucketMs, intervalMs: interval, b0, b1, k0, points: k1 - k0 + 1 };
}

/**
 * Selects into the table's candidate array the filtered flows that can have traffic in the grid: those
 * overlapping its buckets. A flow's log entry for bucket b was written when its last-seen time left b, so its
 * first packet is before b ends and its last at or after b starts; its open bucket is the one of its last packet.
 * A grid from the oldest bucket the ring holds selects from time 0, which spares the filter its pass over the
 * time columns (flows a little older, not yet expired, are selected but have nothing in the grid).
 */
function selectInGrid(t: FlowTable, f: CompiledFilter, grid: SeriesGrid): number {
  const lo = t.ringIndex(grid.b0 - 1) < 0 ? 0 : grid.b0 * grid.bucketMs - t.epochMs;
  const hi = (grid.b1 + 1) * grid.bucketMs - t.epochMs - 1;
  if (hi < 0) return 0;
  return f.select(t, Math.max(0, lo), Math.min(U32_MAX, hi), candidates(t));
}

/**
 * floor(d / width) for a whole d >= 0, given 1 / width: (d + 0.5) / width is at least 0.5 / width away from a
 * whole number, far more than the rounding of the product (d < 2^51), so truncating it is exact.
 */
function pointOf(d: number, perWidth: number): number {
  return ((d + 0.5) * perWidth) | 0;
}

/**
 * Sums the traffic of the flows `slots[0..count)` per point of the grid into rows: flow i's traffic in point k
 * goes to index `row[i] * stride + k` of `bytes` and `packets` (stride 0: one total per row, at `row[i]`; either
 * array may be null); rows SKIP are passed over, and `touched[row]` is set for each row that met traffic.
 *
 * A flow's traffic in a bucket it has left is the difference of its consecutive log entries (the first against
 * zero); in its open bucket, its totals minus its last entry. Entries are walked oldest first from the start of
 * the log, which holds everything written inside the window: a flow's entry before its first one inside the
 * grid is needed only as the baseline of the next. The slots are live flows (a query runs synchronously after
 * selecting them), so the log is checked against their generation only.
 *
 * Point numbers come from table-relative times by a multiplication (see pointOf), where floor() of epoch
 * milliseconds over the interval was a division, the largest single cost of the walk (6 of 14 ms at a million
 * flows).
 */
function addTraffic(
  t: FlowTable,
  grid: SeriesGrid,
  slots: Int32Array,
  count: number,
  row: Int32Array,
  stride: number,
  bytes: Float64Array | null,
  packets: Float64Array | null,
  touched: Uint8Array | null,
): void {
  const { entSlot, entGen, entBucket, entBytes, entPackets, gen, firstRel, lastRel, bytesFwd, bytesRev, packetsFwd, packetsRev } = t;
  const n = t.scanLimit;
  // Row r's point k is at r * stride + k; with stride 0, one total per row at r.
  const rowMul = stride === 0 ? 1 : stride;
  const kMul = stride === 0 ? 0 : 1;
  const { b0, b1, k0, bucketMs, intervalMs } = grid;
  const perPoint = 1 / (intervalMs / bucketMs);
  const dropRel = t.logDropRel;
  const { start, end } = t.liveEntries();
  const walkLog = end > start;
  // Baselines per listed flow, not per slot, and only when there are log entries to take them from.
  const prevBytes = new Float64Array(walkLog && bytes !== null ? count : 0);
  const prevPackets = new Float64Array(walkLog && packets !== null ? count : 0);
  // 1 once the walk has met the flow's first surviving entry. Its traffic is known from then on; a flow
  // first seen at or before the log last dropped entries has an unknown baseline before that entry.
  const seen = new Uint8Array(walkLog ? count : 0);
  if (walkLog) {
    // Slot -> list index + 1 of the flows walked (0: not walked).
    const at = new Int32Array(n);
    for (let i = 0; i < count; i++) if (row[i] !== SKIP) at[slots[i]] = i + 1;
    const mask = t.logCapacity - 1;
    const cur = t.currentBucket;
    const curMod = cur % 4294967296;
    const bucket0 = k0 * (intervalMs / bucketMs);
    for (let seq = start; seq < end; seq++) {
      const pos = seq & mask;
      const s = entSlot[pos];
      if (s >= n) continue;
      const i = at[s] - 1;
      if (i < 0 || entGen[pos] !== gen[s]) continue;
      if (seen[i] === 0 && firstRel[s] <= dropRel) {
        seen[i] = 1;
      } else {
        seen[i] = 1;
        // entryBucket(): entries are within the window of the current bucket, stored modulo 2^32.
        let back = curMod - entBucket[pos];
        if (back < 0) back += 4294967296;
        const bno = cur - back;
        if (bno >= b0 && bno <= b1) {
          const r = row[i];
          const x = r * rowMul + pointOf(bno - bucket0, perPoint) * kMul;
          if (bytes !== null) bytes[x] += entBytes[pos] - prevBytes[i];
          if (packets !== null) packets[x] += entPackets[pos] - prevPackets[i];
          if (touched !== null) touched[r] = 1;
        }
      }
      if (bytes !== null) prevBytes[i] = entBytes[pos];
      if (packets !== null) prevPackets[i] = entPackets[pos];
    }
  }
  const epoch = t.epochMs;
  const loRel = b0 * bucketMs - epoch;
  const hiRel = (b1 + 1) * bucketMs - epoch;
  // Table-relative start of point 0, at or before loRel.
  const base = k0 * intervalMs - epoch;
  const perMs = 1 / intervalMs;
  for (let i = 0; i < count; i++) {
    const r = row[i];
    if (r === SKIP) continue;
    const s = slots[i];
    const last = lastRel[s];
    if (last < loRel || last >= hiRel) continue;
    if (firstRel[s] <= dropRel && (!walkLog || seen[i] === 0)) continue;
    const x = r * rowMul + pointOf(last - base, perMs) * kMul;
    if (bytes !== null) bytes[x] += bytesFwd[s] + bytesRev[s] - (walkLog ? prevBytes[i] : 0);
    if (packets !== null) {
      const pk = packetsFwd[s] + packetsRev[s];
      packets[x] += (pk > U32_MAX ? U32_MAX : pk) - (walkLog ? prevPackets[i] : 0);
    }
    if (touched !== null) touched[r] = 1;
  }
}

/** Counts the flows `slots[0..count)` whose first packet falls in the grid, per point, into rows (as addTraffic). */
function addNewFlows(t: FlowTable, grid: SeriesGrid, slots: Int32Array, count: number, row: Int32Array, stride: number, out: Float64Array, touched: Uint8Array | null): void {
  const epoch = t.epochMs;
  const { b0, b1, k0, bucketMs, intervalMs } = grid;
  const loRel = b0 * bucketMs - epoch;
  const hiRel = (b1 + 1) * bucketMs - epoch;
  const base = k0 * intervalMs - epoch;
  const perMs = 1 / intervalMs;
  const rowMul = stride === 0 ? 1 : stride;
  const kMul = stride === 0 ? 0 : 1;
  const firstRel = t.firstRel;
  for (let i = 0; i < count; i++) {
    const r = row[i];
    if (r === SKIP) continue;
    const first = firstRel[slots[i]];
    if (first < loRel || first >= hiRel) continue;
    out[r * rowMul + pointOf(first - base, perMs) * kMul] += 1;
    if (touched !== null) touched[r] = 1;
  }
}

/** Per-point global totals from the bucket ring: exact, including flows since evicted or lost from the log. */
function globalSeries(t: FlowTable, grid: SeriesGrid, metric: FlowSeriesMetric): Float64Array {
  const out = new Float64Array(grid.points);
  for (let bno = grid.b0; bno <= grid.b1; bno++) {
    const ring = t.ringIndex(bno);
    if (ring < 0) continue;
    const tot = t.bucketTotals(ring);
    out[Math.floor((bno * grid.bucketMs) / grid.intervalMs) - grid.k0] += metric === 'bytes' ? tot.bytes : metric === 'packets' ? tot.packets : tot.newFlows;
  }
  return out;
}

/** Sums `metric` of the listed flows into rows (see addTraffic). */
function addMetric(t: FlowTable, grid: SeriesGrid, metric: FlowSeriesMetric, slots: Int32Array, count: number, row: Int32Array, stride: number, out: Float64Array, touched: Uint8Array | null): void {
  if (metric === 'flows') addNewFlows(t, grid, slots, count, row, stride, out, touched);
  else addTraffic(t, grid, slots, count, row, stride, metric === 'bytes' ? out : null, metric === 'packets' ? out : null, touched);
}

function seriesFrame(grid: SeriesGrid, metric: FlowSeriesMetric, sums: Float64Array, name: string, labels?: Record<string, string>): Frame {
  const times: number[] = [];
  const values: number[] = [];
  const seconds = metric === 'flows' ? 1 : grid.intervalMs / 1000;
  for (let k = 0; k < grid.points; k++) {
    times.push((grid.k0 + k) * grid.intervalMs);
    values.push(sums[k] / seconds);
  }
  return frame(name, [column('time', 'time', times), column(metric, 'number', values, labels ? { labels } : undefined)]);
}

// ---- grouping ----

function v4Mask(prefix: number): number {
  return prefix <= 0 ? 0 : prefix >= 32 ? U32_MAX : (U32_MAX << (32 - prefix)) >>> 0;
}

/** The group keys of one query: `size` groups, ids 0..size-1 (rows 1..size). */
interface Groups {
  readonly size: number;
  /** Ascending key order of two group ids. */
  compare(a: number, b: number): number;
}

/** Rows of the initiator's (or the responder's, `dst`) addresses of the listed flows, into `out`. */
function keyAddresses(t: FlowTable, keys: WordKeys, dst: boolean, cand: Int32Array, count: number, out: Int32Array): void {
  const w0 = dst ? t.dstW0 : t.srcW0;
  const w123 = dst ? t.dstW123 : t.srcW123;
  const status = t.status;
  for (let i = 0; i < count; i++) {
    const s = cand[i];
    if ((status[s] & F_V6) === 0) {
      out[i] = keys.id(0, w0[s], 0, 0, 0) + 1;
    } else {
      const b = t.v6Base(s);
      out[i] = keys.id(1, w0[s], w123[b], w123[b + 1], w123[b + 2]) + 1;
    }
  }
}

/** Rows of the initiator's subnets: IPv4 under `mask`, IPv6 by /64. */
function keySubnets(t: FlowTable, keys: WordKeys, mask: number, cand: Int32Array, count: number, out: Int32Array): void {
  const { status, srcW0, srcW123 } = t;
  for (let i = 0; i < count; i++) {
    const s = cand[i];
    if ((status[s] & F_V6) === 0) out[i] = keys.id(0, (srcW0[s] & mask) >>> 0, 0, 0, 0) + 1;
    else out[i] = keys.id(1, srcW0[s], srcW123[t.v6Base(s)], 0, 0) + 1;
  }
}

/** Rows of destination ports; NO_GROUP_ROW for protocols without ports. */
function keyPorts(t: FlowTable, keys: SmallKeys, cand: Int32Array, count: number, out: Int32Array): void {
  const { proto, dstPort } = t;
  const hasPorts = HAS_PORTS;
  for (let i = 0; i < count; i++) {
    const s = cand[i];
    out[i] = hasPorts[proto[s]] === 0 ? NO_GROUP_ROW : keys.id(dstPort[s]) + 1;
  }
}

function keyProtocols(t: FlowTable, keys: SmallKeys, cand: Int32Array, count: number, out: Int32Array): void {
  const proto = t.proto;
  for (let i = 0; i < count; i++) out[i] = keys.id(proto[cand[i]]) + 1;
}

function keyPairs(t: FlowTable, keys: PairKeys, cand: Int32Array, count: number, out: Int32Array): void {
  const { status, srcW0, dstW0, srcW123, dstW123 } = t;
  for (let i = 0; i < count; i++) {
    const s = cand[i];
    if ((status[s] & F_V6) === 0) {
      out[i] = keys.v4(srcW0[s], dstW0[s]) + 1;
    } else {
      const b = t.v6Base(s);
      out[i] = keys.v6(srcW0[s], srcW123[b], srcW123[b + 1], srcW123[b + 2], dstW0[s], dstW123[b], dstW123[b + 1], dstW123[b + 2]) + 1;
    }
  }
}

/** A series grouping: the row of each listed flow into `out`, and the label of a group id. */
function seriesGrouping(t: FlowTable, by: FlowGroupBy, subnetPrefix: number, cand: Int32Array, count: number, out: Int32Array): { groups: Groups; label(g: number): string } {
  switch (by) {
    case 'src_ip':
    case 'dst_ip': {
      const keys = new WordKeys();
      keyAddresses(t, keys, by === 'dst_ip', cand, count, out);
      return { groups: keys, label: (g) => formatKey(keys, g) };
    }
    case 'dst_port': {
      const keys = new SmallKeys(65536);
      keyPorts(t, keys, cand, count, out);
      return { groups: keys, label: (g) => String(keys.keys[g]) };
    }
    case 'protocol': {
      const keys = new SmallKeys(256);
      keyProtocols(t, keys, cand, count, out);
      return { groups: keys, label: (g) => protocolName(keys.keys[g]) };
    }
    case 'subnet': {
      // The initiator's subnet: grouping by both ends would count each flow twice and break the "sums to total" property.
      const keys = new WordKeys();
      keySubnets(t, keys, v4Mask(subnetPrefix), cand, count, out);
      return {
        groups: keys,
        label: (g) => {
          const w = keys.words;
          if (keys.family[g] !== 0) return `${formatIPv6(w[4 * g], w[4 * g + 1], 0, 0)}/64`;
          return `${formatIPv4(w[4 * g])}/${subnetPrefix}`;
        },
      };
    }
  }
}

/**
 * The `limit` groups with the largest totals (`total[g + 1]`; only those `present`, when given), ties by
 * ascending key; group ids, best first.
 */
function topGroups(groups: Groups, total: Float64Array, present: Uint8Array | null, limit: number): Int32Array {
  const top = new TopN(limit, (a, b) => groups.compare(b, a));
  for (let g = 0; g < groups.size; g++) {
    if (present !== null && present[g + 1] === 0) continue;
    const key = total[g + 1];
    if (key >= top.floor) top.offer(g, key);
  }
  return top.sorted();
}

// ---- series ----

/**
 * Bytes/s, packets/s or new flows per interval over [fromMs, toMs], clipped to the retention window. Without
 * groupBy: one series. With groupBy: the `limit` groups with the largest totals (ties by ascending key), plus an
 * "other" series with the rest. Without a filter, "other" also holds traffic whose flows are no longer in the
 * table (evicted, or their log entries dropped), so the series always add up to the global totals.
 *
 * Sums are of whole bytes, packets and flows, so they are exact in any order: "other" may be what remains of a
 * total rather than a sum of its own, and a group's total the sum of its points.
 */
export function queryFlowSeries(t: FlowTable, filter: FlowFilter, opts: FlowSeriesOptions): Frame[] {
  const metric = opts.metric;
  const grid = seriesGrid(t, opts.fromMs, opts.toMs, opts.intervalMs);
  const f = new CompiledFilter(filter);
  if (opts.groupBy === undefined) {
    if (grid === null) return [frame(metric, [column('time', 'time'), column(metric, 'number')])];
    let sums: Float64Array;
    if (f.empty) {
      sums = globalSeries(t, grid, metric);
    } else {
      sums = new Float64Array(grid.points);
      const count = selectInGrid(t, f, grid);
      addMetric(t, grid, metric, candidates(t), count, new Int32Array(count), grid.points, sums, null);
    }
    return [seriesFrame(grid, metric, sums, metric)];
  }
  if (grid === null) return [];

  const by = opts.groupBy;
  const points = grid.points;
  const count = selectInGrid(t, f, grid);
  const cand = candidates(t);
  const row = new Int32Array(count);
  const { groups, label } = seriesGrouping(t, by, opts.subnetPrefix ?? DEFAULT_V4_SUBNET, cand, count, row);
  const rows = groups.size + 1;
  // A group exists once one of its flows had traffic in the grid, as a group with no points would not be drawn.
  const touched = new Uint8Array(rows);
  const limit = Math.max(0, opts.limit ?? DEFAULT_SERIES_LIMIT);
  const totals = new Float64Array(rows);
  let chosen: Int32Array;
  let series: Float64Array[];
  let other: Float64Array;
  if (rows * points <= DENSE_CELLS) {
    // One walk: every row's series; the chosen ones are picked out after.
    const cells = new Float64Array(rows * points);
    addMetric(t, grid, metric, cand, count, row, points, cells, touched);
    for (let r = 0; r < rows; r++) {
      let sum = 0;
      for (let k = 0; k < points; k++) sum += cells[r * points + k];
      totals[r] = sum;
    }
    chosen = topGroups(groups, totals, touched, limit);
    series = Array.from(chosen, (g) => cells.slice((g + 1) * points, (g + 2) * points));
    other = new Float64Array(points);
    if (!f.empty) {
      const isChosen = new Uint8Array(rows);
      for (const g of chosen) isChosen[g + 1] = 1;
      for (let r = 0; r < rows; r++) if (isChosen[r] === 0) for (let k = 0; k < points; k++) other[k] += cells[r * points + k];
    }
  } else {
    // Two walks: totals per row, then the chosen groups' series (and, under a filter, the rest as one row).
    addMetric(t, grid, metric, cand, count, row, 0, totals, touched);
    chosen = topGroups(groups, totals, touched, limit);
    const L = chosen.length;
    const rank = new Int32Array(rows).fill(f.empty ? SKIP : L);
    chosen.forEach((g, r) => (rank[g + 1] = r));
    for (let i = 0; i < count; i++) row[i] = rank[row[i]];
    const cells = new Float64Array((L + 1) * points);
    addMetric(t, grid, metric, cand, count, row, points, cells, null);
    series = Array.from({ length: L }, (_, r) => cells.slice(r * points, (r + 1) * points));
    other = cells.slice(L * points);
  }
  let present = 0;
  for (let r = 1; r < rows; r++) present += touched[r];
  let hasOther = present > chosen.length || totals[NO_GROUP_ROW] > 0;
  if (f.empty) {
    const global = globalSeries(t, grid, metric);
    other = global.map((v, k) => Math.max(0, v - series.reduce((sum, s) => sum + s[k], 0)));
    hasOther = hasOther || other.some((v) => v > 0);
  }
  const frames = Array.from(chosen, (g, i) => {
    const name = label(g);
    return seriesFrame(grid, metric, series[i], name, { [by]: name });
  });
  if (hasOther) frames.push(seriesFrame(grid, metric, other, 'other', { [by]: 'other' }));
  return frames;
}

// ---- top talkers ----

/**
 * Bytes, packets and flows per key over [fromMs, toMs]. A flow entirely inside the range counts with its
 * totals; one that straddles an edge counts only its bucket log entries inside the range (bucket precision).
 * 'ip' credits each flow to both of its addresses; 'pair' keeps the initiator first; 'dst_port' leaves out
 * protocols without ports. Ties rank by ascending key.
 */
export function queryTopTalkers(t: FlowTable, filter: FlowFilter, opts: TopTalkersOptions): Frame {
  const f = new CompiledFilter(filter);
  const by = opts.by;
  const [fromRel, toRel] = relRange(t, opts.fromMs, opts.toMs);
  const cand = candidates(t);
  const count = opts.toMs - t.epochMs >= 0 && fromRel <= toRel ? f.select(t, fromRel, toRel, cand) : 0;
  // The row of each candidate, and for 'ip' of its responder too (NO_GROUP_ROW when both ends are one address).
  const row1 = new Int32Array(count);
  const row2 = by === 'ip' ? new Int32Array(count) : null;
  let groups: Groups;
  let keyColumns: (chosen: Int32Array) => Column[];
  switch (by) {
    case 'ip':
    case 'src_ip':
    case 'dst_ip': {
      const keys = new WordKeys();
      keyAddresses(t, keys, by === 'dst_ip', cand, count, row1);
      if (row2 !== null) {
        keyAddresses(t, keys, true, cand, count, row2);
        for (let i = 0; i < count; i++) if (row2[i] === row1[i]) row2[i] = NO_GROUP_ROW;
      }
      groups = keys;
      keyColumns = (chosen) => [column(by, 'string', Array.from(chosen, (g) => formatKey(keys, g)))];
      break;
    }
    case 'pair': {
      const keys = new PairKeys();
      keyPairs(t, keys, cand, count, row1);
      groups = keys;
      const end = (g: number, e: number) =>
        keys.pairs.family[g] === 0 ? formatIPv4(keys.word(g, e, 0)) : formatIPv6(keys.word(g, e, 0), keys.word(g, e, 1), keys.word(g, e, 2), keys.word(g, e, 3));
      keyColumns = (chosen) => [column('src_ip', 'string', Array.from(chosen, (g) => end(g, 0))), column('dst_ip', 'string', Array.from(chosen, (g) => end(g, 1)))];
      break;
    }
    case 'dst_port': {
      const keys = new SmallKeys(65536);
      keyPorts(t, keys, cand, count, row1);
      groups = keys;
      keyColumns = (chosen) => [column('dst_port', 'number', Array.from(chosen, (g) => keys.keys[g]))];
      break;
    }
  }

  // Row 0 collects what has no group and is never reported.
  const rows = groups.size + 1;
  const bytes = new Float64Array(rows);
  const packets = new Float64Array(rows);
  const flows = new Float64Array(rows);
  // Flows that straddle an edge of the range: their traffic inside it comes from the series log.
  const straddling = new Int32Array(count);
  const straddlingAt = new Int32Array(count);
  let m = 0;
  const { firstRel, lastRel, bytesFwd, bytesRev, packetsFwd, packetsRev } = t;
  for (let i = 0; i < count; i++) {
    const s = cand[i];
    const a = row1[i];
    if (firstRel[s] >= fromRel && lastRel[s] <= toRel) {
      bytes[a] += bytesFwd[s] + bytesRev[s];
      packets[a] += packetsFwd[s] + packetsRev[s];
    } else {
      straddling[m] = s;
      straddlingAt[m++] = i;
    }
    flows[a]++;
  }
  if (row2 !== null) {
    for (let i = 0; i < count; i++) {
      const s = cand[i];
      const b = row2[i];
      if (firstRel[s] >= fromRel && lastRel[s] <= toRel) {
        bytes[b] += bytesFwd[s] + bytesRev[s];
        packets[b] += packetsFwd[s] + packetsRev[s];
      }
      flows[b]++;
    }
  }
  const grid = m > 0 ? seriesGrid(t, opts.fromMs, opts.toMs, t.bucketMs) : null;
  if (grid !== null) {
    const sb = new Float64Array(m);
    const sp = new Float64Array(m);
    const own = new Int32Array(m);
    for (let j = 0; j < m; j++) own[j] = j;
    addTraffic(t, grid, straddling, m, own, 0, sb, sp, null);
    for (let j = 0; j < m; j++) {
      const a = row1[straddlingAt[j]];
      bytes[a] += sb[j];
      packets[a] += sp[j];
      if (row2 !== null) {
        const b = row2[straddlingAt[j]];
        bytes[b] += sb[j];
        packets[b] += sp[j];
      }
    }
  }

  const order = opts.orderBy ?? 'bytes';
  const metric = order === 'packets' ? packets : order === 'flows' ? flows : bytes;
  const chosen = topGroups(groups, metric, null, Math.max(0, opts.limit ?? DEFAULT_TALKER_LIMIT));
  return frame('top_talkers', [
    ...keyColumns(chosen),
    column('bytes', 'number', Array.from(chosen, (g) => bytes[g + 1])),
    column('packets', 'number', Array.from(chosen, (g) => packets[g + 1])),
    column('flows', 'number', Array.from(chosen, (g) => flows[g + 1])),
  ]);
}

// ---- stats ----

export interface FlowStats extends FlowTableCounters {
  maxFlows: number;
  warning80: boolean;
  /** Stored flows by state at the table clock. */
  flowsOpen: number;
  flowsIdle: number;
  flowsClosed: number;
  memoryFlowBytes: number;
  memoryBucketLogBytes: number;
  /** The table clock, epoch ms (the packet clock when replaying). */
  nowMs: number;
}

/** Counters and gauges of the flow table for the `stats` kind (one scan of the stored flows for the states). */
export function flowStats(t: FlowTable): FlowStats {
  const states = [0, 0, 0];
  const now = t.nowRel();
  for (let s = 0; s < t.scanLimit; s++) if (t.status[s] !== 0) states[t.flowState(s, now)]++;
  const mem = t.memory();
  return {
    ...t.counters(),
    maxFlows: t.maxFlows,
    warning80: t.warning80,
    flowsOpen: states[0],
    flowsIdle: states[FLOW_IDLE],
    flowsClosed: states[FLOW_CLOSED],
    memoryFlowBytes: mem.flows,
    memoryBucketLogBytes: mem.bucketLog,
    nowMs: Math.floor(t.nowUs() / 1000),
  };
}
