/**
 * The last hour of samples at 1 s (capacity configurable), as fixed-size records in typed arrays: one timeline
 * of timestamps and, per record, the system fields, the host network fields and the capture fields at a fixed
 * offset; labelled series (interfaces, mounts, CPU cores) each get a slot of their own, aligned to the same timeline.
 * Nothing is an object per sample, so an hour costs the same memory on the first second as on the last.
 *
 * Bounds: the oldest record is overwritten when full (counted in `overwritten`); at most maxInterfaces, maxMounts
 * and maxCpus slots exist, a slot is given to a new name only once all the samples of its former name have aged
 * out, and series refused for want of a slot are counted in `seriesRefused`.
 */
import { CAPTURE_FIELDS, CORE_FIELDS, DISK_FIELDS, NET_FIELDS, SYS_FIELDS, type LabelledValues, type Sample } from './sample';

export interface RingOptions {
  /** Records kept (seconds at 1 s sampling). Default 3600. */
  capacity: number;
  maxInterfaces: number;
  maxMounts: number;
  maxCpus: number;
}

export const DEFAULT_RING_CAPACITY = 3600;

/** One labelled series' values over the timeline; lastMs is its newest record. */
export interface RingSlot {
  name: string;
  values: Float64Array;
  lastMs: number;
}

class SlotFamily {
  readonly slots: RingSlot[] = [];
  private readonly byName = new Map<string, RingSlot>();
  refused = 0;

  constructor(
    private readonly fields: number,
    private readonly capacity: number,
    private readonly max: number,
  ) {}

  get(name: string): RingSlot | undefined {
    return this.byName.get(name);
  }

  /** Writes record `idx` of every slot: the family's values where the sample has the name, NaN elsewhere. */
  write(idx: number, tsMs: number, oldestMs: number, family: LabelledValues): void {
    const f = this.fields;
    for (const s of this.slots) s.values.fill(NaN, idx * f, idx * f + f);
    for (let i = 0; i < family.count; i++) {
      const name = family.names[i];
      let slot = this.byName.get(name);
      if (!slot) {
        slot = this.allocate(name, oldestMs);
        if (!slot) {
          this.refused++;
          continue;
        }
      }
      const src = family.values;
      const dst = slot.values;
      for (let k = 0; k < f; k++) dst[idx * f + k] = src[i * f + k];
      slot.lastMs = tsMs;
    }
  }

  private allocate(name: string, oldestMs: number): RingSlot | undefined {
    let slot: RingSlot | undefined;
    if (this.slots.length < this.max) {
      slot = { name, values: new Float64Array(this.capacity * this.fields).fill(NaN), lastMs: 0 };
      this.slots.push(slot);
    } else {
      // A slot whose newest record is older than the oldest kept one holds nothing any more.
      slot = this.slots.find((s) => s.lastMs < oldestMs);
      if (!slot) return undefined;
      this.byName.delete(slot.name);
      slot.name = name;
      slot.values.fill(NaN);
    }
    this.byName.set(name, slot);
    return slot;
  }

  /** Names with at least one record still in the ring. */
  names(oldestMs: number): string[] {
    return this.slots.filter((s) => s.lastMs >= oldestMs).map((s) => s.name);
  }
}

export class MetricsRing {
  readonly capacity: number;
  readonly ts: Float64Array;
  readonly sys: Float64Array;
  readonly netTotal: Float64Array;
  readonly capture: Float64Array;
  private readonly ifs: SlotFamily;
  private readonly mnts: SlotFamily;
  private readonly cores: SlotFamily;
  private head = 0;
  private count = 0;
  /** Records overwritten by newer ones since start. */
  overwritten = 0;
  /** Samples refused because their time was not after the newest record (the wall clock stepped back). */
  outOfOrder = 0;

  constructor(opts: RingOptions) {
    if (!Number.isInteger(opts.capacity) || opts.capacity < 2) throw new Error(`ring capacity must be an integer >= 2, got ${opts.capacity}`);
    const c = (this.capacity = opts.capacity);
    this.ts = new Float64Array(c);
    this.sys = new Float64Array(c * SYS_FIELDS);
    this.netTotal = new Float64Array(c * NET_FIELDS);
    this.capture = new Float64Array(c * CAPTURE_FIELDS);
    this.ifs = new SlotFamily(NET_FIELDS, c, opts.maxInterfaces);
    this.mnts = new SlotFamily(DISK_FIELDS, c, opts.maxMounts);
    this.cores = new SlotFamily(CORE_FIELDS, c, opts.maxCpus);
  }

  get size(): number {
    return this.count;
  }

  get seriesRefused(): number {
    return this.ifs.refused + this.mnts.refused + this.cores.refused;
  }

  /** Bytes held by the typed arrays (the record store's whole footprint). */
  get bytes(): number {
    const slots = [...this.ifs.slots, ...this.mnts.slots, ...this.cores.slots].reduce((n, s) => n + s.values.byteLength, 0);
    return this.ts.byteLength + this.sys.byteLength + this.netTotal.byteLength + this.capture.byteLength + slots;
  }

  push(s: Sample): boolean {
    if (this.count > 0 && !(s.tsMs > this.ts[this.physical(this.count - 1)])) {
      this.outOfOrder++;
      return false;
    }
    const idx = this.head;
    if (this.count === this.capacity) this.overwritten++;
    else this.count++;
    this.head = (this.head + 1) % this.capacity;
    this.ts[idx] = s.tsMs;
    this.sys.set(s.sys, idx * SYS_FIELDS);
    this.netTotal.set(s.netTotal, idx * NET_FIELDS);
    this.capture.set(s.capture, idx * CAPTURE_FIELDS);
    const oldest = this.oldestMs();
    this.ifs.write(idx, s.tsMs, oldest, s.interfaces);
    this.mnts.write(idx, s.tsMs, oldest, s.mounts);
    this.cores.write(idx, s.tsMs, oldest, s.cores);
    return true;
  }

  /** Physical record index of the i-th record in time order (0 = oldest). */
  physical(i: number): number {
    return (this.head - this.count + i + this.capacity) % this.capacity;
  }

  oldestMs(): number {
    return this.count === 0 ? Infinity : this.ts[this.physical(0)];
  }

  newestMs(): number {
    return this.count === 0 ? -Infinity : this.ts[this.physical(this.count - 1)];
  }

  /** [first, end) positions in time order of the records with fromMs <= ts < toMs (binary search). */
  range(fromMs: number, toMs: number): [number, number] {
    return [this.lowerBound(fromMs), this.lowerBound(toMs)];
  }

  interface(name: string): RingSlot | undefined {
    return this.ifs.get(name);
  }

  mount(name: string): RingSlot | undefined {
    return this.mnts.get(name);
  }

  core(name: string): RingSlot | undefined {
    return this.cores.get(name);
  }

  /** Core names with a record in the ring, in numeric order. */
  coreNames(): string[] {
    return this.cores.names(this.oldestMs()).sort((a, b) => Number(a) - Number(b));
  }

  interfaceNames(): string[] {
    return this.ifs.names(this.oldestMs());
  }

  mountNames(): string[] {
    return this.mnts.names(this.oldestMs());
  }

  private lowerBound(t: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ts[this.physical(mid)] < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
