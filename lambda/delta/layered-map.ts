/**
 * A Map that can be forked cheaply: a large shared, frozen `base` plus a small `top` of changes
 * (a tombstone marks a deletion). Incremental snapshot refresh forks the previous snapshot's
 * maps and applies only the new commits, so a 1M-file table is refreshed in O(new actions),
 * and the previous snapshot stays valid for requests still using it. When the top grows past
 * a fraction of the base, the fork folds both into a new base (amortised O(1) per change).
 * forkInSlices does the same copying a slice at a time: on a table of a million files the copy of
 * the changes (up to an eighth of it) or the fold (a copy of the whole base) is tens to hundreds of
 * milliseconds, too long to hold the event loop on the request path.
 */
import { yieldToEventLoop } from '../core/event-loop';

const TOMBSTONE: unique symbol = Symbol('deleted');
type Slot<V> = V | typeof TOMBSTONE;

export type MutableBase<K, V> = BaseMap<K, V> & { set(k: K, v: V): unknown; delete(k: K): boolean };

/** Entries copied between two pauses of forkInSlices. */
const SLICE = 2048;
/** Changes applied to a new base between two pauses (each hashes its key: slower than a copy). */
const APPLY_SLICE = 1024;

/**
 * What a base must offer; `clone` (a mutable deep copy) lets a fold keep a compact base type, and
 * `cloneInSlices` makes that copy a slice at a time, with room for `room` more entries.
 */
export interface BaseMap<K, V> extends Iterable<[K, V]> {
  readonly size: number;
  get(k: K): V | undefined;
  has(k: K): boolean;
  forEach(visit: (v: V, k: K) => void): void;
  clone?(): MutableBase<K, V>;
  cloneInSlices?(room: number): Promise<MutableBase<K, V>>;
}

export class LayeredMap<K, V> {
  private constructor(
    private readonly base: BaseMap<K, V>,
    private readonly top: Map<K, Slot<V>>,
    private count: number,
  ) {}

  static empty<K, V>(): LayeredMap<K, V> {
    return new LayeredMap<K, V>(new Map(), new Map(), 0);
  }

  /** Uses `m` as the frozen base: the caller must not change it afterwards. */
  static of<K, V>(m: BaseMap<K, V>): LayeredMap<K, V> {
    return new LayeredMap<K, V>(m, new Map(), m.size);
  }

  get size(): number {
    return this.count;
  }

  /** The shared base and the number of changes on top (for memory estimates). */
  get layers(): { base: BaseMap<K, V>; top: number } {
    return { base: this.base, top: this.top.size };
  }

  get(k: K): V | undefined {
    const t = this.top.get(k);
    if (t !== undefined) return t === TOMBSTONE ? undefined : t;
    return this.base.get(k);
  }

  has(k: K): boolean {
    return this.get(k) !== undefined;
  }

  set(k: K, v: V): void {
    if (this.get(k) === undefined) this.count++;
    this.top.set(k, v);
  }

  delete(k: K): boolean {
    if (this.get(k) === undefined) return false;
    this.count--;
    if (this.base.has(k)) this.top.set(k, TOMBSTONE);
    else this.top.delete(k);
    return true;
  }

  forEach(visit: (v: V, k: K) => void): void {
    this.base.forEach((v, k) => {
      if (!this.top.has(k)) visit(v, k);
    });
    for (const [k, v] of this.top) if (v !== TOMBSTONE) visit(v, k);
  }

  *[Symbol.iterator](): Generator<[K, V]> {
    for (const [k, v] of this.base) if (!this.top.has(k)) yield [k, v];
    for (const [k, v] of this.top) if (v !== TOMBSTONE) yield [k, v];
  }

  /** A copy that shares the base; O(top) unless the top is folded into a new base. */
  fork(): LayeredMap<K, V> {
    if (this.folds()) {
      const merged = this.base.clone ? this.base.clone() : new Map<K, V>(iterate(this.base));
      for (const [k, v] of this.top) {
        if (v === TOMBSTONE) merged.delete(k);
        else merged.set(k, v);
      }
      return new LayeredMap<K, V>(merged, new Map(), this.count);
    }
    return new LayeredMap<K, V>(this.base, new Map(this.top), this.count);
  }

  /**
   * fork(), copying a slice at a time so that other requests run in between. This map must stay
   * as it is meanwhile (a snapshot's maps are frozen); the copy is the caller's once it resolves.
   */
  async forkInSlices(): Promise<LayeredMap<K, V>> {
    if (!this.folds()) return new LayeredMap<K, V>(this.base, await copyInSlices(this.top), this.count);
    return new LayeredMap<K, V>(await this.mergedInSlices(), new Map(), this.count);
  }

  /**
   * This map's entries in a mutable map of their own (the top folded into a copy of the base, with
   * room for `room` more), copied a slice at a time. This map must stay as it is meanwhile.
   */
  async mergedInSlices(room = 0): Promise<MutableBase<K, V>> {
    const merged: MutableBase<K, V> = this.base.cloneInSlices
      ? await this.base.cloneInSlices(this.top.size + room)
      : await copyInSlices(this.base);
    let n = 0;
    for (const [k, v] of this.top) {
      if (++n % APPLY_SLICE === 0) await yieldToEventLoop();
      if (v === TOMBSTONE) merged.delete(k);
      else merged.set(k, v);
    }
    return merged;
  }

  /**
   * Would `more` changes on top make it big enough to fold? Changes that many are better made to
   * mergedInSlices()'s copy: the top is a plain Map, which grows by rehashing all it holds in one
   * block (tens of ms at a few hundred thousand entries), and the next fork would fold it anyway.
   */
  foldsWith(more: number): boolean {
    const top = this.top.size + more;
    return top > 4096 && top * 8 > this.base.size;
  }

  /** Is the top big enough to fold into a new base at the next fork? */
  private folds(): boolean {
    return this.foldsWith(0);
  }
}

/** A new Map of `m`'s entries, SLICE at a time. */
async function copyInSlices<K, V>(m: Iterable<[K, V]>): Promise<Map<K, V>> {
  const out = new Map<K, V>();
  let n = 0;
  for (const [k, v] of m) {
    if (++n % SLICE === 0) await yieldToEventLoop();
    out.set(k, v);
  }
  return out;
}

function iterate<K, V>(m: BaseMap<K, V>): [K, V][] {
  const out: [K, V][] = [];
  m.forEach((v, k) => {
    out.push([k, v]);
  });
  return out;
}
