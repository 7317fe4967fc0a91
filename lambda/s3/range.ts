/**
 * The Range header as S3 reads it: a single `bytes=` range. Syntax S3 does not understand
 * (other units, several ranges, first > last) is ignored and the whole object is served.
 * `bytes=-0` can never be satisfied and is refused with 416.
 */
import { S3Error } from '../core/s3-error';
import type { ByteRange } from '../storage/storage-backend';

/**
 * `bytes = first - last`, either number optional, whitespace around each part. Written so that a
 * run of whitespace can be matched one way only: `\s*(\d*)\s*` lets the two runs split it at every
 * point, and a header of spaces around a dash that then fails to match (a few KB, well within the
 * header limit) cost cubic backtracking, seconds of the event loop.
 */
const RANGE = /^\s*bytes\s*=\s*(?:(\d+)\s*)?-\s*(?:(\d+)\s*)?$/i;

export function parseRange(header: string | undefined): ByteRange | undefined {
  if (!header) return undefined;
  const m = RANGE.exec(header);
  if (!m) return undefined;
  const first = m[1] ?? '';
  const last = m[2] ?? '';
  if (first === '' && last === '') return undefined;
  if (first === '') {
    // A suffix longer than any object asks for the whole of it (RFC 9110 §14.1.2).
    const suffix = position(last);
    if (suffix === 0) throw invalidRange(header);
    return { suffix };
  }
  // A first position past any object is unsatisfiable (416), a last one past it means the end.
  const start = position(first);
  if (last === '') return { start };
  if (compareDigits(last, first) < 0) return undefined;
  return { start, end: position(last) };
}

/**
 * A byte position as written, however many digits: past Number.MAX_SAFE_INTEGER (no object is
 * that large) it stands for MAX_SAFE_INTEGER, which says the same of any object.
 */
function position(digits: string): number {
  return Math.min(Number(digits), Number.MAX_SAFE_INTEGER);
}

/** Two runs of decimal digits compared by value, however long. */
function compareDigits(a: string, b: string): number {
  const x = a.replace(/^0+(?=\d)/, '');
  const y = b.replace(/^0+(?=\d)/, '');
  if (x.length !== y.length) return x.length - y.length;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** S3's 416: it names the range asked for and, where known, the object's size. */
export function invalidRange(header: string | undefined, objectSize?: number): S3Error {
  const extra: Record<string, string> = {};
  if (header !== undefined) extra.RangeRequested = header;
  if (objectSize !== undefined) extra.ActualObjectSize = String(objectSize);
  return new S3Error('InvalidRange', 'The requested range is not satisfiable', extra);
}

/** S3's 416 for a part the object does not have; the parts it has, where known. */
export function invalidPartNumber(requested: number, actualCount?: number): S3Error {
  const extra: Record<string, string> = { PartNumberRequested: String(requested) };
  if (actualCount !== undefined) extra.ActualPartCount = String(actualCount);
  return new S3Error('InvalidPartNumber', 'The requested partnumber is not satisfiable', extra);
}
