/**
 * The serve stage of a GetObject that passed authorization: answer with a 307 to a presigned URL,
 * or stream the object through the proxy, within the runtime's streaming limits.
 *
 * Where the proxy runs in Lambda, a body larger than one streamed response may carry (or than the
 * invocation can send before its timeout) is never started: a client known to follow redirects
 * gets a 307 even in proxy mode, any other client an S3 error, before any body byte.
 */
import { closeBody } from '../core/close-body';
import { secondsWithin } from '../core/lifetime';
import { S3Error } from '../core/s3-error';
import type { Clock, Headers, ProxyRequest, ProxyResponse } from '../core/types';
import { isListed, type ObjectRequest, presignedQuery, temporaryRedirect } from '../s3/get-object';
import { followsRedirects, type RedirectSettings, shouldRedirect } from '../s3/redirect-policy';
import { noSuchKey } from '../s3/storage-errors';
import { headBytesOf, overLimitMessage, type StreamLimits, streamableBytes } from '../s3/stream-limit';
import { type StorageBackend, StorageError } from '../storage/storage-backend';

export interface GetModeOptions extends RedirectSettings {
  presignExpiresSeconds: number;
  /** Set only where the proxy runs inside AWS Lambda (the adapter says so). */
  lambdaStreaming?: StreamLimits;
}

export interface GetOutcome {
  response: ProxyResponse;
  /** The body streams through the proxy. */
  proxied: boolean;
  /** Why the request did not go the usual way (audit line only). */
  reason?: string;
}

export async function serveGet(
  storage: StorageBackend,
  options: GetModeOptions,
  clock: Clock,
  req: ProxyRequest,
  object: ObjectRequest,
  /**
   * The authorization did not see the object (a raw `_delta_log/` file): it is redirected only
   * once a listing shows it, as S3 answers the presigned URL of a missing key with 403.
   */
  mayBeMissing: boolean,
  /** When the caller's credential expires (a presigned proxy URL's expiry), if it does. */
  validUntil: number | undefined,
  requestId: string,
  base: Headers,
  /** Streams the object through the proxy (getObject, within the caller's stream share). */
  proxyGet: () => Promise<ProxyResponse>,
): Promise<GetOutcome> {
  const redirect = () =>
    redirectTo(
      storage,
      // Never past the caller's own credential: a presigned proxy URL about to expire must not
      // open a minute more of reads.
      secondsWithin(options.presignExpiresSeconds, validUntil, clock.now()),
      object,
      requestId,
      base,
    );
  if (shouldRedirect(req.headers, options, object.partNumber)) {
    if (mayBeMissing && !(await listedOrUnknown(storage, object)))
      throw noSuchKey(object.virtualKey, 'not in the backend listing (not redirected)');
    return { response: await redirect(), proxied: false };
  }

  const response = await proxyGet();
  const over = overStreamLimit(options, clock, req, response, options.redirectClients.length > 0);
  if (!over) return { response, proxied: true };
  await closeBody(response);
  if (followsRedirects(req.headers, options.redirectClients)) {
    return { response: await redirect(), proxied: false, reason: over.reason };
  }
  throw over;
}

/**
 * A body the proxy makes itself (a file of the filtered log) is bound by the same limits; it is
 * never presigned, so over them every client gets the S3 error.
 */
export function assertStreamable(
  options: GetModeOptions,
  clock: Clock,
  req: ProxyRequest,
  response: ProxyResponse,
): void {
  const over = overStreamLimit(options, clock, req, response, false);
  if (over) throw over;
}

/**
 * The S3 error for a body over what this invocation can stream, or undefined where it fits.
 * `redirectable`: a client on `redirectClients` would be redirected instead (its message says so).
 */
function overStreamLimit(
  options: GetModeOptions,
  clock: Clock,
  req: ProxyRequest,
  response: ProxyResponse,
  redirectable: boolean,
): S3Error | undefined {
  const remainingMs = req.deadline !== undefined ? req.deadline - clock.now() : undefined;
  if (!options.lambdaStreaming || response.body === undefined) return undefined;
  const limit = streamableBytes(options.lambdaStreaming, remainingMs, headBytesOf(response.headers))!;
  // A body of unknown length (the backend sent none) might not fit: it is not started either.
  const stated = response.headers['content-length'];
  const length = stated === undefined ? undefined : Number(stated);
  if (length !== undefined && length <= limit) return undefined;
  const reason = `${length ?? 'an unknown number of'} bytes over the Lambda streaming limit (${limit})`;
  return new S3Error('InvalidRequest', overLimitMessage(length, limit, redirectable), {}, reason);
}

/** The 307: a URL for the object that signs what the follower cannot ask for itself. */
async function redirectTo(
  storage: StorageBackend,
  expiresInSeconds: number,
  object: ObjectRequest,
  requestId: string,
  base: Headers,
): Promise<ProxyResponse> {
  const location = await storage.presign(object.ref, {
    expiresInSeconds,
    query: presignedQuery(object.headers, object.query, object.partNumber),
    sseCustomer: object.sseCustomer,
  });
  return temporaryRedirect(location, requestId, base);
}

/**
 * False only when the backend's listing shows no such key. A listing the backend refuses leaves
 * the answer to S3; one that cannot be had now (throttled, unreachable) fails the request.
 */
async function listedOrUnknown(storage: StorageBackend, object: ObjectRequest): Promise<boolean> {
  try {
    return await isListed(storage, object.ref, object.signal);
  } catch (err) {
    if (err instanceof StorageError && (err.kind === 'Unavailable' || err.kind === 'Throttled')) throw err;
    return true;
  }
}
