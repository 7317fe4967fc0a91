/**
 * FNV-1a hashing and equality over UTF-8, shared by the path index and its folder table: the
 * same hash from stored bytes and from a JS string (computed from its UTF-16 code units, so a
 * lookup never encodes or slices the string). Hashes are raw int32 FNV states, so a path's hash
 * continues its folder's.
 */
export const FNV_OFFSET = 0x811c9dc5 | 0;
export const FNV_PRIME = 0x01000193;

/** Side results of hashPath (module-level so that a lookup allocates nothing). */
export const pathInfo = { slash: -1, folderHash: 0, nameBytes: 0, loneSurrogate: false };

/** FNV-1a state after bytes [start, end), continuing from `state` (raw int32). */
export function fnvBytes(b: Uint8Array, start: number, end: number, state: number): number {
  let h = state;
  for (let i = start; i < end; i++) h = Math.imul(h ^ b[i]!, FNV_PRIME);
  return h;
}

/**
 * The raw FNV-1a state of a path's UTF-8 encoding, and in pathInfo: its last "/" (UTF-16
 * index, -1 for none), the state right after that "/" (the folder's hash), the file name's
 * UTF-8 length, and whether an unpaired surrogate occurs. One pass, no allocation.
 */
export function hashPath(s: string): number {
  let h = FNV_OFFSET;
  let folderHash = FNV_OFFSET;
  let slash = -1;
  let n = 0;
  let nameFrom = 0;
  let lone = false;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      h = Math.imul(h ^ c, FNV_PRIME);
      n++;
      if (c === 0x2f) {
        folderHash = h;
        slash = i;
        nameFrom = n;
      }
      continue;
    }
    if (c >= 0xd800 && c < 0xe000) {
      const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (c < 0xdc00 && d >= 0xdc00 && d < 0xe000) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      } else lone = true;
    }
    if (c < 0x800) {
      h = Math.imul(h ^ (0xc0 | (c >> 6)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | (c & 63)), FNV_PRIME);
      n += 2;
    } else if (c < 0x10000) {
      h = Math.imul(h ^ (0xe0 | (c >> 12)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | ((c >> 6) & 63)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | (c & 63)), FNV_PRIME);
      n += 3;
    } else {
      h = Math.imul(h ^ (0xf0 | (c >> 18)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | ((c >> 12) & 63)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | ((c >> 6) & 63)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | (c & 63)), FNV_PRIME);
      n += 4;
    }
  }
  pathInfo.slash = slash;
  pathInfo.folderHash = folderHash;
  pathInfo.nameBytes = n - nameFrom;
  pathInfo.loneSurrogate = lone;
  return h;
}

/** Is a[p, end) the UTF-8 encoding of s[from, to)? (Surrogates must be paired.) */
export function equalsStringRange(
  a: Uint8Array,
  p: number,
  end: number,
  s: string,
  from: number,
  to: number,
): boolean {
  for (let i = from; i < to; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      if (p >= end || a[p++] !== c) return false;
      continue;
    }
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < to) {
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

export function equalBytes(a: Uint8Array, p: number, b: Uint8Array, q: number, n: number): boolean {
  for (let j = 0; j < n; j++) if (a[p + j] !== b[q + j]) return false;
  return true;
}

export function pow2AtLeast(n: number): number {
  let p = 16;
  while (p < n) p *= 2;
  return p;
}
