/**
 * The virtual namespace: bucket `datalake`, whose top-level folders are table aliases. A virtual
 * key `alias/rest` maps to `prefix/rest` in the alias's backend bucket and can never leave it.
 */
import { S3Error } from '../core/s3-error';
import type { TableMap, TableMount } from '../core/table-mount';

export const VIRTUAL_BUCKET = 'datalake';
/** S3's limit on key length, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;

/** Percent-decodes a raw path component once; malformed escapes or invalid UTF-8 are refused. */
export function decodeComponent(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new S3Error('InvalidURI', "Couldn't parse the specified URI.", {}, 'malformed percent-encoding');
  }
}

const FORBIDDEN_CHARS = /[\u0000-\u001f\u007f\\]/;
const DOT_SEGMENT = /^\.{1,2}$/;

/**
 * True when further percent-decodings (up to 3: double and triple encoding) turn the segment
 * into, or split it around, a "." or ".." segment. We never decode twice ourselves, but a
 * backend or a downstream tool might.
 */
function hidesDotSegment(segment: string): boolean {
  let s = segment;
  for (let i = 0; i < 3 && s.includes('%'); i++) {
    try {
      s = decodeURIComponent(s);
    } catch {
      return false;
    }
    if (s.split(/[/\\]/).some((piece) => DOT_SEGMENT.test(piece))) return true;
  }
  return false;
}

/**
 * Checks a decoded object key (or listing prefix) before it is mapped to the backend:
 * no control characters or backslashes, no "." / ".." segments (plain or encoded again), no
 * empty segments except a trailing one (folder keys and prefixes end in "/"), and at most
 * MAX_KEY_BYTES.
 */
export function assertSafeKey(key: string, what: 'key' | 'prefix' = 'key'): void {
  if (Buffer.byteLength(key) > MAX_KEY_BYTES)
    throw new S3Error('KeyTooLongError', 'Your key is too long', {}, `${what} over 1024 bytes`);
  if (FORBIDDEN_CHARS.test(key))
    throw new S3Error(
      'InvalidArgument',
      `The ${what} contains a character this proxy does not accept.`,
      {},
      'control char or backslash',
    );
  const segments = key.split('/');
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    const last = i === segments.length - 1;
    if (seg === '' && !last)
      throw new S3Error(
        'InvalidArgument',
        `The ${what} must not contain empty path segments.`,
        {},
        'empty segment',
      );
    if (DOT_SEGMENT.test(seg) || hidesDotSegment(seg))
      throw new S3Error(
        'InvalidArgument',
        `The ${what} must not contain "." or ".." segments.`,
        {},
        'dot segment',
      );
  }
}

export interface ResolvedKey {
  mount: TableMount;
  /** The key relative to the table root ("" for the alias itself). */
  relKey: string;
  /** Backend key: mount.prefix + relKey. */
  backendKey: string;
}

/**
 * Maps a decoded virtual key to its table; undefined when the alias is not mapped, or when the
 * backend key would be over S3's limit: no object can be there, and a KeyTooLongError for a key
 * that fits as asked would tell anyone the alias is mapped (and, by bisection, its prefix's length).
 */
export function resolveKey(tables: TableMap, key: string): ResolvedKey | undefined {
  const slash = key.indexOf('/');
  const alias = slash < 0 ? key : key.slice(0, slash);
  const mount = tables.get(alias);
  if (!mount) return undefined;
  const relKey = slash < 0 ? '' : key.slice(slash + 1);
  const backendKey = mount.prefix + relKey;
  // Defence in depth: the mapping is a plain concatenation, so this can only fail on a bug.
  if (!backendKey.startsWith(mount.prefix))
    throw new S3Error('KeyTooLongError', 'Your key is too long', {}, 'backend key outside the table');
  if (Buffer.byteLength(backendKey) > MAX_KEY_BYTES) return undefined;
  return { mount, relKey, backendKey };
}
