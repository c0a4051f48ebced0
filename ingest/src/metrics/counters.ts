/**
 * Kernel counters made monotonic. /proc/net/dev prints each driver's counter as it is: 64-bit on most drivers,
 * 32-bit on some (older drivers, 32-bit kernels), and any of them falls back to zero when a driver is reloaded or
 * an interface re-created. Downstream (rates, hourly totals) needs counters that never go back, so each series
 * keeps its last raw value and an extended total that only ever grows by the delta of each read.
 */

const TWO_32 = 2 ** 32;
const TWO_63 = 2 ** 63;
const TWO_64 = 2 ** 64;

/**
 * How much a counter grew from prev to cur. Going back is read as a 32-bit wrap when prev fits 32 bits and the
 * wrap would mean less than half the range since the last read, as a 64-bit wrap when prev is past 2^63, and as a
 * reset otherwise (the counter restarted at zero, so it grew by cur).
 */
export function counterDelta(prev: number, cur: number): number {
  if (cur >= prev) return cur - prev;
  if (prev < TWO_32) {
    const wrapped = TWO_32 - prev + cur;
    return wrapped < TWO_32 / 2 ? wrapped : cur;
  }
  // Doubles are exact to 2^53 only: past that the delta is approximate, as the parsed value already was.
  if (prev >= TWO_63) return TWO_64 - prev + cur;
  return cur;
}

/**
 * Extended totals of a family of series (interfaces, disks), `width` counters each. A series that stops
 * appearing is forgotten at the next sweep, so the state is bounded by what one read holds.
 */
export class CounterExtender {
  // Per series: [last raw × width, extended × width, last round seen].
  private readonly state = new Map<string, Float64Array>();
  private round = 0;

  constructor(
    readonly width: number,
    readonly maxSeries: number,
  ) {}

  get size(): number {
    return this.state.size;
  }

  /**
   * Replaces values[offset .. offset+width) (raw counters) by their extended totals, and adds each counter's
   * growth since the last read to deltas[0 .. width) when given. A series seen for the first time keeps its raw
   * values and adds nothing (there is no previous read to grow from). NaN values are left alone.
   * Returns false when the series is new and the family is full: its values are left raw, its delta is 0.
   */
  extend(name: string, values: Float64Array, offset: number, deltas?: Float64Array): boolean {
    const w = this.width;
    let s = this.state.get(name);
    if (!s) {
      if (this.state.size >= this.maxSeries) return false;
      s = new Float64Array(2 * w + 1);
      for (let i = 0; i < w; i++) {
        s[i] = values[offset + i];
        s[w + i] = values[offset + i];
      }
      s[2 * w] = this.round;
      this.state.set(name, s);
      return true;
    }
    s[2 * w] = this.round;
    for (let i = 0; i < w; i++) {
      const raw = values[offset + i];
      if (Number.isNaN(raw)) continue;
      if (Number.isNaN(s[i])) {
        s[i] = raw;
        s[w + i] = raw;
        values[offset + i] = raw;
        continue;
      }
      const d = counterDelta(s[i], raw);
      s[i] = raw;
      s[w + i] += d;
      values[offset + i] = s[w + i];
      if (deltas) deltas[i] += d;
    }
    return true;
  }

  /** Ends a read: series not seen since the previous sweep are forgotten. */
  sweep(): void {
    const w2 = 2 * this.width;
    for (const [name, s] of this.state) if (s[w2] !== this.round) this.state.delete(name);
    this.round++;
  }
}

/** A host-wide total built from deltas, so it stays monotonic while the series under it come and go. */
export class CounterTotal {
  readonly values: Float64Array;
  private started = false;

  constructor(width: number) {
    this.values = new Float64Array(width);
  }

  /** First read: the sum of the raw values; then: grows by the deltas. */
  add(initial: Float64Array, deltas: Float64Array): void {
    if (!this.started) {
      this.values.set(initial);
      this.started = true;
      return;
    }
    for (let i = 0; i < this.values.length; i++) this.values[i] += deltas[i];
  }
}
