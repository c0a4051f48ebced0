/**
 * Remembers the ports of first IP fragments so that later fragments, which carry no transport header, can be
 * accounted to the same flow (as softflowd and pmacctd do, and as the tshark-based reference counts them).
 *
 * A bounded, 4-way set-associative table over typed arrays: no per-packet allocation, no string keys. The key is
 * what RFC 791 §3.2 and RFC 8200 §4.5 say identifies the fragments of one datagram: source, destination,
 * protocol (IPv4) or next header (IPv6) and identification. Entries are never removed by a last fragment:
 * fragments may arrive out of order, so an entry lives until it expires or is replaced.
 */

const WAYS = 4;
const KEY_WORDS = 10; // src[4], dst[4], identification, family << 8 | protocol

/**
 * RFC 8200 §4.5 gives up reassembly 60 s after the first fragment; RFC 791 suggests 15 s and Linux uses 30 s.
 * An entry older than that belongs to a datagram no host would still reassemble, so it is treated as empty:
 * matching it would attribute a new datagram that reused the 16-bit IPv4 identification to an old flow.
 */
export const FRAGMENT_TIMEOUT_US = 60_000_000;

export class FragmentCache {
  /** Capacity in entries: the requested size rounded up to a power of two, at least one bucket. */
  readonly capacity: number;
  readonly srcPort: Uint16Array;
  readonly dstPort: Uint16Array;
  private readonly bucketMask: number;
  private readonly keys: Uint32Array;
  private readonly seenUs: Float64Array;
  private readonly live: Uint8Array;

  constructor(size: number) {
    let capacity = WAYS;
    while (capacity < size && capacity < 1 << 24) capacity *= 2;
    this.capacity = capacity;
    this.bucketMask = capacity / WAYS - 1;
    this.keys = new Uint32Array(capacity * KEY_WORDS);
    this.srcPort = new Uint16Array(capacity);
    this.dstPort = new Uint16Array(capacity);
    this.seenUs = new Float64Array(capacity);
    this.live = new Uint8Array(capacity);
  }

  /** The slot holding the first fragment's ports for this datagram, or -1. A hit refreshes the entry's age. */
  lookup(family: number, src: Uint32Array, dst: Uint32Array, ident: number, protocol: number, nowUs: number): number {
    ident >>>= 0;
    const tag = (family << 8) | protocol;
    const first = this.bucket(tag, src, dst, ident);
    for (let slot = first; slot < first + WAYS; slot++) {
      if (this.live[slot] === 1 && this.matches(slot, tag, src, dst, ident)) {
        if (this.expired(slot, nowUs)) return -1;
        if (nowUs > this.seenUs[slot]) this.seenUs[slot] = nowUs;
        return slot;
      }
    }
    return -1;
  }

  /** Records a first fragment's ports. Returns true when a live entry of another datagram had to be evicted. */
  insert(family: number, src: Uint32Array, dst: Uint32Array, ident: number, protocol: number, srcPort: number, dstPort: number, nowUs: number): boolean {
    ident >>>= 0;
    const tag = (family << 8) | protocol;
    const first = this.bucket(tag, src, dst, ident);
    let target = -1;
    let oldest = first;
    for (let slot = first; slot < first + WAYS; slot++) {
      if (this.live[slot] === 0 || this.expired(slot, nowUs)) {
        if (target < 0) target = slot;
      } else if (this.matches(slot, tag, src, dst, ident)) {
        target = slot;
        break;
      } else if (this.seenUs[slot] < this.seenUs[oldest]) {
        oldest = slot;
      }
    }
    const evicted = target < 0;
    if (evicted) target = oldest;
    const k = target * KEY_WORDS;
    const keys = this.keys;
    keys[k] = src[0];
    keys[k + 1] = src[1];
    keys[k + 2] = src[2];
    keys[k + 3] = src[3];
    keys[k + 4] = dst[0];
    keys[k + 5] = dst[1];
    keys[k + 6] = dst[2];
    keys[k + 7] = dst[3];
    keys[k + 8] = ident;
    keys[k + 9] = tag;
    this.srcPort[target] = srcPort;
    this.dstPort[target] = dstPort;
    this.seenUs[target] = nowUs;
    this.live[target] = 1;
    return evicted;
  }

  /** A capture whose clock steps backwards keeps its entries rather than dropping them all. */
  private expired(slot: number, nowUs: number): boolean {
    return nowUs - this.seenUs[slot] > FRAGMENT_TIMEOUT_US;
  }

  private matches(slot: number, tag: number, src: Uint32Array, dst: Uint32Array, ident: number): boolean {
    const k = slot * KEY_WORDS;
    const keys = this.keys;
    return (
      keys[k + 8] === ident &&
      keys[k + 9] === tag &&
      keys[k] === src[0] &&
      keys[k + 4] === dst[0] &&
      keys[k + 1] === src[1] &&
      keys[k + 2] === src[2] &&
      keys[k + 3] === src[3] &&
      keys[k + 5] === dst[1] &&
      keys[k + 6] === dst[2] &&
      keys[k + 7] === dst[3]
    );
  }

  /** First slot of the key's bucket (murmur3-style mixing of every key word). */
  private bucket(tag: number, src: Uint32Array, dst: Uint32Array, ident: number): number {
    let h = Math.imul(tag ^ ident, 0x9e3779b1);
    h = Math.imul(h ^ src[0], 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 15) ^ dst[0], 0xc2b2ae35);
    h = Math.imul(h ^ (h >>> 13) ^ src[1] ^ dst[1], 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 15) ^ src[2] ^ dst[2], 0xc2b2ae35);
    h = Math.imul(h ^ (h >>> 13) ^ src[3] ^ dst[3], 0x85ebca6b);
    h ^= h >>> 16;
    return (h & this.bucketMask) * WAYS;
  }
}
