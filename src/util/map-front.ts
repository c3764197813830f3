/**
 * The oldest key of a Map or Set (insertion order) in O(1) amortised, for the bounded caches that
 * evict oldest first.
 *
 * `map.keys().next()` is not O(1) in V8: a deleted entry stays in the table as a hole until the
 * table is rehashed, and a new iterator starts at the first slot and steps over every hole. A
 * cache that evicts from the front leaves its holes exactly there, so each eviction walked over
 * all the evictions since the last rehash: at 100,000 entries about 100 µs per insert (the DNS
 * names cache took a sixth of a DNS flood's CPU that way). An iterator that lives on steps over
 * each hole once. Map and Set iterators are live by the language's definition: they see entries
 * added after they were made and skip those deleted, and V8 carries them across rehashes.
 *
 * The contract: every key take() returns is deleted by the caller before the next call, so the
 * iterator never has a live entry behind it. Keys moved to the back (delete, then set again) are
 * simply met again later, in their new place.
 */
export class MapFront<K> {
  private readonly src: { keys(): IterableIterator<K> };
  private it: IterableIterator<K> | null = null;
  /** The key peek() found and nobody has taken yet. */
  private head: { k: K } | null = null;

  constructor(src: { keys(): IterableIterator<K> }) {
    this.src = src;
  }

  /**
   * The oldest key without taking it (undefined when empty). Only for structures whose keys leave
   * through take() alone and are never moved: a key deleted or moved by anything else while it is
   * the peeked front would be returned from its old place.
   */
  peek(): K | undefined {
    if (this.head === null) {
      let r = this.it?.next();
      // A finished iterator stays finished (the language's rule): start a new one, which costs
      // nothing since every key behind the old one is gone.
      if (r === undefined || r.done === true) {
        this.it = this.src.keys();
        r = this.it.next();
      }
      if (r.done === true) return undefined;
      this.head = { k: r.value };
    }
    return this.head.k;
  }

  /** The oldest key, which the caller deletes before calling again (undefined when empty). */
  take(): K | undefined {
    const k = this.peek();
    this.head = null;
    return k;
  }

  /** After clear() or a new map: start again from the front. */
  reset(): void {
    this.it = null;
    this.head = null;
  }
}
