/**
 * A Map split into 256 Maps by a hash of the key, for a map filled with hundreds of thousands of
 * entries on the request path. A V8 Map grows by rehashing every entry it holds in one go (tens of
 * ms at a few hundred thousand entries, however finely the loop filling it yields); each shard
 * grows on its own, so no growth holds the event loop for more than a 256th of that. The same
 * work in all, spread out. Up to SMALL entries it is one Map (most maps of a batch are small),
 * whose entries are then dealt out to the shards once.
 */
const SHARD_BITS = 8;
const SHARD_MASK = (1 << SHARD_BITS) - 1;
const SMALL = 4096;

export class ShardedMap<K extends string | number, V> {
  private small: Map<K, V> | undefined = new Map();
  private shards: Map<K, V>[] = [];

  get(key: K): V | undefined {
    return (this.small ?? this.shards[shardOf(key)]!).get(key);
  }

  has(key: K): boolean {
    return (this.small ?? this.shards[shardOf(key)]!).has(key);
  }

  set(key: K, value: V): this {
    if (this.small && this.small.size >= SMALL && !this.small.has(key)) this.deal(this.small);
    (this.small ?? this.shards[shardOf(key)]!).set(key, value);
    return this;
  }

  private deal(from: Map<K, V>): void {
    this.shards = Array.from({ length: 1 << SHARD_BITS }, () => new Map());
    this.small = undefined;
    for (const [k, v] of from) this.shards[shardOf(k)]!.set(k, v);
  }
}

function shardOf(key: string | number): number {
  const h = typeof key === 'number' ? key : fnv1a(key);
  return (h ^ (h >>> 16)) & SHARD_MASK;
}

/** FNV-1a over a string's UTF-16 code units (int32). */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h;
}
