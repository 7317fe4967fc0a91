/**
 * A faithful in-process stand-in for the Lambda Node.js runtime's streaming contract, modelled
 * on aws-lambda-nodejs-runtime-interface-client (src/UserFunction.js, HttpResponseStream.js,
 * ResponseStream.js, Runtime.js#handleOnceStreaming):
 *
 * - `awslambda.streamifyResponse(fn)` marks fn with Symbol.for('aws.lambda.runtime.handler.streaming').
 * - The response stream handed to the handler is a write-only facade over a transport; its
 *   content type can only be set before the first write ("Cannot set content-type, too late.").
 * - `awslambda.HttpResponseStream.from(stream, prelude)` sets the content type
 *   application/vnd.awslambda.http-integration-response and, on the first write, writes the
 *   JSON prelude and 8 NUL bytes before that write. No write, no prelude: the Function URL
 *   then answers without the function's status and headers.
 * - The handler must return a promise and must have ended the stream when it settles.
 */
import { Writable } from 'node:stream';

export const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
export const PRELUDE_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';
export const DELIMITER_LENGTH = 8;

export interface Prelude {
  statusCode?: number;
  headers?: Record<string, string>;
  cookies?: string[];
}

type WriteFn = (chunk: string | Uint8Array) => boolean;

/** The runtime's HttpResponseStream, byte for byte in behaviour. */
// biome-ignore lint/complexity/noStaticOnlyClass: mirrors the runtime's own class, used as awslambda.HttpResponseStream
export class ShimHttpResponseStream {
  static from(underlyingStream: ShimResponseStream, prelude: Prelude): ShimResponseStream {
    underlyingStream.setContentType(PRELUDE_CONTENT_TYPE);
    const metadataPrelude = JSON.stringify(prelude);
    underlyingStream._onBeforeFirstWrite = (write: WriteFn) => {
      write(metadataPrelude);
      write(new Uint8Array(DELIMITER_LENGTH));
    };
    return underlyingStream;
  }
}

export function streamifyResponse<T extends (...args: never[]) => unknown>(handler: T): T {
  (handler as unknown as Record<symbol, string>)[HANDLER_STREAMING] = 'response';
  return handler;
}

/**
 * Installs the `awslambda` global as the runtime does before it imports the handler module. The
 * AWS SDK may have created the object already (@aws/lambda-invoke-store sets
 * `globalThis.awslambda ||= {}` when @aws-sdk/core loads), so the functions go onto whatever
 * object is there, keeping what others put on it.
 */
export function installLambdaRuntimeShim(): void {
  const g = globalThis as { awslambda?: Record<string, unknown> };
  const runtime = g.awslambda ?? {};
  runtime.streamifyResponse ??= streamifyResponse;
  runtime.HttpResponseStream ??= ShimHttpResponseStream;
  g.awslambda = runtime;
}

/** Where the runtime sends the bytes (in Lambda: a chunked POST to the Runtime API). */
export type Transport = (chunk: Buffer) => Promise<void>;

/** The transport side of the stream: a real Writable, so backpressure holds end to end. */
class TransportWritable extends Writable {
  contentType = 'application/octet-stream';
  writeCalled = false;
  _onBeforeFirstWrite: ((write: WriteFn) => void) | undefined;

  constructor(private readonly transport: Transport) {
    super({ highWaterMark: 16 * 1024 });
    const origWrite = this.write.bind(this) as (c: unknown, e?: unknown, cb?: unknown) => boolean;
    this.write = ((chunk: unknown, encoding?: unknown, callback?: unknown) => {
      let data = chunk;
      if (
        typeof data !== 'string' &&
        !Buffer.isBuffer(data) &&
        (data as object)?.constructor !== Uint8Array
      ) {
        data = JSON.stringify(data);
      }
      if (!this.writeCalled && typeof this._onBeforeFirstWrite === 'function') {
        this._onBeforeFirstWrite((c) => origWrite(c));
      }
      const ret = origWrite(data, encoding, callback);
      this.writeCalled = true;
      return ret;
    }) as Writable['write'];
  }

  setContentType(contentType: string): void {
    if (this.writeCalled) throw new Error('Cannot set content-type, too late.');
    this.contentType = contentType;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.transport(chunk).then(() => callback(), callback);
  }
}

/** The write-only facade the runtime hands to handlers (ResponseStream.js#writableStreamOnly). */
export type ShimResponseStream = {
  setContentType(contentType: string): void;
  _onBeforeFirstWrite: ((write: WriteFn) => void) | undefined;
  readonly writableFinished: boolean;
} & Pick<Writable, 'write' | 'end' | 'destroy' | 'on' | 'once' | 'off' | 'emit'>;

const FACADE_FNS = [
  'cork',
  'destroy',
  'end',
  'uncork',
  'write',
  'addListener',
  'emit',
  'eventNames',
  'getMaxListeners',
  'listenerCount',
  'listeners',
  'off',
  'on',
  'once',
  'prependListener',
  'prependOnceListener',
  'rawListeners',
  'removeAllListeners',
  'removeListener',
  'setMaxListeners',
  'setContentType',
] as const;
const FACADE_RW = ['destroyed', 'writable', '_onBeforeFirstWrite'] as const;
const FACADE_RO = [
  'writableFinished',
  'writableObjectMode',
  'writableBuffer',
  'writableEnded',
  'writableNeedDrain',
  'writableHighWaterMark',
  'writableCorked',
  'writableLength',
] as const;

export function createResponseStream(transport: Transport): {
  stream: ShimResponseStream;
  contentType: () => string;
  destroy: (error: Error) => void;
} {
  const inner = new TransportWritable(transport);
  const record = inner as unknown as Record<string, unknown>;
  const facade: Record<string, unknown> = Object.fromEntries(
    FACADE_FNS.map((fn) => [fn, (record[fn] as (...a: unknown[]) => unknown).bind(inner)]),
  );
  for (const prop of FACADE_RW) {
    Object.defineProperty(facade, prop, {
      get: () => record[prop],
      set: (value) => {
        record[prop] = value;
      },
    });
  }
  for (const prop of FACADE_RO) Object.defineProperty(facade, prop, { get: () => record[prop] });
  // An error nobody listens for would crash the process; the runtime logs it instead.
  inner.on('error', () => {});
  return {
    stream: facade as unknown as ShimResponseStream,
    contentType: () => inner.contentType,
    destroy: (error) => inner.destroy(error),
  };
}

/** Splits an integration response into prelude and body; throws if the prelude is missing. */
export function parseIntegrationResponse(bytes: Buffer): { prelude: Prelude; body: Buffer } {
  const at = findDelimiter(bytes);
  if (at < 0) throw new Error('no prelude: the 8 NUL delimiter was never written');
  return {
    prelude: JSON.parse(bytes.subarray(0, at).toString('utf8')) as Prelude,
    body: bytes.subarray(at + DELIMITER_LENGTH),
  };
}

/** Index of the first run of 8 NUL bytes (JSON never contains a raw NUL), or -1. */
export function findDelimiter(bytes: Buffer): number {
  return bytes.indexOf(Buffer.alloc(DELIMITER_LENGTH));
}

export interface ShimContext {
  awsRequestId: string;
  functionName: string;
  functionVersion: string;
  invokedFunctionArn: string;
  memoryLimitInMB: string;
  logGroupName: string;
  logStreamName: string;
  callbackWaitsForEmptyEventLoop: boolean;
  getRemainingTimeInMillis(): number;
}

export function createContext(awsRequestId: string, timeoutMs: number): ShimContext {
  const deadline = Date.now() + timeoutMs;
  return {
    awsRequestId,
    functionName: 'delta-proxy-shim',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:delta-proxy-shim',
    memoryLimitInMB: '1024',
    logGroupName: '/aws/lambda/delta-proxy-shim',
    logStreamName: 'shim',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

// biome-ignore lint/suspicious/noExplicitAny: handlers are typed by their own modules
export type AnyStreamingHandler = (event: any, responseStream: any, context: any) => unknown;

/**
 * Runs one streaming invocation as Runtime.js#handleOnceStreaming does: the handler must be
 * marked by streamifyResponse, must return a promise, and must have ended the stream.
 */
export async function invokeStreaming(
  handler: AnyStreamingHandler,
  event: unknown,
  stream: ShimResponseStream,
  context: ShimContext,
): Promise<void> {
  if ((handler as unknown as Record<symbol, unknown>)[HANDLER_STREAMING] !== 'response') {
    throw new Error('handler is not wrapped by awslambda.streamifyResponse');
  }
  const result = handler(event, stream, context);
  if (!(result instanceof Promise) && typeof (result as Promise<unknown>)?.then !== 'function') {
    throw new Error('Streaming does not support non-async handlers.');
  }
  await result;
  // The runtime then awaits Runtime API's answer to its chunked POST, which only comes once the
  // stream has ended and flushed; a stream never ended runs into the function timeout.
  await transportDone(stream, context.getRemainingTimeInMillis());
  if (!stream.writableFinished) throw new Error('Response stream is not finished.');
}

function transportDone(stream: ShimResponseStream, timeoutMs: number): Promise<void> {
  if (stream.writableFinished) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      stream.off('finish', done);
      stream.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    stream.once('finish', done);
    stream.once('close', done);
  });
}

/** Invokes and collects everything written: the content type and the raw transport bytes. */
export async function invokeAndCollect(
  handler: AnyStreamingHandler,
  event: unknown,
  timeoutMs = 30_000,
): Promise<{ contentType: string; bytes: Buffer }> {
  const chunks: Buffer[] = [];
  const { stream, contentType } = createResponseStream(async (chunk) => {
    chunks.push(Buffer.from(chunk));
  });
  await invokeStreaming(handler, event, stream, createContext(crypto.randomUUID(), timeoutMs));
  return { contentType: contentType(), bytes: Buffer.concat(chunks) };
}

/** A minimal Function URL event (payload 2.0) for calling a handler directly. */
export function functionUrlEvent(
  rawPath: string,
  options: { method?: string; rawQueryString?: string } = {},
): Record<string, unknown> & { rawPath: string } {
  const method = options.method ?? 'GET';
  return {
    version: '2.0',
    rawPath,
    rawQueryString: options.rawQueryString ?? '',
    headers: { host: 'abc.lambda-url.us-east-1.on.aws' },
    requestContext: { http: { method, path: rawPath, sourceIp: '192.0.2.1' } },
    isBase64Encoded: false,
  };
}
