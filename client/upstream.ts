/**
 * Where the helper sends a request and with which headers. Pure functions, no I/O.
 *
 * Two ways to reach the helper, both keeping the client's SigV4 signature valid (SigV4 signs the
 * Host header, and the helper never re-signs):
 * - as the endpoint (`GET /datalake/key`): the client signed for the helper's host:port, and the
 *   helper forwards that Host unchanged. Right for a proxy that checks the Host it receives
 *   (npm start, a container, a load balancer that keeps Host).
 * - as an HTTP proxy (`GET http://proxy-host/datalake/key`, the client's endpoint being the
 *   proxy's own host over http): the client signed for the proxy's host, the helper forwards
 *   that Host and talks https to the proxy itself. Right for a Lambda Function URL, which routes
 *   by its own host name. Only the target's host is forwarded to: never an open proxy.
 */

import { isIP } from 'node:net';
import { parseHttpDate } from '../lambda/s3/s3-encoding';

export type RawHeaders = string[];

export interface Upstream {
  /** Where to send the request: always the target's origin. */
  origin: URL;
  /**
   * The request's path and query exactly as the client sent them: never parsed into a URL, which
   * would resolve `..`, turn `\` into `/` (breaking the signature) and read `//host/…` as
   * another host.
   */
  path: string;
  mode: 'endpoint' | 'http-proxy';
}

export type UpstreamError = { refused: string };

/** The product token the helper adds to User-Agent: the proxy's default redirect list has it. */
export const HELPER_AGENT = 'delta-proxy-client/0.1.0';

// Hop-by-hop headers belong to one connection (RFC 9110 §7.6.1) and are never forwarded.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

const CONDITIONAL_DATES = new Set(['if-modified-since', 'if-unmodified-since']);

/** Headers a presigned GET may carry: what selects bytes, and who is asking. Nothing that signs. */
const FOLLOW_HEADERS = new Set([
  'range',
  'if-match',
  'if-range',
  'if-none-match',
  'if-modified-since',
  'if-unmodified-since',
  'user-agent',
  'accept',
]);

const DEFAULT_PORT: Record<string, string> = { 'http:': '80', 'https:': '443' };

function portOf(url: URL): string {
  return url.port || DEFAULT_PORT[url.protocol] || '';
}

/** Checks the --target URL: an http(s) origin (a path would change what the client signed). */
export function parseTarget(target: string): URL {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new Error(`--target must be a URL, got "${target}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('--target must be http(s)://');
  if (url.pathname !== '/' || url.search || url.hash || url.username || url.password) {
    throw new Error('--target must be an origin only, such as https://abc.lambda-url.eu-west-1.on.aws');
  }
  return url;
}

/** A listening address on loopback (127/8, ::1), not a wildcard one. */
export function isLoopbackAddress(address: string): boolean {
  return /^(::ffff:)?127\./i.test(address) || address === '::1';
}

/**
 * The Host of an origin-form request to a helper on loopback: an S3 client names it by address
 * or `localhost`. Another name is a web page's own, re-pointed at 127.0.0.1 (DNS rebinding): the
 * browser would let that page read what the proxy gives unsigned callers, which no CORS allows.
 */
export function namesThisMachine(host: string | undefined): boolean {
  // No Host (HTTP/1.0) or an IPv6 literal: never what a browser sends for a name.
  if (host === undefined || host.startsWith('[')) return true;
  const name = host.replace(/:\d*$/, '').toLowerCase();
  return isIP(name) !== 0 || name === 'localhost' || name.endsWith('.localhost');
}

/** Maps a request target (origin-form or absolute-form) onto the proxy. */
export function upstreamFor(requestTarget: string, target: URL): Upstream | UpstreamError {
  if (requestTarget.startsWith('/')) return { origin: target, path: requestTarget, mode: 'endpoint' };
  let asked: URL;
  try {
    asked = new URL(requestTarget);
  } catch {
    return { refused: 'the request target is neither a path nor an absolute URL' };
  }
  const samePort = portOf(asked) === portOf(target) || (asked.protocol === 'http:' && asked.port === '');
  if (
    asked.protocol !== 'http:' ||
    asked.hostname.toLowerCase() !== target.hostname.toLowerCase() ||
    !samePort
  ) {
    return { refused: `this helper forwards only to ${target.host}` };
  }
  return { origin: target, path: rawPathOf(requestTarget), mode: 'http-proxy' };
}

/** The path and query of an absolute `http://authority/path?query`, as written. */
function rawPathOf(absolute: string): string {
  const end = absolute.slice('http://'.length).search(/[/\\?#]/);
  if (end < 0) return '/';
  const rest = absolute.slice('http://'.length + end);
  return rest.startsWith('/') ? rest : `/${rest}`;
}

/** Names the client signed, from the Authorization header or a presigned query. */
export function signedHeaderNames(headers: RawHeaders, requestTarget: string): Set<string> {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.toLowerCase() !== 'authorization') continue;
    const m = /SignedHeaders=([^,\s]+)/.exec(headers[i + 1]!);
    if (m) return new Set(m[1]!.toLowerCase().split(';'));
  }
  const q = requestTarget.indexOf('?');
  if (q >= 0) {
    const signed = new URLSearchParams(requestTarget.slice(q + 1)).get('X-Amz-SignedHeaders');
    if (signed) return new Set(signed.toLowerCase().split(';'));
  }
  return new Set();
}

/**
 * The client's headers for the proxy, as sent (Host included), minus hop-by-hop ones. The
 * helper's product token goes in front of User-Agent so the proxy answers GETs with redirects,
 * unless the client signed its User-Agent (then it is left alone and the proxy streams instead).
 */
export function headersForProxy(headers: RawHeaders, requestTarget: string): RawHeaders {
  const out: RawHeaders = [];
  const mayMark = !signedHeaderNames(headers, requestTarget).has('user-agent');
  let marked = false;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower)) continue;
    let value = headers[i + 1]!;
    if (lower === 'user-agent' && mayMark && !marked) {
      value = `${HELPER_AGENT} ${value}`;
      marked = true;
    }
    out.push(name, value);
  }
  if (mayMark && !marked) out.push('User-Agent', HELPER_AGENT);
  return out;
}

/**
 * SSE-C headers: an object stored with a customer-provided key is read only with them, and a
 * presigned URL for it signs them (S3 refuses an unsigned x-amz-* header on a presigned request).
 */
const SSE_CUSTOMER_HEADERS = new Set([
  'x-amz-server-side-encryption-customer-algorithm',
  'x-amz-server-side-encryption-customer-key',
  'x-amz-server-side-encryption-customer-key-md5',
]);

/**
 * The headers of a redirected GET: the new host, byte selection and User-Agent, and the client's
 * SSE-C headers where the URL signs them; never credentials (the presigned URL carries its own;
 * S3 refuses two auth mechanisms) and no other x-amz-* header.
 */
export function headersForRedirect(headers: RawHeaders, location: URL): RawHeaders {
  const signed = new Set((location.searchParams.get('X-Amz-SignedHeaders') ?? '').toLowerCase().split(';'));
  const out: RawHeaders = ['Host', location.host];
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!.toLowerCase();
    // As the proxy: a date that is no HTTP-date is ignored, never sent (moto answers it with 500).
    if (CONDITIONAL_DATES.has(name) && parseHttpDate(headers[i + 1]) === undefined) continue;
    if (FOLLOW_HEADERS.has(name) || (SSE_CUSTOMER_HEADERS.has(name) && signed.has(name)))
      out.push(headers[i]!, headers[i + 1]!);
  }
  return out;
}

/** The headers carry an SSE-C key (a secret: never over plain http off this machine). */
export function carriesSseKey(headers: RawHeaders): boolean {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.toLowerCase() === 'x-amz-server-side-encryption-customer-key') return true;
  }
  return false;
}

/**
 * The helper's own entry in `Via` (RFC 9110 §7.6.3), which every request it sends carries: a
 * request that arrives with it has come back round (a Location, or a --target, pointing at the
 * helper) and must not be forwarded again, or each pass would start another.
 */
export function viaEntry(instance: string): string {
  return `1.1 ${HELPER_AGENT.replace('/', '-')}-${instance}`;
}

export function withVia(headers: RawHeaders, entry: string): RawHeaders {
  const out: RawHeaders = [];
  let added = false;
  for (let i = 0; i < headers.length; i += 2) {
    const via = headers[i]!.toLowerCase() === 'via';
    out.push(headers[i]!, via && !added ? `${headers[i + 1]!}, ${entry}` : headers[i + 1]!);
    added ||= via;
  }
  if (!added) out.push('Via', entry);
  return out;
}

export function cameBack(headers: RawHeaders, entry: string): boolean {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.toLowerCase() !== 'via') continue;
    if (headers[i + 1]!.split(',').some((e) => e.trim() === entry)) return true;
  }
  return false;
}

/** Response headers for the client: everything but hop-by-hop. */
export function responseHeaders(headers: RawHeaders): RawHeaders {
  const out: RawHeaders = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (!HOP_BY_HOP.has(headers[i]!.toLowerCase())) out.push(headers[i]!, headers[i + 1]!);
  }
  return out;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** A redirect the helper follows itself: GET/HEAD only, to an http(s) Location. */
export function redirectTarget(
  method: string,
  status: number,
  location: string | undefined,
  base: URL,
): URL | undefined {
  if (!REDIRECTS.has(status) || !location || (method !== 'GET' && method !== 'HEAD')) return undefined;
  let next: URL;
  try {
    next = new URL(location, base);
  } catch {
    return undefined;
  }
  return next.protocol === 'http:' || next.protocol === 'https:' ? next : undefined;
}
