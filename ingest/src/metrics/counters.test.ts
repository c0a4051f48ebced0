import { counterDelta, CounterExtender } from './counters';

describe('counterDelta', () => {
  it.each([
    ['growth', 100, 250, 150],
    ['no change', 7, 7, 0],
    ['a 32-bit wrap', 2 ** 32 - 100, 50, 150],
    ['a 32-bit wrap from exactly the top', 2 ** 32 - 1, 0, 1],
    ['a reset of a 32-bit-sized counter (the wrap would be more than half the range)', 1_000_000_000, 100, 100],
    ['a 64-bit wrap', 2 ** 64 - 2 ** 20, 4096, 2 ** 20 + 4096],
    ['a reset of a counter above 32 bits', 5_000_000_000, 1234, 1234],
  ])('reads %s', (_name, prev, cur, want) => {
    expect(counterDelta(prev, cur)).toBe(want);
  });
});

describe('CounterExtender', () => {
  it('keeps a series monotonic through a 32-bit wrap, a 64-bit wrap and a reset, and sums the deltas', () => {
    const ext = new CounterExtender(1, 4);
    const reads = [4_294_967_000, 4_294_967_290, 200, 1000, 400];
    const got: number[] = [];
    const deltas = new Float64Array(1);
    for (const r of reads) {
      const v = Float64Array.of(r);
      ext.extend('eth0', v, 0, deltas);
      ext.sweep();
      got.push(v[0]);
    }
    expect(got).toEqual([4_294_967_000, 4_294_967_290, 4_294_967_296 + 200, 4_294_967_296 + 1000, 4_294_967_296 + 1400]);
    expect(deltas[0]).toBe(got[got.length - 1] - reads[0]);
  });

  it('forgets a series not seen in a round, and refuses new ones beyond its bound', () => {
    const ext = new CounterExtender(1, 1);
    expect(ext.extend('a', Float64Array.of(1), 0)).toBe(true);
    expect(ext.extend('b', Float64Array.of(1), 0)).toBe(false);
    ext.sweep();
    ext.sweep();
    expect(ext.size).toBe(0);
    expect(ext.extend('b', Float64Array.of(1), 0)).toBe(true);
  });
});
