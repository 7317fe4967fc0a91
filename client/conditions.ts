/**
 * The client's conditional headers, applied again to what a followed presigned URL answered, as
 * the proxy applies them to its backend's answer (lambda/s3/conditions.ts, the same rules): S3
 * stand-ins ignore or misapply some (If-Range, entity-tag lists and weak tags, If-Match on
 * s3rver), and a ranged read whose If-Range no longer holds must get the whole current object,
 * never bytes of another version.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { newRequestId } from '../lambda/core/request-id';
import { errorResponse } from '../lambda/pipeline/error-response';
import { conditionsOf, evaluateConditions, rangeStillValid } from '../lambda/s3/conditions';
import { preconditionFailed } from '../lambda/s3/get-object';
import { parseHttpDate } from '../lambda/s3/s3-encoding';

/** A 304 or 412 the helper answers itself. */
export interface Verdict {
  status: 304 | 412;
  headers: Record<string, string>;
  body?: string;
}

/** The request carries a condition a backend might have left unapplied. */
export function isConditional(h: IncomingHttpHeaders): boolean {
  const c = conditionsOf(h);
  return (
    h['if-range'] !== undefined ||
    c.ifMatch !== undefined ||
    c.ifNoneMatch !== undefined ||
    c.ifModifiedSince !== undefined ||
    c.ifUnmodifiedSince !== undefined
  );
}

/**
 * What the client's conditions make of a 200 or 206 answer: keep it, answer a 304 or 412 instead,
 * or `whole` (a range whose If-Range failed: the whole object is to be read).
 */
export function judge(answer: IncomingMessage, h: IncomingHttpHeaders): 'keep' | 'whole' | Verdict {
  const etag = answer.headers.etag;
  const lastModified = parseHttpDate(answer.headers['last-modified']);
  if (etag === undefined || lastModified === undefined) return 'keep';
  const meta = { size: 0, etag, lastModified };
  const c = conditionsOf(h);
  const outcome = evaluateConditions(meta, c);
  if (outcome === 'not-modified')
    return { status: 304, headers: { etag, 'last-modified': answer.headers['last-modified']! } };
  if (outcome === 'precondition-failed') {
    // The proxy's own 412 document (it names the condition that failed, with a request id).
    const requestId = newRequestId();
    const error = errorResponse(preconditionFailed(c), requestId, { 'x-amz-request-id': requestId });
    const body = String(error.body);
    return {
      status: 412,
      headers: { ...error.headers, 'content-length': String(Buffer.byteLength(body)) },
      body,
    };
  }
  return answer.statusCode === 206 && !rangeHolds(answer, h) ? 'whole' : 'keep';
}

/** A range's If-Range holds for this answer's validators (always without If-Range). */
export function rangeHolds(answer: IncomingMessage, h: IncomingHttpHeaders): boolean {
  const etag = answer.headers.etag ?? '';
  const lastModified = parseHttpDate(answer.headers['last-modified']) ?? new Date(0);
  const ifRange = h['if-range'];
  return rangeStillValid(typeof ifRange === 'string' ? ifRange : undefined, { size: 0, etag, lastModified });
}
