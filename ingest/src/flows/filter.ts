/**
 * Flow filters compiled to lookup tables, shared by the flow queries and the offline `flows` command. Apart
 * from queries.ts because the frames there pull in the protocol's schemas (TypeBox), which a command-line
 * pass over a capture file has no use for and would spend 70 ms loading.
 */
import type { Cidr } from '../protocol/cidr';
import { F_LIVE, F_V6, type FlowTable } from './table';

/** Within a list the items are ORed, across lists ANDed; an empty list does not filter. `cidr`/`port` match either end. */
export interface FlowFilter {
  cidr: Cidr[];
  srcCidr: Cidr[];
  dstCidr: Cidr[];
  port: Array<[number, number]>;
  srcPort: Array<[number, number]>;
  dstPort: Array<[number, number]>;
  protocol: number[];
}

export const NO_FLOW_FILTER: Readonly<FlowFilter> = Object.freeze({ cidr: [], srcCidr: [], dstCidr: [], port: [], srcPort: [], dstPort: [], protocol: [] });

/**
 * Protocols whose transport header has ports. A port filter or port grouping leaves out the rest: ICMP keeps
 * type/code in the port fields, and a "port 0-1023" filter should not return pings.
 */
export const HAS_PORTS = new Uint8Array(256);
for (const p of [6, 17, 33, 132, 136]) HAS_PORTS[p] = 1;

// ---- filter ----

/** A CIDR list as flat typed arrays, IPv4 and IPv6 blocks apart so an address is only tried against its family. */
class CidrSet {
  readonly n: number;
  private readonly w4: Int32Array;
  private readonly m4: Int32Array;
  private readonly w6: Int32Array;
  private readonly m6: Int32Array;
  constructor(list: readonly Cidr[]) {
    this.n = list.length;
    const v4 = list.filter((c) => c.family === 4);
    const v6 = list.filter((c) => c.family === 6);
    this.w4 = Int32Array.from(v4, (c) => c.words[0] & c.masks[0]);
    this.m4 = Int32Array.from(v4, (c) => c.masks[0]);
    this.w6 = new Int32Array(4 * v6.length);
    this.m6 = new Int32Array(4 * v6.length);
    v6.forEach((c, i) => {
      for (let k = 0; k < 4; k++) {
        this.w6[4 * i + k] = c.words[k] & c.masks[k];
        this.m6[4 * i + k] = c.masks[k];
      }
    });
  }

  has4(a: number): boolean {
    const w = this.w4;
    const m = this.m4;
    for (let i = 0; i < w.length; i++) if (((a ^ w[i]) & m[i]) === 0) return true;
    return false;
  }

  /** Whether the IPv6 address (word 0, and words 1-3 at `w123[b..b+2]`) lies in any block. */
  has6(w0: number, w123: Uint32Array, b: number): boolean {
    const w = this.w6;
    const m = this.m6;
    for (let k = 0; k < w.length; k += 4) {
      if ((((w0 ^ w[k]) & m[k]) | ((w123[b] ^ w[k + 1]) & m[k + 1]) | ((w123[b + 1] ^ w[k + 2]) & m[k + 2]) | ((w123[b + 2] ^ w[k + 3]) & m[k + 3])) === 0) {
        return true;
      }
    }
    return false;
  }

  /** Whether a flow's address (initiator's from srcW0/srcW123, or responder's) lies in any block. */
  has(t: FlowTable, w0: Uint32Array, w123: Uint32Array, slot: number, v6: boolean): boolean {
    return v6 ? this.has6(w0[slot], w123, t.v6Base(slot)) : this.has4(w0[slot]);
  }
}

/** Bits of the port map: the port is in `port`, `srcPort`, `dstPort` (a bit is set everywhere when its list is empty). */
const PORT_ANY = 1;
const PORT_SRC = 2;
const PORT_DST = 4;

/** Restricts `bit` of a map that starts with every bit set to the ports of the list (an empty list keeps all). */
function markPorts(map: Uint8Array, list: ReadonlyArray<readonly [number, number]>, bit: number): void {
  if (list.length === 0) return;
  for (let p = 0; p < 65536; p++) map[p] &= ~bit;
  for (const [lo, hi] of list) for (let p = Math.max(0, lo); p <= Math.min(65535, hi); p++) map[p] |= bit;
}

/**
 * A FlowFilter compiled once per query into lookup tables. `select` runs column at a time: a branch-free pass
 * over the narrow columns (status, protocol, ports: 1-2 bytes a flow, looked up in membership maps) collects
 * candidates, then only those are checked against times and the CIDR lists, whose 16-byte address columns
 * are the expensive ones to stream. Branch-free compaction matters: a port filter matching one flow in ten
 * mispredicts a branch per match, which cost more than the scan itself (10 ms against 0.6 ms at 1M flows).
 */
export class CompiledFilter {
  readonly empty: boolean;
  private readonly any: CidrSet;
  private readonly src: CidrSet;
  private readonly dst: CidrSet;
  private readonly hasPort: boolean;
  private readonly hasProto: boolean;
  /** 1 for an accepted protocol: the protocol list, restricted to protocols with ports under a port filter. */
  private readonly protoOk: Uint8Array;
  /** PORT_* bits per port number: one 64 KiB map, so the port pass reads one lookup table, not three. */
  private readonly ports: Uint8Array;

  constructor(f: FlowFilter) {
    this.any = new CidrSet(f.cidr);
    this.src = new CidrSet(f.srcCidr);
    this.dst = new CidrSet(f.dstCidr);
    const hasPort = f.port.length + f.srcPort.length + f.dstPort.length > 0;
    this.protoOk = new Uint8Array(256);
    if (f.protocol.length > 0) for (const p of f.protocol) this.protoOk[p & 255] = 1;
    else this.protoOk.fill(1);
    if (hasPort) for (let p = 0; p < 256; p++) this.protoOk[p] &= HAS_PORTS[p];
    this.ports = new Uint8Array(65536).fill(PORT_ANY | PORT_SRC | PORT_DST);
    markPorts(this.ports, f.port, PORT_ANY);
    markPorts(this.ports, f.srcPort, PORT_SRC);
    markPorts(this.ports, f.dstPort, PORT_DST);
    this.hasPort = hasPort;
    this.hasProto = hasPort || f.protocol.length > 0;
    this.empty = !this.hasProto && this.any.n + this.src.n + this.dst.n === 0;
  }

  /** Whether one stored flow passes the filter (times aside): for callers that visit flows one by one. */
  matches(t: FlowTable, s: number): boolean {
    if (this.empty) return true;
    if (this.hasProto && this.protoOk[t.proto[s]] === 0) return false;
    if (this.hasPort) {
      const x = this.ports[t.srcPort[s]];
      const y = this.ports[t.dstPort[s]];
      if (((x | y) & PORT_ANY & (x >> 1) & (y >> 2)) === 0) return false;
    }
    const v6 = (t.status[s] & F_V6) !== 0;
    if (this.any.n > 0 && !this.any.has(t, t.srcW0, t.srcW123, s, v6) && !this.any.has(t, t.dstW0, t.dstW123, s, v6)) return false;
    if (this.src.n > 0 && !this.src.has(t, t.srcW0, t.srcW123, s, v6)) return false;
    if (this.dst.n > 0 && !this.dst.has(t, t.dstW0, t.dstW123, s, v6)) return false;
    return true;
  }

  /**
   * Writes into `out` (ascending) the slots of stored flows that overlap [fromRel, toRel] (table-relative ms)
   * and pass the filter; returns how many.
   */
  select(t: FlowTable, fromRel: number, toRel: number, out: Int32Array): number {
    // Each pass touches as few arrays as it can: V8 reloads every typed array's base and length on each
    // iteration, so one lookup table less is worth more than the extra pass over the survivors.
    const n = t.scanLimit;
    const { status, proto } = t;
    const protoOk = this.protoOk;
    let k = 0;
    if (this.hasPort) {
      k = portPass(t.srcPort, t.dstPort, this.ports, out, n);
      let m = 0;
      for (let i = 0; i < k; i++) {
        const s = out[i];
        out[m] = s;
        m += status[s] & F_LIVE & protoOk[proto[s]];
      }
      k = m;
    } else if (this.hasProto) {
      for (let s = 0; s < n; s++) {
        out[k] = s;
        k += status[s] & F_LIVE & protoOk[proto[s]];
      }
    } else {
      for (let s = 0; s < n; s++) {
        out[k] = s;
        k += status[s] & F_LIVE;
      }
    }
    k = selectTime(t, fromRel, toRel, out, k);
    if (this.any.n > 0) k = cidrPass(t, this.any, false, true, out, k);
    if (this.src.n > 0) k = cidrPass(t, this.src, false, false, out, k);
    if (this.dst.n > 0) k = cidrPass(t, this.dst, true, false, out, k);
    return k;
  }
}

/** Writes the slots below `n` whose ports pass the port map (`port` either end, `srcPort`, `dstPort`) to `out`. */
function portPass(srcPort: Uint16Array, dstPort: Uint16Array, map: Uint8Array, out: Int32Array, n: number): number {
  let k = 0;
  for (let s = 0; s < n; s++) {
    const x = map[srcPort[s]];
    const y = map[dstPort[s]];
    out[k] = s;
    k += (x | y) & PORT_ANY & (x >> 1) & (y >> 2);
  }
  return k;
}

/** Keeps the candidates overlapping [fromRel, toRel]. */
function selectTime(t: FlowTable, fromRel: number, toRel: number, out: Int32Array, k: number): number {
  const now = t.nowRel();
  // Skip a time column when no stored flow can fail it: nothing starts after the clock, and nothing stays
  // much older than retention (expiry runs every bucket, to the aging grain).
  const checkFirst = toRel < now;
  const checkLast = fromRel > now - t.retentionMs - t.bucketMs - 2048;
  if (!checkFirst && !checkLast) return k;
  const { firstRel, lastRel } = t;
  let m = 0;
  for (let i = 0; i < k; i++) {
    const s = out[i];
    out[m] = s;
    m += (firstRel[s] <= toRel ? 1 : 0) & (lastRel[s] >= fromRel ? 1 : 0);
  }
  return m;
}

/** Keeps the candidates whose initiator (or responder, with `dst`; or either, with `either`) lies in `set`. */
function cidrPass(t: FlowTable, set: CidrSet, dst: boolean, either: boolean, out: Int32Array, k: number): number {
  const status = t.status;
  const a0 = dst ? t.dstW0 : t.srcW0;
  const a123 = dst ? t.dstW123 : t.srcW123;
  const { dstW0, dstW123 } = t;
  let m = 0;
  for (let i = 0; i < k; i++) {
    const s = out[i];
    const v6 = (status[s] & F_V6) !== 0;
    out[m] = s;
    m += set.has(t, a0, a123, s, v6) || (either && set.has(t, dstW0, dstW123, s, v6)) ? 1 : 0;
  }
  return m;
}

// Candidate slots of the running query. Queries are synchronous, so one array per table serves them all
// instead of allocating (and zeroing) 4 bytes a flow per query.
const candidateArrays = new WeakMap<FlowTable, Int32Array>();

export function candidates(t: FlowTable): Int32Array {
  let a = candidateArrays.get(t);
  if (a === undefined) {
    a = new Int32Array(t.maxFlows);
    candidateArrays.set(t, a);
  }
  return a;
}

