/** Writes at least, between two renewals (a small map is renewed this often; a larger one after `size` writes). */
const MIN_WRITES_PER_RENEWAL = 1024;

/**
 * A `Map` for entries that come and go all the time, such as one set and one delete per request.
 *
 * V8 handles that pattern badly. A `Map` appends every new key to its table and only marks deleted ones, so under
 * churn the table fills up and is rebuilt every few writes; the table it replaces keeps a pointer to the new one
 * (for iterators that are still running). Once a table has lived long enough to be promoted to the old generation,
 * that pointer keeps the next table alive through every young-generation collection, that one keeps the next, and
 * so on until a full collection: every key and value ever set is promoted, however short its life. Measured in the
 * server (docs/performance-log.md), this was most of the old-generation garbage of an authenticated request.
 *
 * Copying the entries into a fresh `Map` from time to time cuts the chain: the fresh table is young, and nothing
 * old points to it. A copy happens after at least as many writes as there are entries, so it costs at most one
 * insertion per write. Insertion order is kept (the token cache drops its oldest entries first).
 */
export class ChurnMap<K, V> implements Iterable<[K, V]> {
  private map = new Map<K, V>();
  private writes = 0;

  /** `onRenew` sees each copy into a fresh `Map` (the testing seam). */
  constructor(private readonly onRenew?: () => void) {}

  get size(): number {
    return this.map.size;
  }

  get(key: K): V | undefined {
    return this.map.get(key);
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  set(key: K, value: V): this {
    this.map.set(key, value);
    this.wrote();
    return this;
  }

  delete(key: K): boolean {
    const deleted = this.map.delete(key);
    if (deleted) this.wrote();
    return deleted;
  }

  clear(): void {
    this.map = new Map();
    this.writes = 0;
  }

  keys(): MapIterator<K> {
    return this.map.keys();
  }

  entries(): MapIterator<[K, V]> {
    return this.map.entries();
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.map.entries();
  }

  private wrote(): void {
    this.writes += 1;
    if (this.writes < Math.max(MIN_WRITES_PER_RENEWAL, this.map.size)) return;
    this.map = new Map(this.map);
    this.writes = 0;
    this.onRenew?.();
  }
}
