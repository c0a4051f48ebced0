import { parseIp } from '../protocol/ip';
import { PairKeys, SmallKeys, WordKeys } from './group-keys';

const words = (text: string) => {
  const ip = parseIp(text);
  if (!ip) throw new Error(`bad address ${text}`);
  return [ip.family === 6 ? 1 : 0, ...ip.words] as [number, number, number, number, number];
};

function idOf(keys: WordKeys, text: string): number {
  const [v6, w0, w1, w2, w3] = words(text);
  return v6 === 0 ? keys.id(0, w0, 0, 0, 0) : keys.id(1, w0, w1, w2, w3);
}

describe('WordKeys', () => {
  it('gives dense ids in first-seen order and the same id to the same key', () => {
    const keys = new WordKeys();
    expect(['10.0.0.2', '10.0.0.1', '2001:db8::1', '10.0.0.2', '2001:db8::1', '::'].map((a) => idOf(keys, a))).toEqual([0, 1, 2, 0, 2, 3]);
    expect(keys.size).toBe(4);
  });

  it('keeps an IPv4 address apart from the IPv6 address with the same words', () => {
    const keys = new WordKeys();
    // 10.0.0.1 is word 0 0x0a000001; "a00:1::" has the same word 0 and zeros after it.
    expect([idOf(keys, '10.0.0.1'), idOf(keys, 'a00:1::'), idOf(keys, '::a00:1'), idOf(keys, '0.0.0.0'), idOf(keys, '::')]).toEqual([0, 1, 2, 3, 4]);
  });

  it('keeps every id while it grows to a hundred thousand keys, words signed or unsigned', () => {
    const keys = new WordKeys();
    const n = 100_000;
    for (let i = 0; i < n; i++) expect(keys.id(i & 1, (0xc0000000 + i) >>> 0, i, 0, 0)).toBe(i);
    let wrong = 0;
    for (let i = 0; i < n; i++) if (keys.id(i & 1, (0xc0000000 + i) | 0, i, 0, 0) !== i) wrong++;
    expect({ size: keys.size, wrong }).toEqual({ size: n, wrong: 0 });
  });

  it('orders IPv4 keys before IPv6 keys, each by address as unsigned numbers', () => {
    const keys = new WordKeys();
    const texts = ['2001:db8::10', '255.0.0.1', '2001:db8::9', '9.0.0.1', '10.0.0.1', 'fe80::1', '::1'];
    const ids = texts.map((a) => idOf(keys, a));
    const sorted = [...ids].sort((a, b) => keys.compare(a, b)).map((g) => texts[ids.indexOf(g)]);
    expect(sorted).toEqual(['9.0.0.1', '10.0.0.1', '255.0.0.1', '::1', '2001:db8::9', '2001:db8::10', 'fe80::1']);
  });
});

describe('SmallKeys', () => {
  it('maps small integers to dense ids and orders them by value', () => {
    const keys = new SmallKeys(65536);
    expect([443, 80, 65535, 0, 80].map((p) => keys.id(p))).toEqual([0, 1, 2, 3, 1]);
    expect([0, 1, 2, 3].sort((a, b) => keys.compare(a, b)).map((g) => keys.keys[g])).toEqual([0, 80, 443, 65535]);
  });
});

describe('PairKeys', () => {
  it('keys IPv4 pairs by both addresses and IPv6 pairs by their ends, in initiator-then-responder order', () => {
    const keys = new PairKeys();
    const v4 = (a: string, b: string) => keys.v4(words(a)[1], words(b)[1]);
    const v6 = (a: string, b: string) => {
      const [, s0, s1, s2, s3] = words(a);
      const [, d0, d1, d2, d3] = words(b);
      return keys.v6(s0, s1, s2, s3, d0, d1, d2, d3);
    };
    const ids = [v6('2001:db8::2', '2001:db8::1'), v4('10.0.0.2', '10.0.0.1'), v4('10.0.0.1', '10.0.0.2'), v6('2001:db8::1', '2001:db8::2'), v4('10.0.0.2', '10.0.0.1'), v6('2001:db8::2', '2001:db8::1')];
    expect(ids).toEqual([0, 1, 2, 3, 1, 0]);
    const text = (g: number, end: number) => {
      const w = [0, 1, 2, 3].map((k) => keys.word(g, end, k));
      return keys.pairs.family[g] === 0 ? w[0] : w.join(':');
    };
    expect([0, 1, 2, 3].sort((a, b) => keys.compare(a, b)).map((g) => [text(g, 0), text(g, 1)])).toEqual([
      [0x0a000001, 0x0a000002],
      [0x0a000002, 0x0a000001],
      ['536939960:0:0:1', '536939960:0:0:2'],
      ['536939960:0:0:2', '536939960:0:0:1'],
    ]);
  });
});
