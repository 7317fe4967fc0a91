/**
 * The Lambda adapter: a Function URL (payload v2, RESPONSE_STREAM) in front of the core.
 * It only translates: event → ProxyRequest, ProxyResponse → the runtime's HTTP response
 * stream. This is the one module that touches the `awslambda` runtime global.
 *
 * middy writes the prelude (status + headers) through `awslambda.HttpResponseStream.from`,
 * which the runtime sends on the stream's first write only. middy writes a string body (even
 * "") as one chunk, so bodiless answers (HEAD, 304, 307) keep their headers; a streamed body
 * with no chunk is given an empty one here (primed()), so a zero-byte object keeps them too.
 * middy pipes the body with `pipeline()`, so a slow client slows the backend read
 * (backpressure).
 */
import { Readable } from 'node:stream';
import middy from '@middy/core';
import type { Context, LambdaFunctionURLEvent } from 'aws-lambda';
import { closeBody } from '../core/close-body';
import { jsonLogger } from '../core/logger';
import { S3Error } from '../core/s3-error';
import type { ProxyHandler, ProxyResponse, Runtime } from '../core/types';
import { ClosedEarly, watchBody } from '../core/watched-body';
import { asS3Error, errorResponse } from '../pipeline/error-response';
import { isFunctionUrlEvent, toProxyRequest } from './function-url-event';

/** What middy hands to `awslambda.HttpResponseStream.from` (status, headers) plus the body. */
interface StreamingResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string | Readable;
}

/** The slice of the Lambda runtime's global that streaming needs. */
interface LambdaRuntimeGlobal {
  streamifyResponse: (handler: StreamingHandler) => StreamingHandler;
  HttpResponseStream: { from: (stream: unknown, prelude: Record<string, unknown>) => unknown };
}

export type StreamingHandler = (
  event: LambdaFunctionURLEvent,
  responseStream: unknown,
  context: Context,
) => Promise<void>;

/**
 * Per invocation: aborted when the runtime's response stream closes before the response is
 * complete (the client left, the runtime's connection failed). middy pipes into that stream
 * without looking at it first, and a pipeline into a stream that is already gone never settles:
 * the body would sit paused, holding its backend connection, until the function times out.
 */
const responseGone = new WeakMap<object, AbortSignal>();

function watchResponseStream(responseStream: unknown): AbortSignal {
  const stream = responseStream as {
    destroyed?: boolean;
    writableFinished?: boolean;
    once(event: 'close', listener: () => void): unknown;
  };
  const gone = new AbortController();
  const onClose = () => {
    if (!stream.writableFinished) gone.abort(new Error('response stream closed early'));
  };
  if (stream.destroyed) onClose();
  else stream.once('close', onClose);
  return gone.signal;
}

// Hop-by-hop headers describe one connection; the Function URL front end sets its own.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection']);

/**
 * The runtime's global, if this process runs inside Lambda (or the test shim). An `awslambda`
 * object alone proves nothing: the AWS SDK's @aws/lambda-invoke-store creates an empty one
 * (`globalThis.awslambda ||= {}`) wherever @aws-sdk/core is loaded.
 */
function runtimeGlobal(): LambdaRuntimeGlobal | undefined {
  const runtime = (globalThis as { awslambda?: Partial<LambdaRuntimeGlobal> }).awslambda;
  return typeof runtime?.streamifyResponse === 'function' ? (runtime as LambdaRuntimeGlobal) : undefined;
}

export interface LambdaHandlerOptions {
  /**
   * Runs once per invocation after the response stream has ended (or failed), so its work never
   * delays a response: the EMF metrics flush. It must not throw; if it does, that is logged.
   */
  afterResponse?: () => void;
  /**
   * How long a failed start answers every request before the next request starts again (default
   * START_RETRY_MS): a secret that cannot be read is not asked for once per request.
   */
  startRetryMs?: number;
}

/** A failed start (config, a secret Secrets Manager would not give) is tried again after this. */
export const START_RETRY_MS = 5_000;

/**
 * How long before the invocation's deadline middy answers with a timeout error (onError: S3 XML)
 * and the request's signal aborts its work. The core answers well before (DEADLINE_MARGIN_MS):
 * this catches a request stuck where the core's own budget does not reach (a slow start-up).
 */
const TIMEOUT_EARLY_MS = 5;

/**
 * Builds the streaming Lambda handler. `getProxy` is started at once so that its work
 * (config, SDK clients, secrets) happens during the function's init phase; a failed start is
 * retried by the first request `startRetryMs` after it failed, and meanwhile every request gets an
 * S3 InternalError. It is told it runs in Lambda, and each request carries its invocation's
 * deadline: the core keeps responses within what one streamed response can carry.
 */
export function createLambdaHandler(
  getProxy: (runtime: Runtime) => Promise<ProxyHandler>,
  options: LambdaHandlerOptions = {},
): StreamingHandler {
  let proxy: Promise<ProxyHandler>;
  /** When the current start failed (a time, not a timer: Lambda freezes timers between invocations). */
  let failedAt: number | undefined;
  const startProxy = (): Promise<ProxyHandler> => {
    const started = getProxy('lambda');
    proxy = started;
    failedAt = undefined;
    started.catch((error) => {
      logError('proxy start-up failed', undefined, error);
      if (proxy === started) failedAt = Date.now();
    });
    return started;
  };
  startProxy();
  const retryMs = options.startRetryMs ?? START_RETRY_MS;
  const current = () => (failedAt !== undefined && Date.now() - failedAt >= retryMs ? startProxy() : proxy);

  const serve = async (event: LambdaFunctionURLEvent, context: Context): Promise<StreamingResult> => {
    const core = await current();
    // The request's own signal, aborted just before its invocation times out (or when its response
    // stream is torn down). Not middy's signal: that is one controller for the whole process, so
    // under a runtime that runs invocations at once one invocation's timeout would abort them all.
    const aborted = new AbortController();
    const timer = setTimeout(
      () => aborted.abort(new DOMException('the invocation is about to time out', 'TimeoutError')),
      Math.max(0, context.getRemainingTimeInMillis() - TIMEOUT_EARLY_MS),
    );
    timer.unref();
    const release = () => clearTimeout(timer);
    const gone = responseGone.get(context);
    const onGone = () => {
      aborted.abort(gone?.reason);
      release();
    };
    // The stream may have closed while the proxy was starting: an abort listener added now would
    // never run, and the core would do the whole request for a client that has left.
    if (gone?.aborted) onGone();
    else gone?.addEventListener('abort', onGone, { once: true });
    let response: ProxyResponse;
    try {
      // Answered like a client's mistake (400, S3 XML), never handed to the core half-read.
      if (!isFunctionUrlEvent(event)) {
        throw new S3Error(
          'InvalidRequest',
          'This function answers HTTP requests through its Function URL only.',
          {},
          'not a Function URL event',
        );
      }
      const request = toProxyRequest(event, aborted.signal);
      request.deadline = Date.now() + context.getRemainingTimeInMillis();
      response = await core(request);
    } catch (error) {
      release();
      throw error;
    }
    // Answered after the invocation's time ran out: middy has answered it and drops this result,
    // so nobody reads this body. Close it, which releases what it holds (its backend connection,
    // its stream share). A client that left is handled below (its stream is destroyed at once).
    if ((aborted.signal.reason as Error | undefined)?.name === 'TimeoutError') {
      release();
      // A failure to close is no news: middy has answered, and the deadline is the reason.
      await closeBody(response).catch(() => {});
      throw aborted.signal.reason;
    }
    const onAbort = () => aborted.abort(new Error('response stream closed early'));
    return toStreamingResult(response, { onAbort, release, requestId: context.awsRequestId }, gone);
  };

  const build = (): StreamingHandler => withAfterResponse(buildMiddy(), options.afterResponse);
  const buildMiddy = (): StreamingHandler => {
    const handler = middy(serve, {
      streamifyResponse: true,
      timeoutEarlyInMillis: TIMEOUT_EARLY_MS,
    }).onError((request) => {
      const event = request.event as LambdaFunctionURLEvent | undefined;
      const requestId = request.context?.awsRequestId ?? 'unknown';
      const refused = request.error instanceof S3Error && request.error.status < 500;
      if (refused) logRefusal(requestId, request.error as S3Error);
      else logError('request failed before the response started', requestId, request.error);
      // Whatever escapes the core still leaves as S3 XML with a request id, never a stack; to a
      // HEAD, as the core answers one, the status and headers alone.
      const head = event?.requestContext?.http?.method?.toUpperCase() === 'HEAD';
      const out = errorResponse(
        asS3Error(request.error),
        requestId,
        { 'x-amz-request-id': requestId },
        event?.rawPath ?? '/',
        head,
      );
      request.response = toStreamingResult(out, undefined, responseGone.get(request.context));
    }) as unknown as StreamingHandler;
    return runtimeGlobal()!.streamifyResponse(async (event, responseStream, context) => {
      responseGone.set(context, watchResponseStream(responseStream));
      return handler(event, responseStream, context);
    });
  };

  // middy 6 reads the bare `awslambda` global when it is called. Inside Lambda (and under the
  // test shim) it exists at import time; elsewhere (bundle analysis, tooling) the handler is
  // built on first use, so merely importing this module never throws.
  if (runtimeGlobal()) return build();
  let built: StreamingHandler | undefined;
  return (event, responseStream, context) => {
    if (!runtimeGlobal()) {
      return Promise.reject(
        new Error('awslambda runtime global missing: run inside Lambda or install the shim'),
      );
    }
    built ??= build();
    return built(event, responseStream, context);
  };
}

/**
 * middy's handler resolves once its pipeline() into the response stream has finished; the hook
 * runs then. The wrapper is marked for streaming again, as the runtime only streams to a handler
 * that carries streamifyResponse's mark.
 */
function withAfterResponse(handler: StreamingHandler, after: (() => void) | undefined): StreamingHandler {
  if (!after) return handler;
  return runtimeGlobal()!.streamifyResponse(async (event, responseStream, context) => {
    try {
      await handler(event, responseStream, context);
    } finally {
      try {
        after();
      } catch (error) {
        logError('after-response hook failed', context?.awsRequestId, error);
      }
    }
  });
}

interface BodyHooks {
  /** The body was torn down before its end (client gone, runtime error). */
  onAbort: () => void;
  /** The request is over, one way or the other. */
  release: () => void;
  requestId: string;
}

function toStreamingResult(response: ProxyResponse, hooks?: BodyHooks, gone?: AbortSignal): StreamingResult {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.headers)) {
    if (!HOP_BY_HOP.has(name.toLowerCase())) headers[name] = value;
  }
  const { body } = response;
  let streamed: string | Readable;
  if (body === undefined || typeof body === 'string' || body instanceof Uint8Array) {
    hooks?.release();
    if (body === undefined) streamed = '';
    else if (typeof body === 'string') streamed = body;
    // Object mode, so a zero-byte body is one (empty) write, which sends the prelude: in byte mode
    // an empty chunk is dropped, and the client would get neither the status nor the headers.
    else streamed = Readable.from([body], { objectMode: true });
    // A buffered body has a known length: say so, as the node:http adapter does.
    if (body !== undefined && headers['content-length'] === undefined)
      headers['content-length'] = String(
        typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength,
      );
  } else {
    // Object mode, so an empty chunk is written, not dropped: see primed().
    streamed = Readable.from(primed(guarded(body, hooks, gone)), { objectMode: true, highWaterMark: 1 });
  }
  if (gone) {
    // A string becomes one chunk, as middy makes it: even "" makes the runtime send the prelude.
    const readable = typeof streamed === 'string' ? Readable.from(streamed) : streamed;
    const destroy = () => readable.destroy(gone.reason as Error);
    if (gone.aborted) destroy();
    else gone.addEventListener('abort', destroy, { once: true });
    streamed = readable;
  }
  return { statusCode: response.status, headers, body: streamed };
}

/**
 * The runtime sends the prelude (status, headers) on the response stream's first write only: a
 * body that ends without a chunk (a zero-byte object) would lose them. An empty chunk at its end
 * makes that write, as middy's "" does for a bodiless answer. Only at the end: a body that fails
 * before its first chunk still fails before the prelude, which the client sees as a 502, not as
 * a 200 cut short.
 */
function primed(body: AsyncIterable<Uint8Array>): AsyncIterableIterator<Uint8Array> {
  // Not a generator: closing one that never started would not close `body`, whose report (and
  // backend connection) would then wait forever (see watched-body.ts).
  const source = body[Symbol.asyncIterator]();
  let wrote = false;
  let over = false;
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      if (over) return { done: true, value: undefined };
      const step = await source.next();
      if (!step.done) wrote = true;
      else if (!wrote) {
        over = true;
        return { done: false, value: new Uint8Array(0) };
      }
      return step;
    },
    async return() {
      over = true;
      await source.return?.();
      return { done: true, value: undefined };
    },
    // Readable.from() hands its destroy error over here: passed on, so the report keeps it.
    async throw(error?: unknown) {
      over = true;
      await (source.throw ? source.throw(error) : source.return?.());
      return { done: true, value: undefined };
    },
  };
}

/**
 * Passes the core's body through, aborting the request's signal if the stream is torn down
 * early (client gone, runtime error), also before its first chunk, and logging a failure of the
 * body itself that can no longer reach the client as XML (the status is already sent; the
 * runtime cuts the response short). A teardown is not logged as an error: a client that leaves
 * is no fault of the proxy, and error lines feed the AdapterErrors alarm.
 */
function guarded(
  body: AsyncIterable<Uint8Array>,
  hooks: BodyHooks | undefined,
  gone: AbortSignal | undefined,
): AsyncIterable<Uint8Array> {
  return watchBody(body, (_bytes, failure) => {
    if (failure !== undefined) {
      // The stream closed first: a backend read in flight then fails with the abort that closing
      // caused, which is the teardown too, not a failure of the body.
      if (!(failure instanceof ClosedEarly) && !gone?.aborted)
        logError('response body failed after the status was sent', hooks?.requestId, failure);
      hooks?.onAbort();
    }
    hooks?.release();
  });
}

/**
 * The core's JSON lines on stderr. Not `console`: Lambda's Node.js runtime prefixes console lines
 * (time, request id, level) in its text log format, and the stack's AdapterErrors metric filter
 * (`$.level = "error"`) matches JSON lines only.
 */
const log = jsonLogger();

/** A request refused before the core saw it (an event that is no HTTP request): no stack. */
function logRefusal(requestId: string, error: S3Error): void {
  log.warn('request refused', { requestId, code: error.code, reason: error.reason });
}

function logError(message: string, requestId: string | undefined, error: unknown): void {
  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
  log.error(message, { requestId, error: detail });
}
