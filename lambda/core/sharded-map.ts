/**
 * A string-keyed Map split into 256 Maps by a hash of the key, for a map filled with hundreds of
 * thousands of entries on the request path. A V8 Map grows by rehashing every entry it holds in
 * one go (tens of ms at a few hundred thousand entries, however finely the loop filling it
 * yields); each shard grows on its own, so no growth holds the event loop for more than a 256th
 * of that. The same work in all, spread out.
 */
const SHARD_BITS = 8;

export class ShardedMap<V> {
  private readonly shards: Map<string, V>[] = Array.from({ length: 1 << SHARD_BITS }, () => new Map());

  get(key: string): V | undefined {
    return this.shardOf(key).get(key);
  }

  has(key: string): boolean {
    return this.shardOf(key).has(key);
  }

  set(key: string, value: V): this {
    this.shardOf(key).set(key, value);
    return this;
  }

  private shardOf(key: string): Map<string, V> {
    // FNV-1a over the UTF-16 code units; only the shard is taken from it.
    let h = 0x811c9dc5 | 0;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    return this.shards[(h ^ (h >>> 16)) & ((1 << SHARD_BITS) - 1)]!;
  }
}
