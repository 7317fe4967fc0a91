/**
 * Limits every request meets before and while the core serves it: the size of its URL and of its
 * header section (refused up front, before any lookup), and the time it may take to produce a
 * response (after which it gets 503 and its backend calls are aborted). Bodies are not timed
 * here: once headers are sent, a streamed body is governed by the adapter's idle timeouts.
 */
import { S3Error } from '../core/s3-error';
import type { ProxyRequest, ProxyResponse } from '../core/types';

export interface RequestLimits {
  /** Request target (path and query) in bytes. */
  maxUrlBytes: number;
  /** Header section in bytes, counted as on the wire: `name: value\r\n` per header. */
  maxHeaderBytes: number;
  /** Time to produce a response (status and headers). */
  timeoutMs: number;
}

export const DEFAULT_REQUEST_LIMITS: RequestLimits = {
  maxUrlBytes: 8 * 1024,
  maxHeaderBytes: 16 * 1024,
  timeoutMs: 30_000,
};

/**
 * In Lambda the invocation's own deadline also bounds a request: the core answers this long before
 * it, so the client gets an S3 error rather than the runtime's timeout (a 502 with no S3 body).
 */
export const DEADLINE_MARGIN_MS = 1_000;

/** Bytes of the headers an adapter's front end adds that are not counted against maxHeaderBytes. */
export const ADDED_HEADERS_ALLOWANCE = 512;

/** Refuses a request whose URL or header section is over the limits (S3: 400, never a 5xx). */
export function checkRequestSize(req: ProxyRequest, limits: RequestLimits): void {
  const urlBytes = req.rawPath.length + (req.rawQuery ? 1 + req.rawQuery.length : 0);
  if (urlBytes > limits.maxUrlBytes) {
    throw new S3Error(
      'InvalidURI',
      'The request URI is too long.',
      {},
      `URL of ${urlBytes} bytes over maxUrlBytes (${limits.maxUrlBytes})`,
    );
  }
  let headerBytes = 0;
  let addedBytes = 0;
  const added = req.addedHeaders;
  for (const name in req.headers) {
    const bytes = name.length + req.headers[name]!.length + 4;
    if (added?.includes(name)) addedBytes += bytes;
    else headerBytes += bytes;
  }
  // What the front end adds (~140 bytes at a Function URL) is not the client's; a client that
  // sends one of those headers itself (x-forwarded-for is appended to) still counts beyond it.
  headerBytes += Math.max(0, addedBytes - ADDED_HEADERS_ALLOWANCE);
  if (headerBytes > limits.maxHeaderBytes) {
    throw new S3Error(
      'RequestHeaderSectionTooLarge',
      undefined,
      {},
      `headers of ${headerBytes} bytes over maxHeaderBytes (${limits.maxHeaderBytes})`,
    );
  }
}

/**
 * Headers that name the request's target and its credential must come once. node:http keeps the
 * first of a repeated Host or Authorization and drops the rest, where a server or proxy in front
 * may act on another (RFC 9112 §3.2: a repeated Host is a 400). Function URLs join repeated
 * headers with a comma, which no Host can hold and the Authorization parser refuses.
 */
export function refuseRepeatedHeaders(req: ProxyRequest): void {
  const repeated = req.repeatedHeaders;
  const hosts = repeated?.get('host')?.length ?? (req.headers.host?.includes(',') ? 2 : 0);
  if (hosts > 0) throw onlyOne('Host', hosts);
  const authorizations = repeated?.get('authorization')?.length ?? 0;
  if (authorizations > 0) throw onlyOne('Authorization', authorizations);
}

function onlyOne(header: string, count: number): S3Error {
  return new S3Error(
    'InvalidArgument',
    `Only one ${header} header is allowed.`,
    { ArgumentName: header },
    `${header} header sent ${count} times`,
  );
}

/** Milliseconds the request may take: the configured timeout, or less before a runtime deadline. */
export function timeBudget(req: ProxyRequest, now: number, timeoutMs: number): number {
  if (req.deadline === undefined) return timeoutMs;
  return Math.max(0, Math.min(timeoutMs, req.deadline - DEADLINE_MARGIN_MS - now));
}

/**
 * The request as the work sees it: the same fields, and a signal that aborts when the client
 * leaves or the budget runs out. The signal is made on first read (two AbortControllers and a
 * listener cost more than the rest of a 307's routing): most answers never read it.
 */
class TimedRequest implements ProxyRequest {
  readonly method: string;
  readonly rawPath: string;
  readonly rawQuery: string;
  readonly headers: ProxyRequest['headers'];
  readonly repeatedHeaders: ProxyRequest['repeatedHeaders'];
  readonly body: ProxyRequest['body'];
  readonly sourceIp: string | undefined;
  readonly deadline: number | undefined;
  private controller: AbortController | undefined;
  private expiredReason: Error | undefined;

  constructor(private readonly client: ProxyRequest) {
    this.method = client.method;
    this.rawPath = client.rawPath;
    this.rawQuery = client.rawQuery;
    this.headers = client.headers;
    this.repeatedHeaders = client.repeatedHeaders;
    this.body = client.body;
    this.sourceIp = client.sourceIp;
    this.deadline = client.deadline;
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      const controller = new AbortController();
      this.controller = controller;
      if (this.expiredReason !== undefined) controller.abort(this.expiredReason);
      const client = this.client.signal;
      if (client?.aborted) controller.abort(client.reason);
      // Lives as long as the request: a client that leaves while its body streams still aborts it.
      else client?.addEventListener('abort', () => controller.abort(client.reason), { once: true });
    }
    return this.controller.signal;
  }

  get expired(): boolean {
    return this.expiredReason !== undefined;
  }

  expire(): void {
    this.expiredReason = new Error('request time budget exceeded');
    this.controller?.abort(this.expiredReason);
  }
}

/**
 * Runs `work` with a signal that aborts when the client leaves or the budget runs out, and
 * answers 503 ServiceUnavailable (which SDKs retry) when no response is ready in time. Work that
 * finishes after that is still observed: a late streamed body is closed, so it releases its
 * backend connection, and a late failure is not an unhandled rejection. Shared work it waited on
 * (a snapshot load) is not tied to the request's signal and completes for the next request.
 */
export function withTimeBudget(
  req: ProxyRequest,
  budgetMs: number,
  work: (req: ProxyRequest) => Promise<ProxyResponse>,
): Promise<ProxyResponse> {
  const timed = new TimedRequest(req);
  return new Promise<ProxyResponse>((resolve, reject) => {
    const handle = setTimeout(() => {
      timed.expire();
      reject(
        new S3Error(
          'ServiceUnavailable',
          'The request could not be served in time. Please try again.',
          {},
          `no response within ${budgetMs} ms (requestTimeoutMs)`,
        ),
      );
    }, budgetMs);
    let working: Promise<ProxyResponse>;
    try {
      working = work(timed);
    } catch (err) {
      working = Promise.reject(err);
    }
    working.then(
      (res) => {
        clearTimeout(handle);
        // Nobody will read a response that comes after the 503: close its body.
        if (timed.expired) void closeBody(res);
        else resolve(res);
      },
      (err: unknown) => {
        clearTimeout(handle);
        // After the 503 a failure has no one to tell; it is handled here, never unhandled.
        if (!timed.expired) reject(err);
      },
    );
  });
}

async function closeBody(res: ProxyResponse): Promise<void> {
  const body = res.body;
  if (body === undefined || typeof body === 'string' || body instanceof Uint8Array) return;
  try {
    await body[Symbol.asyncIterator]().return?.();
  } catch {
    // The body was failing anyway; nothing is listening.
  }
}
