/**
 * A Map with a size bound that forgets its least recently used entry to make room, and counts what it forgot.
 * Every per-address or per-user state of the security engine lives in one of these: an attacker rotating source
 * addresses must not be able to grow the service's memory.
 */
export class BoundedMap<K, V> {
  private readonly map = new Map<K, V>();
  private nEvicted = 0;

  /** `onEvict` sees each entry forgotten to make room (the reputation table persists it there). */
  constructor(
    readonly capacity: number,
    private readonly onEvict?: (key: K, value: V) => void,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
  }

  get size(): number {
    return this.map.size;
  }

  get evictions(): number {
    return this.nEvicted;
  }

  /** The value, marked as most recently used. */
  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      // Map keeps insertion order: re-inserting moves the key to the young end.
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  /** The value without touching its recency. */
  peek(key: K): V | undefined {
    return this.map.get(key);
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  set(key: K, value: V): void {
    if (this.map.has(key)) this.map.delete(key);
    else if (this.map.size >= this.capacity) this.evictOldest();
    this.map.set(key, value);
  }

  delete(key: K): boolean {
    return this.map.delete(key);
  }

  /** Oldest first. */
  entries(): IterableIterator<[K, V]> {
    return this.map.entries();
  }

  values(): IterableIterator<V> {
    return this.map.values();
  }

  private evictOldest(): void {
    const first = this.map.entries().next();
    if (first.done) return;
    const [k, v] = first.value;
    this.map.delete(k);
    this.nEvicted++;
    this.onEvict?.(k, v);
  }
}
