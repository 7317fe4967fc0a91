/**
 * Interned folders ("date=2024-01-01/region=eu/", "" for the table root) of a path index: every
 * file of a partition shares its folder, so the folder bytes are stored once per folder instead
 * of once per file. Append-only; ids are dense from 0.
 */
import { equalBytes, equalsStringRange, pow2AtLeast } from './utf8-hash';

const utf8 = new TextDecoder();

export class FolderTable {
  private arena = new Uint8Array(4096);
  private arenaLen = 0;
  private off = new Int32Array(64);
  private len = new Int32Array(64);
  private hashes = new Int32Array(64);
  private texts: (string | undefined)[] = [];
  /** Open addressing, linear probing: folder id + 1, or 0 for empty. */
  private table = new Int32Array(128);
  private n = 0;

  get count(): number {
    return this.n;
  }

  get byteSize(): number {
    return this.arena.byteLength + this.off.byteLength * 3 + this.table.byteLength + this.n * 16;
  }

  /** The id of the folder spelled by s[from, to) (h: its raw FNV-1a state, see utf8-hash.ts), or -1. */
  findString(s: string, from: number, to: number, h: number): number {
    const mask = this.table.length - 1;
    const t = this.table;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const slot = t[i]!;
      if (slot === 0) return -1;
      const id = slot - 1;
      if (this.hashes[id] !== h) continue;
      const o = this.off[id]!;
      if (equalsStringRange(this.arena, o, o + this.len[id]!, s, from, to)) return id;
    }
  }

  /** The id of the folder src[start, end) (h: its raw FNV-1a state), added when new. */
  intern(src: Uint8Array, start: number, end: number, h: number): number {
    const n = end - start;
    const mask = this.table.length - 1;
    const t = this.table;
    let i = h & mask;
    for (; ; i = (i + 1) & mask) {
      const slot = t[i]!;
      if (slot === 0) break;
      const id = slot - 1;
      if (
        this.hashes[id] === h &&
        this.len[id] === n &&
        equalBytes(this.arena, this.off[id]!, src, start, n)
      ) {
        return id;
      }
    }
    return this.add(src, start, end, h);
  }

  /** The raw FNV-1a state of folder `id`'s bytes (a path's hash continues from it). */
  hashOf(id: number): number {
    return this.hashes[id]!;
  }

  /** The folder's UTF-8 bytes (a view: copy before keeping). */
  bytes(id: number): Uint8Array {
    return this.arena.subarray(this.off[id]!, this.off[id]! + this.len[id]!);
  }

  /** The folder's text (decoded once, then kept). */
  text(id: number): string {
    let s = this.texts[id];
    if (s === undefined) {
      s = utf8.decode(this.arena.subarray(this.off[id]!, this.off[id]! + this.len[id]!));
      this.texts[id] = s;
    }
    return s;
  }

  clone(): FolderTable {
    const c = Object.create(FolderTable.prototype) as FolderTable;
    Object.assign(c, this, {
      arena: this.arena.slice(),
      off: this.off.slice(),
      len: this.len.slice(),
      hashes: this.hashes.slice(),
      texts: [...this.texts],
      table: this.table.slice(),
    });
    return c;
  }

  private add(src: Uint8Array, start: number, end: number, h: number): number {
    const n = end - start;
    if (this.arenaLen + n > this.arena.length) {
      const a = new Uint8Array(Math.max(this.arena.length * 2, this.arenaLen + n));
      a.set(this.arena.subarray(0, this.arenaLen));
      this.arena = a;
    }
    this.arena.set(src.subarray(start, end), this.arenaLen);
    if (this.n === this.off.length) {
      const grow = (a: Int32Array) => {
        const b = new Int32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.off = grow(this.off);
      this.len = grow(this.len);
      this.hashes = grow(this.hashes);
    }
    const id = this.n++;
    this.off[id] = this.arenaLen;
    this.len[id] = n;
    this.hashes[id] = h;
    this.arenaLen += n;
    if (this.n * 2 > this.table.length) this.rehash(pow2AtLeast(this.n * 4));
    else this.place(id, h);
    return id;
  }

  private place(id: number, h: number): void {
    const mask = this.table.length - 1;
    let i = h & mask;
    while (this.table[i] !== 0) i = (i + 1) & mask;
    this.table[i] = id + 1;
  }

  private rehash(slots: number): void {
    this.table = new Int32Array(slots);
    for (let id = 0; id < this.n; id++) this.place(id, this.hashes[id]!);
  }
}
