/**
 * Serves a streaming Lambda handler over real HTTP on 127.0.0.1, translating like a Function
 * URL does: HTTP request → payload v2 event (lower-case headers, repeated ones joined with
 * ",", cookies also split into `cookies`, raw path and raw query as sent, binary bodies base64),
 * then the handler's integration response (JSON prelude, 8 NUL bytes, body) → HTTP response.
 * A function error before the prelude is a 502; after it, the response is cut short.
 *
 * Path encoding, as live Function URLs deliver it: `rawPath` is the path exactly as the client
 * sent it (still percent-encoded: %20, %2F, %3F, %23, %25, %252F and UTF-8 escapes all arrive
 * unchanged), while `requestContext.http.path` is the decoded path. Evidence: live captures
 * published by hotsock/voker (vokerhttp/testdata/functionurl-request.json, us-west-2, July 2026:
 * `"rawPath": "/capture/space%20value"` beside `"path": "/capture/space value"`, and
 * vokerhttp/testdata/ingress-paths.json with examples/aws-ingress-probe/paths.py: "The encoded
 * path is preserved by REST, ALB, and Function URLs; HTTP APIs deliver decoded ... paths").
 * The decoded `rawPath` reported elsewhere (fastify/aws-lambda-fastify#169: `/a%2Fb` arriving
 * as `/a/b`) came from an API Gateway HTTP API (execute-api host), not from a Function URL.
 * The same capture keeps the `cookie` header in `headers` as well as in `cookies`, and decodes
 * `+` as a space in `queryStringParameters` (rawQueryString stays as sent).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ProxyHandler } from '../../lambda/core/types';
import {
  type AnyStreamingHandler,
  createContext,
  createResponseStream,
  DELIMITER_LENGTH,
  findDelimiter,
  installLambdaRuntimeShim,
  invokeStreaming,
  PRELUDE_CONTENT_TYPE,
  type Prelude,
} from './lambda-runtime-shim';

/** Function URLs refuse request payloads over 6 MB. */
const MAX_REQUEST_BYTES = 6 * 1024 * 1024;

export interface LambdaHttpServerOptions {
  /** The function timeout the context reports (getRemainingTimeInMillis). */
  timeoutMs?: number;
}

export async function startLambdaHttpServer(
  handler: AnyStreamingHandler,
  options: LambdaHttpServerOptions = {},
): Promise<{ url: string; close: () => Promise<void> }> {
  installLambdaRuntimeShim();
  const timeoutMs = options.timeoutMs ?? 30_000;
  const server = createServer((req, res) => {
    serve(handler, req, res, timeoutMs).catch(() => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function serve(
  handler: AnyStreamingHandler,
  req: IncomingMessage,
  res: ServerResponse,
  timeoutMs: number,
): Promise<void> {
  const body = await readBody(req);
  if (body === undefined) {
    res.writeHead(413, { 'content-type': 'application/json' }).end('{"Message":"Request Entity Too Large"}');
    return;
  }
  const requestId = randomUUID();
  const event = toFunctionUrlEvent(req, body, requestId);
  const decoder = new ResponseDecoder(res, requestId);
  const { stream, contentType, destroy } = createResponseStream((chunk) => decoder.push(chunk));
  decoder.contentType = contentType;
  res.on('close', () => {
    if (!res.writableFinished) destroy(new Error('client disconnected'));
  });
  try {
    await invokeStreaming(handler, event, stream, createContext(requestId, timeoutMs));
  } catch {
    decoder.fail();
    return;
  }
  decoder.finish();
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_REQUEST_BYTES) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

const TEXTUAL = /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded)|[^;]*\+(json|xml))/i;

export function toFunctionUrlEvent(
  req: IncomingMessage,
  body: Buffer,
  requestId: string,
): Record<string, unknown> {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  const rawQueryString = q < 0 ? '' : url.slice(q + 1);

  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!.toLowerCase();
    const value = req.rawHeaders[i + 1]!;
    if (name === 'cookie') {
      cookies = [
        ...(cookies ?? []),
        ...value
          .split(';')
          .map((c) => c.trim())
          .filter(Boolean),
      ];
    }
    headers[name] = name in headers ? `${headers[name]},${value}` : value;
  }
  const sourceIp = req.socket.remoteAddress ?? '127.0.0.1';
  headers['x-forwarded-for'] = sourceIp;
  headers['x-forwarded-proto'] = 'http';
  headers['x-forwarded-port'] = String(req.socket.localPort ?? 80);
  headers['x-amzn-trace-id'] =
    `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomUUID().replace(/-/g, '').slice(0, 24)}`;

  const event: Record<string, unknown> = {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    headers,
    requestContext: {
      accountId: 'anonymous',
      apiId: 'shim',
      domainName: headers.host ?? '127.0.0.1',
      domainPrefix: 'shim',
      http: {
        method: req.method ?? 'GET',
        path: safeDecode(rawPath),
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId,
      routeKey: '$default',
      stage: '$default',
      time: clfTime(new Date()),
      timeEpoch: Date.now(),
    },
    isBase64Encoded: false,
  };
  if (cookies) event.cookies = cookies;
  if (rawQueryString) event.queryStringParameters = parseQuery(rawQueryString);
  if (body.length > 0) {
    const textual = TEXTUAL.test(headers['content-type'] ?? '') && isUtf8(body);
    event.body = textual ? body.toString('utf8') : body.toString('base64');
    event.isBase64Encoded = !textual;
  }
  return event;
}

function parseQuery(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of raw.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const name = safeDecode((eq < 0 ? pair : pair.slice(0, eq)).replace(/\+/g, ' '));
    const value = safeDecode((eq < 0 ? '' : pair.slice(eq + 1)).replace(/\+/g, ' '));
    out[name] = name in out ? `${out[name]},${value}` : value;
  }
  return out;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `10/Jul/2026:19:19:06 +0000`, the request time format of Function URL events. */
function clfTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function isUtf8(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Turns the transport bytes into the HTTP response, waiting for `drain` (backpressure). */
class ResponseDecoder {
  contentType: () => string = () => 'application/octet-stream';
  private pending: Buffer | undefined = Buffer.alloc(0);

  constructor(
    private readonly res: ServerResponse,
    private readonly requestId: string,
  ) {}

  async push(chunk: Buffer): Promise<void> {
    if (!this.res.headersSent && this.contentType() !== PRELUDE_CONTENT_TYPE) {
      this.res.writeHead(200, { 'content-type': this.contentType(), ...this.awsHeaders() });
    }
    if (this.res.headersSent) return this.write(chunk);
    const buffered = Buffer.concat([this.pending!, chunk]);
    const at = findDelimiter(buffered);
    if (at < 0) {
      this.pending = buffered;
      return;
    }
    this.pending = undefined;
    const prelude = JSON.parse(buffered.subarray(0, at).toString('utf8')) as Prelude;
    const headers: Record<string, string | string[]> = { ...prelude.headers, ...this.awsHeaders() };
    if (prelude.cookies?.length) headers['set-cookie'] = prelude.cookies;
    this.res.writeHead(prelude.statusCode ?? 200, headers);
    const rest = buffered.subarray(at + DELIMITER_LENGTH);
    if (rest.length > 0) await this.write(rest);
  }

  /** The handler finished: the prelude never written means the status and headers are lost. */
  finish(): void {
    if (!this.res.headersSent) this.res.writeHead(200, this.awsHeaders());
    this.res.end();
  }

  /** A function error: 502 if nothing was sent yet, otherwise the response is cut short. */
  fail(): void {
    if (this.res.headersSent) {
      this.res.destroy();
      return;
    }
    this.res
      .writeHead(502, { 'content-type': 'application/json', ...this.awsHeaders() })
      .end('{"Message":"Internal Server Error"}');
  }

  private awsHeaders(): Record<string, string> {
    return { 'x-amzn-requestid': this.requestId };
  }

  private write(chunk: Buffer): Promise<void> {
    if (this.res.destroyed) return Promise.reject(new Error('client disconnected'));
    if (this.res.write(chunk)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onDrain = () => {
        this.res.off('close', onClose);
        resolve();
      };
      const onClose = () => {
        this.res.off('drain', onDrain);
        reject(new Error('client disconnected'));
      };
      this.res.once('drain', onDrain);
      this.res.once('close', onClose);
    });
  }
}

/**
 * The whole proxy through the Lambda adapter: a ProxyHandler served as a Function URL would
 * serve the deployed function (for running HTTP suites against both adapters).
 */
export async function startProxyThroughLambda(
  proxy: ProxyHandler | (() => Promise<ProxyHandler>),
  options: LambdaHttpServerOptions = {},
): Promise<{ url: string; close: () => Promise<void> }> {
  installLambdaRuntimeShim();
  const { createLambdaHandler } = await import('../../lambda/adapters/lambda');
  const getProxy =
    proxy.length === 0 ? (proxy as () => Promise<ProxyHandler>) : async () => proxy as ProxyHandler;
  return startLambdaHttpServer(createLambdaHandler(getProxy), options);
}
