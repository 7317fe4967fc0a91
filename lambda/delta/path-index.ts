/**
 * A compact string → int32 hash map for a table's file paths: the UTF-8 bytes of every path in
 * one arena, plus four int32 per entry and an open-addressing table — about 24-30 bytes per file
 * beyond the path bytes, against ~60 for a JS Map of strings, and no per-path object for the GC
 * to trace. Checkpoint paths go in straight from Parquet page bytes (percent-decoded on the fly,
 * no JS string made); lookups hash the JS string's UTF-8 form without allocating.
 */
const EMPTY = 0;
const TOMBSTONE = -1;
const DELETED = -2147483648;
const utf8 = new TextDecoder();

export class PathIndex {
  private arena: Uint8Array;
  private arenaLen = 0;
  /** Per entry: arena offset, byte length, value (DELETED once removed). */
  private off: Int32Array;
  private len: Int32Array;
  private val: Int32Array;
  private entries = 0;
  private live = 0;
  /**
   * Open addressing, linear probing; slot i is [entry + 1 | EMPTY | TOMBSTONE, hash] so a probe
   * touches one cache line.
   */
  private table: Int32Array;
  private slots: number;
  private used = 0;

  constructor(expectedEntries = 16, expectedBytes = expectedEntries * 64) {
    const cap = Math.max(16, expectedEntries);
    this.arena = new Uint8Array(Math.max(1024, expectedBytes));
    this.off = new Int32Array(cap);
    this.len = new Int32Array(cap);
    this.val = new Int32Array(cap);
    this.slots = pow2(cap * 2);
    this.table = new Int32Array(this.slots * 2);
  }

  /** Makes room for `entries` more paths of `bytes` total, so a bulk load never regrows. */
  reserve(entries: number, bytes: number): void {
    if (this.arenaLen + bytes > this.arena.length) this.growArena(bytes);
    while (this.entries + entries > this.off.length) this.growEntries();
    const need = pow2((this.live + entries) * 2);
    if (need > this.slots) this.rehash(need);
  }

  get size(): number {
    return this.live;
  }

  /** Bytes held by the typed arrays (the resident cost of this index). */
  get byteSize(): number {
    return this.arena.byteLength + this.off.byteLength * 3 + this.table.byteLength;
  }

  get(key: string): number | undefined {
    const e = this.find(key);
    return e < 0 ? undefined : this.val[e];
  }

  has(key: string): boolean {
    return this.find(key) >= 0;
  }

  set(key: string, value: number): this {
    const e = this.find(key);
    if (e >= 0) {
      this.val[e] = value;
      return this;
    }
    const bytes = new TextEncoder().encode(key);
    if (this.arenaLen + bytes.length > this.arena.length) this.growArena(bytes.length);
    this.arena.set(bytes, this.arenaLen);
    this.append(this.arenaLen, bytes.length, hashBytes(bytes, 0, bytes.length), value);
    return this;
  }

  delete(key: string): boolean {
    const h = hashString(key);
    const mask = this.slots - 1;
    const t = this.table;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const slot = t[2 * i]!;
      if (slot === EMPTY) return false;
      if (slot === TOMBSTONE || t[2 * i + 1] !== h) continue;
      const e = slot - 1;
      if (this.equalsString(e, key)) {
        t[2 * i] = TOMBSTONE;
        this.val[e] = DELETED;
        this.live--;
        return true;
      }
    }
  }

  forEach(visit: (value: number, key: string) => void): void {
    for (let e = 0; e < this.entries; e++) {
      const v = this.val[e]!;
      if (v === DELETED) continue;
      visit(v, utf8.decode(this.arena.subarray(this.off[e]!, this.off[e]! + this.len[e]!)));
    }
  }

  /**
   * Adds a path given as percent-encoded UTF-8 bytes (as in `add.path`), decoding %XX on the
   * way in. Returns false, adding nothing, when the decoded path is not a plain relative ASCII
   * path (absolute URI, empty / "." / ".." segment, backslash, NUL, control or non-ASCII
   * character, invalid escape): the caller then takes the general string route.
   */
  addEncoded(src: Uint8Array, start: number, end: number, value: number): boolean {
    const n = end - start;
    if (this.arenaLen + n > this.arena.length) this.growArena(n);
    const base = this.arenaLen;
    const h = decodeInto(src, start, end, this.arena, base);
    if (h < 0) return false;
    const len = decodedLength;
    const existing = this.findBytes(base, len, h);
    if (existing >= 0) this.val[existing] = value;
    else this.append(base, len, h, value);
    return true;
  }

  /** A deep copy (typed-array copies: fast even at millions of entries). */
  clone(): PathIndex {
    const c = Object.create(PathIndex.prototype) as PathIndex;
    Object.assign(c, this, {
      arena: this.arena.slice(0, Math.max(this.arenaLen, 1024)),
      off: this.off.slice(),
      len: this.len.slice(),
      val: this.val.slice(),
      table: this.table.slice(),
    });
    return c;
  }

  /** Releases the arena's unused tail (call once loading is done). */
  trim(): void {
    // Copying costs a second arena for a moment: only worth it when much is unused.
    if (this.arena.length - this.arenaLen > Math.max(4096, this.arena.length / 4)) {
      this.arena = this.arena.slice(0, this.arenaLen);
    }
  }

  private find(key: string): number {
    const h = hashString(key);
    const mask = this.slots - 1;
    const t = this.table;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const slot = t[2 * i]!;
      if (slot === EMPTY) return -1;
      if (slot === TOMBSTONE || t[2 * i + 1] !== h) continue;
      if (this.equalsString(slot - 1, key)) return slot - 1;
    }
  }

  /** Finds the entry equal to arena[at, at + n) (bytes not yet registered). */
  private findBytes(at: number, n: number, h: number): number {
    const mask = this.slots - 1;
    const t = this.table;
    const a = this.arena;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const slot = t[2 * i]!;
      if (slot === EMPTY) return -1;
      if (slot === TOMBSTONE || t[2 * i + 1] !== h) continue;
      const e = slot - 1;
      if (this.len[e] !== n) continue;
      const o = this.off[e]!;
      let j = 0;
      while (j < n && a[o + j] === a[at + j]) j++;
      if (j === n) return e;
    }
  }

  /** Compares entry e with the UTF-8 encoding of `s`, without encoding it. */
  private equalsString(e: number, s: string): boolean {
    const a = this.arena;
    let p = this.off[e]!;
    const end = p + this.len[e]!;
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) {
        if (p >= end || a[p++] !== c) return false;
        continue;
      }
      if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d < 0xe000) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
        }
      }
      if (c < 0x800) {
        if (p + 2 > end || a[p++] !== (0xc0 | (c >> 6)) || a[p++] !== (0x80 | (c & 63))) return false;
      } else if (c < 0x10000) {
        if (
          p + 3 > end ||
          a[p++] !== (0xe0 | (c >> 12)) ||
          a[p++] !== (0x80 | ((c >> 6) & 63)) ||
          a[p++] !== (0x80 | (c & 63))
        )
          return false;
      } else if (
        p + 4 > end ||
        a[p++] !== (0xf0 | (c >> 18)) ||
        a[p++] !== (0x80 | ((c >> 12) & 63)) ||
        a[p++] !== (0x80 | ((c >> 6) & 63)) ||
        a[p++] !== (0x80 | (c & 63))
      )
        return false;
    }
    return p === end;
  }

  private growArena(n: number): void {
    const a = new Uint8Array(Math.max(this.arena.length * 2, this.arenaLen + n));
    a.set(this.arena.subarray(0, this.arenaLen));
    this.arena = a;
  }

  /** Registers the n bytes already at arena[at] (at === arenaLen) as a new entry. */
  private append(at: number, n: number, h: number, value: number): void {
    if (this.entries === this.off.length) this.growEntries();
    const e = this.entries++;
    this.off[e] = at;
    this.len[e] = n;
    this.val[e] = value;
    this.arenaLen = at + n;
    this.live++;
    if ((this.used + 1) * 2 > this.slots) this.rehash(pow2(Math.max(16, this.live * 2 + 2)));
    this.place(e, h);
    this.used++;
  }

  private place(e: number, h: number): void {
    const mask = this.slots - 1;
    const t = this.table;
    let i = h & mask;
    while (t[2 * i] !== EMPTY) i = (i + 1) & mask;
    t[2 * i] = e + 1;
    t[2 * i + 1] = h;
  }

  /** Rebuilds the table with `slots` slots, dropping tombstones. */
  private rehash(slots: number): void {
    const old = this.table;
    this.slots = slots;
    this.table = new Int32Array(slots * 2);
    this.used = 0;
    for (let i = 0; i < old.length; i += 2) {
      const slot = old[i]!;
      if (slot > 0) {
        this.place(slot - 1, old[i + 1]!);
        this.used++;
      }
    }
  }

  private growEntries(): void {
    const cap = this.off.length * 2;
    const grow = (a: Int32Array) => {
      const b = new Int32Array(cap);
      b.set(a);
      return b;
    };
    this.off = grow(this.off);
    this.len = grow(this.len);
    this.val = grow(this.val);
  }
}

let decodedLength = 0;

/**
 * Percent-decodes src[start, end) into out[base...], validating and hashing in one pass.
 * Returns the hash (length in `decodedLength`), or -1 when the path must take the string
 * route. Kept free of rare branches (they are in decodeSpecial) so V8 optimizes it once.
 */
function decodeInto(src: Uint8Array, start: number, end: number, out: Uint8Array, base: number): number {
  if (end === start || src[start] === 0x2f) return -1;
  let o = base;
  let segStart = base;
  let h = 0x811c9dc5 | 0;
  for (let i = start; i < end; i++) {
    let b = src[i]!;
    if (SPECIAL[b] !== 0) {
      if (b === 0x2f) {
        if (!segmentOk(out, segStart, o)) return -1;
        segStart = o + 1;
      } else {
        b = decodeSpecial(src, i, end, segStart === base);
        if (b < 0) return -1;
        if (b === 0x2f) {
          if (!segmentOk(out, segStart, o)) return -1;
          segStart = o + 1;
        }
        i += specialWidth - 1;
      }
    }
    h = Math.imul(h ^ b, 0x01000193);
    out[o++] = b;
  }
  if (!segmentOk(out, segStart, o)) return -1;
  decodedLength = o - base;
  return h & 0x7fffffff;
}

let specialWidth = 1;

/** The byte for a special input byte at src[i] ("%XX" or ":"), or -1 to refuse the fast path. */
function decodeSpecial(src: Uint8Array, i: number, end: number, firstSegment: boolean): number {
  const b = src[i]!;
  specialWidth = 1;
  if (b === 0x3a) return firstSegment ? -1 : b; // "scheme:" would make it an absolute URI
  if (b !== 0x25 || i + 2 >= end) return -1;
  const hi = hex(src[i + 1]!);
  const lo = hex(src[i + 2]!);
  if (hi < 0 || lo < 0) return -1;
  const d = (hi << 4) | lo;
  // Non-ASCII and control characters take the string route (which validates UTF-8).
  if (d >= 0x80 || d < 0x20 || d === 0x5c || (d === 0x3a && firstSegment)) return -1;
  specialWidth = 3;
  return d;
}

/** Bytes that need a closer look in a path: "%", "/", ":", "\\", NUL, control and non-ASCII. */
const SPECIAL = new Uint8Array(256);
for (let b = 0; b < 256; b++)
  SPECIAL[b] = b < 0x20 || b >= 0x80 || b === 0x25 || b === 0x2f || b === 0x3a || b === 0x5c ? 1 : 0;

function pow2(n: number): number {
  let p = 16;
  while (p < n) p *= 2;
  return p;
}

function hex(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x41 && b <= 0x46) return b - 0x37;
  if (b >= 0x61 && b <= 0x66) return b - 0x57;
  return -1;
}

function segmentOk(a: Uint8Array, s: number, e: number): boolean {
  const n = e - s;
  if (n === 0) return false;
  if (n === 1 && a[s] === 0x2e) return false;
  if (n === 2 && a[s] === 0x2e && a[s + 1] === 0x2e) return false;
  return true;
}

/** FNV-1a over UTF-8 bytes. */
function hashBytes(b: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h & 0x7fffffff;
}

/** FNV-1a over the UTF-8 encoding of `s`, computed from its UTF-16 code units. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      h = Math.imul(h ^ c, 0x01000193);
      continue;
    }
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c < 0x800) {
      h = Math.imul(h ^ (0xc0 | (c >> 6)), 0x01000193);
      h = Math.imul(h ^ (0x80 | (c & 63)), 0x01000193);
    } else if (c < 0x10000) {
      h = Math.imul(h ^ (0xe0 | (c >> 12)), 0x01000193);
      h = Math.imul(h ^ (0x80 | ((c >> 6) & 63)), 0x01000193);
      h = Math.imul(h ^ (0x80 | (c & 63)), 0x01000193);
    } else {
      h = Math.imul(h ^ (0xf0 | (c >> 18)), 0x01000193);
      h = Math.imul(h ^ (0x80 | ((c >> 12) & 63)), 0x01000193);
      h = Math.imul(h ^ (0x80 | ((c >> 6) & 63)), 0x01000193);
      h = Math.imul(h ^ (0x80 | (c & 63)), 0x01000193);
    }
  }
  return h & 0x7fffffff;
}
