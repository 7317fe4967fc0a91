/** GetObject and HeadObject: conditional headers, Range, S3's response headers. */
import { closeBody } from '../core/close-body';
import { S3Error } from '../core/s3-error';
import type { Headers, ProxyResponse } from '../core/types';
import {
  type ByteRange,
  type Conditions,
  type GetResult,
  type ObjectMeta,
  type ObjectRef,
  type PresignedGetParam,
  type PresignOptions,
  type SseCustomer,
  type StorageBackend,
  StorageError,
} from '../storage/storage-backend';
import { type ConditionOutcome, conditionsOf, evaluateConditions, rangeStillValid } from './conditions';
import { invalidPartNumber, invalidRange, parseRange } from './range';
import { httpDate } from './s3-encoding';
import { noSuchKey, notModifiedOf, toS3Error } from './storage-errors';
import { escapeXml, XML_DECLARATION } from './xml';

/** `response-*` query parameters S3 lets a signed request use to override response headers. */
export const OVERRIDES: [PresignedGetParam, string][] = [
  ['response-content-type', 'content-type'],
  ['response-content-language', 'content-language'],
  ['response-expires', 'expires'],
  ['response-cache-control', 'cache-control'],
  ['response-content-disposition', 'content-disposition'],
  ['response-content-encoding', 'content-encoding'],
];

/**
 * S3 sends checksum headers only to a client that asks with `x-amz-checksum-mode: ENABLED`: as a
 * header, or as a (signed) query parameter, where the AWS SDKs' presigners put it.
 */
const checksumMode = (headers: Headers, query: URLSearchParams) =>
  headers['x-amz-checksum-mode'] === 'ENABLED' || query.get('x-amz-checksum-mode') === 'ENABLED';

/**
 * S3 takes `response-*` overrides only from a signed request: an anonymous one could otherwise
 * serve a readable object under any type and disposition (text/html on the proxy's origin).
 */
export function refuseAnonymousOverrides(query: URLSearchParams): void {
  for (const [param] of OVERRIDES) {
    if (!query.has(param)) continue;
    throw new S3Error(
      'InvalidRequest',
      'Request specific response headers cannot be used for anonymous GET requests.',
      {},
      `anonymous ${param}`,
    );
  }
}

/**
 * What a presigned URL for this GetObject must sign so that its follower gets what the request
 * proxied would: the `response-*` overrides (validated by routeRequest), and checksum mode, which
 * the follower may not send as a header (S3 refuses an unsigned x-amz-* header on a presigned
 * URL, and the client helper sends none), and the part asked for. Undefined when there are none,
 * as usual: nothing is allocated then.
 */
export function presignedQuery(
  headers: Headers,
  query: URLSearchParams,
  partNumber?: number,
): PresignOptions['query'] {
  let signed: PresignOptions['query'];
  if (partNumber !== undefined) signed = { partNumber: String(partNumber) };
  for (const [param] of OVERRIDES) {
    const v = query.get(param);
    if (v === null) continue;
    signed ??= {};
    signed[param] = v;
  }
  if (checksumMode(headers, query)) {
    signed ??= {};
    signed['x-amz-checksum-mode'] = 'ENABLED';
  }
  return signed;
}

/** What an HTTP field value can carry to the backend (node's client refuses anything else). */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * Entity-tag lists forwarded at most this long together. S3 refuses a header section over 8 KB
 * with 400, and the proxy's own request already carries its signature and, in Lambda, a session
 * token of up to ~2 KB; a backend 400 would reach the client as a 500.
 */
const MAX_FORWARDED_TAGS = 2048;

/**
 * The conditions asked of the backend. An entity-tag list no HTTP request can carry (a Function
 * URL event's header is any JSON string), or longer than S3 takes, is not forwarded, and
 * forwarding the dates without it could change the answer (If-None-Match overrides
 * If-Modified-Since): then the proxy alone evaluates them all, on the object returned. An
 * unsendable list matches no ETag, as S3 would find.
 */
function forwarded(c: Conditions): Conditions {
  const sendable = (v: string | undefined) => v === undefined || FIELD_VALUE.test(v);
  const length = (c.ifMatch?.length ?? 0) + (c.ifNoneMatch?.length ?? 0);
  return length <= MAX_FORWARDED_TAGS && sendable(c.ifMatch) && sendable(c.ifNoneMatch) ? c : {};
}

export function objectHeaders(meta: ObjectMeta, query: URLSearchParams): Headers {
  const h: Headers = {
    'accept-ranges': 'bytes',
    'last-modified': httpDate(meta.lastModified),
    etag: meta.etag,
    'content-type': meta.contentType ?? 'binary/octet-stream',
  };
  if (meta.contentEncoding) h['content-encoding'] = meta.contentEncoding;
  if (meta.contentDisposition) h['content-disposition'] = meta.contentDisposition;
  if (meta.contentLanguage) h['content-language'] = meta.contentLanguage;
  if (meta.cacheControl) h['cache-control'] = meta.cacheControl;
  if (meta.expires) h.expires = meta.expires;
  // As S3: an archived object's HEAD says so (a client decides from it whether to restore first).
  if (meta.storageClass) h['x-amz-storage-class'] = meta.storageClass;
  if (meta.restore) h['x-amz-restore'] = meta.restore;
  for (const [name, value] of Object.entries(meta.metadata ?? {})) h[`x-amz-meta-${name}`] = value;
  Object.assign(h, meta.checksums);
  if (meta.partsCount !== undefined) h['x-amz-mp-parts-count'] = String(meta.partsCount);
  for (const [param, header] of OVERRIDES) {
    const v = query.get(param);
    if (v !== null) h[header] = v; // validated by routeRequest
  }
  return h;
}

export function conditionFailure(
  outcome: ConditionOutcome,
  meta: ObjectMeta,
  base: Headers,
  conditions: Conditions,
): ProxyResponse {
  if (outcome === 'not-modified') {
    return {
      status: 304,
      headers: { ...base, etag: meta.etag, 'last-modified': httpDate(meta.lastModified) },
    };
  }
  throw preconditionFailed(conditions);
}

/**
 * S3's 412 names the condition that failed: If-Match when it was sent (it alone decides then),
 * else If-Unmodified-Since, the only other condition that answers 412.
 */
export function preconditionFailed(conditions: Conditions): S3Error {
  return new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', {
    Condition: conditions.ifMatch !== undefined ? 'If-Match' : 'If-Unmodified-Since',
  });
}

export interface ObjectRequest {
  ref: ObjectRef;
  virtualKey: string;
  headers: Headers;
  query: URLSearchParams;
  /** The request's SSE-C parameters (sse-customer.ts), checked. */
  sseCustomer?: SseCustomer;
  /** The part asked for (`partNumber`), validated by routeRequest; never with a Range. */
  partNumber?: number;
  signal?: AbortSignal;
}

/**
 * Is there an object at exactly this key? A one-key listing, not a HEAD: without `s3:ListBucket`
 * on the key (the stack's policy grants it only with an `s3:prefix` condition, which a GET or
 * HEAD does not meet) S3 answers 403, not 404, for a missing key.
 */
export async function isListed(
  storage: StorageBackend,
  ref: ObjectRef,
  signal?: AbortSignal,
): Promise<boolean> {
  const page = await storage.list({ bucket: ref.bucket, prefix: ref.key, maxKeys: 1, signal });
  return page.objects[0]?.key === ref.key;
}

/**
 * The S3 error for a failed GET/HEAD of an authorized key. A backend 403 is told apart by a
 * listing: a missing key is 404, as S3 answers a caller who may list (delta-rs loads a table
 * without `_last_checkpoint` only on a 404), a key the backend refuses stays 403. A listing that
 * fails leaves the 403.
 */
async function readFailure(storage: StorageBackend, req: ObjectRequest, err: unknown): Promise<unknown> {
  if (err instanceof StorageError && err.kind === 'PreconditionFailed')
    return preconditionFailed(conditionsOf(req.headers));
  if (err instanceof StorageError && err.kind === 'InvalidRange')
    return req.partNumber !== undefined
      ? invalidPartNumber(req.partNumber, err.details?.partCount)
      : invalidRange(req.headers.range, err.details?.objectSize);
  // An archived object (S3's 403 InvalidObjectState) of a file the caller may read: S3's answer, so
  // the client knows it must be restored, not that the proxy's operator must grant something.
  if (err instanceof StorageError && err.kind === 'AccessDenied' && err.details?.archived) {
    const { storageClass } = err.details.archived;
    return new S3Error(
      'InvalidObjectState',
      "The operation is not valid for the object's storage class",
      storageClass !== undefined && /^[A-Z_]{1,32}$/.test(storageClass) ? { StorageClass: storageClass } : {},
      err.message,
    );
  }
  if (err instanceof StorageError && err.kind === 'AccessDenied') {
    const listed = await isListed(storage, req.ref, req.signal).catch(() => true);
    if (!listed) return noSuchKey(req.virtualKey, 'backend 403 for a key its listing does not hold');
    // S3's answer to an SSE-C key that is not the object's: the client's to fix, not the operator's.
    if (req.sseCustomer)
      return new S3Error(
        'AccessDenied',
        'Access Denied: the storage refused the read with the SSE-C key given (is it the key this object was stored with?).',
        {},
        `${err.message} (SSE-C key given)`,
      );
  }
  return toS3Error(err, req.virtualKey);
}

export async function getObject(
  storage: StorageBackend,
  req: ObjectRequest,
  base: Headers,
): Promise<ProxyResponse> {
  // A Range no object satisfies (`bytes=-0`) is refused only after the preconditions and If-Range
  // (RFC 9110 §13.2.2, as S3): a failed condition answers 304/412, a stale If-Range the whole object.
  let range: ByteRange | undefined;
  let refused: unknown;
  try {
    range = parseRange(req.headers.range);
  } catch (err) {
    refused = err;
  }
  const conditions = conditionsOf(req.headers);
  const read = (r: ByteRange | undefined) =>
    storage.get(req.ref, {
      ...forwarded(conditions),
      range: r,
      checksumMode: checksumMode(req.headers, req.query),
      sseCustomer: req.sseCustomer,
      partNumber: req.partNumber,
      signal: req.signal,
    });
  let result: GetResult;
  try {
    result = await readUnlessStale(read, range, range && req.headers['if-range']);
  } catch (err) {
    const nm = notModifiedOf(err);
    if (nm) return { status: 304, headers: { ...base, ...nm.headers } };
    throw await readFailure(storage, req, err);
  }
  const onePiece = req.partNumber !== undefined && !result.range && result.meta.partsCount === undefined;
  if (onePiece && req.partNumber !== 1) {
    await closeBody(result);
    throw invalidPartNumber(req.partNumber!, 1);
  }
  const outcome = evaluateConditions(result.meta, conditions);
  if (outcome !== 'ok') {
    await closeBody(result);
    return conditionFailure(outcome, result.meta, base, conditions);
  }
  if (refused !== undefined && rangeStillValid(req.headers['if-range'], result.meta)) {
    await closeBody(result);
    throw refused;
  }
  const headers: Headers = { ...base, ...objectHeaders(result.meta, req.query) };
  // Unknown (a chunked backend answer): the body is passed on chunked, never framed by a guess.
  if (result.contentLength !== undefined) headers['content-length'] = String(result.contentLength);
  if (result.range) {
    headers['content-range'] = `bytes ${result.range.start}-${result.range.end}/${result.range.total}`;
    return { status: 206, headers, body: result.body };
  }
  const status = onePiece ? onePiecePart(req.partNumber!, result.contentLength, headers) : 200;
  return { status, headers, body: result.body };
}

/**
 * The backend's answer to a ranged read, or the whole object when an If-Range validator turns out
 * stale (only the answer tells the object's ETag). A range past the end is unsatisfiable (416)
 * only if the validator holds.
 */
async function readUnlessStale(
  read: (range: ByteRange | undefined) => Promise<GetResult>,
  range: ByteRange | undefined,
  ifRange: string | undefined,
): Promise<GetResult> {
  let result: GetResult;
  try {
    result = await read(range);
  } catch (err) {
    if (ifRange === undefined || !(err instanceof StorageError) || err.kind !== 'InvalidRange') throw err;
    const whole = await read(undefined);
    if (!rangeStillValid(ifRange, whole.meta)) return whole;
    await closeBody(whole);
    throw err;
  }
  if (!result.range || rangeStillValid(ifRange, result.meta)) return result;
  await closeBody(result);
  return read(undefined);
}

/**
 * A part of an object in one piece (a part read answered with the whole object: no Content-Range,
 * no parts count; or a file the proxy made): its only part, 1, is all of it, which S3 answers with
 * 206 and the whole range, also where the backend ignores `partNumber` (s3rver); any other part is
 * 416. 200 when the size is unknown or zero (no range can name it).
 */
export function onePiecePart(partNumber: number, size: number | undefined, headers: Headers): 200 | 206 {
  if (partNumber !== 1) throw invalidPartNumber(partNumber, 1);
  if (!size) return 200;
  headers['content-range'] = `bytes 0-${size - 1}/${size}`;
  return 206;
}

export async function headObject(
  storage: StorageBackend,
  req: ObjectRequest,
  base: Headers,
): Promise<ProxyResponse> {
  let meta: ObjectMeta;
  const conditions = conditionsOf(req.headers);
  try {
    meta = await storage.head(req.ref, {
      ...forwarded(conditions),
      checksumMode: checksumMode(req.headers, req.query),
      sseCustomer: req.sseCustomer,
      partNumber: req.partNumber,
      signal: req.signal,
    });
  } catch (err) {
    const nm = notModifiedOf(err);
    if (nm) return { status: 304, headers: { ...base, ...nm.headers } };
    throw await readFailure(storage, req, await partRefusal(storage, req, err));
  }
  const outcome = evaluateConditions(meta, conditions);
  if (outcome !== 'ok') return conditionFailure(outcome, meta, base, conditions);
  const headers: Headers = {
    ...base,
    ...objectHeaders(meta, req.query),
    'content-length': String(meta.size),
  };
  if (req.partNumber !== undefined) return partHead(meta, req.partNumber, headers);
  // S3 answers a ranged HEAD like the GET would, without the body.
  const range = rangeStillValid(req.headers['if-range'], meta) ? parseRange(req.headers.range) : undefined;
  if (range && 'start' in range && range.start >= meta.size) throw invalidRange(req.headers.range, meta.size);
  if (range && meta.size > 0) {
    const start = 'suffix' in range ? Math.max(0, meta.size - range.suffix) : range.start;
    const end = 'suffix' in range ? meta.size - 1 : Math.min(range.end ?? meta.size - 1, meta.size - 1);
    if (start < meta.size) {
      headers['content-range'] = `bytes ${start}-${end}/${meta.size}`;
      headers['content-length'] = String(end - start + 1);
      return { status: 206, headers };
    }
  }
  return { status: 200, headers };
}

/**
 * A HEAD of a part answered with a bare 400 (no body says why): the part when the whole object
 * reads (a store that refuses a part past the last so, where S3 sends 416), else the whole
 * object's own refusal (S3's 400 to a HEAD of an SSE-C object without its key).
 */
async function partRefusal(storage: StorageBackend, req: ObjectRequest, err: unknown): Promise<unknown> {
  if (req.partNumber === undefined || !(err instanceof StorageError) || err.kind !== 'BadRequest') return err;
  try {
    await storage.head(req.ref, { sseCustomer: req.sseCustomer, signal: req.signal });
  } catch (whole) {
    return whole;
  }
  return new StorageError('InvalidRange', `part not satisfiable: ${err.message}`);
}

/** A HEAD that named a part: the part's length and, where known, its place (206, as S3). */
function partHead(meta: ObjectMeta, partNumber: number, headers: Headers): ProxyResponse {
  if (meta.partRange) {
    const { start, end, total } = meta.partRange;
    headers['content-range'] = `bytes ${start}-${end}/${total}`;
    headers['content-length'] = String(end - start + 1);
    return { status: 206, headers };
  }
  // A part of an object in parts, its place unsaid: the backend's length is the part's.
  if (meta.partsCount !== undefined) return { status: 206, headers };
  return { status: onePiecePart(partNumber, meta.size, headers), headers };
}

/**
 * 307 to a presigned URL. The body is S3's small TemporaryRedirect document (never empty); the
 * URL carries a signature, so it appears only in Location, never in a log line. Written from a
 * template: this is the whole answer of presigned mode, built on every redirected GET.
 */
export function temporaryRedirect(location: string, requestId: string, base: Headers): ProxyResponse {
  const body = `${XML_DECLARATION}<Error><Code>TemporaryRedirect</Code><Message>Please re-send this request to the specified temporary endpoint.</Message><Endpoint>${escapeXml(hostOf(location))}</Endpoint><RequestId>${escapeXml(requestId)}</RequestId></Error>`;
  return { status: 307, headers: { ...base, location, 'content-type': 'application/xml' }, body };
}

/** The host of an absolute http(s) URL, without parsing all of it (this runs on every 307). */
function hostOf(url: string): string {
  const start = url.indexOf('//') + 2;
  const end = url.indexOf('/', start);
  return url.slice(start, end < 0 ? undefined : end);
}
