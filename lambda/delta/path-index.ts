/**
 * A compact string → int32 hash map for a table's file paths. A path is stored as its folder
 * (interned once in a FolderTable: every file of a partition shares "date=…/region=…/") and its
 * file name's UTF-8 bytes (after a length byte) in 1 MiB chunks; per entry that is the name
 * bytes plus 13 bytes (length, name offset, folder id, value) and 8-16 bytes of open-addressing
 * table (a slot packs the entry number with high hash bits, so a probe reads one int32). No
 * per-path object for the GC to trace, no JS string for a path. Checkpoint paths go in straight
 * from Parquet page bytes (percent-decoded into place); a lookup hashes the JS string in one
 * pass (its folder's hash falls out on the way) and compares in place, without allocating.
 *
 * Names of 255 bytes or more, and keys with an unpaired surrogate (no UTF-8 form), live in a
 * plain Map beside the compact store. */
import { runInSlices, runToEnd } from '../core/event-loop';
import { decoded, decodePathInto } from './encoded-path';
import { FolderTable } from './folder-table';
import {
  equalBytes,
  equalsStringRange,
  FNV_OFFSET,
  fnvBytes,
  hashPath,
  pathInfo,
  pow2AtLeast,
} from './utf8-hash';

const EMPTY = 0;
const TOMBSTONE = -1;
const DELETED = -2147483648;
const CHUNK_BITS = 20;
const CHUNK = 1 << CHUNK_BITS;
const CHUNK_MASK = CHUNK - 1;
/** Names this long (UTF-8 bytes) or longer go to the side map, so a length fits one byte. */
const LONG_NAME = 255;
/** Encoded paths longer than this take the string route (the room for one is taken in a chunk). */
const MAX_ENCODED = 16 * 1024;
/** find(): not present; present in the side map (or would be). */
const NOT_FOUND = -1;
const IN_SIDE = -2;
/** Entries placed (hashed, copied) between two pauses of a copy made a slice at a time: ~1 ms. */
const ENTRY_SLICE = 4096;
/** Int32 words copied between two pauses (1 MiB: fresh pages fault in at ~3 ms a MiB on a busy host). */
const COPY_SLICE = 1 << 18;
const utf8 = new TextDecoder();
const utf8Encoder = new TextEncoder();

export class PathIndex {
  private folders = new FolderTable();
  /** File-name bytes: chunk i holds offsets [i * CHUNK, (i + 1) * CHUNK); a name never straddles two. */
  private chunks: Uint8Array[] = [];
  private chunkUsed = 0;
  /**
   * Per entry, side by side so a lookup touches one cache line: the name's offset (its record
   * in the chunks is a length byte, then the bytes), the folder id, the value (DELETED once
   * removed).
   */
  private ent: Int32Array;
  private cap: number;
  private entries = 0;
  private live = 0;
  /**
   * Open addressing, linear probing. A slot is EMPTY, TOMBSTONE, or (entry + 1) in its low
   * `idxBits` bits with the hash's higher bits above them (a tag that rejects most mismatches
   * without touching the entry). idxBits covers the entry arrays' capacity.
   */
  private table: Int32Array;
  private slots: number;
  private idxBits: number;
  private used = 0;
  /** The slot of the entry the last find() returned. */
  private foundSlot = -1;
  private side = new Map<string, number>();

  constructor(expectedEntries = 16) {
    const cap = Math.max(16, expectedEntries);
    this.cap = cap;
    this.ent = new Int32Array(cap * 3);
    this.idxBits = bitsFor(cap);
    this.slots = pow2AtLeast(cap * 2);
    this.table = new Int32Array(this.slots);
  }

  /** Makes room for `entries` more paths, so a bulk load never rehashes or regrows its entries. */
  reserve(entries: number): void {
    if (this.entries + entries > this.cap) this.resizeEntries(this.entries + entries);
    const need = pow2AtLeast((this.live + entries) * 2);
    if (need > this.slots) this.rehash(need);
  }

  /**
   * reserve() as steps that yield between slices of the copy and the rehash: a commit of a few
   * hundred thousand adds, applied one by one, would otherwise double the index (a copy of its
   * entries and a rehash of all of them) in one block each time it fills, ~100 ms at that size.
   * The entries grow at least twofold, so that many small batches in a row copy them O(1) times
   * each. Nothing may read or change the index between the steps (a replay's own index, not yet
   * any snapshot's).
   */
  *reserveSteps(entries: number): Generator<void> {
    if (this.entries + entries > this.cap) {
      const cap = Math.max(this.entries + entries, this.cap * 2);
      this.ent = yield* copySteps(this.ent, cap * 3, this.entries * 3);
      this.cap = cap;
    }
    // append() rehashes once used slots (tombstones too) pass half the table, and entry numbers
    // must fit a slot's low bits.
    if ((this.used + entries) * 2 > this.slots || bitsFor(this.cap) > this.idxBits)
      yield* this.rehashSteps(Math.max(this.slots, pow2AtLeast((this.live + entries) * 2)));
  }

  get size(): number {
    return this.live + this.side.size;
  }

  /** Bytes held (typed arrays measured; the side map estimated): the resident cost of this index. */
  get byteSize(): number {
    let n = 0;
    for (const c of this.chunks) n += c.byteLength;
    n += this.ent.byteLength;
    n += this.table.byteLength + this.folders.byteSize;
    this.side.forEach((_v, k) => {
      n += 64 + k.length * 2;
    });
    return n;
  }

  /** Number of distinct folders (tests, estimates). */
  get folderCount(): number {
    return this.folders.count;
  }

  get(key: string): number | undefined {
    const e = this.find(key);
    if (e >= 0) return this.ent[3 * e + 2];
    return e === IN_SIDE ? this.side.get(key) : undefined;
  }

  has(key: string): boolean {
    const e = this.find(key);
    return e >= 0 || (e === IN_SIDE && this.side.has(key));
  }

  set(key: string, value: number): this {
    const e = this.find(key);
    if (e >= 0) this.ent[3 * e + 2] = value;
    else if (e === IN_SIDE) this.side.set(key, value);
    else {
      const bytes = scratchFor(key.length * 3);
      const n = utf8Encoder.encodeInto(key, bytes).written;
      let slash = n - 1;
      while (slash >= 0 && bytes[slash] !== 0x2f) slash--;
      const fh = fnvBytes(bytes, 0, slash + 1, FNV_OFFSET);
      const folder = this.folders.intern(bytes, 0, slash + 1, fh);
      const len = n - slash - 1;
      const off = this.allocName(len + 1);
      const chunk = this.chunks[off >>> CHUNK_BITS]!;
      chunk[off & CHUNK_MASK] = len;
      chunk.set(bytes.subarray(slash + 1, n), (off & CHUNK_MASK) + 1);
      this.append(folder, off, entryHash(fnvBytes(bytes, slash + 1, n, fh)), value);
    }
    return this;
  }

  delete(key: string): boolean {
    const e = this.find(key);
    if (e === IN_SIDE) return this.side.delete(key);
    if (e < 0) return false;
    this.table[this.foundSlot] = TOMBSTONE;
    this.ent[3 * e + 2] = DELETED;
    this.live--;
    return true;
  }

  forEach(visit: (value: number, key: string) => void): void {
    for (let e = 0; e < this.entries; e++) {
      const v = this.ent[3 * e + 2]!;
      if (v === DELETED) continue;
      const o = this.ent[3 * e]! >>> 0;
      const c = this.chunks[o >>> CHUNK_BITS]!;
      const p = o & CHUNK_MASK;
      const name = utf8.decode(c.subarray(p + 1, p + 1 + c[p]!));
      visit(v, this.folders.text(this.ent[3 * e + 1]!) + name);
    }
    this.side.forEach(visit);
  }

  /** Every (path, value), as forEach, one at a time: a long walk can pause between entries. */
  *[Symbol.iterator](): Generator<[string, number]> {
    for (let e = 0; e < this.entries; e++) {
      const v = this.ent[3 * e + 2]!;
      if (v === DELETED) continue;
      const o = this.ent[3 * e]! >>> 0;
      const c = this.chunks[o >>> CHUNK_BITS]!;
      const p = o & CHUNK_MASK;
      yield [this.folders.text(this.ent[3 * e + 1]!) + utf8.decode(c.subarray(p + 1, p + 1 + c[p]!)), v];
    }
    yield* this.side;
  }

  /**
   * Adds a path given as percent-encoded UTF-8 bytes (as in `add.path`), decoded straight into
   * the name chunk; its folder is then interned and the name moved over it. Returns false,
   * adding nothing, when the path must take the string route (see encoded-path.ts) or its file
   * name is long, or, with `replace` false, when the path is there with another value.
   */
  addEncoded(src: Uint8Array, start: number, end: number, value: number, replace = true): boolean {
    // Room for the record: a length byte and the path (decoded, it is no longer). Anything
    // longer than a few KB is left to the string route.
    const room = end - start + 1;
    if (room > MAX_ENCODED) return false;
    const off = this.allocName(room);
    const chunk = this.chunks[off >>> CHUNK_BITS]!;
    const p = (off & CHUNK_MASK) + 1;
    if (!decodePathInto(src, start, end, chunk, p)) {
      this.chunkUsed -= room;
      return false;
    }
    const nameAt = p + decoded.slash + 1;
    const n = p + decoded.length - nameAt;
    if (n >= LONG_NAME) {
      this.chunkUsed -= room;
      return false;
    }
    const folder = this.folders.intern(chunk, p, nameAt, decoded.folderHash);
    // The folder is interned: keep only the name, right after its length byte.
    if (nameAt !== p) chunk.copyWithin(p, nameAt, nameAt + n);
    chunk[p - 1] = n;
    const h = entryHash(decoded.hash);
    const e = this.findName(folder, chunk, p, n, h);
    if (e >= 0) {
      this.chunkUsed -= room;
      if (!replace && this.ent[3 * e + 2] !== value) return false;
      this.ent[3 * e + 2] = value;
    } else {
      this.chunkUsed -= room - 1 - n;
      this.append(folder, off, h, value);
    }
    return true;
  }

  /**
   * A deep copy, to be changed while this one stays frozen. Full name chunks are shared (never
   * written again: appends go to the last chunk only), so a copy costs the entry arrays and table.
   */
  clone(): PathIndex {
    // Removed entries keep their name bytes and slots until the index is rebuilt: a copy made
    // after much churn is a compact one (live entries and folders only).
    if (this.entries - this.live > Math.max(1024, this.live >>> 2)) return this.compacted();
    const c = Object.create(PathIndex.prototype) as PathIndex;
    const last = this.chunks.length - 1;
    Object.assign(c, this, {
      folders: this.folders.clone(),
      chunks: this.chunks.map((ch, i) => (i === last ? ch.slice() : ch)),
      ent: this.ent.slice(),
      table: this.table.slice(),
      side: new Map(this.side),
    });
    return c;
  }

  /**
   * clone() a slice at a time, other requests running in between (this index must stay frozen
   * meanwhile: a snapshot's is), with room for `room` more entries so that adding them to the copy
   * never regrows or rehashes it in one block.
   */
  async cloneInSlices(room = 0): Promise<PathIndex> {
    if (this.entries - this.live > Math.max(1024, this.live >>> 2)) return this.compactedInSlices(room);
    const c = Object.create(PathIndex.prototype) as PathIndex;
    const last = this.chunks.length - 1;
    const cap = Math.max(this.cap, this.entries + room);
    Object.assign(c, this, {
      folders: this.folders.clone(),
      chunks: this.chunks.map((ch, i) => (i === last ? ch.slice() : ch)),
      ent: await copyInSlices(this.ent, cap * 3, this.entries * 3),
      cap,
      side: new Map(this.side),
    });
    // append() rehashes once used slots (tombstones too) pass half the table, and entry numbers
    // must fit a slot's low bits: a table without room for `room` more is rebuilt larger now.
    if ((this.used + room) * 2 <= this.slots && bitsFor(cap) <= this.idxBits)
      c.table = await copyInSlices(this.table, this.table.length);
    else await c.rehashInSlices(Math.max(this.slots, pow2AtLeast((this.live + room) * 2 + 2)));
    return c;
  }

  /** rehash(), a slice at a time: for a copy no one reads yet. */
  private rehashInSlices(slots: number): Promise<void> {
    return runInSlices(this.rehashSteps(slots));
  }

  /** rehash() as steps, each a slice of the table's pages or of the entries placed. */
  private *rehashSteps(slots: number): Generator<void> {
    this.idxBits = Math.max(this.idxBits, bitsFor(this.cap));
    this.slots = slots;
    this.table = yield* freshSteps(slots);
    this.used = 0;
    for (let e = 0; e < this.entries; e++) {
      if (e % ENTRY_SLICE === ENTRY_SLICE - 1) yield;
      if (this.ent[3 * e + 2] === DELETED) continue;
      this.place(e, this.hashOfEntry(e));
      this.used++;
    }
  }

  /** A copy holding only the live entries and their folders, copied byte for byte. */
  private compacted(): PathIndex {
    return runToEnd(this.compact(new PathIndex(this.live)));
  }

  private async compactedInSlices(room: number): Promise<PathIndex> {
    const c = new PathIndex(this.live + room);
    // Its arrays' pages faulted in a slice at a time, not by the first slices' scattered writes.
    c.ent = await freshInSlices(c.ent.length);
    c.table = await freshInSlices(c.table.length);
    return runInSlices(this.compact(c));
  }

  /** compacted() into `c` (new, with room for the live entries) as steps: yields after each slice of entries. */
  private *compact(c: PathIndex): Generator<void, PathIndex> {
    const folderIds = new Int32Array(this.folders.count).fill(-1);
    for (let e = 0; e < this.entries; e++) {
      if (e % ENTRY_SLICE === ENTRY_SLICE - 1) yield;
      const v = this.ent[3 * e + 2]!;
      if (v === DELETED) continue;
      const f = this.ent[3 * e + 1]!;
      const folderHash = this.folders.hashOf(f);
      let nf = folderIds[f]!;
      if (nf < 0) {
        const bytes = this.folders.bytes(f);
        nf = c.folders.intern(bytes, 0, bytes.length, folderHash);
        folderIds[f] = nf;
      }
      const o = this.ent[3 * e]! >>> 0;
      const src = this.chunks[o >>> CHUNK_BITS]!;
      const p = o & CHUNK_MASK;
      const n = src[p]!;
      const off = c.allocName(n + 1);
      c.chunks[off >>> CHUNK_BITS]!.set(src.subarray(p, p + 1 + n), off & CHUNK_MASK);
      c.append(nf, off, entryHash(fnvBytes(src, p + 1, p + 1 + n, folderHash)), v);
    }
    c.side = new Map(this.side);
    return c;
  }

  /** Releases unused capacity: the last chunk's tail and spare entry slots (call once loading is done). */
  trim(): void {
    const last = this.chunks.length - 1;
    if (last >= 0 && this.chunks[last]!.length - this.chunkUsed > 4096) {
      this.chunks[last] = this.chunks[last]!.slice(0, this.chunkUsed);
    }
    if (this.cap - this.entries > Math.max(64, this.cap / 8)) this.resizeEntries(this.entries);
  }

  /** The entry of `key`, NOT_FOUND, or IN_SIDE when the key belongs to the side map. */
  private find(key: string): number {
    const h = entryHash(hashPath(key));
    if (pathInfo.loneSurrogate || pathInfo.nameBytes >= LONG_NAME) return IN_SIDE;
    const slash = pathInfo.slash;
    const folder = this.folders.findString(key, 0, slash + 1, pathInfo.folderHash);
    if (folder < 0) return NOT_FOUND;
    const idxMask = (1 << this.idxBits) - 1;
    const tag = h & ~idxMask;
    const mask = this.slots - 1;
    const t = this.table;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const slot = t[i]!;
      if (slot === EMPTY) return NOT_FOUND;
      if (slot === TOMBSTONE || (slot & ~idxMask) !== tag) continue;
      const e = (slot & idxMask) - 1;
      if (this.ent[3 * e + 1] !== folder) continue;
      const o = this.ent[3 * e]! >>> 0;
      const c = this.chunks[o >>> CHUNK_BITS]!;
      const p = (o & CHUNK_MASK) + 1;
      if (equalsStringRange(c, p, p + c[p - 1]!, key, slash + 1, key.length)) {
        this.foundSlot = i;
        return e;
      }
    }
  }

  /** The entry with this folder and name src[at, at + n), or NOT_FOUND. */
  private findName(folder: number, src: Uint8Array, at: number, n: number, h: number): number {
    const idxMask = (1 << this.idxBits) - 1;
    const tag = h & ~idxMask;
    const mask = this.slots - 1;
    const t = this.table;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const slot = t[i]!;
      if (slot === EMPTY) return NOT_FOUND;
      if (slot === TOMBSTONE || (slot & ~idxMask) !== tag) continue;
      const e = (slot & idxMask) - 1;
      if (this.ent[3 * e + 1] !== folder) continue;
      const o = this.ent[3 * e]! >>> 0;
      const c = this.chunks[o >>> CHUNK_BITS]!;
      const p = o & CHUNK_MASK;
      if (c[p] === n && equalBytes(c, p + 1, src, at, n)) return e;
    }
  }

  /** Registers a new entry whose name record is already at `off`. */
  private append(folder: number, off: number, h: number, value: number): void {
    if (this.entries === this.cap) this.resizeEntries(Math.max(16, this.entries * 2));
    // Before the entry exists: rehash places every existing entry.
    if ((this.used + 1) * 2 > this.slots) this.rehash(pow2AtLeast(Math.max(16, this.live * 2 + 2)));
    const e = this.entries++;
    this.ent[3 * e] = off;
    this.ent[3 * e + 1] = folder;
    this.ent[3 * e + 2] = value;
    this.live++;
    this.place(e, h);
    this.used++;
  }

  /**
   * Room for n name bytes (give back what is unused by lowering chunkUsed): in the last chunk,
   * grown up to CHUNK while it is the only one, or in a new one.
   */
  private allocName(n: number): number {
    let last = this.chunks.length - 1;
    if (last < 0 || this.chunkUsed + n > CHUNK) {
      // After the first chunk the table is big: new chunks start full size.
      this.chunks.push(new Uint8Array(last < 0 ? 1024 : CHUNK));
      this.chunkUsed = 0;
      last++;
    }
    const c = this.chunks[last]!;
    if (this.chunkUsed + n > c.length) {
      const g = new Uint8Array(Math.min(CHUNK, Math.max(c.length * 2, this.chunkUsed + n)));
      g.set(c.subarray(0, this.chunkUsed));
      this.chunks[last] = g;
    }
    const off = last * CHUNK + this.chunkUsed;
    this.chunkUsed += n;
    return off;
  }

  private place(e: number, h: number): void {
    const mask = this.slots - 1;
    const t = this.table;
    let i = h & mask;
    while (t[i] !== EMPTY) i = (i + 1) & mask;
    t[i] = (h & ~((1 << this.idxBits) - 1)) | (e + 1);
  }

  /** Rebuilds the table with `slots` slots, dropping tombstones (hashes recomputed from the names). */
  private rehash(slots: number): void {
    this.slots = slots;
    this.table = new Int32Array(slots);
    this.used = 0;
    for (let e = 0; e < this.entries; e++) {
      if (this.ent[3 * e + 2] === DELETED) continue;
      const o = this.ent[3 * e]! >>> 0;
      const c = this.chunks[o >>> CHUNK_BITS]!;
      const p = o & CHUNK_MASK;
      const folderHash = this.folders.hashOf(this.ent[3 * e + 1]!);
      const h = entryHash(fnvBytes(c, p + 1, p + 1 + c[p]!, folderHash));
      this.place(e, h);
      this.used++;
    }
  }

  /** The table hash of entry e, from its name's bytes and its folder's hash. */
  private hashOfEntry(e: number): number {
    const o = this.ent[3 * e]! >>> 0;
    const c = this.chunks[o >>> CHUNK_BITS]!;
    const p = o & CHUNK_MASK;
    return entryHash(fnvBytes(c, p + 1, p + 1 + c[p]!, this.folders.hashOf(this.ent[3 * e + 1]!)));
  }

  private resizeEntries(cap: number): void {
    const ent = new Int32Array(cap * 3);
    ent.set(this.ent.subarray(0, this.entries * 3));
    this.ent = ent;
    this.cap = cap;
    // Entry numbers must fit a slot's low bits: widen them (and re-tag) when the capacity outgrows them.
    if (bitsFor(cap) > this.idxBits) {
      this.idxBits = bitsFor(cap);
      this.rehash(this.slots);
    }
  }
}

/** The table hash of a path from its raw FNV-1a state, mixed (murmur3 finalizer). */
function entryHash(state: number): number {
  let h = state;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h & 0x7fffffff;
}

let scratch = new Uint8Array(4096);

function scratchFor(n: number): Uint8Array {
  if (scratch.length < n) scratch = new Uint8Array(pow2AtLeast(n));
  return scratch;
}

/** A copy of src[0, used) in a new array of `length`, COPY_SLICE words at a time. */
function copyInSlices(src: Int32Array, length: number, used = src.length): Promise<Int32Array> {
  return runInSlices(copySteps(src, length, used));
}

function* copySteps(src: Int32Array, length: number, used = src.length): Generator<void, Int32Array> {
  const out = new Int32Array(length);
  for (let at = 0; at < used; at += COPY_SLICE) {
    yield;
    out.set(src.subarray(at, Math.min(used, at + COPY_SLICE)), at);
  }
  return out;
}

/**
 * A zeroed array of `length`, written over a slice at a time: a new array's pages fault in on first
 * write, which scattered writes (a hash table's) otherwise do all at once, in one slice.
 */
function freshInSlices(length: number): Promise<Int32Array> {
  return runInSlices(freshSteps(length));
}

function* freshSteps(length: number): Generator<void, Int32Array> {
  const out = new Int32Array(length);
  for (let at = 0; at < length; at += COPY_SLICE) {
    yield;
    out.fill(0, at, Math.min(length, at + COPY_SLICE));
  }
  return out;
}

function bitsFor(n: number): number {
  return 32 - Math.clz32(n);
}
