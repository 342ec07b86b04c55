/**
 * A per-process memo with a cap on its size: a Map whose `set` of a new key, when it already holds
 * `max` entries, first empties it. The memos that use it (remembered HMACs, route matches, parsed
 * URLs, chain heads…) are keyed by what clients send, so they must be bounded; starting over is
 * enough for them (what is asked again comes back at once) and, unlike an LRU, costs nothing per
 * read: `get` and `has` are Map's own.
 */
export class BoundedMemo<K, V> extends Map<K, V> {
  readonly max: number;
  constructor(max: number) {
    super();
    this.max = max;
  }

  override set(key: K, value: V): this {
    if (this.size >= this.max && !this.has(key)) this.clear();
    return super.set(key, value);
  }
}

/** A memo of at most `max` entries (see BoundedMemo). */
export const boundedMemo = <K, V>(max: number): BoundedMemo<K, V> => new BoundedMemo<K, V>(max);
