/**
 * A Map split into 256 Maps by a hash of the key, for a map filled with hundreds of thousands of
 * entries on the request path. A V8 Map grows by rehashing every entry it holds in one go (tens of
 * ms at a few hundred thousand entries, however finely the loop filling it yields); each shard
 * grows on its own, so no growth holds the event loop for more than a 256th of that. The same
 * work in all, spread out.
 */
const SHARD_BITS = 8;
const SHARD_MASK = (1 << SHARD_BITS) - 1;

export class ShardedMap<K extends string | number, V> {
  private readonly shards: Map<K, V>[] = Array.from({ length: 1 << SHARD_BITS }, () => new Map());

  get(key: K): V | undefined {
    return this.shardOf(key).get(key);
  }

  has(key: K): boolean {
    return this.shardOf(key).has(key);
  }

  set(key: K, value: V): this {
    this.shardOf(key).set(key, value);
    return this;
  }

  private shardOf(key: K): Map<K, V> {
    const h = typeof key === 'number' ? key : fnv1a(key as string);
    return this.shards[(h ^ (h >>> 16)) & SHARD_MASK]!;
  }
}

/** FNV-1a over a string's UTF-16 code units (int32). */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h;
}
