/**
 * Group keys of one flow query (top talkers, grouped series), as dense group ids on typed arrays: an address,
 * a subnet, an address pair, a port or a protocol number becomes 0, 1, 2, ... in first-seen order, so the query
 * sums into Float64Arrays indexed by group instead of Maps of boxed numbers and strings of IPv6 words.
 *
 * Ordering. Ties of the ranking metric are broken by ascending key, so a result does not depend on slot numbers
 * or on the order flows were met: IPv4 keys before IPv6 keys, each by address (words compared as unsigned
 * numbers), pairs by initiator then responder, ports and protocols by number.
 */
const imul = Math.imul;

/** Keys per hash position at most before the positions double: short probe runs, half of them empty. */
const MAX_LOAD = 0.7;
const INITIAL_POSITIONS = 1024;
const MAX_PRESIZE = 1 << 22;
// Position entries: group id in the low 27 bits, the family bit, then 3 bits of the hash, so a probe that meets
// another key is usually rejected without reading that key's words (a cache miss at a million groups).
const ID_BITS = 27;
const ID_MASK = (1 << ID_BITS) - 1;
const FAMILY_BIT = 1 << ID_BITS;
const TAG_SHIFT = ID_BITS + 1;
const TAG_MASK = 7 << TAG_SHIFT;
const EMPTY = -1;

/** murmur3's finalizer over the words; the IPv4 case mixes one word. */
function wordsHash(v6: number, w0: number, w1: number, w2: number, w3: number): number {
  let h = imul(w0, 0x9e3779b1);
  if (v6 !== 0) h = (h ^ imul(w1, 0x85ebca6b) ^ imul(w2 + 0x7f4a7c15, 0xc2b2ae35) ^ imul(w3 + 0x165667b1, 0x27d4eb2f) ^ 0x5bd1e995) | 0;
  h = imul(h ^ (h >>> 16), 0x85ebca6b);
  h = imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * Keys of four 32-bit words and a family bit (IPv4 addresses use word 0 only): an open-addressing hash with
 * linear probing over the group ids, the words of group g at words[4g..4g+3]. Everything grows by doubling with
 * the groups met; a query meets at most two keys a flow, so the table is bounded by the flow table it reads.
 */
export class WordKeys {
  private positions: Int32Array;
  private mask: number;
  private growAt: number;
  /** Words of each group, four per group (unsigned). */
  words: Uint32Array;
  /** 1 for an IPv6 key (or, in pair keys, a pair of IPv6 ends). */
  family: Uint8Array;
  size = 0;

  /** `expected`: keys the query may meet at most (the positions start sized for them, up to a bound). */
  constructor(expected = 0) {
    let size = INITIAL_POSITIONS;
    while (size * MAX_LOAD < expected && size < MAX_PRESIZE) size *= 2;
    this.positions = new Int32Array(size).fill(EMPTY);
    this.mask = size - 1;
    this.growAt = Math.floor(size * MAX_LOAD);
    this.words = new Uint32Array(4 * this.growAt);
    this.family = new Uint8Array(this.growAt);
  }

  /** The id of key (v6, w0..w3), added if new. Words may be given as int32 or uint32. */
  id(v6: number, w0: number, w1: number, w2: number, w3: number): number {
    const h = wordsHash(v6, w0 | 0, w1 | 0, w2 | 0, w3 | 0);
    const tagged = (h & TAG_MASK) | (v6 !== 0 ? FAMILY_BIT : 0);
    const positions = this.positions;
    const words = this.words;
    const mask = this.mask;
    let i = h & mask;
    for (;;) {
      const e = positions[i];
      if (e === EMPTY) break;
      if ((e & ~ID_MASK) === tagged) {
        const g = e & ID_MASK;
        const b = 4 * g;
        if ((words[b] | 0) === (w0 | 0) && (words[b + 1] | 0) === (w1 | 0) && (words[b + 2] | 0) === (w2 | 0) && (words[b + 3] | 0) === (w3 | 0)) return g;
      }
      i = (i + 1) & mask;
    }
    const g = this.size;
    if (g >= ID_MASK) throw new RangeError(`more than ${ID_MASK} groups in one query`);
    if (g >= this.growAt) {
      this.grow();
      return this.id(v6, w0, w1, w2, w3);
    }
    positions[i] = tagged | g;
    const b = 4 * g;
    words[b] = w0;
    words[b + 1] = w1;
    words[b + 2] = w2;
    words[b + 3] = w3;
    this.family[g] = v6;
    this.size = g + 1;
    return g;
  }

  /** Ascending key order: IPv4 (family 0) first, then words 0-3 as unsigned numbers. */
  compare(a: number, b: number): number {
    if (this.family[a] !== this.family[b]) return this.family[a] - this.family[b];
    const w = this.words;
    for (let k = 0; k < 4; k++) {
      const d = w[4 * a + k] - w[4 * b + k];
      if (d !== 0) return d;
    }
    return 0;
  }

  private grow(): void {
    const size = this.positions.length * 2;
    const positions = new Int32Array(size).fill(EMPTY);
    const mask = size - 1;
    const w = this.words;
    for (let g = 0; g < this.size; g++) {
      const v6 = this.family[g];
      const h = wordsHash(v6, w[4 * g] | 0, w[4 * g + 1] | 0, w[4 * g + 2] | 0, w[4 * g + 3] | 0);
      let i = h & mask;
      while (positions[i] !== EMPTY) i = (i + 1) & mask;
      positions[i] = (h & TAG_MASK) | (v6 !== 0 ? FAMILY_BIT : 0) | g;
    }
    this.positions = positions;
    this.mask = mask;
    this.growAt = Math.floor(size * MAX_LOAD);
    const words = new Uint32Array(4 * this.growAt);
    words.set(this.words);
    const family = new Uint8Array(this.growAt);
    family.set(this.family);
    this.words = words;
    this.family = family;
  }
}

/**
 * Keys that are small integers (ports, protocol numbers): a direct map from key to group id. The map costs
 * `range` Int32 (256 KiB for ports) per query, against a hash probe per flow.
 */
export class SmallKeys {
  private readonly map: Int32Array;
  readonly keys: Int32Array;
  size = 0;

  constructor(range: number) {
    this.map = new Int32Array(range).fill(EMPTY);
    this.keys = new Int32Array(range);
  }

  id(key: number): number {
    let g = this.map[key];
    if (g === EMPTY) {
      g = this.size++;
      this.map[key] = g;
      this.keys[g] = key;
    }
    return g;
  }

  compare(a: number, b: number): number {
    return this.keys[a] - this.keys[b];
  }
}

/**
 * Initiator-responder address pairs. An IPv4 pair is one key of its two addresses (family 0); an IPv6 pair, whose
 * eight words do not fit a key, is the key (family 1) of its two ends' ids in `ends`.
 */
export class PairKeys {
  readonly pairs = new WordKeys();
  readonly ends = new WordKeys();

  get size(): number {
    return this.pairs.size;
  }

  v4(src: number, dst: number): number {
    return this.pairs.id(0, src, dst, 0, 0);
  }

  v6(s0: number, s1: number, s2: number, s3: number, d0: number, d1: number, d2: number, d3: number): number {
    return this.pairs.id(1, this.ends.id(1, s0, s1, s2, s3), this.ends.id(1, d0, d1, d2, d3), 0, 0);
  }

  /** Ascending: IPv4 pairs first, then by initiator, then by responder. */
  compare(a: number, b: number): number {
    const p = this.pairs;
    if (p.family[a] !== p.family[b]) return p.family[a] - p.family[b];
    const w = p.words;
    if (p.family[a] === 0) return w[4 * a] - w[4 * b] || w[4 * a + 1] - w[4 * b + 1];
    return this.ends.compare(w[4 * a], w[4 * b]) || this.ends.compare(w[4 * a + 1], w[4 * b + 1]);
  }

  /** Words k (0-3) of a pair's initiator (end 0) or responder (end 1). */
  word(g: number, end: number, k: number): number {
    const w = this.pairs.words;
    if (this.pairs.family[g] === 0) return k === 0 ? w[4 * g + end] : 0;
    return this.ends.words[4 * w[4 * g + end] + k];
  }
}
