/**
 * The fast route for a checkpoint's `add.path` bytes: percent-decoding, validating and hashing
 * (FNV-1a) in one pass, straight into the destination buffer. Anything unusual (absolute URI,
 * empty / "." / ".." segment, backslash, NUL, control or non-ASCII character, invalid escape) is
 * refused, and the caller takes the string route (TableRoot.resolve), which handles it all.
 */
import { FNV_OFFSET, FNV_PRIME } from './utf8-hash';

/** What the last decode call produced (module-level: the hot path allocates nothing). */
export const decoded = { length: 0, slash: -1, hash: 0, folderHash: 0 };

/**
 * Percent-decodes a whole relative path src[start, end) into out[base...], checking every
 * segment, and hashing it in one pass: decoded.length, .slash (offset of the last "/", -1 for
 * none), .hash (raw FNV-1a state of the path) and .folderHash (the state just after the last
 * "/"). Returns false to refuse.
 */
export function decodePathInto(
  src: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
  base: number,
): boolean {
  if (end === start || src[start] === 0x2f) return false;
  let o = base;
  let segStart = base;
  let h = FNV_OFFSET;
  let folderHash = FNV_OFFSET;
  let slash = -1;
  for (let i = start; i < end; i++) {
    let b = src[i]!;
    if (SPECIAL[b] !== 0) {
      if (b !== 0x2f) {
        b = decodeSpecial(src, i, end, segStart === base);
        if (b < 0) return false;
        i += specialWidth - 1;
      }
      if (b === 0x2f) {
        if (!segmentOk(out, segStart, o)) return false;
        segStart = o + 1;
        h = Math.imul(h ^ b, FNV_PRIME);
        folderHash = h;
        slash = o - base;
        out[o++] = b;
        continue;
      }
    }
    h = Math.imul(h ^ b, FNV_PRIME);
    out[o++] = b;
  }
  if (!segmentOk(out, segStart, o)) return false;
  decoded.length = o - base;
  decoded.slash = slash;
  decoded.folderHash = folderHash;
  decoded.hash = h;
  return true;
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

function hex(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x41 && b <= 0x46) return b - 0x37;
  if (b >= 0x61 && b <= 0x66) return b - 0x57;
  return -1;
}

/** A path segment must not be empty, "." or "..". */
export function segmentOk(a: Uint8Array, s: number, e: number): boolean {
  const n = e - s;
  if (n === 0) return false;
  if (n === 1 && a[s] === 0x2e) return false;
  if (n === 2 && a[s] === 0x2e && a[s + 1] === 0x2e) return false;
  return true;
}
