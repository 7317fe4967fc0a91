/**
 * GetObject / HeadObject of an object the proxy generated (a file of the filtered log): the same
 * headers, Range (206/416) and conditional answers (304/412) as a backend object, from memory.
 */
import type { GeneratedObject } from '../core/generated-object';
import type { Headers, ProxyResponse } from '../core/types';
import type { ObjectMeta } from '../storage/storage-backend';
import { conditionsOf, evaluateConditions, rangeStillValid } from './conditions';
import { conditionFailure, objectHeaders, onePiecePart } from './get-object';
import { invalidRange, parseRange } from './range';

export function serveGenerated(
  obj: GeneratedObject,
  /** `partNumber`: validated by routeRequest (1-10000, never with a Range). */
  req: { headers: Headers; query: URLSearchParams; partNumber?: number },
  base: Headers,
  head: boolean,
): ProxyResponse {
  const size = obj.body.byteLength;
  const meta: ObjectMeta = {
    size,
    etag: obj.etag,
    lastModified: obj.lastModified,
    contentType: obj.contentType,
  };
  // Its Last-Modified is the real commit's, the same for every caller's body (readers take it for
  // the commit's time): a date says nothing of which body a client holds, so If-Modified-Since
  // never answers 304 here (If-None-Match does, by ETag), nor does a date validate If-Range.
  const conditions = { ...conditionsOf(req.headers), ifModifiedSince: undefined };
  const outcome = evaluateConditions(meta, conditions);
  if (outcome !== 'ok') return conditionFailure(outcome, meta, base, conditions);
  const headers: Headers = { ...base, ...objectHeaders(meta, req.query), 'content-length': String(size) };
  if (req.partNumber !== undefined) {
    // Made in one piece: part 1 is the whole file, as S3 answers for such an object.
    const status = onePiecePart(req.partNumber, size, headers);
    return head ? { status, headers } : { status, headers, body: obj.body };
  }
  const range = rangeStillValid(req.headers['if-range'], meta, false)
    ? parseRange(req.headers.range)
    : undefined;
  if (!range) return head ? { status: 200, headers } : { status: 200, headers, body: obj.body };
  const start = 'suffix' in range ? Math.max(0, size - range.suffix) : range.start;
  const end = 'suffix' in range ? size - 1 : Math.min(range.end ?? size - 1, size - 1);
  if (start >= size) {
    throw invalidRange(req.headers.range, size);
  }
  headers['content-range'] = `bytes ${start}-${end}/${size}`;
  headers['content-length'] = String(end - start + 1);
  return head ? { status: 206, headers } : { status: 206, headers, body: obj.body.subarray(start, end + 1) };
}
