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
    const suffix = Number(last);
    if (!Number.isSafeInteger(suffix)) return undefined;
    if (suffix === 0) throw invalidRange(header);
    return { suffix };
  }
  const start = Number(first);
  if (!Number.isSafeInteger(start)) return undefined;
  if (last === '') return { start };
  const end = Number(last);
  if (!Number.isSafeInteger(end) || end < start) return undefined;
  return { start, end };
}

/** S3's 416: it names the range asked for and, where known, the object's size. */
export function invalidRange(header: string | undefined, objectSize?: number): S3Error {
  const extra: Record<string, string> = {};
  if (header !== undefined) extra.RangeRequested = header;
  if (objectSize !== undefined) extra.ActualObjectSize = String(objectSize);
  return new S3Error('InvalidRange', 'The requested range is not satisfiable', extra);
}
