import { FRAGMENT_TIMEOUT_US, FragmentCache } from './fragment-cache';

const words = (...w: number[]) => Uint32Array.from(w);
const V4_SRC = words(0x0a000001, 0, 0, 0);
const V4_DST = words(0x0a000002, 0, 0, 0);
// ::10.0.0.1 and ::10.0.0.2 in the four-word layout: the same words as the IPv4 addresses, in another family.
const V6_SRC = words(0, 0, 0, 0x0a000001);
const V6_DST = words(0, 0, 0, 0x0a000002);

describe('FragmentCache', () => {
  it('rounds its capacity up to a power of two, one 4-entry bucket at least', () => {
    expect([1, 4, 5, 4096, 5000].map((n) => new FragmentCache(n).capacity)).toEqual([4, 4, 8, 4096, 8192]);
  });

  it('finds a datagram by family, addresses, identification and protocol only', () => {
    const cache = new FragmentCache(64);
    cache.insert(4, V4_SRC, V4_DST, 0xffffffff, 17, 53, 40000, 0);
    const found = (family: number, src: Uint32Array, dst: Uint32Array, id: number, protocol: number) => {
      const slot = cache.lookup(family, src, dst, id, protocol, 0);
      return slot < 0 ? null : [cache.srcPort[slot], cache.dstPort[slot]];
    };
    expect([
      found(4, V4_SRC, V4_DST, 0xffffffff, 17),
      found(4, V4_SRC, V4_DST, -1, 17), // the same 32 bits read as a signed number
      found(4, V4_DST, V4_SRC, 0xffffffff, 17),
      found(4, V4_SRC, V4_DST, 0xfffffffe, 17),
      found(4, V4_SRC, V4_DST, 0xffffffff, 6),
      found(6, V4_SRC, V4_DST, 0xffffffff, 17),
      found(6, V6_SRC, V6_DST, 0xffffffff, 17),
    ]).toEqual([[53, 40000], [53, 40000], null, null, null, null, null]);
  });

  it('updates a datagram seen again in place rather than evicting another', () => {
    const cache = new FragmentCache(4);
    for (let id = 0; id < 4; id++) expect(cache.insert(4, V4_SRC, V4_DST, id, 17, id, id, 0)).toBe(false);
    expect(cache.insert(4, V4_SRC, V4_DST, 2, 17, 7, 7, 1)).toBe(false);
    expect(cache.insert(4, V4_SRC, V4_DST, 9, 17, 9, 9, 2)).toBe(true);
    const slot = cache.lookup(4, V4_SRC, V4_DST, 2, 17, 3);
    expect([cache.srcPort[slot], cache.lookup(4, V4_SRC, V4_DST, 0, 17, 3)]).toEqual([7, -1]);
  });

  it('expires an entry after the reassembly timeout but keeps it when the clock steps back', () => {
    const cache = new FragmentCache(8);
    cache.insert(6, V6_SRC, V6_DST, 1, 6, 1, 2, 1_000_000_000);
    expect([
      cache.lookup(6, V6_SRC, V6_DST, 1, 6, 0) >= 0,
      cache.lookup(6, V6_SRC, V6_DST, 1, 6, 1_000_000_000 + FRAGMENT_TIMEOUT_US) >= 0,
      cache.lookup(6, V6_SRC, V6_DST, 1, 6, 1_000_000_000 + 2 * FRAGMENT_TIMEOUT_US + 1) >= 0,
    ]).toEqual([true, true, false]);
  });
});
