/**
 * The client helper (SPEC §6.1): a loopback HTTP server between an S3 client and the Delta Lake
 * proxy. It forwards every request unchanged (it holds no keys and never re-signs), follows the
 * proxy's 307 to a presigned S3 URL itself without the client's Authorization header, and streams
 * the answer back with backpressure. So clients that never follow a redirect (boto3, the aws cli,
 * pyarrow, the AWS SDKs, Spark S3A) still read big objects straight from S3.
 */

import { randomBytes } from 'node:crypto';
import type { lookup as dnsLookup } from 'node:dns';
import {
  createServer,
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { type AddressInfo, isIP, type Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { isConditional, judge, rangeHolds, type Verdict } from './conditions';
import { bareHost, RedirectRefused, redirectPolicy } from './redirect-policy';
import {
  cameBack,
  carriesSseKey,
  headersForProxy,
  headersForRedirect,
  isLoopbackAddress,
  namesThisMachine,
  parseTarget,
  type RawHeaders,
  redirectTarget,
  responseHeaders,
  upstreamFor,
  viaEntry,
  withVia,
} from './upstream';

export interface ClientHelperOptions {
  /** The proxy's URL (an origin: http(s)://host[:port]). */
  target: string;
  /** Listen address; loopback by default. */
  host?: string;
  /** Listen port; 0 picks a free one. */
  port?: number;
  /** Redirects followed per request before the last one is handed to the client as is. */
  maxRedirects?: number;
  /** Extra certificate authorities to trust for https (NODE_EXTRA_CA_CERTS works too). */
  ca?: string | Buffer;
  /** A line per request (method, path without query, status, followed redirects): no secrets. */
  log?: (line: string) => void;
  /**
   * Hosts a redirect may lead to whatever address they name or resolve to (loopback, link-local),
   * over http too: the user's choice for an odd setup (redirect-policy.ts). The presigned-URL and
   * SSE-C checks still apply.
   */
  allowRedirectHosts?: string[];
  /** Name resolution for followed redirects (dns.lookup by default). */
  resolve?: typeof dnsLookup;
}

export interface HelperStats {
  requests: number;
  /** Redirects the helper followed for its clients. */
  redirectsFollowed: number;
}

export interface ClientHelper {
  /** `http://127.0.0.1:PORT`: the endpoint, or the HTTP proxy, for the S3 client. */
  url: string;
  port: number;
  target: URL;
  stats: HelperStats;
  close(): Promise<void>;
}

/** How long an upstream connection may stay silent before the helper gives up on it. */
const IDLE_TIMEOUT_MS = 120_000;

/**
 * The request line and headers the helper takes: what the largest proxy configuration takes
 * (maxUrlBytes and maxHeaderBytes at most 64 KiB each, plus 1 KiB), so the proxy, not node's
 * 16 KiB default, decides and answers with its precise S3 error.
 */
const MAX_HEADER_SIZE = 65_536 + 65_536 + 1024;

export async function startClientHelper(options: ClientHelperOptions): Promise<ClientHelper> {
  const target = parseTarget(options.target);
  const maxRedirects = options.maxRedirects ?? 5;
  const agents = {
    'http:': new HttpAgent({ keepAlive: true }),
    'https:': new HttpsAgent({ keepAlive: true, ca: options.ca }),
  };
  const stats: HelperStats = { requests: 0, redirectsFollowed: 0 };
  const via = viaEntry(randomBytes(4).toString('hex'));
  const policy = redirectPolicy(target, options.allowRedirectHosts, options.resolve);
  /** Listening on loopback only: set once listening. */
  let loopbackOnly = false;

  /**
   * One request upstream. A kept-alive connection the server closed just as it was reused fails
   * before any answer (ECONNRESET): a GET or HEAD without a body is then sent once more on a
   * fresh connection, as node's documentation advises, instead of failing the client's request.
   * Fresh, not the next pooled one: the server may have closed its other idle connections too.
   */
  const send = async (
    url: URL,
    path: string,
    method: string,
    headers: RawHeaders,
    signal: AbortSignal,
    body?: IncomingMessage,
    lookup?: typeof dnsLookup,
  ): Promise<IncomingMessage> => {
    try {
      return await sendOnce(url, path, method, headers, signal, body, lookup);
    } catch (error) {
      const { code, reusedSocket } = error as NodeJS.ErrnoException & { reusedSocket?: boolean };
      const idempotent = method === 'GET' || method === 'HEAD';
      if (body || !idempotent || signal.aborted || !reusedSocket || code !== 'ECONNRESET') throw error;
      return sendOnce(url, path, method, headers, signal, undefined, lookup, true);
    }
  };

  const sendOnce = (
    url: URL,
    path: string,
    method: string,
    headers: RawHeaders,
    signal: AbortSignal,
    body?: IncomingMessage,
    lookup?: typeof dnsLookup,
    fresh = false,
  ) =>
    new Promise<IncomingMessage>((resolve, reject) => {
      const https = url.protocol === 'https:';
      const hostname = bareHost(url);
      const req = (https ? httpsRequest : httpRequest)({
        protocol: url.protocol,
        hostname,
        port: url.port || undefined,
        path,
        method,
        headers,
        // A fresh connection gets an agent of its own (node's `false`), which takes the CA here.
        agent: fresh ? false : https ? agents['https:'] : agents['http:'],
        ...(fresh && https && options.ca ? { ca: options.ca } : {}),
        // The certificate is checked for the host we connect to, whatever Host header we carry.
        servername: https && !isIP(hostname) ? hostname : undefined,
        timeout: IDLE_TIMEOUT_MS,
        // An answer's header section may be as big as a request's (a long Content-Disposition or
        // a 307's Location with the overrides signed into it).
        maxHeaderSize: MAX_HEADER_SIZE,
        signal,
        lookup,
      });
      req.once('response', resolve);
      req.once('error', (error) => reject(Object.assign(error, { reusedSocket: req.reusedSocket })));
      req.once('timeout', () => req.destroy(new Error('upstream idle timeout')));
      if (body) body.pipe(req);
      else req.end();
    });

  /** `line` gets the method and path (no query) the log names, once they are known. */
  const handle = async (req: IncomingMessage, res: ServerResponse, line: string[]): Promise<void> => {
    stats.requests++;
    const method = req.method ?? 'GET';
    const requestTarget = req.url ?? '/';
    const upstream = upstreamFor(requestTarget, target);
    if ('refused' in upstream) {
      options.log?.(`${method} ${askedHost(requestTarget)} refused (${upstream.refused})`);
      req.resume();
      return sendError(res, 403, 'AccessDenied', upstream.refused);
    }
    if (loopbackOnly && upstream.mode === 'endpoint' && !namesThisMachine(req.headers.host)) {
      options.log?.(
        `${method} ${upstream.path.split('?', 1)[0]} refused (its Host is not an address or localhost)`,
      );
      req.resume();
      return sendError(
        res,
        403,
        'AccessDenied',
        'delta-proxy-client on loopback takes requests for an address or localhost only (another Host is how a web page reaches it by DNS rebinding)',
      );
    }
    if (cameBack(req.rawHeaders, via)) {
      req.resume();
      return sendError(res, 508, 'LoopDetected', 'delta-proxy-client was sent its own request back');
    }
    // The client may leave while the helper waits on the proxy or S3, or sends its body: then the
    // request upstream is torn down at once (it would otherwise hold its connection until the
    // upstream answers or the idle timeout), and nothing more is read.
    const left = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) left.abort();
    });
    const { origin, path } = upstream;
    line.push(method, path.split('?', 1)[0]!);
    const headers = withVia(headersForProxy(req.rawHeaders, requestTarget), via);
    const withBody = hasBody(req);
    // A body without Content-Length came chunked, and Transfer-Encoding is hop-by-hop: it is
    // declared again, or node would send a GET's body unframed, which the proxy would read as the
    // next request on this shared connection (and its answer would go to another client).
    if (withBody && req.headers['content-length'] === undefined) headers.push('Transfer-Encoding', 'chunked');
    let answer = await send(origin, path, method, headers, left.signal, withBody ? req : undefined);
    // Joined as text, not resolved: a path such as `//host/…` stays a path on the target.
    let current = new URL(`${origin.origin}${path}`);
    let followed = 0;
    let follow: RawHeaders = [];
    for (;;) {
      const next = redirectTarget(method, answer.statusCode ?? 0, answer.headers.location, current);
      if (!next || followed >= maxRedirects) break;
      answer.resume(); // the redirect's small XML body: drained so its connection is reused
      follow = withVia(headersForRedirect(req.rawHeaders, next), via);
      policy.check(next, carriesSseKey(follow));
      followed++;
      stats.redirectsFollowed++;
      current = next;
      answer = await send(
        next,
        `${next.pathname}${next.search}`,
        method,
        follow,
        left.signal,
        undefined,
        policy.lookup,
      );
    }
    if (followed && method === 'GET' && isConditional(req.headers)) {
      const again = (headers: RawHeaders) =>
        send(
          current,
          `${current.pathname}${current.search}`,
          method,
          headers,
          left.signal,
          undefined,
          policy.lookup,
        );
      const checked = await reapplyConditions(answer, req, follow, again);
      if ('status' in checked) {
        options.log?.(`${line.join(' ')} ${checked.status} (followed ${followed})`);
        res.writeHead(checked.status, checked.headers);
        res.end(checked.body);
        return;
      }
      answer = checked;
    }
    options.log?.(`${line.join(' ')} ${answer.statusCode}${followed ? ` (followed ${followed})` : ''}`);
    res.writeHead(answer.statusCode ?? 502, answer.statusMessage, responseHeaders(answer.rawHeaders));
    // pipeline() waits for 'drain' (a slow client slows the download) and destroys the upstream
    // response when the client goes away, which closes that connection: the read stops.
    await pipeline(answer, res);
  };

  const server: Server = createServer({ maxHeaderSize: MAX_HEADER_SIZE }, (req, res) => {
    const line: string[] = [];
    handle(req, res, line).catch((error: NodeJS.ErrnoException) => {
      if (error instanceof RedirectRefused) {
        // The host and why, never the URL: its query is a credential.
        options.log?.(`${line.join(' ')} refused redirect (${error.message})`);
        if (res.headersSent || res.destroyed) return res.destroy();
        return sendError(
          res,
          502,
          'BadGateway',
          `delta-proxy-client did not follow the proxy's redirect: ${error.message} (see --allow-redirect-host)`,
        );
      }
      // A code or a fixed message, never a URL: a presigned one is a credential.
      const why = error.code ?? error.message;
      if (line.length) options.log?.(`${line.join(' ')} failed (${why})`);
      if (res.headersSent || res.destroyed) return res.destroy();
      sendError(res, 503, 'ServiceUnavailable', `delta-proxy-client could not complete the request (${why})`);
    });
  });
  // An https endpoint would be tunnelled past the helper, which then could not follow redirects.
  server.on('connect', (req, socket: Socket) => {
    options.log?.(`CONNECT ${(req.url ?? '').split('@').pop()} refused (the helper does not tunnel)`);
    // Node hands a CONNECT's socket over without its own error listener: a client that resets it
    // would otherwise raise an uncaught exception and end the helper for every client.
    socket.on('error', () => socket.destroy());
    socket.end(
      rawError(
        405,
        'MethodNotAllowed',
        'delta-proxy-client does not tunnel (CONNECT): use an http:// endpoint with this helper as HTTP proxy',
      ),
    );
  });
  // Requests node's parser refuses never reach the handler: they get S3 XML too, not a bare 400.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    // As node's own handler: an answer under way on this connection (a pipelined request failed
    // to parse) is cut, not given these bytes inside its body.
    const current = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
    if (!socket.writable || current?.headersSent) return socket.destroy();
    socket.end(
      error.code === 'HPE_HEADER_OVERFLOW'
        ? rawError(
            400,
            'RequestHeaderSectionTooLarge',
            'Your request header section exceeds the maximum allowed size.',
          )
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? // A client too slow to send its request: S3's answer, which SDKs retry.
            rawError(
              400,
              'RequestTimeout',
              'Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.',
            )
          : rawError(400, 'InvalidRequest', 'The request could not be parsed.'),
    );
  });
  server.keepAliveTimeout = 65_000;
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  loopbackOnly = isLoopbackAddress(address.address);
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    target,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        agents['http:'].destroy();
        agents['https:'].destroy();
      }),
  };
}

/**
 * The client's conditions applied again to a followed answer (conditions.ts), as the proxy applies
 * them to its backend's: a 304 or 412 the backend should have given, or the whole object where a
 * range's If-Range fails (for a 416 too: the whole object's validators decide). `again` reads the
 * URL once more.
 */
async function reapplyConditions(
  answer: IncomingMessage,
  req: IncomingMessage,
  follow: RawHeaders,
  again: (headers: RawHeaders) => Promise<IncomingMessage>,
): Promise<IncomingMessage | Verdict> {
  const whole = () => again(withoutRange(follow));
  if (answer.statusCode === 416 && req.headers['if-range'] !== undefined) {
    const full = await whole();
    const status = full.statusCode;
    if (status !== 304 && status !== 412 && !(status === 200 && !rangeHolds(full, req.headers))) {
      full.destroy();
      return answer;
    }
    answer.resume();
    answer = full;
  }
  if (answer.statusCode !== 200 && answer.statusCode !== 206) return answer;
  const verdict = judge(answer, req.headers);
  if (verdict === 'keep') return answer;
  // Its body is not wanted (it may be large): the connection goes with it.
  answer.destroy();
  return verdict === 'whole' ? whole() : verdict;
}

function withoutRange(headers: RawHeaders): RawHeaders {
  const out: RawHeaders = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (!/^(range|if-range)$/i.test(headers[i]!)) out.push(headers[i]!, headers[i + 1]!);
  }
  return out;
}

/** The host an absolute-form target names, for a log line: never its userinfo, path or query. */
function askedHost(requestTarget: string): string {
  try {
    return new URL(requestTarget).host || '(no host)';
  } catch {
    return '(unparsable target)';
  }
}

/** The request carries a body (RFC 9112 §6.3: a Content-Length above 0, or Transfer-Encoding). */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** S3 clients read errors as S3 XML: the helper's own refusals speak it too. */
function errorXml(code: string, message: string): string {
  const escaped = message.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${escaped}</Message></Error>`;
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  const body = errorXml(code, message);
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function rawError(status: number, code: string, message: string): string {
  const body = errorXml(code, message);
  return [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'Content-Type: application/xml',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}
