/**
 * Conditional requests (RFC 9110 §13.2.2 order, as S3 applies it). The backend evaluates them
 * too; evaluating again on the object it returned keeps the answer right on backends that
 * ignore some of these headers (s3rver ignores If-Match and If-Unmodified-Since).
 */
import type { Conditions, ObjectMeta } from '../storage/storage-backend';
import { parseHttpDate } from './s3-encoding';

export type ConditionOutcome = 'ok' | 'not-modified' | 'precondition-failed';

/** The conditional headers a request carries (node's IncomingHttpHeaders fit too). */
export interface ConditionalHeaders {
  readonly 'if-match'?: string;
  readonly 'if-none-match'?: string;
  readonly 'if-modified-since'?: string;
  readonly 'if-unmodified-since'?: string;
}

/** Conditional headers; dates only when they parse as HTTP dates, else ignored (never forwarded). */
export function conditionsOf(headers: ConditionalHeaders): Conditions {
  return {
    ifMatch: headers['if-match'],
    ifNoneMatch: headers['if-none-match'],
    ifModifiedSince: parseHttpDate(headers['if-modified-since']),
    ifUnmodifiedSince: parseHttpDate(headers['if-unmodified-since']),
  };
}

function opaque(tag: string): string {
  return tag.trim().replace(/^W\//, '').replace(/^"|"$/g, '');
}

function matches(header: string, etag: string): boolean {
  const current = opaque(etag);
  return header.split(',').some((t) => t.trim() === '*' || opaque(t) === current);
}

/** HTTP dates have whole seconds: compare Last-Modified at that precision. */
function seconds(d: Date): number {
  return Math.floor(d.getTime() / 1000);
}

export function evaluateConditions(meta: ObjectMeta, c: Conditions): ConditionOutcome {
  if (c.ifMatch !== undefined) {
    if (!matches(c.ifMatch, meta.etag)) return 'precondition-failed';
  } else if (c.ifUnmodifiedSince && seconds(meta.lastModified) > seconds(c.ifUnmodifiedSince)) {
    return 'precondition-failed';
  }
  if (c.ifNoneMatch !== undefined) {
    if (matches(c.ifNoneMatch, meta.etag)) return 'not-modified';
  } else if (c.ifModifiedSince && seconds(meta.lastModified) <= seconds(c.ifModifiedSince)) {
    return 'not-modified';
  }
  return 'ok';
}

/**
 * If-Range (RFC 9110 §13.1.5; S3 honours it, aws/aws-sdk-kotlin#1645): does a Range still apply? Only for
 * a strong ETag equal to its own or a date equal to its Last-Modified; otherwise the whole current
 * object is served (200), so a resumed or ranged read never splices two versions of a file.
 * `dates: false` where Last-Modified does not change with the body (a generated file keeps its
 * commit's while its content follows the caller's grants): only an ETag validates then.
 */
export function rangeStillValid(ifRange: string | undefined, meta: ObjectMeta, dates = true): boolean {
  if (ifRange === undefined) return true;
  const v = ifRange.trim();
  if (v.startsWith('"')) return v === `"${opaque(meta.etag)}"`;
  if (v.startsWith('W/') || !dates) return false;
  const date = parseHttpDate(v);
  return date !== undefined && seconds(date) === seconds(meta.lastModified);
}
