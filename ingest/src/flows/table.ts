/**
 * The bidirectional flow table: every decoded packet lands here, so `add()` is the hot path of the service.
 *
 * Layout. Each flow is a slot number into struct-of-arrays storage on typed arrays, preallocated for
 * `maxFlows` and never grown; only the words 1-3 of IPv6 addresses (a pool, see srcW123) and the series log grow
 * with use, each up to a bound. A symmetric hash of the 5-tuple indexes slots through an open-addressing table
 * (linear probing, backward-shift deletion, load <= 0.7 when full). Per-packet work is integer arithmetic and
 * typed-array reads and writes: no allocation, no string keys, no closures.
 *
 * Aging. Flows sit on one of five doubly linked lists by timeout class (TCP, closed TCP, UDP, ICMP, other),
 * each kept in last-seen order (to the second, see AGE_GRAIN_SHIFT) by moving a flow to its tail when it sees
 * a packet. The heads are therefore the oldest flow of each class, which makes "evict the oldest idle flow"
 * and "expire everything past retention" O(1) per removed flow instead of a scan.
 *
 * Time. "Now" is the packet clock (the largest capture timestamp seen), so replaying a capture at full
 * speed ages flows as the original traffic did; a live capture passes wall time to `sweep()`. Times are
 * stored as Uint32 milliseconds from a table epoch (49 days of range; the epoch is moved forward when the
 * clock nears 2^31 ms, see `rebase`).
 *
 * Series. A ring of time buckets covers the retention window. Each bucket holds global totals. A log shared by
 * the flows records the buckets each has left: when a flow's first packet in a new bucket arrives, one entry (slot,
 * generation, the bucket it leaves, its byte and packet totals so far) is appended. A flow's traffic in a bucket
 * is therefore the difference of two consecutive entries, and in its latest bucket its totals minus its last
 * entry; a flow seen in one bucket only, as most are, costs no entry at all. The generation tells a query whether
 * the slot still holds the flow that wrote the entry. Nothing of this touches memory per packet beyond the
 * flow's own fields: an entry is written once per flow and bucket. A packet counts in the bucket of its flow's
 * last-seen time (its own, unless it arrives late), in the global totals as in the flow's series.
 */
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type DecodedPacket } from '../decode/packet';

/** Idle timeouts in milliseconds, per timeout class. */
export interface IdleTimeouts {
  /**
   * An open TCP connection. 300 s: Zeek's tcp_inactivity_timeout. softflowd's hour would keep dead
   * connections "active" for the whole default retention window.
   */
  tcp: number;
  /**
   * A TCP connection closed by FIN both ways or RST: how long it may still collect the last ACK or
   * retransmitted FINs before a later packet on its 5-tuple starts a new flow, and how soon it becomes an
   * idle eviction candidate. 30 s: half of Linux's 60 s TIME_WAIT, well above any retransmission of the
   * final segments.
   */
  tcpClosed: number;
  /** 60 s: Zeek's udp_inactivity_timeout. */
  udp: number;
  /** 60 s: Zeek's icmp_inactivity_timeout. */
  icmp: number;
  /** 60 s: like UDP; other protocols (GRE, ESP, ...) have no teardown the table could see. */
  other: number;
}

export interface FlowTableConfig {
  /** Capacity; the oldest idle flows are evicted beyond it. Default 1,000,000; at most 2^26 - 1. */
  maxFlows?: number;
  /** How long a flow stays queryable after its last packet. Default 3,600,000 (1 h). */
  retentionMs?: number;
  /** Time-bucket width of the series. Default 10,000 (10 s). */
  bucketMs?: number;
  /** Defaults in {@link IdleTimeouts}: tcp 300 s, tcpClosed 30 s, udp/icmp/other 60 s. */
  idleTimeoutMs?: Partial<IdleTimeouts>;
  /**
   * Most entries of the series log (24 bytes an entry, see Series above), shared by all buckets of the window as
   * a ring that grows by doubling as needed up to this bound. Default 2 * maxFlows: every flow of a full table
   * leaving two buckets inside the window. Past it the oldest entries are lost and counted in `bucketLogDrops`;
   * global bucket totals stay exact, and so do the series of flows first seen after the last loss.
   */
  bucketLogEntries?: number;
  /**
   * Called with a flow's slot just before the table drops it to make room (`evicted`) or because it is past
   * retention (`expired`), while its fields are still readable. The offline `flows` command prints flows from
   * here, so a capture of any length goes through a bounded table. Must not call back into the table.
   */
  onRemove?: (slot: number, reason: FlowRemoval) => void;
  /**
   * Keep the per-bucket series (default true). The offline `flows` command has no series to answer and turns
   * them off: the bucket log is the part of add() that touches memory beyond the flow's own fields.
   */
  series?: boolean;
  /**
   * Keep the per-flow columns on SharedArrayBuffers, so another thread can read them: the offline `flows`
   * command formats half of its output on its reader thread once the pass is over. Default false.
   */
  shared?: boolean;
}

/** The per-flow columns another thread can be given to read (see FlowTableConfig.shared). */
export const FLOW_COLUMNS = [
  'status',
  'proto',
  'srcW0',
  'srcW123',
  'dstW0',
  'dstW123',
  'v6Slot',
  'srcPort',
  'dstPort',
  'tcpFlagsFwd',
  'tcpFlagsRev',
  'packetsFwd',
  'packetsRev',
  'bytesFwd',
  'bytesRev',
  'firstRel',
  'lastRel',
] as const;

export type FlowRemoval = 'evicted' | 'expired';

export const FLOW_TABLE_DEFAULTS = {
  maxFlows: 1_000_000,
  retentionMs: 3_600_000,
  bucketMs: 10_000,
  idleTimeoutMs: { tcp: 300_000, tcpClosed: 30_000, udp: 60_000, icmp: 60_000, other: 60_000 } as Readonly<IdleTimeouts>,
} as const;

/** The part of the service logger the table uses (pino's `warn(obj, msg)`). */
export interface FlowTableLogger {
  warn(obj: object, msg: string): void;
}

export interface FlowTableCounters {
  packets: number;
  bytes: number;
  flowsCreated: number;
  /** Flows currently stored (open, idle and closed alike). */
  flowsActive: number;
  /** Flows removed to make room at capacity. */
  evictions: number;
  /** Flows removed because their last packet is older than the retention window. */
  expired: number;
  /** Flows that reached Closed (FIN both ways or RST). */
  closed: number;
  bucketLogDrops: number;
  fillRatio: number;
}

export interface FlowTableMemory {
  /** Per-flow storage plus the hash index: what grows with maxFlows. */
  flows: number;
  /** The series log as allocated now (it grows with the flows that span buckets). */
  bucketLog: number;
  /** What the series log may grow to (`bucketLogEntries`). */
  bucketLogLimit: number;
  /** The bucket ring's global totals. */
  buckets: number;
}

/** Bits of the per-slot `status` byte. */
export const F_LIVE = 1;
export const F_CLOSED = 2;
export const F_V6 = 4;
/** The hash index points at this slot (a closed flow replaced by a new one on its 5-tuple does not). */
export const F_INDEXED = 8;
/** A pure SYN has fixed the initiator; later SYNs from the other side (simultaneous open) do not swap it. */
export const F_SYN = 16;

/** Timeout classes: one aging list each. */
export const CLASS_TCP = 0;
export const CLASS_CLOSED = 1;
export const CLASS_UDP = 2;
export const CLASS_ICMP = 3;
export const CLASS_OTHER = 4;
const CLASSES = 5;

export const FLOW_ACTIVE = 0;
export const FLOW_IDLE = 1;
export const FLOW_CLOSED = 2;

// Index entries are (tag << 26) | slot: the tag (5 low bits of the hash) rejects most non-matching probes
// without touching the flow arrays, which are cache misses at a million flows.
const SLOT_BITS = 26;
const SLOT_MASK = (1 << SLOT_BITS) - 1;
const TAG_MASK = 31;
const MAX_LOAD = 0.7;
/**
 * Index positions to start with; the index doubles as flows arrive (growIndex). Small, so that the first growth
 * comes within the first few hundred flows, before V8 optimises create(): optimised code deoptimises on a branch
 * it has never seen taken.
 */
const INITIAL_INDEX = 256;
/** IPv6 word pool entries to start with (see srcW123). */
const INITIAL_V6 = 1024;
/** Series log entries to start with; the log doubles as needed (growLog). */
const INITIAL_LOG = 4096;
const ENTRY_BYTES = 24;
const U32_MAX = 0xffffffff;
/**
 * Aging lists are ordered by last-seen in grains of 2^10 ms (about 1 s): eviction and retention pick the oldest
 * flow to within a second, which nobody can tell apart, at a fraction of the per-packet cost.
 */
const AGE_GRAIN_SHIFT = 10;
/** Rebase the epoch once the clock is this far past it, long before Uint32 milliseconds overflow. */
const REBASE_AT_MS = 2 ** 31;
const NO_TIME = -1;
// Indexes into FlowTable.nums.
const CLOCK = 0;
const BYTES = 1;
const PACKETS = 2;
const PACKET_TS = 3;

// Builtins bound once at module scope. Jest runs modules in a vm context, where each global lookup (`Math`)
// goes through the context's interceptor: that made the hash 300 times slower under test. In plain Node the
// alias costs nothing.
const imul = Math.imul;
const floor = Math.floor;

function classOfProtocol(proto: number): number {
  if (proto === 6) return CLASS_TCP;
  if (proto === 17) return CLASS_UDP;
  if (proto === 1 || proto === 58) return CLASS_ICMP;
  return CLASS_OTHER;
}

/**
 * Hash of one endpoint. The flow hash adds the two endpoint hashes, so it is the same for both directions;
 * addition rather than XOR keeps flows between an address and itself distinct. Each endpoint goes through a
 * multiply-xorshift step of its own before the sum: a sum of linear terms would make (A:p, B:q) and (A:q, B:p)
 * collide. IPv6 words 1-3 are folded in only when present, so an IPv4 key costs two multiplications an end.
 */
function endpointHash(a0: number, a1: number, a2: number, a3: number, port: number, v6: boolean): number {
  let h = a0 ^ imul(port + 0x7f4a7c15, 0x9e3779b1);
  if (v6) h ^= imul(a1, 0x85ebca6b) ^ imul(a2, 0xc2b2ae35) ^ imul(a3, 0x27d4eb2f);
  h = imul(h ^ (h >>> 16), 0x7feb352d);
  return imul(h ^ (h >>> 15), 0x846ca68b);
}

/** murmur3's 32-bit finalizer over the combined endpoints and the non-directional part of the key. */
function finishHash(endpoints: number, extra: number): number {
  let h = (endpoints + imul(extra, 0x9e3779b1)) | 0;
  h = imul(h ^ (h >>> 16), 0x85ebca6b);
  h = imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** The index hash of a key whose ICMP type is already mapped (icmpKeyType); address words as int32. */
function keyHashOf(v6: boolean, icmp: boolean, proto: number, sp: number, dp: number, s0: number, s1: number, s2: number, s3: number, d0: number, d1: number, d2: number, d3: number): number {
  if (icmp) {
    const e = endpointHash(s0, s1, s2, s3, 0, v6) + endpointHash(d0, d1, d2, d3, 0, v6);
    return finishHash(e, (sp << 8) | dp | (proto << 16) | (v6 ? 1 << 24 : 0));
  }
  const e = endpointHash(s0, s1, s2, s3, sp, v6) + endpointHash(d0, d1, d2, d3, dp, v6);
  return finishHash(e, proto | (v6 ? 1 << 24 : 0));
}

/**
 * The hash FlowTable.addFields expects with a packet's fields (address words as int32): the same for both
 * directions of a flow. Exported so that the thread that decodes the packets can compute it.
 */
export function flowHash(v6: boolean, proto: number, srcPort: number, dstPort: number, s0: number, s1: number, s2: number, s3: number, d0: number, d1: number, d2: number, d3: number): number {
  const icmp = proto === 1 || proto === 58;
  return keyHashOf(v6, icmp, proto, icmp ? icmpKeyType(proto, srcPort) : srcPort, dstPort, s0, s1, s2, s3, d0, d1, d2, d3);
}

/** Whether words 1-3 of an address, at `b` of a pool array, are (w1, w2, w3). */
function eq123(a: Uint32Array, b: number, w1: number, w2: number, w3: number): boolean {
  return (a[b] | 0) === w1 && (a[b + 1] | 0) === w2 && (a[b + 2] | 0) === w3;
}

/**
 * ICMP carries type/code in the port fields (as Zeek does). An echo reply is keyed by its request's type so
 * that request and reply meet in one flow, as Zeek pairs them (`ICMP4_counterpart`); other types are flows of
 * their own. DecodedPacket has no echo identifier, so all echo exchanges between two hosts share a flow.
 */
function icmpKeyType(proto: number, type: number): number {
  if (proto === 1) return type === 0 ? 8 : type;
  return type === 129 ? 128 : type;
}

export class FlowTable {
  readonly maxFlows: number;
  readonly retentionMs: number;
  readonly bucketMs: number;
  readonly idleTimeoutMs: Readonly<IdleTimeouts>;
  /** Timeout per class, indexed by CLASS_*. */
  readonly classTimeoutMs: Float64Array;

  // Per-flow storage, read directly by queries.ts and snapshot.ts (same component); only this class writes it.
  /** F_* bits; 0 is a free slot. */
  readonly status: Uint8Array;
  readonly proto: Uint8Array;
  /**
   * Initiator address, word 0: all of an IPv4 address, the top of an IPv6 one. A column of its own (words 1-3
   * elsewhere) so a CIDR scan streams 4 bytes a flow and an IPv4 key compare touches one cache line.
   */
  readonly srcW0: Uint32Array;
  readonly dstW0: Uint32Array;
  /**
   * Words 1-3 of the addresses of IPv6 flows, 3 per entry of a pool that grows with the IPv6 flows stored (up to
   * maxFlows): an IPv4 flow, most of any real mix, costs them no memory. A flow's entry is `v6Slot[slot]`
   * (see v6Base); `addrWord` reads through it. While an entry is free its first word links the free list.
   */
  srcW123: Uint32Array;
  dstW123: Uint32Array;
  /** Pool entry of an IPv6 flow's words 1-3; meaningless for IPv4 flows. */
  readonly v6Slot: Int32Array;
  /** Ports; for ICMP the request type and the code. */
  readonly srcPort: Uint16Array;
  readonly dstPort: Uint16Array;
  readonly tcpFlagsFwd: Uint8Array;
  readonly tcpFlagsRev: Uint8Array;
  /** Saturating at 2^32 - 1. */
  readonly packetsFwd: Uint32Array;
  readonly packetsRev: Uint32Array;
  readonly bytesFwd: Float64Array;
  readonly bytesRev: Float64Array;
  /** Milliseconds since `epochMs`. */
  readonly firstRel: Uint32Array;
  readonly lastRel: Uint32Array;
  /** Incremented each time a slot is reused, so bucket log entries of an earlier flow are recognised. */
  readonly gen: Uint32Array;
  private readonly prev: Int32Array;
  /** Entries of the IPv6 word pool: allocated, ever used, head of the free list (-1 if empty). */
  private v6Cap: number;
  private v6High = 0;
  private v6Free = -1;
  /** Allocates a Uint32Array, shared or not as the table's columns are (for the pool's growth). */
  private readonly u32: (len: number) => Uint32Array;
  /** Aging-list successor, or the next free slot while the slot is free. */
  private readonly next: Int32Array;
  /** Open-addressing index of the flows, grown by doubling up to `maxIndexSize` (see growIndex). */
  private index: Int32Array;
  private indexSize: number;
  private readonly maxIndexSize: number;
  /** Flow count at which the index grows next (Infinity once it has its full size). */
  private growAt: number;
  private readonly listHead = new Int32Array(CLASSES).fill(-1);
  private readonly listTail = new Int32Array(CLASSES).fill(-1);

  // Bucket ring.
  readonly bucketCount: number;
  /** Absolute bucket number (floor(ms / bucketMs)) held by each ring slot, -1 if unused. */
  private readonly bucketNo: Float64Array;
  private readonly bucketBytes: Float64Array;
  private readonly bucketPackets: Float64Array;
  private readonly bucketNewFlows: Float64Array;
  /** Log sequence number of each bucket's first entry. */
  private readonly bucketStart: Float64Array;
  private curBucket = -1;
  /** Epoch µs at which the bucket after the current one starts. */
  private nextBucketUs = -Infinity;
  private curRing = 0;
  /** Table-relative ms at which the current bucket starts: a packet at or after it is in the current bucket. */
  private curStartRel = 0;
  private oldestLiveSeq = 0;

  // Series log: a ring of entries in the order they were written (see Series above), grown up to logLimit.
  /** Entries the ring holds now: a power of two. */
  logCapacity: number;
  readonly logLimit: number;
  entSlot: Int32Array;
  entGen: Uint32Array;
  /** The bucket the flow left, as its absolute number modulo 2^32 (see entryBucket). */
  entBucket: Uint32Array;
  /** The flow's bytes and packets (both directions, packets saturating at 2^32 - 1) up to the end of that bucket. */
  entBytes: Float64Array;
  entPackets: Uint32Array;
  /** Entries ever appended; entry `seq` lives at ring position seq % logCapacity. */
  private logSeq = 0;
  /** Table-relative ms of the last entry written when the log dropped a live one, -1 if it never did. */
  private dropRel = -1;

  private count = 0;
  private highWater = 0;
  private freeHead = -1;
  /**
   * Per-packet doubles in a typed array rather than in fields: V8 boxes a double stored in an object field in a
   * heap number, and a new one per packet cost a minor GC every 30,000 packets. [clock µs, bytes, packets, the
   * timestamp of the packet being added (passed to account() here: as an argument it would be boxed too)].
   */
  private readonly nums = Float64Array.of(NO_TIME, 0, 0, 0);
  private epoch = NO_TIME;
  private warned = false;
  private readonly warnAt: number;
  private readonly rearmAt: number;
  private readonly onRemove: ((slot: number, reason: FlowRemoval) => void) | null;
  private readonly series: boolean;

  private nCreated = 0;
  private nEvictions = 0;
  private nExpired = 0;
  private nClosed = 0;
  private nLogDrops = 0;

  // The key of the packet being added, so lookups take no arguments and allocate nothing.
  private kV6 = false;
  private kProto = 0;
  private kIcmp = false;
  private kIcmpReply = false;
  private kS0 = 0;
  private kS1 = 0;
  private kS2 = 0;
  private kS3 = 0;
  private kD0 = 0;
  private kD1 = 0;
  private kD2 = 0;
  private kD3 = 0;
  private kSp = 0;
  private kDp = 0;
  /** Index position where the last lookup stopped: the match, or the empty position to insert at. */
  private probePos = 0;
  /** Whether the last lookup matched the flow in its own direction (the key's source is the flow's initiator). */
  private probeSame = false;

  constructor(
    config: FlowTableConfig = {},
    private readonly logger?: FlowTableLogger,
  ) {
    const maxFlows = config.maxFlows ?? FLOW_TABLE_DEFAULTS.maxFlows;
    if (!Number.isInteger(maxFlows) || maxFlows < 1 || maxFlows > SLOT_MASK - 1) {
      throw new RangeError(`maxFlows must be an integer 1..${SLOT_MASK - 1}, got ${maxFlows}`);
    }
    this.maxFlows = maxFlows;
    this.retentionMs = config.retentionMs ?? FLOW_TABLE_DEFAULTS.retentionMs;
    this.bucketMs = config.bucketMs ?? FLOW_TABLE_DEFAULTS.bucketMs;
    if (!(this.bucketMs >= 1) || !(this.retentionMs >= this.bucketMs)) {
      throw new RangeError(`need 1 <= bucketMs <= retentionMs, got bucketMs ${this.bucketMs}, retentionMs ${this.retentionMs}`);
    }
    this.idleTimeoutMs = { ...FLOW_TABLE_DEFAULTS.idleTimeoutMs, ...config.idleTimeoutMs };
    const t = this.idleTimeoutMs;
    this.classTimeoutMs = Float64Array.of(t.tcp, t.tcpClosed, t.udp, t.icmp, t.other);
    this.onRemove = config.onRemove ?? null;
    this.series = config.series ?? true;
    this.warnAt = Math.ceil(maxFlows * 0.8);
    // Re-arm well below the threshold so a table hovering at 80 % logs once, not on every flow.
    this.rearmAt = floor(maxFlows * 0.7);

    const n = maxFlows;
    const shared = config.shared === true;
    const u8 = (len: number) => (shared ? new Uint8Array(new SharedArrayBuffer(len)) : new Uint8Array(len));
    const u16 = (len: number) => (shared ? new Uint16Array(new SharedArrayBuffer(2 * len)) : new Uint16Array(len));
    const u32 = (len: number) => (shared ? new Uint32Array(new SharedArrayBuffer(4 * len)) : new Uint32Array(len));
    const f64 = (len: number) => (shared ? new Float64Array(new SharedArrayBuffer(8 * len)) : new Float64Array(len));
    this.status = u8(n);
    this.proto = u8(n);
    this.srcW0 = u32(n);
    this.dstW0 = u32(n);
    this.v6Cap = Math.min(n, INITIAL_V6);
    this.srcW123 = u32(3 * this.v6Cap);
    this.dstW123 = u32(3 * this.v6Cap);
    this.v6Slot = shared ? new Int32Array(new SharedArrayBuffer(4 * n)) : new Int32Array(n);
    this.u32 = u32;
    this.srcPort = u16(n);
    this.dstPort = u16(n);
    this.tcpFlagsFwd = u8(n);
    this.tcpFlagsRev = u8(n);
    this.packetsFwd = u32(n);
    this.packetsRev = u32(n);
    this.bytesFwd = f64(n);
    this.bytesRev = f64(n);
    this.firstRel = u32(n);
    this.lastRel = u32(n);
    this.gen = new Uint32Array(n);
    this.prev = new Int32Array(n);
    this.next = new Int32Array(n);
    // Not a power of two: ceil(n / 0.7) instead of the next power of two saves 2.7 bytes a flow at 1M.
    this.maxIndexSize = Math.max(8, Math.ceil(n / MAX_LOAD));
    this.indexSize = Math.min(this.maxIndexSize, INITIAL_INDEX);
    this.index = new Int32Array(this.indexSize).fill(-1);
    this.growAt = this.indexSize === this.maxIndexSize ? Infinity : floor(this.indexSize * MAX_LOAD);

    this.bucketCount = Math.ceil(this.retentionMs / this.bucketMs) + 1;
    this.bucketNo = new Float64Array(this.bucketCount).fill(-1);
    this.bucketBytes = new Float64Array(this.bucketCount);
    this.bucketPackets = new Float64Array(this.bucketCount);
    this.bucketNewFlows = new Float64Array(this.bucketCount);
    this.bucketStart = new Float64Array(this.bucketCount);

    this.logLimit = config.series === false ? 16 : Math.max(16, config.bucketLogEntries ?? 2 * n);
    this.logCapacity = Math.min(INITIAL_LOG, 2 ** Math.ceil(Math.log2(this.logLimit)));
    this.entSlot = new Int32Array(this.logCapacity);
    this.entGen = new Uint32Array(this.logCapacity);
    this.entBucket = new Uint32Array(this.logCapacity);
    this.entBytes = new Float64Array(this.logCapacity);
    this.entPackets = new Uint32Array(this.logCapacity);
  }

  /** The table clock: the largest packet timestamp seen or time passed to `sweep`, epoch µs (0 before any). */
  nowUs(): number {
    return this.nums[CLOCK] === NO_TIME ? 0 : this.nums[CLOCK];
  }

  /** Epoch milliseconds that stored `firstRel`/`lastRel` values count from. */
  get epochMs(): number {
    return this.epoch === NO_TIME ? 0 : this.epoch;
  }

  /** The clock in table-relative milliseconds. */
  nowRel(): number {
    return this.nums[CLOCK] === NO_TIME ? 0 : floor(this.nums[CLOCK] / 1000) - this.epochMs;
  }

  /** Slots in use are all below this bound: queries scan [0, scanLimit). */
  get scanLimit(): number {
    return this.highWater;
  }

  get size(): number {
    return this.count;
  }

  get fillRatio(): number {
    return this.count / this.maxFlows;
  }

  /** True while the table is at least 80 % full (the metric behind the one-time warning). */
  get warning80(): boolean {
    return this.count >= this.warnAt;
  }

  counters(): FlowTableCounters {
    return {
      packets: this.nums[PACKETS],
      bytes: this.nums[BYTES],
      flowsCreated: this.nCreated,
      flowsActive: this.count,
      evictions: this.nEvictions,
      expired: this.nExpired,
      closed: this.nClosed,
      bucketLogDrops: this.nLogDrops,
      fillRatio: this.fillRatio,
    };
  }

  memory(): FlowTableMemory {
    const flows =
      this.status.byteLength +
      this.proto.byteLength +
      this.srcW0.byteLength +
      this.srcW123.byteLength +
      this.dstW0.byteLength +
      this.dstW123.byteLength +
      this.v6Slot.byteLength +
      this.srcPort.byteLength +
      this.dstPort.byteLength +
      this.tcpFlagsFwd.byteLength +
      this.tcpFlagsRev.byteLength +
      this.packetsFwd.byteLength +
      this.packetsRev.byteLength +
      this.bytesFwd.byteLength +
      this.bytesRev.byteLength +
      this.firstRel.byteLength +
      this.lastRel.byteLength +
      this.gen.byteLength +
      this.prev.byteLength +
      this.next.byteLength +
      // The index at the size it grows to: what the table is bounded by, not what it uses while far from full.
      this.maxIndexSize * Int32Array.BYTES_PER_ELEMENT;
    const bucketLog = this.logCapacity * ENTRY_BYTES;
    const buckets = 5 * this.bucketNo.byteLength;
    return { flows, bucketLog, bucketLogLimit: 2 ** Math.ceil(Math.log2(this.logLimit)) * ENTRY_BYTES, buckets };
  }

  /** Word k (0-3, big-endian order) of a flow's initiator address, or of its responder's when `dst`. */
  addrWord(dst: boolean, slot: number, k: number): number {
    if (k === 0) return dst ? this.dstW0[slot] : this.srcW0[slot];
    if ((this.status[slot] & F_V6) === 0) return 0;
    return (dst ? this.dstW123 : this.srcW123)[this.v6Slot[slot] * 3 + k - 1];
  }

  /** Index of an IPv6 flow's word 1 in srcW123/dstW123 (words 2 and 3 follow). */
  v6Base(slot: number): number {
    return this.v6Slot[slot] * 3;
  }

  /** Active, idle or closed (FLOW_*) at the table clock. */
  flowState(slot: number, nowRel = this.nowRel()): number {
    const st = this.status[slot];
    if ((st & F_CLOSED) !== 0) return FLOW_CLOSED;
    return nowRel - this.lastRel[slot] > this.classTimeoutMs[classOfProtocol(this.proto[slot])] ? FLOW_IDLE : FLOW_ACTIVE;
  }

  /** Accounts one packet. */
  add(p: DecodedPacket): void {
    const s = p.src;
    const d = p.dst;
    // Key words as int32 (what `| 0` makes of a Uint32Array element): small integers to V8, where uint32 values
    // above 2^31 would be doubles, boxed on every store to a field.
    this.setKey(p.family === 6, p.protocol, p.srcPort, p.dstPort, s[0] | 0, s[1] | 0, s[2] | 0, s[3] | 0, d[0] | 0, d[1] | 0, d[2] | 0, d[3] | 0);
    this.nums[PACKET_TS] = p.tsUs;
    this.account(p.tcpFlags, p.wireLength, this.keyHash());
  }

  /**
   * Accounts one packet given as its fields (address words as int32) and its `flowHash`, computed where it was
   * decoded: the offline pass hands packets over from its reader thread this way (packet-ring.ts). @internal
   */
  addFields(
    v6: boolean,
    proto: number,
    tcpFlags: number,
    srcPort: number,
    dstPort: number,
    wireLength: number,
    tsUs: number,
    s0: number,
    s1: number,
    s2: number,
    s3: number,
    d0: number,
    d1: number,
    d2: number,
    d3: number,
    hash: number,
  ): void {
    this.setKey(v6, proto, srcPort, dstPort, s0, s1, s2, s3, d0, d1, d2, d3);
    this.nums[PACKET_TS] = tsUs;
    this.account(tcpFlags, wireLength, hash);
  }

  /** The key of the packet being added, in the k* fields (ICMP echo replies keyed by their request's type). */
  private setKey(v6: boolean, proto: number, srcPort: number, dstPort: number, s0: number, s1: number, s2: number, s3: number, d0: number, d1: number, d2: number, d3: number): void {
    const icmp = proto === 1 || proto === 58;
    let sp = srcPort;
    let icmpReply = false;
    if (icmp) {
      const t = icmpKeyType(proto, sp);
      icmpReply = t !== sp;
      sp = t;
    }
    this.kV6 = v6;
    this.kProto = proto;
    this.kIcmp = icmp;
    this.kIcmpReply = icmpReply;
    this.kS0 = s0;
    this.kS1 = s1;
    this.kS2 = s2;
    this.kS3 = s3;
    this.kD0 = d0;
    this.kD1 = d1;
    this.kD2 = d2;
    this.kD3 = d3;
    this.kSp = sp;
    this.kDp = dstPort;
  }

  /** Accounts the packet whose key setKey has set and whose time is in nums; `h` is keyHash() of that key. */
  private account(tcpFlags: number, wl: number, h: number): void {
    const tsUs = this.nums[PACKET_TS];
    const tsMs = floor(tsUs / 1000);
    if (this.epoch === NO_TIME) this.epoch = tsMs - this.retentionMs;
    if (tsUs > this.nums[CLOCK]) {
      this.nums[CLOCK] = tsUs;
      // One comparison per packet instead of two divisions: the bucket number changes once per bucket.
      if (tsUs >= this.nextBucketUs) this.advance(floor(tsMs / this.bucketMs));
    }
    let rel = tsMs - this.epoch;
    if (rel < 0) rel = 0;
    else if (rel > U32_MAX) rel = U32_MAX;

    const proto = this.kProto;
    const isTcp = proto === 6;
    const icmp = this.kIcmp;
    const icmpReply = this.kIcmpReply;
    const flags = isTcp ? tcpFlags : 0;
    const pureSyn = isTcp && (flags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN;

    let slot = this.lookup(h);
    if (slot >= 0) {
      const age = rel - this.lastRel[slot];
      if ((this.status[slot] & F_CLOSED) !== 0) {
        if (pureSyn || age > this.classTimeoutMs[CLASS_CLOSED]) slot = -1;
      } else if (age > this.classTimeoutMs[classOfProtocol(proto)] && (pureSyn || !isTcp)) {
        // An idle TCP connection resumed without a SYN is still the same connection; a new SYN, or any packet
        // of a connectionless protocol after its timeout, is a new flow (Zeek and NetFlow exporters alike).
        slot = -1;
      }
    }
    let created = false;
    if (slot < 0) {
      const reverse = isTcp ? (flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK) : icmpReply;
      slot = this.create(h, rel, reverse, pureSyn);
      created = true;
    }

    // Direction of this packet relative to the flow's initiator: for a stored flow, the way the lookup matched it
    // (the key in its own direction is tried first, so a flow between an address and port and itself is forward).
    let fwd: boolean;
    if (!created) {
      // Pings to oneself have both ends equal: only the type tells the direction.
      fwd = this.probeSame && (!icmp || !this.selfKey() || !icmpReply);
    } else {
      const v6 = this.kV6;
      const fromSrc = (this.srcW0[slot] | 0) === this.kS0 && (!v6 || eq123(this.srcW123, this.v6Base(slot), this.kS1, this.kS2, this.kS3));
      if (icmp) {
        const toSrc = (this.dstW0[slot] | 0) === this.kS0 && (!v6 || eq123(this.dstW123, this.v6Base(slot), this.kS1, this.kS2, this.kS3));
        fwd = fromSrc && toSrc ? !icmpReply : fromSrc;
      } else {
        fwd = fromSrc && this.srcPort[slot] === this.kSp;
      }
    }
    let st = this.status[slot];
    if (pureSyn && (st & F_SYN) === 0) {
      if (!fwd) {
        this.swapDirection(slot);
        fwd = true;
      }
      st |= F_SYN;
      this.status[slot] = st;
    }

    const prevLast = this.lastRel[slot];
    const newLast = rel > prevLast ? rel : prevLast;
    if (this.series) {
      // The packet counts in the bucket of the flow's last-seen time: its own for packets in order, so global
      // totals and the flow's series agree even for a packet that arrives late.
      const inCurrent = newLast >= this.curStartRel;
      if (!created && (inCurrent ? prevLast < this.curStartRel : this.bucketOfRel(prevLast) !== this.bucketOfRel(newLast))) {
        const pk = this.packetsFwd[slot] + this.packetsRev[slot];
        this.appendEntry(slot, this.bucketOfRel(prevLast), this.bytesFwd[slot] + this.bytesRev[slot], pk > U32_MAX ? U32_MAX : pk);
      }
      const ring = inCurrent ? this.curRing : this.ringOfRel(newLast);
      this.bucketBytes[ring] += wl;
      this.bucketPackets[ring]++;
    }
    if (fwd) {
      const c = this.packetsFwd[slot];
      if (c !== U32_MAX) this.packetsFwd[slot] = c + 1;
      this.bytesFwd[slot] += wl;
      this.tcpFlagsFwd[slot] |= flags;
    } else {
      const c = this.packetsRev[slot];
      if (c !== U32_MAX) this.packetsRev[slot] = c + 1;
      this.bytesRev[slot] += wl;
      this.tcpFlagsRev[slot] |= flags;
    }
    let moved = false;
    if (rel > prevLast) {
      this.lastRel[slot] = rel;
      // Re-queue only when last-seen enters a new aging grain: the lists stay sorted by grain, and a busy
      // flow costs one list move a second instead of one per packet (each move touches two neighbours).
      moved = !created && rel >>> AGE_GRAIN_SHIFT !== prevLast >>> AGE_GRAIN_SHIFT;
    } else if (rel < this.firstRel[slot]) {
      this.firstRel[slot] = rel;
    }

    if (isTcp && (st & F_CLOSED) === 0 && ((flags & TCP_RST) !== 0 || (this.tcpFlagsFwd[slot] & this.tcpFlagsRev[slot] & TCP_FIN) !== 0)) {
      this.unlink(slot, CLASS_TCP);
      this.status[slot] = st | F_CLOSED;
      this.append(slot, CLASS_CLOSED);
      this.nClosed++;
    } else if (moved) {
      const c = (st & F_CLOSED) !== 0 ? CLASS_CLOSED : classOfProtocol(proto);
      if (this.listTail[c] !== slot) {
        this.unlink(slot, c);
        this.append(slot, c);
      }
    }

    this.nums[PACKETS]++;
    this.nums[BYTES] += wl;
  }

  /**
   * Advances the clock to `nowUs` if it is later (wall time for a live capture; omit it when replaying) and
   * removes flows past retention. Work is proportional to the flows removed. Also runs on its own whenever
   * the packet clock enters a new bucket.
   */
  sweep(nowUs?: number): void {
    if (nowUs !== undefined && nowUs > this.nums[CLOCK]) this.nums[CLOCK] = nowUs;
    if (this.nums[CLOCK] === NO_TIME) return;
    const nowMs = floor(this.nums[CLOCK] / 1000);
    if (this.epoch === NO_TIME) this.epoch = nowMs - this.retentionMs;
    const bno = floor(nowMs / this.bucketMs);
    if (bno > this.curBucket) this.advance(bno);
    else this.expire();
  }

  /** Absolute bucket number of the current bucket, -1 before any packet. */
  get currentBucket(): number {
    return this.curBucket;
  }

  /** Ring slot of absolute bucket `bno`, or -1 when it is outside the window or was never opened. */
  ringIndex(bno: number): number {
    if (this.curBucket < 0 || bno > this.curBucket || bno <= this.curBucket - this.bucketCount) return -1;
    const i = bno % this.bucketCount;
    return this.bucketNo[i] === bno ? i : -1;
  }

  /** Global totals of a bucket (ring slot from `ringIndex`), exact even when flows or log entries are gone. */
  bucketTotals(ring: number): { bytes: number; packets: number; newFlows: number } {
    return { bytes: this.bucketBytes[ring], packets: this.bucketPackets[ring], newFlows: this.bucketNewFlows[ring] };
  }

  /**
   * The log entries written while a bucket was the current one and still in the log, as sequence numbers
   * [start, end): position = seq & (logCapacity - 1). An entry belongs to a live flow only if entGen matches
   * gen[entSlot].
   */
  bucketEntries(ring: number): { start: number; end: number } {
    const bno = this.bucketNo[ring];
    const start = Math.max(this.bucketStart[ring], this.oldestLiveSeq);
    const end = bno === this.curBucket ? this.logSeq : this.bucketStart[(bno + 1) % this.bucketCount];
    return { start, end: Math.max(start, end) };
  }

  // ---- internals ----

  private keyHash(): number {
    return keyHashOf(this.kV6, this.kIcmp, this.kProto, this.kSp, this.kDp, this.kS0, this.kS1, this.kS2, this.kS3, this.kD0, this.kD1, this.kD2, this.kD3);
  }

  /** The hash a stored flow was indexed under (same function as keyHash, from the slot's fields). */
  private slotHash(slot: number): number {
    const v6 = (this.status[slot] & F_V6) !== 0;
    // IPv4 flows read pool entry 0 through a zero base, but endpointHash ignores words 1-3 for them.
    const b = v6 ? this.v6Base(slot) : 0;
    const a = this.srcW123;
    const z = this.dstW123;
    const a0 = this.srcW0[slot] | 0;
    const z0 = this.dstW0[slot] | 0;
    const proto = this.proto[slot];
    const v6bit = v6 ? 1 << 24 : 0;
    if (proto === 1 || proto === 58) {
      const e = endpointHash(a0, a[b] | 0, a[b + 1] | 0, a[b + 2] | 0, 0, v6) + endpointHash(z0, z[b] | 0, z[b + 1] | 0, z[b + 2] | 0, 0, v6);
      return finishHash(e, (this.srcPort[slot] << 8) | this.dstPort[slot] | (proto << 16) | v6bit);
    }
    const e =
      endpointHash(a0, a[b] | 0, a[b + 1] | 0, a[b + 2] | 0, this.srcPort[slot], v6) + endpointHash(z0, z[b] | 0, z[b + 1] | 0, z[b + 2] | 0, this.dstPort[slot], v6);
    return finishHash(e, proto | v6bit);
  }

  private home(h: number): number {
    // Lemire's multiply-shift range reduction: no power-of-two size needed. Scaling by 2^-32 is exact, so this is
    // floor(h * size / 2^32) without a division; the result is below size < 2^27, so `| 0` floors it.
    return ((h >>> 0) * this.indexSize * 2.3283064365386963e-10) | 0;
  }

  /** Whether the flow in `slot` has the current key, in either direction. */
  private keyMatches(slot: number): boolean {
    if (this.proto[slot] !== this.kProto) return false;
    const a0 = this.srcW0[slot] | 0;
    const z0 = this.dstW0[slot] | 0;
    const sp = this.srcPort[slot];
    const dp = this.dstPort[slot];
    const v6 = this.kV6;
    if (((this.status[slot] & F_V6) !== 0) !== v6) return false;
    if (this.kIcmp) {
      // ICMP "ports" are (request type, code) whichever way the packet went.
      if (sp !== this.kSp || dp !== this.kDp) return false;
      if (a0 === this.kS0 && z0 === this.kD0 && (!v6 || this.v6Same(slot))) return (this.probeSame = true);
      this.probeSame = false;
      return a0 === this.kD0 && z0 === this.kS0 && (!v6 || this.v6Swapped(slot));
    }
    if (a0 === this.kS0 && z0 === this.kD0 && sp === this.kSp && dp === this.kDp && (!v6 || this.v6Same(slot))) return (this.probeSame = true);
    this.probeSame = false;
    return a0 === this.kD0 && z0 === this.kS0 && sp === this.kDp && dp === this.kSp && (!v6 || this.v6Swapped(slot));
  }

  /** Whether the key's two addresses are the same. */
  private selfKey(): boolean {
    return this.kS0 === this.kD0 && this.kS1 === this.kD1 && this.kS2 === this.kD2 && this.kS3 === this.kD3;
  }

  /** IPv6 words 1-3 of the slot equal the key's, in the key's direction. */
  private v6Same(slot: number): boolean {
    const b = this.v6Base(slot);
    return eq123(this.srcW123, b, this.kS1, this.kS2, this.kS3) && eq123(this.dstW123, b, this.kD1, this.kD2, this.kD3);
  }

  private v6Swapped(slot: number): boolean {
    const b = this.v6Base(slot);
    return eq123(this.srcW123, b, this.kD1, this.kD2, this.kD3) && eq123(this.dstW123, b, this.kS1, this.kS2, this.kS3);
  }

  /** Slot of the indexed flow with the current key, or -1; `probePos` is left at the match or the free position. */
  private lookup(h: number): number {
    const index = this.index;
    const size = this.indexSize;
    const tag = h & TAG_MASK;
    let i = this.home(h);
    for (;;) {
      const e = index[i];
      if (e === -1) break;
      if (e >>> SLOT_BITS === tag && this.keyMatches(e & SLOT_MASK)) {
        this.probePos = i;
        return e & SLOT_MASK;
      }
      if (++i === size) i = 0;
    }
    this.probePos = i;
    return -1;
  }

  /** Stores a new flow for the current key, replacing the indexed flow with that key if there is one. */
  private create(h: number, rel: number, reverse: boolean, pureSyn: boolean): number {
    let evicted = false;
    if (this.count >= this.maxFlows) {
      this.evictOne();
      evicted = true;
    }
    let slot: number;
    if (this.freeHead >= 0) {
      slot = this.freeHead;
      this.freeHead = this.next[slot];
    } else {
      slot = this.highWater++;
    }
    if (this.count >= this.growAt) {
      this.growIndex();
      evicted = true;
    }
    // Eviction (or growth) may have moved index entries, or removed the flow being replaced: look again.
    const old = evicted ? this.lookup(h) : this.index[this.probePos] !== -1 ? this.index[this.probePos] & SLOT_MASK : -1;
    const entry = ((h & TAG_MASK) << SLOT_BITS) | slot;
    this.index[this.probePos] = entry;
    if (old >= 0) this.status[old] &= ~F_INDEXED;

    this.srcW0[slot] = reverse ? this.kD0 : this.kS0;
    this.dstW0[slot] = reverse ? this.kS0 : this.kD0;
    if (this.kV6) {
      const e = this.alloc6();
      this.v6Slot[slot] = e;
      const b = e * 3;
      const a = this.srcW123;
      const z = this.dstW123;
      a[b] = reverse ? this.kD1 : this.kS1;
      a[b + 1] = reverse ? this.kD2 : this.kS2;
      a[b + 2] = reverse ? this.kD3 : this.kS3;
      z[b] = reverse ? this.kS1 : this.kD1;
      z[b + 1] = reverse ? this.kS2 : this.kD2;
      z[b + 2] = reverse ? this.kS3 : this.kD3;
    }
    // ICMP "ports" are (request type, code) whichever way the packet went.
    const swapPorts = reverse && !this.kIcmp;
    this.srcPort[slot] = swapPorts ? this.kDp : this.kSp;
    this.dstPort[slot] = swapPorts ? this.kSp : this.kDp;
    this.proto[slot] = this.kProto;
    this.status[slot] = F_LIVE | F_INDEXED | (this.kV6 ? F_V6 : 0) | (pureSyn ? F_SYN : 0);
    this.tcpFlagsFwd[slot] = 0;
    this.tcpFlagsRev[slot] = 0;
    this.packetsFwd[slot] = 0;
    this.packetsRev[slot] = 0;
    this.bytesFwd[slot] = 0;
    this.bytesRev[slot] = 0;
    this.firstRel[slot] = rel;
    this.lastRel[slot] = rel;
    this.gen[slot] = (this.gen[slot] + 1) >>> 0;
    this.append(slot, classOfProtocol(this.kProto));
    this.count++;
    this.nCreated++;
    this.bucketNewFlows[rel >= this.curStartRel ? this.curRing : this.ringOfRel(rel)]++;
    if (!this.warned && this.count >= this.warnAt) {
      this.warned = true;
      this.logger?.warn({ flows: this.count, maxFlows: this.maxFlows }, 'flow table is 80 % full; the oldest idle flows will be evicted at capacity');
    }
    return slot;
  }

  private swapDirection(slot: number): void {
    if ((this.status[slot] & F_V6) !== 0) {
      const b = this.v6Base(slot);
      const a = this.srcW123;
      const z = this.dstW123;
      for (let k = 0; k < 3; k++) {
        const w = a[b + k];
        a[b + k] = z[b + k];
        z[b + k] = w;
      }
    }
    let t = this.srcW0[slot];
    this.srcW0[slot] = this.dstW0[slot];
    this.dstW0[slot] = t;
    t = this.srcPort[slot];
    this.srcPort[slot] = this.dstPort[slot];
    this.dstPort[slot] = t;
    t = this.packetsFwd[slot];
    this.packetsFwd[slot] = this.packetsRev[slot];
    this.packetsRev[slot] = t;
    t = this.bytesFwd[slot];
    this.bytesFwd[slot] = this.bytesRev[slot];
    this.bytesRev[slot] = t;
    t = this.tcpFlagsFwd[slot];
    this.tcpFlagsFwd[slot] = this.tcpFlagsRev[slot];
    this.tcpFlagsRev[slot] = t;
  }

  private append(slot: number, c: number): void {
    const tail = this.listTail[c];
    this.prev[slot] = tail;
    this.next[slot] = -1;
    if (tail >= 0) this.next[tail] = slot;
    else this.listHead[c] = slot;
    this.listTail[c] = slot;
  }

  private unlink(slot: number, c: number): void {
    const p = this.prev[slot];
    const n = this.next[slot];
    if (p >= 0) this.next[p] = n;
    else this.listHead[c] = n;
    if (n >= 0) this.prev[n] = p;
    else this.listTail[c] = p;
  }

  private classOf(slot: number): number {
    return (this.status[slot] & F_CLOSED) !== 0 ? CLASS_CLOSED : classOfProtocol(this.proto[slot]);
  }

  private remove(slot: number): void {
    this.unlink(slot, this.classOf(slot));
    if ((this.status[slot] & F_INDEXED) !== 0) this.unindex(slot);
    if ((this.status[slot] & F_V6) !== 0) this.free6(this.v6Slot[slot]);
    this.status[slot] = 0;
    this.next[slot] = this.freeHead;
    this.freeHead = slot;
    this.count--;
    if (this.warned && this.count < this.rearmAt) this.warned = false;
  }

  /** An entry of the IPv6 word pool, growing it (by doubling, up to maxFlows entries) when none is free. */
  private alloc6(): number {
    const e = this.v6Free;
    if (e >= 0) {
      this.v6Free = this.srcW123[e * 3] - 1;
      return e;
    }
    if (this.v6High === this.v6Cap) {
      // Never more entries than flows: an IPv6 flow holds one, so at maxFlows there is always a free one.
      const cap = Math.min(this.maxFlows, this.v6Cap * 2);
      const src = this.u32(3 * cap);
      const dst = this.u32(3 * cap);
      src.set(this.srcW123);
      dst.set(this.dstW123);
      this.srcW123 = src;
      this.dstW123 = dst;
      this.v6Cap = cap;
    }
    return this.v6High++;
  }

  private free6(e: number): void {
    // The link is stored plus one, so that 0 (what a never-linked entry holds) ends the list.
    this.srcW123[e * 3] = this.v6Free + 1;
    this.v6Free = e;
  }

  /**
   * Doubles the index (up to its full size) and re-inserts every indexed flow. The index is the one structure
   * every packet reads at a random place: sized for the flows actually stored rather than for maxFlows, it stays
   * in cache for a table far from full (a 127k-flow capture ran 30 % faster than with a 1M-flow index).
   */
  private growIndex(): void {
    const size = Math.min(this.maxIndexSize, this.indexSize * 2);
    const index = new Int32Array(size).fill(-1);
    this.index = index;
    this.indexSize = size;
    this.growAt = size === this.maxIndexSize ? Infinity : floor(size * MAX_LOAD);
    for (let s = 0; s < this.highWater; s++) {
      if ((this.status[s] & F_INDEXED) === 0) continue;
      const h = this.slotHash(s);
      let i = this.home(h);
      while (index[i] !== -1) if (++i === size) i = 0;
      index[i] = ((h & TAG_MASK) << SLOT_BITS) | s;
    }
  }

  /** Deletes a slot's index entry by backward shift (Knuth 6.4 algorithm R): no tombstones to slow later probes. */
  private unindex(slot: number): void {
    const index = this.index;
    const size = this.indexSize;
    let i = this.home(this.slotHash(slot));
    for (;;) {
      const e = index[i];
      if (e !== -1 && (e & SLOT_MASK) === slot) break;
      if (++i === size) i = 0;
    }
    let hole = i;
    let j = i;
    for (;;) {
      if (++j === size) j = 0;
      const e = index[j];
      if (e === -1) break;
      const home = this.home(this.slotHash(e & SLOT_MASK));
      // The entry may fill the hole unless its home lies cyclically in (hole, j].
      const stays = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (!stays) {
        index[hole] = e;
        hole = j;
      }
    }
    index[hole] = -1;
  }

  /** Removes the oldest idle flow, or the oldest flow if none is idle. */
  private evictOne(): void {
    const now = this.nowRel();
    let best = -1;
    let bestLast = U32_MAX + 1;
    let bestIdle = false;
    for (let c = 0; c < CLASSES; c++) {
      const h = this.listHead[c];
      if (h < 0) continue;
      const last = this.lastRel[h];
      const idle = now - last > this.classTimeoutMs[c];
      if ((idle && !bestIdle) || (idle === bestIdle && last < bestLast)) {
        best = h;
        bestLast = last;
        bestIdle = idle;
      }
    }
    if (this.onRemove !== null) this.onRemove(best, 'evicted');
    this.remove(best);
    this.nEvictions++;
  }

  /** Removes every flow whose last packet is older than the retention window. */
  private expire(): void {
    const cutoff = this.nowRel() - this.retentionMs;
    if (cutoff <= 0) return;
    for (;;) {
      let best = -1;
      let bestLast = cutoff;
      for (let c = 0; c < CLASSES; c++) {
        const h = this.listHead[c];
        if (h >= 0 && this.lastRel[h] < bestLast) {
          best = h;
          bestLast = this.lastRel[h];
        }
      }
      if (best < 0) return;
      if (this.onRemove !== null) this.onRemove(best, 'expired');
      this.remove(best);
      this.nExpired++;
    }
  }

  /**
   * Moves the epoch forward so relative times stay far from the Uint32 limit. Runs once every ~12 days of
   * clock; first/last times older than the new epoch (flows over 12 days old) are clamped to it.
   */
  private rebase(): void {
    const now = this.nowRel();
    if (now < REBASE_AT_MS) return;
    const delta = now - REBASE_AT_MS / 2;
    this.epoch += delta;
    for (let s = 0; s < this.highWater; s++) {
      if (this.status[s] === 0) continue;
      this.firstRel[s] = Math.max(0, this.firstRel[s] - delta);
      this.lastRel[s] = Math.max(0, this.lastRel[s] - delta);
    }
  }

  /** Opens the buckets up to `bno`, clearing ring slots that fall out of the window. */
  private advance(bno: number): void {
    // Expire first: after a jump of the clock (a capture with a gap of weeks) the flows before the gap leave
    // with their own times, not with times clamped by the rebase.
    this.expire();
    this.rebase();
    const n = this.bucketCount;
    const from = this.curBucket < 0 ? bno : Math.max(this.curBucket + 1, bno - n + 1);
    for (let b = from; b <= bno; b++) {
      const i = b % n;
      this.bucketNo[i] = b;
      this.bucketBytes[i] = 0;
      this.bucketPackets[i] = 0;
      this.bucketNewFlows[i] = 0;
      this.bucketStart[i] = this.logSeq;
    }
    this.curBucket = bno;
    this.nextBucketUs = (bno + 1) * this.bucketMs * 1000;
    this.curRing = bno % n;
    this.curStartRel = bno * this.bucketMs - this.epochMs;
    let oldest = this.logSeq;
    for (let i = 0; i < n; i++) {
      if (this.bucketNo[i] > bno - n && this.bucketStart[i] < oldest) oldest = this.bucketStart[i];
    }
    // Never back: entries before a drop (see appendEntry) are overwritten.
    this.oldestLiveSeq = Math.max(this.oldestLiveSeq, oldest);
  }

  /** Absolute bucket number of a table-relative time. */
  private bucketOfRel(rel: number): number {
    return floor((rel + this.epochMs) / this.bucketMs);
  }

  /** Ring slot for a packet or new flow at table-relative `rel` before the current bucket (the oldest if outside). */
  private ringOfRel(rel: number): number {
    const bno = Math.max(this.bucketOfRel(rel), this.curBucket - this.bucketCount + 1);
    const i = bno % this.bucketCount;
    return this.bucketNo[i] === bno ? i : this.curRing;
  }

  private appendEntry(slot: number, bno: number, bytes: number, packets: number): void {
    if (this.logSeq - this.oldestLiveSeq >= this.logCapacity) {
      if (this.logCapacity < this.logLimit) this.growLog();
      else {
        this.nLogDrops++;
        this.dropRel = this.nowRel();
        this.oldestLiveSeq = this.logSeq - this.logCapacity + 1;
      }
    }
    const pos = this.logSeq & (this.logCapacity - 1);
    this.entSlot[pos] = slot;
    this.entGen[pos] = this.gen[slot];
    this.entBucket[pos] = bno % 4294967296;
    this.entBytes[pos] = bytes;
    this.entPackets[pos] = packets;
    this.logSeq++;
  }

  /** Doubles the series log, keeping the live entries at their sequence positions. */
  private growLog(): void {
    const cap = this.logCapacity * 2;
    const slot = new Int32Array(cap);
    const gen = new Uint32Array(cap);
    const bucket = new Uint32Array(cap);
    const bytes = new Float64Array(cap);
    const packets = new Uint32Array(cap);
    const oldMask = this.logCapacity - 1;
    for (let seq = this.oldestLiveSeq; seq < this.logSeq; seq++) {
      const from = seq & oldMask;
      const to = seq & (cap - 1);
      slot[to] = this.entSlot[from];
      gen[to] = this.entGen[from];
      bucket[to] = this.entBucket[from];
      bytes[to] = this.entBytes[from];
      packets[to] = this.entPackets[from];
    }
    this.entSlot = slot;
    this.entGen = gen;
    this.entBucket = bucket;
    this.entBytes = bytes;
    this.entPackets = packets;
    this.logCapacity = cap;
  }

  /** Sequence numbers [start, end) of the live series log entries, oldest first: position = seq & (logCapacity - 1). */
  liveEntries(): { start: number; end: number } {
    return { start: this.oldestLiveSeq, end: this.logSeq };
  }

  /** Absolute number of the bucket a log entry describes (entries are within the window of the current bucket). */
  entryBucket(pos: number): number {
    return this.curBucket - ((this.curBucket - this.entBucket[pos]) % 4294967296 + 4294967296) % 4294967296;
  }

  /**
   * Table-relative ms of the last time the log dropped a live entry (-1 if never): a flow first seen at or before
   * it may have lost entries, so its traffic before its oldest surviving entry is not known per bucket.
   */
  get logDropRel(): number {
    return this.dropRel;
  }

  /** The bucket of a flow's latest packet (its open bucket, whose traffic no entry holds yet). */
  openBucket(slot: number): number {
    return this.bucketOfRel(this.lastRel[slot]);
  }

  // ---- snapshot support (snapshot.ts) ----

  /** Flows in aging-list order, oldest first within each class, so a restore rebuilds the same lists. @internal */
  slotsInAgeOrder(): Int32Array {
    const out = new Int32Array(this.count);
    let k = 0;
    for (let c = 0; c < CLASSES; c++) {
      for (let s = this.listHead[c]; s >= 0; s = this.next[s]) out[k++] = s;
    }
    return out;
  }

  /** Whether the table has seen no packet and no time yet (a snapshot can only be loaded into such a table). @internal */
  isPristine(): boolean {
    return this.nums[CLOCK] === NO_TIME && this.count === 0;
  }

  /** Sets the clock and epoch of a pristine table before a restore. @internal */
  restoreClock(clockUs: number, epochMs: number): void {
    this.nums[CLOCK] = clockUs;
    this.epoch = epochMs;
  }

  /**
   * Stores one restored flow (times in epoch ms) appended to its aging list; returns its slot, or -1 when it
   * would be indexed under a key that already has a flow. @internal
   */
  restoreFlow(r: RestoredFlow): number {
    const proto = r.proto;
    this.kV6 = (r.status & F_V6) !== 0;
    this.kProto = proto;
    this.kIcmp = proto === 1 || proto === 58;
    this.kS0 = r.src[0] | 0;
    this.kS1 = r.src[1] | 0;
    this.kS2 = r.src[2] | 0;
    this.kS3 = r.src[3] | 0;
    this.kD0 = r.dst[0] | 0;
    this.kD1 = r.dst[1] | 0;
    this.kD2 = r.dst[2] | 0;
    this.kD3 = r.dst[3] | 0;
    this.kSp = r.srcPort;
    this.kDp = r.dstPort;
    const h = this.keyHash();
    const indexed = (r.status & F_INDEXED) !== 0;
    if (indexed && this.lookup(h) >= 0) return -1;
    if (this.count >= this.maxFlows) this.evictOne();
    let slot: number;
    if (this.freeHead >= 0) {
      slot = this.freeHead;
      this.freeHead = this.next[slot];
    } else {
      slot = this.highWater++;
    }
    if (indexed) {
      if (this.count >= this.growAt) this.growIndex();
      this.lookup(h);
      this.index[this.probePos] = ((h & TAG_MASK) << SLOT_BITS) | slot;
    }
    this.srcW0[slot] = r.src[0];
    this.dstW0[slot] = r.dst[0];
    if ((r.status & F_V6) !== 0) {
      const e = this.alloc6();
      this.v6Slot[slot] = e;
      for (let k = 1; k < 4; k++) {
        this.srcW123[e * 3 + k - 1] = r.src[k];
        this.dstW123[e * 3 + k - 1] = r.dst[k];
      }
    }
    this.srcPort[slot] = r.srcPort;
    this.dstPort[slot] = r.dstPort;
    this.proto[slot] = proto;
    this.status[slot] = (r.status & (F_CLOSED | F_V6 | F_INDEXED | F_SYN)) | F_LIVE;
    this.tcpFlagsFwd[slot] = r.tcpFlagsFwd;
    this.tcpFlagsRev[slot] = r.tcpFlagsRev;
    this.packetsFwd[slot] = r.packetsFwd;
    this.packetsRev[slot] = r.packetsRev;
    this.bytesFwd[slot] = r.bytesFwd;
    this.bytesRev[slot] = r.bytesRev;
    this.firstRel[slot] = Math.min(U32_MAX, Math.max(0, r.firstMs - this.epoch));
    this.lastRel[slot] = Math.min(U32_MAX, Math.max(0, r.lastMs - this.epoch));
    this.gen[slot] = (this.gen[slot] + 1) >>> 0;
    this.append(slot, this.classOf(slot));
    this.count++;
    if (!this.warned && this.count >= this.warnAt) {
      this.warned = true;
      this.logger?.warn({ flows: this.count, maxFlows: this.maxFlows }, 'flow table is 80 % full; the oldest idle flows will be evicted at capacity');
    }
    return slot;
  }

  /** Opens bucket `bno` with the given totals; entries follow through restoreEntry. Buckets must come in order. @internal */
  restoreBucket(bno: number, bytes: number, packets: number, newFlows: number): boolean {
    const nowBucket = floor(floor(this.nums[CLOCK] / 1000) / this.bucketMs);
    if (bno <= nowBucket - this.bucketCount || bno > nowBucket || bno < this.curBucket) return false;
    if (bno > this.curBucket) this.advance(bno);
    this.bucketBytes[this.curRing] = bytes;
    this.bucketPackets[this.curRing] = packets;
    this.bucketNewFlows[this.curRing] = newFlows;
    return true;
  }

  /** Appends a log entry, written while the bucket opened last was current, for bucket `bno`. @internal */
  restoreEntry(slot: number, bno: number, bytes: number, packets: number): void {
    this.appendEntry(slot, bno, bytes, packets);
  }
}

/** One flow as the snapshot stores it; reused across records while loading. */
export interface RestoredFlow {
  status: number;
  proto: number;
  tcpFlagsFwd: number;
  tcpFlagsRev: number;
  srcPort: number;
  dstPort: number;
  src: Uint32Array;
  dst: Uint32Array;
  packetsFwd: number;
  packetsRev: number;
  bytesFwd: number;
  bytesRev: number;
  firstMs: number;
  lastMs: number;
}
