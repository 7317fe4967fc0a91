/**
 * The real proxy (bootstrap + node:http) with one access key per principal, an optional
 * injected clock, and raw SigV4 requests that page through listings the way clients do.
 */
import { type NodeServer, startNodeServer } from '../../lambda/adapters/node-server';
import { createProxy, type ProxyInstance } from '../../lambda/bootstrap';
import { type ConfigInput, parseConfig } from '../../lambda/config';
import { silentLogger } from '../../lambda/core/logger';
import type { Clock } from '../../lambda/core/types';
import type { StorageBackend } from '../../lambda/storage/storage-backend';
import { BACKEND_CREDENTIALS, type S3Server } from './s3-servers';
import { encodeKeyPath, encodeQuery, type RawResponse, signedFetch } from './signed-fetch';

export interface PrincipalKey {
  accessKeyId: string;
  secretAccessKey: string;
  principal: string;
}

export function keyFor(principal: string): PrincipalKey {
  const id = `AK-${principal.replace(/[^A-Za-z0-9._-]/g, '_')}`;
  return { accessKeyId: id, secretAccessKey: `secret-of-${id}`, principal };
}

/** A clock the test moves by hand; starts at the wall clock so SigV4 dates stay in range. */
export class ManualClock implements Clock {
  t = Date.now();
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export interface AuthzProxy {
  url: string;
  proxy: ProxyInstance;
  stop(): Promise<void>;
}

export async function startAuthzProxy(
  backend: S3Server,
  config: Omit<ConfigInput, 's3' | 'auth'>,
  principals: readonly string[],
  options: { clock?: Clock; allowAnonymous?: boolean; storage?: StorageBackend } = {},
): Promise<AuthzProxy> {
  const parsed = parseConfig({
    getMode: 'proxy',
    // These suites check the raw log's rules (403 for a forbidden file, the stored log listed);
    // the filtered view (the default) has its own suites.
    logView: 'raw',
    ...config,
    s3: { endpoint: backend.endpoint, forcePathStyle: true, region: 'us-east-1' },
    auth: { keys: principals.map(keyFor), allowAnonymous: options.allowAnonymous ?? false },
  });
  const proxy = createProxy(parsed, {
    backendCredentials: BACKEND_CREDENTIALS,
    audit: false,
    logger: silentLogger,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.storage ? { storage: options.storage } : {}),
  });
  const server: NodeServer = await startNodeServer(proxy.handler, '127.0.0.1', 0);
  return { url: server.url, proxy, stop: () => server.close() };
}

export function objectRequest(
  url: string,
  method: 'GET' | 'HEAD',
  key: string,
  principal: string,
  bucket = 'datalake',
  /** Signed as of this clock (default: now). */
  clock?: Clock,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  const at = clock ? new Date(clock.now()) : undefined;
  return signedFetch(
    url,
    method,
    `/${bucket}/${encodeKeyPath(key)}`,
    '',
    headers,
    keyFor(principal),
    'us-east-1',
    at,
  );
}

/** An anonymous request (signedFetch would sign with its example key when given no credentials). */
export async function unsignedFetch(url: string, method: string, pathAndQuery: string): Promise<RawResponse> {
  const res = await fetch(`${url}${pathAndQuery}`, {
    method,
    redirect: 'manual',
    signal: AbortSignal.timeout(15_000),
  });
  const body = Buffer.from(await res.arrayBuffer());
  const headers: Record<string, string> = {};
  res.headers.forEach((v, k) => {
    headers[k] = v;
  });
  return { status: res.status, headers, body, text: body.toString('utf8') };
}

export interface ListedPage {
  status: number;
  text: string;
  keys: string[];
  prefixes: string[];
  truncated: boolean;
  keyCount?: number;
  maxKeys?: string;
  nextMarker?: string;
}

/** Parses one ListBucketResult (keys decoded when encoding-type=url was asked for). */
export function parseListPage(r: RawResponse, urlEncoded: boolean): ListedPage {
  const dec = (s: string) => (urlEncoded ? decodeURIComponent(s) : s);
  const unxml = (s: string) =>
    s
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&apos;/g, "'")
      .replace(/&#(\d+);/g, (_m, n) => String.fromCodePoint(Number(n)))
      .replace(/&#x([0-9a-f]+);/gi, (_m, n) => String.fromCodePoint(Number.parseInt(n, 16)))
      .replace(/&amp;/g, '&');
  const all = (re: RegExp) => [...r.text.matchAll(re)].map((m) => dec(unxml(m[1]!)));
  const one = (tag: string) => new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(r.text)?.[1];
  const keyCount = one('KeyCount');
  const nextMarker = one('NextMarker');
  return {
    status: r.status,
    text: r.text,
    keys: all(/<Contents>(?:(?!<\/Contents>)[\s\S])*?<Key>([^<]*)<\/Key>/g),
    prefixes: all(/<CommonPrefixes>\s*<Prefix>([^<]*)<\/Prefix>/g),
    truncated: one('IsTruncated') === 'true',
    ...(keyCount !== undefined ? { keyCount: Number(keyCount) } : {}),
    ...(one('MaxKeys') !== undefined ? { maxKeys: one('MaxKeys') } : {}),
    ...(nextMarker !== undefined ? { nextMarker: dec(unxml(nextMarker)) } : {}),
  };
}

export interface ListParams {
  prefix?: string;
  delimiter?: string;
  maxKeys?: number;
  startAfter?: string;
  encodingUrl?: boolean;
}

/**
 * Pages through a listing as an SDK does (v2: continuation tokens; v1: NextMarker, else the last
 * key) and returns every page. Throws after `maxPages` so a truncation loop cannot hang a test.
 */
export async function listAllPages(
  url: string,
  principal: string,
  version: 1 | 2,
  p: ListParams,
  bucket = 'datalake',
  maxPages = 500,
  /** Signed as of this clock (default: now). */
  clock?: Clock,
): Promise<ListedPage[]> {
  const pages: ListedPage[] = [];
  let token: string | undefined;
  let marker = p.startAfter;
  const creds = keyFor(principal);
  for (let i = 0; i < maxPages; i++) {
    const common = {
      prefix: p.prefix,
      delimiter: p.delimiter,
      'max-keys': p.maxKeys === undefined ? undefined : String(p.maxKeys),
      'encoding-type': p.encodingUrl ? 'url' : undefined,
    };
    const q =
      version === 2
        ? { 'list-type': '2', ...common, 'start-after': p.startAfter, 'continuation-token': token }
        : { ...common, marker };
    const at = clock ? new Date(clock.now()) : undefined;
    const r = await signedFetch(url, 'GET', `/${bucket}`, encodeQuery(q), {}, creds, 'us-east-1', at);
    const page = parseListPage(r, p.encodingUrl === true);
    pages.push(page);
    if (r.status !== 200 || !page.truncated) return pages;
    if (version === 2) {
      token = /<NextContinuationToken>([^<]*)<\/NextContinuationToken>/.exec(r.text)?.[1];
      if (!token) throw new Error('truncated v2 page without NextContinuationToken');
    } else {
      marker = page.nextMarker ?? page.keys.at(-1);
      if (marker === undefined) throw new Error('truncated v1 page with neither NextMarker nor a key');
    }
  }
  throw new Error(`listing did not finish within ${maxPages} pages`);
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (t: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
