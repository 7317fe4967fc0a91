/**
 * AWS Lambda's limits on a streamed response, as rules: a Function URL stream carries at most
 * `maxResponseBytes` (status and headers included), and after the first `unthrottledBytes` it
 * flows at no more than `throttledBytesPerSecond`, so an invocation that has T seconds left can
 * send at most unthrottled + rate × T bytes before it is cut off. A response over either bound
 * would reach the client truncated after a 200: the proxy must decide before the first byte.
 */
import type { Headers } from '../core/types';

export interface StreamLimits {
  maxResponseBytes: number;
  unthrottledBytes: number;
  throttledBytesPerSecond: number;
}

/**
 * Room kept for the response head (the JSON prelude with status and headers) in the same stream;
 * a larger head (a long response-* override echoed back) takes its own size.
 */
export const HEAD_ALLOWANCE_BYTES = 64 * 1024;

/** At least the bytes of the prelude Lambda writes for these headers (JSON of status and headers). */
export function headBytesOf(headers: Headers): number {
  return Buffer.byteLength(JSON.stringify(headers)) + 64;
}

/**
 * The most body bytes one response may stream, or undefined where nothing limits it (outside
 * Lambda). `remainingMs` is the time the invocation has left, when the adapter knows it;
 * `headBytes` the response head's size, when known.
 */
export function streamableBytes(
  limits: StreamLimits | undefined,
  remainingMs?: number,
  headBytes = 0,
): number | undefined {
  if (!limits) return undefined;
  let bytes = limits.maxResponseBytes;
  if (remainingMs !== undefined) {
    const inTime =
      limits.unthrottledBytes + (limits.throttledBytesPerSecond * Math.max(0, remainingMs)) / 1000;
    bytes = Math.min(bytes, Math.floor(inTime));
  }
  return Math.max(0, bytes - Math.max(HEAD_ALLOWANCE_BYTES, headBytes));
}

/**
 * The client-facing explanation when an object cannot be streamed from inside Lambda.
 * `redirectable`: a client that follows redirects would get a 307 for it (false for a file of the
 * filtered log, which is never presigned, and when no client is listed in `redirectClients`):
 * only then is such a client offered as a way out.
 */
export function overLimitMessage(length: number | undefined, limit: number, redirectable = true): string {
  const what =
    length === undefined
      ? 'The requested object has no known length (its storage sent none), so it may exceed'
      : `The requested bytes (${length}) exceed`;
  const ranges = `Request byte ranges of at most ${limit} bytes`;
  const ways = redirectable
    ? `${ranges}, or read through a client that follows redirects (such as delta-proxy-client).`
    : `${ranges}.`;
  return `${what} what this proxy can stream from AWS Lambda in one response (${limit}). ${ways}`;
}
