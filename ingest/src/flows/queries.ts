/**
 * Flow queries: pure functions over a FlowTable producing Grafana frames. The API layer has already parsed and
 * validated the parameters; these functions only read the table.
 *
 * Scans run over the struct-of-arrays storage with a filter compiled to typed arrays, and keep the top N in a
 * bounded heap, so a query over a million flows neither sorts every match nor builds an object per flow.
 */
import { column, frame, type Frame } from '../protocol/frame';
import { formatIPv4, formatIPv6 } from '../protocol/ip';
import { protocolName } from '../protocol/ip-protocols';
import { CompiledFilter, HAS_PORTS, candidates, type FlowFilter } from './filter';
import { FLOW_CLOSED, FLOW_IDLE, F_V6, type FlowTable } from './table';

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


const STATE_NAMES = ['active', 'idle', 'closed'];

// ---- helpers ----

function formatAddr(t: FlowTable, dst: boolean, slot: number): string {
  if ((t.status[slot] & F_V6) === 0) return formatIPv4(t.addrWord(dst, slot, 0));
  return formatIPv6(t.addrWord(dst, slot, 0), t.addrWord(dst, slot, 1), t.addrWord(dst, slot, 2), t.addrWord(dst, slot, 3));
}

const srcIp = (t: FlowTable, s: number) => formatAddr(t, false, s);
const dstIp = (t: FlowTable, s: number) => formatAddr(t, true, s);

/**
 * Orders two flows by content when their sort keys tie, so results do not depend on slot numbers (which a
 * snapshot restore renumbers). Positive when `a` ranks first.
 */
function contentOrder(t: FlowTable, a: number, b: number): number {
  if (t.lastRel[a] !== t.lastRel[b]) return t.lastRel[a] - t.lastRel[b];
  if (t.firstRel[a] !== t.firstRel[b]) return t.firstRel[a] - t.firstRel[b];
  for (const dst of [false, true]) {
    for (let k = 0; k < 4; k++) {
      const wa = t.addrWord(dst, a, k);
      const wb = t.addrWord(dst, b, k);
      if (wa !== wb) return wb - wa;
    }
  }
  if (t.srcPort[a] !== t.srcPort[b]) return t.srcPort[b] - t.srcPort[a];
  if (t.dstPort[a] !== t.dstPort[b]) return t.dstPort[b] - t.dstPort[a];
  return t.proto[b] - t.proto[a];
}

/**
 * Keeps the `limit` best (id, key) pairs seen: a binary min-heap whose root is the worst kept, so most
 * candidates are rejected by one comparison. Higher keys rank first; `tie(a, b) > 0` ranks a first.
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
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= this.n) break;
      if (c + 1 < this.n && this.below(ids[c + 1], keys[c + 1], ids[c], keys[c])) c++;
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

  /** The kept ids, best first. */
  sorted(): number[] {
    const order = Array.from({ length: this.n }, (_, i) => i);
    order.sort((x, y) => (this.below(this.ids[x], this.keys[x], this.ids[y], this.keys[y]) ? 1 : -1));
    return order.map((i) => this.ids[i]);
  }
}

/** The table-relative range of [fromMs, toMs], clamped to what Uint32 relative times can hold. */
function relRange(t: FlowTable, fromMs: number, toMs: number): [number, number] {
  return [Math.max(0, fromMs - t.epochMs), Math.min(0xffffffff, toMs - t.epochMs)];
}

// ---- flows ----

/** Flows overlapping [fromMs, toMs], both directions per row, the top `limit` by `orderBy`. */
export function queryFlows(t: FlowTable, filter: FlowFilter, opts: FlowQueryOptions): Frame {
  const f = new CompiledFilter(filter);
  const order = opts.orderBy ?? 'bytes';
  const limit = Math.max(0, Math.min(opts.limit ?? DEFAULT_FLOW_LIMIT, t.size));
  const top = new TopN(limit, (a, b) => contentOrder(t, a, b));
  const [fromRel, toRel] = relRange(t, opts.fromMs, opts.toMs);
  const first = t.firstRel;
  const last = t.lastRel;
  if (opts.toMs - t.epochMs >= 0 && fromRel <= toRel && limit > 0) {
    const cand = candidates(t);
    const n = f.select(t, fromRel, toRel, cand);
    const a = order === 'bytes' ? t.bytesFwd : order === 'packets' ? t.packetsFwd : last;
    const b = order === 'bytes' ? t.bytesRev : order === 'packets' ? t.packetsRev : null;
    for (let i = 0; i < n; i++) {
      const s = cand[i];
      const key = b === null ? a[s] : a[s] + b[s];
      // Most candidates lose to the worst kept row: test that inline before calling into the heap.
      if (key < top.floor) continue;
      top.offer(s, key);
    }
  }
  const slots = top.sorted();
  const now = t.nowRel();
  const epoch = t.epochMs;
  return frame('flows', [
    column('src_ip', 'string', slots.map((s) => srcIp(t, s))),
    column('src_port', 'number', slots.map((s) => t.srcPort[s])),
    column('dst_ip', 'string', slots.map((s) => dstIp(t, s))),
    column('dst_port', 'number', slots.map((s) => t.dstPort[s])),
    column('protocol', 'string', slots.map((s) => protocolName(t.proto[s]))),
    column('packets', 'number', slots.map((s) => t.packetsFwd[s])),
    column('bytes', 'number', slots.map((s) => t.bytesFwd[s])),
    column('packets_rev', 'number', slots.map((s) => t.packetsRev[s])),
    column('bytes_rev', 'number', slots.map((s) => t.bytesRev[s])),
    column('first_seen', 'time', slots.map((s) => epoch + first[s])),
    column('last_seen', 'time', slots.map((s) => epoch + last[s])),
    column('state', 'string', slots.map((s) => STATE_NAMES[t.flowState(s, now)])),
  ]);
}

// ---- grouping ----

const FILTERED = -2;
const UNKNOWN = -1;
/** A flow that has no value for the grouping key (a port-less protocol under dst_port): counted in "other". */
const NO_GROUP = -3;

/** Assigns dense ids to group keys; v4 keys are numbers, v6 keys strings, pairs nested maps. */
class GroupIndex {
  private readonly byKey = new Map<number | string, number>();
  private readonly byPair = new Map<number, Map<number, number>>();
  /** A flow of each group, to format its label from. */
  readonly rep: number[] = [];
  readonly keys: Array<number | string> = [];

  id(key: number | string, slot: number): number {
    let g = this.byKey.get(key);
    if (g === undefined) {
      g = this.rep.length;
      this.byKey.set(key, g);
      this.rep.push(slot);
      this.keys.push(key);
    }
    return g;
  }

  pair(a: number, b: number, slot: number): number {
    let inner = this.byPair.get(a);
    if (inner === undefined) {
      inner = new Map();
      this.byPair.set(a, inner);
    }
    let g = inner.get(b);
    if (g === undefined) {
      g = this.rep.length;
      inner.set(b, g);
      this.rep.push(slot);
      this.keys.push(`${a},${b}`);
    }
    return g;
  }

  get size(): number {
    return this.rep.length;
  }
}

/** A grouping key for one end of a flow: the address itself for IPv4, text for IPv6 (128 bits do not fit a number). */
function addrKey(t: FlowTable, dst: boolean, slot: number): number | string {
  const w0 = t.addrWord(dst, slot, 0);
  if ((t.status[slot] & F_V6) === 0) return w0;
  return `${w0}:${t.addrWord(dst, slot, 1)}:${t.addrWord(dst, slot, 2)}:${t.addrWord(dst, slot, 3)}`;
}

function v4Mask(prefix: number): number {
  return prefix <= 0 ? 0 : prefix >= 32 ? 0xffffffff : (0xffffffff << (32 - prefix)) >>> 0;
}

/** How a grouping turns a flow into a group id and a group into its label. */
interface Grouping {
  name: string;
  groupOf(slot: number): number;
  label(g: number): string;
}

function seriesGrouping(t: FlowTable, by: FlowGroupBy, subnetPrefix: number, groups: GroupIndex): Grouping {
  const v6 = (s: number) => (t.status[s] & F_V6) !== 0;
  switch (by) {
    case 'src_ip':
      return { name: by, groupOf: (s) => groups.id(addrKey(t, false, s), s), label: (g) => srcIp(t, groups.rep[g]) };
    case 'dst_ip':
      return { name: by, groupOf: (s) => groups.id(addrKey(t, true, s), s), label: (g) => dstIp(t, groups.rep[g]) };
    case 'dst_port':
      return { name: by, groupOf: (s) => (HAS_PORTS[t.proto[s]] === 0 ? NO_GROUP : groups.id(t.dstPort[s], s)), label: (g) => String(t.dstPort[groups.rep[g]]) };
    case 'protocol':
      return { name: by, groupOf: (s) => groups.id(t.proto[s], s), label: (g) => protocolName(t.proto[groups.rep[g]]) };
    case 'subnet': {
      // The initiator's subnet: grouping by both ends would count each flow twice and break the "sums to total" property.
      const mask = v4Mask(subnetPrefix);
      return {
        name: by,
        groupOf: (s) => groups.id(v6(s) ? `${t.srcW0[s]}:${t.addrWord(false, s, 1)}` : (t.srcW0[s] & mask) >>> 0, s),
        label: (g) => {
          const s = groups.rep[g];
          if (v6(s)) return `${formatIPv6(t.srcW0[s], t.addrWord(false, s, 1), 0, 0)}/64`;
          return `${formatIPv4((t.srcW0[s] & mask) >>> 0)}/${subnetPrefix}`;
        },
      };
    }
  }
}

/** Group ids per slot for one query: each flow is filtered and keyed once however many entries it has. */
class SlotGroups {
  private readonly cache: Int32Array;
  constructor(
    t: FlowTable,
    f: CompiledFilter,
    private readonly grouping: Grouping | null,
  ) {
    this.cache = new Int32Array(t.scanLimit).fill(f.empty ? UNKNOWN : FILTERED);
    if (!f.empty) {
      const cand = candidates(t);
      const n = f.select(t, 0, 0xffffffff, cand);
      for (let i = 0; i < n; i++) this.cache[cand[i]] = UNKNOWN;
    }
  }

  /** FILTERED, NO_GROUP, or a group id (0 for every matching flow without a grouping). */
  of(slot: number): number {
    let g = this.cache[slot];
    if (g === UNKNOWN) {
      g = this.grouping === null ? 0 : this.grouping.groupOf(slot);
      this.cache[slot] = g;
    }
    return g;
  }
}

// ---- series ----

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
 * Visits the traffic of every live flow in each bucket of the grid: (slot, point index, bytes, packets). A flow's
 * traffic in a bucket it has left is the difference of its consecutive log entries (the first against zero); in
 * its open bucket, its totals minus its last entry. Entries are walked oldest first from the start of the log,
 * which holds everything written inside the window: a flow's entry before its first one inside the window is
 * needed only for buckets outside it.
 */
function forEachEntry(t: FlowTable, grid: SeriesGrid, visit: (slot: number, k: number, bytes: number, packets: number) => void): void {
  const n = t.scanLimit;
  const { entSlot, entGen, entBytes, entPackets, gen, status, firstRel, lastRel, bytesFwd, bytesRev, packetsFwd, packetsRev } = t;
  const mask = t.logCapacity - 1;
  const prevBytes = new Float64Array(n);
  const prevPackets = new Float64Array(n);
  // 1 once the walk has met the flow's baseline; 2 when its baseline is unknown (the log dropped entries of
  // flows this old), so its traffic is known only from its second entry on.
  const seen = new Uint8Array(n);
  const dropRel = t.logDropRel;
  const pointOf = (bno: number) => (bno >= grid.b0 && bno <= grid.b1 ? Math.floor((bno * grid.bucketMs) / grid.intervalMs) - grid.k0 : -1);
  const { start, end } = t.liveEntries();
  for (let seq = start; seq < end; seq++) {
    const pos = seq & mask;
    const s = entSlot[pos];
    if (s >= n || status[s] === 0 || entGen[pos] !== gen[s]) continue;
    const bytes = entBytes[pos];
    const packets = entPackets[pos];
    if (seen[s] === 0 && firstRel[s] <= dropRel) {
      seen[s] = 2;
    } else {
      seen[s] = 1;
      const k = pointOf(t.entryBucket(pos));
      if (k >= 0) visit(s, k, bytes - prevBytes[s], packets - prevPackets[s]);
    }
    prevBytes[s] = bytes;
    prevPackets[s] = packets;
  }
  const epoch = t.epochMs;
  const loRel = grid.b0 * grid.bucketMs - epoch;
  const hiRel = (grid.b1 + 1) * grid.bucketMs - epoch;
  for (let s = 0; s < n; s++) {
    if (status[s] === 0 || lastRel[s] < loRel || lastRel[s] >= hiRel) continue;
    if (seen[s] === 0 && firstRel[s] <= dropRel) continue;
    const k = Math.floor((epoch + lastRel[s]) / grid.intervalMs) - grid.k0;
    const packets = Math.min(0xffffffff, packetsFwd[s] + packetsRev[s]);
    visit(s, k, bytesFwd[s] + bytesRev[s] - prevBytes[s], packets - prevPackets[s]);
  }
}

/** Visits every live flow whose first packet falls in the grid: (slot, point index). */
function forEachNewFlow(t: FlowTable, grid: SeriesGrid, visit: (slot: number, k: number) => void): void {
  const epoch = t.epochMs;
  const lo = grid.b0 * grid.bucketMs;
  const hi = (grid.b1 + 1) * grid.bucketMs;
  for (let s = 0; s < t.scanLimit; s++) {
    if (t.status[s] === 0) continue;
    const ms = epoch + t.firstRel[s];
    if (ms >= lo && ms < hi) visit(s, Math.floor(ms / grid.intervalMs) - grid.k0);
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

/**
 * Bytes/s, packets/s or new flows per interval over [fromMs, toMs], clipped to the retention window. Without
 * groupBy: one series. With groupBy: the `limit` groups with the largest totals, plus an "other" series with the
 * rest. Without a filter, "other" also holds traffic whose flows are no longer in the table (evicted, or their
 * log entries dropped), so the series always add up to the global totals.
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
      const slots = new SlotGroups(t, f, null);
      if (metric === 'flows') {
        forEachNewFlow(t, grid, (s, k) => {
          if (slots.of(s) !== FILTERED) sums[k]++;
        });
      } else {
        const useBytes = metric === 'bytes';
        forEachEntry(t, grid, (s, k, bytes, packets) => {
          if (slots.of(s) !== FILTERED) sums[k] += useBytes ? bytes : packets;
        });
      }
    }
    return [seriesFrame(grid, metric, sums, metric)];
  }
  if (grid === null) return [];

  const by = opts.groupBy;
  const groups = new GroupIndex();
  const grouping = seriesGrouping(t, by, opts.subnetPrefix ?? DEFAULT_V4_SUBNET, groups);
  const slots = new SlotGroups(t, f, grouping);
  const useBytes = metric === 'bytes';
  const visitAll = (visit: (g: number, k: number, v: number) => void) => {
    if (metric === 'flows') {
      forEachNewFlow(t, grid, (s, k) => {
        const g = slots.of(s);
        if (g !== FILTERED) visit(g, k, 1);
      });
    } else {
      forEachEntry(t, grid, (s, k, bytes, packets) => {
        const g = slots.of(s);
        if (g !== FILTERED) visit(g, k, useBytes ? bytes : packets);
      });
    }
  };

  // Pass 1: totals per group, to choose the top N without keeping a series for every group.
  const totals: number[] = [];
  let ungrouped = 0;
  visitAll((g, _k, v) => {
    if (g === NO_GROUP) ungrouped += v;
    else totals[g] = (totals[g] ?? 0) + v;
  });
  const limit = Math.max(0, opts.limit ?? DEFAULT_SERIES_LIMIT);
  const top = new TopN(limit, (a, b) => compareKeys(groups.keys[b], groups.keys[a]));
  for (let g = 0; g < groups.size; g++) top.offer(g, totals[g] ?? 0);
  const chosen = top.sorted();
  const rank = new Int32Array(groups.size).fill(-1);
  chosen.forEach((g, i) => (rank[g] = i));

  // Pass 2: the chosen groups' series and the rest.
  const series = chosen.map(() => new Float64Array(grid.points));
  let other = new Float64Array(grid.points);
  visitAll((g, k, v) => {
    const r = g >= 0 ? rank[g] : -1;
    if (r >= 0) series[r][k] += v;
    else other[k] += v;
  });
  let hasOther = groups.size > chosen.length || ungrouped > 0;
  if (f.empty) {
    const global = globalSeries(t, grid, metric);
    other = global.map((v, k) => Math.max(0, v - series.reduce((sum, s) => sum + s[k], 0)));
    hasOther = hasOther || other.some((v) => v > 0);
  }
  const frames = chosen.map((g, i) => {
    const label = grouping.label(g);
    return seriesFrame(grid, metric, series[i], label, { [by]: label });
  });
  if (hasOther) frames.push(seriesFrame(grid, metric, other, 'other', { [by]: 'other' }));
  return frames;
}

/** Ascending order of group keys (numbers before strings) for deterministic ties. */
function compareKeys(a: number | string, b: number | string): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---- top talkers ----

/**
 * Bytes, packets and flows per key over [fromMs, toMs]. A flow entirely inside the range counts with its
 * totals; one that straddles an edge counts only its bucket log entries inside the range (bucket precision).
 * 'ip' credits each flow to both of its addresses; 'pair' keeps the initiator first; 'dst_port' leaves out
 * protocols without ports.
 */
export function queryTopTalkers(t: FlowTable, filter: FlowFilter, opts: TopTalkersOptions): Frame {
  const f = new CompiledFilter(filter);
  const by = opts.by;
  const groups = new GroupIndex();
  const key1 = (s: number): number => {
    switch (by) {
      case 'ip':
      case 'src_ip':
        return groups.id(addrKey(t, false, s), s);
      case 'dst_ip':
        return groups.id(addrKey(t, true, s), s);
      case 'dst_port':
        return HAS_PORTS[t.proto[s]] === 0 ? NO_GROUP : groups.id(t.dstPort[s], s);
      case 'pair': {
        if ((t.status[s] & F_V6) === 0) return groups.pair(t.srcW0[s], t.dstW0[s], s);
        return groups.id(`${addrKey(t, false, s)}>${addrKey(t, true, s)}`, s);
      }
    }
  };
  // 'ip' credits the destination too, through a second group id per flow (NO_GROUP when both ends are one address).
  const key2 = (s: number): number => {
    if (by !== 'ip') return NO_GROUP;
    const k1 = addrKey(t, false, s);
    const k2 = addrKey(t, true, s);
    return k1 === k2 ? NO_GROUP : groups.id(k2, -1 - s);
  };

  const bytes: number[] = [];
  const packets: number[] = [];
  const flows: number[] = [];
  const credit = (g: number, bt: number, pk: number, fl: number) => {
    if (g < 0) return;
    bytes[g] = (bytes[g] ?? 0) + bt;
    packets[g] = (packets[g] ?? 0) + pk;
    flows[g] = (flows[g] ?? 0) + fl;
  };
  const [fromRel, toRel] = relRange(t, opts.fromMs, opts.toMs);
  const n = t.scanLimit;
  // Per slot: -1 not counted, 0 counted by totals (inside the range), 1 straddles the range (counted by entries).
  const mode = new Int8Array(n).fill(-1);
  const g1 = new Int32Array(n);
  const g2 = new Int32Array(n);
  if (opts.toMs - t.epochMs >= 0 && fromRel <= toRel) {
    const cand = candidates(t);
    const selected = f.select(t, fromRel, toRel, cand);
    for (let i = 0; i < selected; i++) {
      const s = cand[i];
      g1[s] = key1(s);
      g2[s] = key2(s);
      if (t.firstRel[s] >= fromRel && t.lastRel[s] <= toRel) {
        mode[s] = 0;
        const bt = t.bytesFwd[s] + t.bytesRev[s];
        const pk = t.packetsFwd[s] + t.packetsRev[s];
        credit(g1[s], bt, pk, 1);
        credit(g2[s], bt, pk, 1);
      } else {
        mode[s] = 1;
        credit(g1[s], 0, 0, 1);
        credit(g2[s], 0, 0, 1);
      }
    }
    const grid = seriesGrid(t, opts.fromMs, opts.toMs, t.bucketMs);
    if (grid !== null) {
      forEachEntry(t, grid, (s, _k, bt, pk) => {
        if (s < n && mode[s] === 1) {
          credit(g1[s], bt, pk, 0);
          credit(g2[s], bt, pk, 0);
        }
      });
    }
  }

  const order = opts.orderBy ?? 'bytes';
  const metric = order === 'packets' ? packets : order === 'flows' ? flows : bytes;
  const top = new TopN(Math.max(0, opts.limit ?? DEFAULT_TALKER_LIMIT), (a, b) => compareKeys(groups.keys[b], groups.keys[a]));
  for (let g = 0; g < groups.size; g++) top.offer(g, metric[g] ?? 0);
  const chosen = top.sorted();
  // A representative stored as -1 - slot was recorded from the flow's destination ('ip' only).
  const repSlot = (g: number) => (groups.rep[g] >= 0 ? groups.rep[g] : -1 - groups.rep[g]);
  const repIp = (g: number) => (groups.rep[g] >= 0 ? srcIp(t, groups.rep[g]) : dstIp(t, repSlot(g)));
  const keyColumns =
    by === 'ip'
      ? [column('ip', 'string', chosen.map(repIp))]
      : by === 'src_ip'
        ? [column('src_ip', 'string', chosen.map((g) => srcIp(t, repSlot(g))))]
        : by === 'dst_ip'
          ? [column('dst_ip', 'string', chosen.map((g) => dstIp(t, repSlot(g))))]
          : by === 'pair'
            ? [column('src_ip', 'string', chosen.map((g) => srcIp(t, repSlot(g)))), column('dst_ip', 'string', chosen.map((g) => dstIp(t, repSlot(g))))]
            : [column('dst_port', 'number', chosen.map((g) => t.dstPort[repSlot(g)]))];
  return frame('top_talkers', [
    ...keyColumns,
    column('bytes', 'number', chosen.map((g) => bytes[g] ?? 0)),
    column('packets', 'number', chosen.map((g) => packets[g] ?? 0)),
    column('flows', 'number', chosen.map((g) => flows[g] ?? 0)),
  ]);
}

// ---- stats ----

export interface FlowStats {
  packets: number;
  bytes: number;
  flowsCreated: number;
  flowsActive: number;
  evictions: number;
  expired: number;
  closed: number;
  bucketLogDrops: number;
  fillRatio: number;
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
