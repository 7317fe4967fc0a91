/**
 * node:http adapter: translates IncomingMessage → ProxyRequest and ProxyResponse → the socket,
 * with backpressure and client-disconnect aborts. No business rule lives here.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { closeBody } from '../core/close-body';
import { newRequestId } from '../core/request-id';
import { S3Error } from '../core/s3-error';
import type { Headers, ProxyHandler, ProxyRequest, ProxyResponse } from '../core/types';
import { errorResponse } from '../pipeline/error-response';
import type { TransportRefusal } from '../pipeline/transport-refusal';

/**
 * The core's view of a node:http request. Its abort signal is made on first use (an AbortSignal
 * costs more than the rest of this adapter's work per request, and a 307 or an error never needs
 * one); it is aborted when the client goes away before the response has been sent, whenever that
 * happened.
 */
class NodeRequest implements ProxyRequest {
  readonly method: string;
  readonly rawPath: string;
  readonly rawQuery: string;
  readonly headers: Headers;
  readonly repeatedHeaders: ReadonlyMap<string, readonly string[]> | undefined;
  readonly body: IncomingMessage;
  readonly sourceIp: string | undefined;
  private controller: AbortController | undefined;
  private clientGone = false;
  private refused = false;

  constructor(req: IncomingMessage, res: ServerResponse) {
    let url = req.url ?? '/';
    const absolute = url.startsWith('/') ? null : ABSOLUTE_FORM.exec(url);
    // An empty path is "/" (RFC 9110 §4.2.3), also before a query.
    if (absolute) url = `/${url.slice(absolute[0].length).replace(/^\//, '')}`;
    const q = url.indexOf('?');
    this.method = req.method ?? 'GET';
    this.rawPath = q < 0 ? url : url.slice(0, q);
    this.rawQuery = q < 0 ? '' : url.slice(q + 1);
    const repeated = repeatedHeaders(req);
    const headers = repeated === undefined ? headersOf(req) : joined(headersOf(req), repeated);
    // RFC 9112 §3.2.2: the target's authority replaces the Host header. SigV4 then checks the
    // signature over the host the request was sent to; the path alone is the canonical URI.
    this.headers = absolute ? { ...headers, host: absolute[1]! } : headers;
    this.repeatedHeaders = repeated;
    this.body = req;
    this.sourceIp = req.socket.remoteAddress;
    res.once('close', () => {
      if (res.writableFinished) return;
      this.clientGone = true;
      this.controller?.abort();
    });
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.clientGone) this.controller.abort();
    }
    return this.controller.signal;
  }

  /** True once the adapter answered and recorded this request itself: the core's answer goes nowhere. */
  get refusedByTransport(): boolean {
    return this.refused;
  }

  /** node's parser refused this request's body after the core had it: stop the core's work. */
  refuse(): void {
    this.refused = true;
    this.clientGone = true;
    this.controller?.abort();
  }
}

/**
 * An absolute-form target's scheme and authority (RFC 9112 §3.2.2); one with userinfo is left
 * whole, and refused as a path that does not start with "/".
 */
const ABSOLUTE_FORM = /^https?:\/\/([^/?#@]+)(?=[/?]|$)/i;

/** The latest request node's parser handed over on a connection, with its response. */
interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  request: NodeRequest;
}

/**
 * The values of each header sent more than once, as SigV4 must sign them (node joins them with
 * ", " or keeps only the first); undefined, after one count, when no name repeats.
 */
function repeatedHeaders(req: IncomingMessage): ReadonlyMap<string, readonly string[]> | undefined {
  const raw = req.rawHeaders;
  let names = 0;
  for (const _ in req.headers) names++;
  if (raw.length === 2 * names) return undefined;
  const all = new Map<string, string[]>();
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const values = all.get(name);
    if (values) values.push(raw[i + 1]!);
    else all.set(name, [raw[i + 1]!]);
  }
  for (const [name, values] of all) if (values.length === 1) all.delete(name);
  return all;
}

/**
 * The headers with every repeated one joined with ",", as a Function URL passes them on (so the
 * same request also meets maxHeaderBytes alike). node keeps only the first of some (User-Agent,
 * If-Modified-Since, ...): the core then saw one value here and a list behind a Function URL.
 * Joined, a repeated date is no HTTP-date and is ignored on both, as RFC 9110 §13.1.3 asks of a
 * field value with more than one member.
 */
function joined(headers: Headers, repeated: ReadonlyMap<string, readonly string[]>): Headers {
  const out: Headers = { ...headers };
  for (const [name, values] of repeated) out[name] = values.join(',');
  return out;
}

/**
 * node:http's own header object when every value is a string (it already joins repeated headers
 * with ", "); a copy only when one is an array (set-cookie).
 */
function headersOf(req: IncomingMessage): Headers {
  const raw = req.headers;
  for (const name in raw) {
    if (typeof raw[name] === 'string') continue;
    const headers: Headers = {};
    for (const [n, value] of Object.entries(raw)) {
      if (value === undefined) continue;
      headers[n] = Array.isArray(value) ? value.join(', ') : value;
    }
    return headers;
  }
  return raw as Headers;
}

export interface NodeServerOptions {
  /**
   * A streamed body whose bytes stop reaching the client for this long is cut (the client stopped
   * reading), which releases the backend connection it held. Default 30 s.
   */
  clientIdleTimeoutMs?: number;
  /** node's own parser limit on the request line plus headers (node's default: 16 KiB). */
  maxHeaderSize?: number;
  /** Told of each request node's parser refused, after it was answered (the core records it). */
  refused?: (refusal: TransportRefusal) => void;
  /**
   * How long a client may take to send its headers and its whole request, and how often node
   * checks (its own defaults are 60 s, 300 s and 30 s). A client past them gets 400 RequestTimeout.
   */
  slowClientTimeouts?: Partial<typeof SLOW_CLIENT_TIMEOUTS>;
}

const SLOW_CLIENT_TIMEOUTS = { headersMs: 66_000, requestMs: 300_000, checkEveryMs: 30_000 };

const DEFAULT_CLIENT_IDLE_TIMEOUT_MS = 30_000;
/** Requests pipelined on one connection that are parsed ahead of the one being served. */
const MAX_PIPELINED = 64;
/**
 * A buffered body up to this size is handed to the socket whole and needs no idle timer (the
 * 307 path stays free of one); a bigger one may wait on its client's reading.
 */
const BUFFERED_IDLE_BYTES = 16 * 1024;

/** Writes a core response; resolves when the body is fully sent or the client went away. */
export async function writeResponse(
  res: ServerResponse,
  out: ProxyResponse,
  clientIdleTimeoutMs = DEFAULT_CLIENT_IDLE_TIMEOUT_MS,
): Promise<void> {
  const body = out.body;
  const headers: Record<string, string> = { ...out.headers };
  if (typeof body === 'string' || body instanceof Uint8Array) {
    const length = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
    headers['content-length'] = String(length);
    res.writeHead(out.status, headers);
    // A big buffered body (a generated log file, a long listing) waits in the socket's queue for a
    // client that stopped reading just as a stream does: cut it alike, or it is held for good.
    if (length > BUFFERED_IDLE_BYTES) res.setTimeout(clientIdleTimeoutMs, () => res.destroy());
    // A string is passed on as is: node sends it with the head in one chunk (a Buffer is a second).
    res.end(body);
    return;
  }
  if (body === undefined) {
    if (out.status !== 304 && out.status !== 204 && headers['content-length'] === undefined)
      headers['content-length'] = '0';
    res.writeHead(out.status, headers);
    res.end();
    return;
  }
  res.writeHead(out.status, headers);
  // The socket's idle timer restarts with every write handed to it; when a client stops reading,
  // writes stop completing, pipeline() stops writing, and the timer runs out.
  res.setTimeout(clientIdleTimeoutMs, () => res.destroy());
  try {
    // pipeline() waits for 'drain' and destroys the source when the socket closes.
    await pipeline(Readable.from(body, { objectMode: false }), res);
  } catch {
    // Headers are gone: the only honest signal left is a broken connection.
    res.destroy();
  }
}

/**
 * An S3 error answered on the socket itself (node's parser refused the request). To a HEAD the
 * status and headers alone: a body after them breaks the client's parser.
 */
function rawError(
  code: TransportRefusal['code'],
  message?: string,
  head = false,
): { requestId: string; bytes: number; raw: string } {
  const requestId = newRequestId();
  const error = new S3Error(code, message);
  const xml = head ? '' : String(errorResponse(error, requestId, { 'x-amz-request-id': requestId }).body);
  const raw = [
    `HTTP/1.1 ${error.status} ${error.status === 405 ? 'Method Not Allowed' : 'Bad Request'}`,
    'Content-Type: application/xml',
    `Content-Length: ${Buffer.byteLength(xml)}`,
    `x-amz-request-id: ${requestId}`,
    'Connection: close',
    '',
    xml,
  ].join('\r\n');
  return { requestId, bytes: Buffer.byteLength(xml), raw };
}

/**
 * Whether the request node's parser refused is a HEAD, from the bytes it was parsing: the refused
 * request starts after the last header section that ends before the failure (or at the chunk's
 * start). A request whose start came in an earlier chunk is not seen as one (it gets the body).
 */
function refusedHead(err: NodeJS.ErrnoException & { rawPacket?: unknown; bytesParsed?: number }): boolean {
  const packet = err.rawPacket;
  if (!Buffer.isBuffer(packet)) return false;
  const failedAt = Math.min(err.bytesParsed ?? packet.length, packet.length);
  const ended = packet.subarray(0, failedAt).lastIndexOf('\r\n\r\n');
  return packet
    .subarray(ended < 0 ? 0 : ended + 4)
    .toString('latin1')
    .startsWith('HEAD ');
}

export interface NodeServer {
  server: Server;
  url: string;
  port: number;
  close(): Promise<void>;
}

export function createNodeServer(handler: ProxyHandler, options: NodeServerOptions = {}): Server {
  // Per connection, the latest request its parser handed over: a parser refusal that follows is
  // either that request's body (the refusal is its answer) or a request after it (answered after it).
  const latest = new WeakMap<Socket, Exchange>();
  // Per connection with a request in progress, the requests pipelined behind it. node's parser
  // hands over every request of a chunk in one go (a 64 KiB write holds ~150 signed GETs): served
  // as they come, their synchronous work held the event loop for tens of ms. They are answered in
  // order anyway, so each starts once the one before it is done, in a later turn of the loop.
  const queued = new WeakMap<Socket, (() => void)[]>();
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const request = new NodeRequest(req, res);
    const socket = req.socket;
    latest.set(socket, { req, res, request });
    const waiting = queued.get(socket);
    if (waiting) {
      waiting.push(() => serve(request, res, socket));
      // Read no further ahead than this: each request parsed holds its objects until served.
      if (waiting.length >= MAX_PIPELINED) socket.pause();
    } else {
      queued.set(socket, []);
      serve(request, res, socket);
    }
  };
  const next = (socket: Socket) => {
    const waiting = queued.get(socket);
    const start = waiting?.shift();
    if (start) {
      if (waiting!.length === MAX_PIPELINED / 2 && socket.isPaused()) socket.resume();
      setImmediate(start);
    } else queued.delete(socket);
  };
  const serve = (request: NodeRequest, res: ServerResponse, socket: Socket) => {
    // A request refused by the parser (its body) while it waited was answered and recorded then.
    if (request.refusedByTransport) return next(socket);
    handler(request)
      .then((out) =>
        request.refusedByTransport ? closeBody(out) : writeResponse(res, out, options.clientIdleTimeoutMs),
      )
      .catch(() => {
        if (request.refusedByTransport) return;
        // The core turns every failure into XML; reaching here means the adapter itself failed.
        if (!res.headersSent) {
          const requestId = newRequestId();
          const out = errorResponse(new S3Error('InternalError'), requestId, {
            'x-amz-request-id': requestId,
          });
          writeResponse(res, out).catch(() => res.destroy());
        } else res.destroy();
      })
      .finally(() => next(socket));
  };
  const timeouts = { ...SLOW_CLIENT_TIMEOUTS, ...options.slowClientTimeouts };
  const server = createServer(
    {
      requireHostHeader: false,
      maxHeaderSize: options.maxHeaderSize,
      connectionsCheckingInterval: timeouts.checkEveryMs,
    },
    onRequest,
  );
  // node answers an Expect other than 100-continue with a bare 417 of its own, unrecorded. No
  // request body is ever read here: the expectation is ignored (RFC 9110 §10.1.1) and the request
  // answered as without it.
  server.on('checkExpectation', onRequest);
  const record = (
    answer: { requestId: string; bytes: number },
    code: TransportRefusal['code'],
    reason: string,
    method: string | undefined,
    sourceIp: string | undefined,
  ) => {
    try {
      const { requestId, bytes } = answer;
      options.refused?.({ requestId, code, reason, method, sourceIp, bytes });
    } catch {
      // Recording never breaks an answer.
    }
  };
  // Requests node's parser refuses never reach the handler: answer them in S3 XML too, and tell
  // the core, which records them like any other refusal.
  const refuse = (
    socket: Socket,
    code: TransportRefusal['code'],
    message: string | undefined,
    reason: string,
    method?: string,
  ) => {
    const answer = rawError(code, message, method === 'HEAD');
    socket.end(answer.raw);
    record(answer, code, reason, method, socket.remoteAddress);
  };
  const refusing = new WeakSet<Socket>();
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // A parser in error refuses every later read of the same connection again: answer once.
    if (refusing.has(socket)) return;
    if (!socket.writable) return socket.destroy();
    const reason = `refused by the HTTP parser: ${err.code ?? err.name}`;
    const method = refusedHead(err) ? 'HEAD' : undefined;
    // A client too slow to send its request gets S3's answer for it, which SDKs retry.
    const code =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? 'RequestHeaderSectionTooLarge'
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? 'RequestTimeout'
          : 'InvalidRequest';
    const message = code === 'InvalidRequest' ? 'The request could not be parsed.' : undefined;
    const last = latest.get(socket);
    if (last === undefined || last.res.writableFinished) {
      // Nothing in progress on the connection; a request answered in full whose body then failed
      // was recorded with that answer and gets no second one.
      if (last !== undefined && !last.req.complete) return socket.destroy();
      return refuse(socket, code, message, reason, method);
    }
    refusing.add(socket);
    socket.pause();
    if (!last.req.complete) {
      // The refused bytes are the body of the request the core is serving. Once its answer has
      // started, it cannot become the refusal: the connection is cut (the core records that).
      if (last.res.headersSent) return socket.destroy();
      last.request.refuse();
      const requestId = newRequestId();
      const out = errorResponse(new S3Error(code, message), requestId, { 'x-amz-request-id': requestId });
      // node writes it in order, after any answer still due before it, then closes.
      out.headers.connection = 'close';
      writeResponse(last.res, out).catch(() => last.res.destroy());
      const bytes = Buffer.byteLength(String(out.body));
      record({ requestId, bytes }, code, reason, last.req.method, socket.remoteAddress);
      return;
    }
    // A malformed request after one still being answered (pipelined): its refusal comes after
    // that answer, never in its place or inside its body. node answers in order, so the latest
    // answer finishing means every earlier one has.
    const after = () => {
      if (last.res.writableFinished && socket.writable) refuse(socket, code, message, reason, method);
      else socket.destroy();
    };
    last.res.once('close', after);
  });
  server.on('connect', (_req, socket: Socket) =>
    refuse(socket, 'MethodNotAllowed', undefined, 'CONNECT', 'CONNECT'),
  );
  // node keeps a request's first 2,000 header lines by default and drops the rest unseen: a second
  // Host or Authorization behind padding would pass the repeated-header check. The header section's
  // size (maxHeaderSize) bounds the count instead.
  server.maxHeadersCount = 0;
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = timeouts.headersMs;
  server.requestTimeout = timeouts.requestMs;
  return server;
}

/** Starts the proxy on host:port (0 = any free port). */
export async function startNodeServer(
  handler: ProxyHandler,
  host: string,
  port: number,
  options: NodeServerOptions = {},
): Promise<NodeServer> {
  const server = createNodeServer(handler, options);
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    server,
    port: addr.port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
