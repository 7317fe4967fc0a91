/**
 * Differential property: the proxy behind node:http and behind the Lambda Function URL adapter
 * (runtime shim + an HTTP server building payload v2 events) answers the SAME request bytes
 * alike. One s3rver holds a partitioned Delta table; each pair of proxies has the same config,
 * grants and clock (one pair per getMode). Requests of the shapes clients send (signed in the
 * header, presigned by @smithy and by the SDK's presigner, anonymous; legal alternative
 * percent-encodings, %2F, listing and GetObject override parameters, Range and conditional
 * headers, repeated headers, cookies, odd header case, refused methods, absolute-form targets)
 * and requests no client should send (malformed escapes, raw non-UTF-8 bytes, paths and header
 * sections near the configured limits). Required: the same status, the same error document
 * (request ids aside), the same body for 2xx, the same values of the headers clients read.
 * Where the shim, not the product, decides, the fronts are not compared: bytes the shim's own
 * HTTP parser refuses (no function runs), an absolute-form target (Lambda gets its origin form),
 * "Content-Length: 0" vs none on a bodiless HEAD or 304.
 * The seed is fixed; FUZZ_SEED and FUZZ_RUNS explore, FUZZ_PATH replays a report (FUZZ_STATS=1
 * prints the statuses reached).
 */
import { type IncomingHttpHeaders, request } from 'node:http';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY, presign, signHeader } from '../auth/helpers/sign';
import { writeSpecialTable } from '../helpers/fixture-tables';
import { TRANSPORTS } from '../helpers/lambda-transports';
import { type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { backendClient, createBucket, type S3Server, startS3rver, uploadDir } from '../helpers/s3-servers';
import {
  encodeChars,
  encodingsArb,
  PATH_RAW,
  presignerAdded,
  queryParams,
  queryRecord,
} from '../helpers/wire-encoding';

const SEED = Number(process.env.FUZZ_SEED ?? 20261211);
const RUNS = Number(process.env.FUZZ_RUNS ?? 100);
const PATH = process.env.FUZZ_PATH;

const SIGNED_AT = new Date('2024-06-15T12:00:00Z');
/** The proxies' clock: both read it, so signatures, expiries and presigned URLs agree. */
const NOW = SIGNED_AT.getTime() + 30_000;
/** The Host the signers sign (sign.ts's), sent to both proxies whatever their ports. */
const HOST = '127.0.0.1:9000';
const MAX_URL = 2048;
const MAX_HEADERS = 4096;
const REGIONS = ['EU', 'US', 'a/b c', 'ü+=x', '😈', '50%'];

// ---------------------------------------------------------------- generated requests

const RESERVED = [..."~*'()!$&+,;=:@ %/"];
const UNRESERVED = [...'aZ09-._~'];
const SPECIAL = ['é', 'e\u0301', '\u{1F600}', '日本', '\u00a0', '\ufeff', '?', '#'];
const char = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...RESERVED) },
  { weight: 3, arbitrary: fc.constantFrom(...UNRESERVED) },
  { weight: 2, arbitrary: fc.constantFrom(...SPECIAL) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }) },
);
const text = (min: number, max: number) =>
  fc.array(char, { minLength: min, maxLength: max }).map((a) => a.join(''));

const encodings = encodingsArb(4);

/** Keys stored under lake/tables/sales/ (filled in beforeAll), as the proxy names them. */
let stored: string[] = [];

const keyArb = fc.oneof(
  { weight: 5, arbitrary: fc.nat().map((i) => `sales/${stored[i % stored.length]!}`) },
  {
    weight: 2,
    arbitrary: fc.tuple(fc.nat(), text(1, 6)).map(([i, s]) => `sales/${stored[i % stored.length]!}${s}`),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom('sales', 'other', 'sales/_delta_log', 'sales/region=EU'), text(1, 8))
      .map(([a, b]) => `${a}/${b}`),
  },
  { weight: 1, arbitrary: fc.constantFrom('sales', 'sales/', 'sales/_delta_log/', '') },
);

/** Paths no client sends: malformed escapes, raw bytes that are not UTF-8, dot segments, long runs. */
const hostilePath = fc.oneof(
  fc.constantFrom(
    '/datalake/sales/%zz',
    '/datalake/sales/%',
    '/datalake/sales/%C3%28',
    '/datalake/sales/%ff%fe',
    '/datalake/sales/\u00ff\u00fe',
    '/datalake/sales/r\u00e9gion',
    '/datalake/sales/%00',
    '/datalake/sales/../secret',
    '/datalake/sales/%2e%2e/x',
    '/datalake//sales',
    '//datalake/sales',
    '/datalake/sales/_delta_log/%2e',
    '/datalake%2Fsales',
    '/%64atalake',
    '/DATALAKE',
    '/datalake/sales;x=y',
  ),
  fc.integer({ min: MAX_URL - 40, max: MAX_URL + 40 }).map((n) => `/datalake/sales/${'k'.repeat(n - 16)}`),
  fc
    .uint8Array({ minLength: 1, maxLength: 4 })
    .map((b) => `/datalake/sales/${[...b].map((x) => `%${x.toString(16).padStart(2, '0')}`).join('')}`),
  fc
    .uint8Array({ minLength: 1, maxLength: 4 })
    .map((b) => `/datalake/sales/${String.fromCharCode(...[...b].map((x) => x | 0x80))}`),
);

const QUERY_NAMES = [
  'prefix',
  'start-after',
  'continuation-token',
  'delimiter',
  'max-keys',
  'encoding-type',
  'fetch-owner',
  'marker',
  'response-content-disposition',
  'response-content-type',
  'response-cache-control',
  'response-expires',
  'versionId',
  'partNumber',
  'x-id',
  'ü',
];
const QUERY_VALUES = [
  'sales/',
  'sales/region=EU/',
  'sales/region=US/',
  'sales/_delta_log/',
  'sales/region=a%2Fb%20c/',
  '/',
  '0',
  '1',
  '3',
  '1000',
  '-1',
  'url',
  'true',
  'null',
  'text/plain',
  'attachment; filename="a b.parquet"',
];
const queryArb = fc.array(
  fc.tuple(
    fc.constantFrom(...QUERY_NAMES),
    fc.oneof(fc.constantFrom(...QUERY_VALUES), text(0, 6)),
    encodings,
    fc.boolean(),
  ),
  { maxLength: 4 },
);

/** Signed (or at least sent) headers a client uses. */
const HEADER_CHOICES: [string, fc.Arbitrary<string>][] = [
  [
    'range',
    fc.constantFrom(
      'bytes=0-0',
      'bytes=0-99',
      'bytes=-10',
      'bytes=5-',
      'bytes=9999999-',
      'bytes=3-1',
      'bytes=0-1,4-5',
      'items=0-1',
      'bytes = 0-1',
    ),
  ],
  ['if-none-match', fc.constantFrom('*', '"x"', 'ETAG', '"x", ETAG', 'W/ETAG')],
  ['if-match', fc.constantFrom('*', '"x"', 'ETAG', 'ETAG, "y"')],
  [
    'if-modified-since',
    fc.constantFrom('Sat, 01 Jan 2000 00:00:00 GMT', 'Fri, 01 Jan 2100 00:00:00 GMT', 'yesterday', 'LASTMOD'),
  ],
  [
    'if-unmodified-since',
    fc.constantFrom('Sat, 01 Jan 2000 00:00:00 GMT', 'Fri, 01 Jan 2100 00:00:00 GMT', 'LASTMOD'),
  ],
  ['x-amz-meta-a', fc.constantFrom('v', ' v  w ')],
  ['user-agent', fc.constantFrom('aws-cli/2.15', 'delta-rs/0.20', 'delta-proxy-client/0.1.0')],
  // The one client redirected by default (presignedUrl mode's 307), more often.
  ['user-agent', fc.constant('delta-proxy-client/0.1.0')],
];
const headersArb = fc.uniqueArray(
  fc
    .integer({ min: 0, max: HEADER_CHOICES.length - 1 })
    .chain((i) => HEADER_CHOICES[i]![1].map((v) => [HEADER_CHOICES[i]![0], v] as [string, string])),
  { maxLength: 3, selector: ([n]) => n },
);

/** Unsigned extras sent after signing: cookies, padding near the header limit, repeats. */
const extraArb = fc.record({
  cookie: fc.option(fc.constantFrom('a=1', 'a=1; b=2', 'session=x=y'), { nil: undefined }),
  /** Sent twice (Cookie as two header lines, or a second Range / If-None-Match / User-Agent). */
  repeat: fc.option(fc.constantFrom('cookie', 'range', 'if-none-match', 'user-agent', 'x-custom', 'host'), {
    nil: undefined,
  }),
  padding: fc.option(fc.integer({ min: MAX_HEADERS - 800, max: MAX_HEADERS + 100 }), { nil: undefined }),
  /** Header names sent in odd case. */
  oddCase: fc.boolean(),
});

const caseArb = fc.record({
  auth: fc.constantFrom('header', 'header', 'presign', 'sdk-presigner', 'anonymous'),
  method: fc.constantFrom('GET', 'GET', 'GET', 'HEAD', 'HEAD', 'PUT', 'DELETE', 'POST', 'OPTIONS'),
  shape: fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('object' as const),
        key: keyArb,
        enc: encodings,
        slash: fc.constantFrom('/', '/', '/', '%2F', '%2f'),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('listing' as const), v2: fc.boolean(), slash: fc.boolean() }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('root' as const) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('hostile' as const), path: hostilePath }) },
  ),
  query: queryArb,
  headers: headersArb,
  extra: extraArb,
  absolute: fc.constantFrom(false, false, false, true),
  getMode: fc.constantFrom<'proxy' | 'presignedUrl'>('proxy', 'presignedUrl'),
});
type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

// ---------------------------------------------------------------- wire requests

interface Wire {
  method: string;
  target: string;
  headers: Record<string, string | string[]>;
}

function wirePath(c: Case): string {
  const s = c.shape;
  if (s.kind === 'root') return '/';
  if (s.kind === 'listing') return s.slash ? '/datalake/' : '/datalake';
  if (s.kind === 'hostile') return s.path;
  return `/datalake/${s.key
    .split('/')
    .map((seg) => encodeChars(seg, s.enc, PATH_RAW))
    .join(s.slash)}`;
}

const params = (c: Case) => queryParams(c.query, c.shape.kind === 'listing' && c.shape.v2);

const sdkS3 = new S3Client({
  endpoint: `http://${HOST}`,
  region: 'us-east-1',
  forcePathStyle: true,
  credentials: { accessKeyId: KEY.accessKeyId, secretAccessKey: KEY.secretAccessKey },
});

let etag = '"x"';
let lastModified = 'Sat, 01 Jan 2000 00:00:00 GMT';
const resolved = (v: string) => v.replace('ETAG', etag).replace('LASTMOD', lastModified);

/** The request as sent; undefined when a signer cannot express the case. */
async function wire(c: Case): Promise<Wire | undefined> {
  const path = wirePath(c);
  const { decoded, raw } = params(c);
  const own = Object.fromEntries(c.headers.map(([n, v]) => [n, resolved(v)]));
  let method = c.method;
  let query = raw;
  let headers: Record<string, string> = { host: HOST, ...own };
  try {
    if (c.auth === 'header') {
      headers = (
        await signHeader({ method, path, query: queryRecord(decoded), headers: own, date: SIGNED_AT })
      ).headers as Record<string, string>;
    } else if (c.auth === 'presign') {
      const r = await presign({
        method,
        path,
        query: queryRecord(decoded),
        headers: own,
        date: SIGNED_AT,
        expiresIn: 3600,
      });
      query = [...raw, ...presignerAdded(r.rawQuery, decoded)];
      headers = r.headers as Record<string, string>;
    } else if (c.auth === 'sdk-presigner') {
      if (c.shape.kind !== 'object' && c.shape.kind !== 'listing') return undefined;
      const command =
        c.shape.kind === 'listing'
          ? new ListObjectsV2Command({ Bucket: 'datalake', Prefix: c.query[0]?.[1] })
          : method === 'HEAD'
            ? new HeadObjectCommand({ Bucket: 'datalake', Key: c.shape.key, Range: own.range })
            : new GetObjectCommand({
                Bucket: 'datalake',
                Key: c.shape.key,
                Range: own.range,
                ResponseContentType: c.query[0]?.[1] || undefined,
              });
      if (c.shape.kind === 'listing' || method !== 'HEAD') method = 'GET';
      const url = (
        await getSignedUrl(sdkS3, command as GetObjectCommand, { expiresIn: 3600, signingDate: SIGNED_AT })
      ).slice(`http://${HOST}`.length);
      const q = url.indexOf('?');
      return finish(
        c,
        {
          method,
          target: url,
          headers: {
            host: HOST,
            ...(own.range && q >= 0 && !url.includes('range=') ? { range: own.range } : {}),
          },
        },
        q < 0 ? url : url.slice(0, q),
      );
    }
  } catch {
    return undefined; // a path the signer refuses (a lone %): the anonymous case covers it
  }
  const target = query.length === 0 ? path : `${path}?${query.join('&')}`;
  return finish(c, { method, target, headers }, path);
}

/** Adds the unsigned extras and the target's form. */
function finish(c: Case, w: Wire, _path: string): Wire {
  const headers: Record<string, string | string[]> = { ...w.headers };
  const x = c.extra;
  if (x.cookie) headers.cookie = x.cookie;
  if (x.padding !== undefined) {
    const used = Object.entries(headers).reduce((n, [k, v]) => n + k.length + String(v).length + 4, 0);
    headers['x-padding'] = 'p'.repeat(Math.max(1, x.padding - used - 'x-padding'.length - 4));
  }
  if (x.repeat) {
    const first = headers[x.repeat] as string | undefined;
    headers[x.repeat] = [first ?? 'one', x.repeat === 'host' ? '127.0.0.1:9001' : 'two'];
  }
  if (x.oddCase) {
    for (const name of Object.keys(headers)) {
      const odd = name.replace(/(^|-)([a-z])/g, (_m, d: string, ch: string) => d + ch.toUpperCase());
      if (odd !== name) {
        headers[odd] = headers[name]!;
        delete headers[name];
      }
    }
  }
  return { ...w, target: c.absolute ? `http://${HOST}${w.target}` : w.target, headers };
}

// ---------------------------------------------------------------- sending and comparing

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

function send(base: string, w: Wire): Promise<Reply> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        method: w.method,
        path: w.target,
        // A flat list: every value on its own line, in order, names in the case given.
        headers: Object.entries(w.headers).flatMap(([n, v]) =>
          (Array.isArray(v) ? v : [v]).flatMap((x) => [n, x]),
        ),
        setHost: false,
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(w.method === 'PUT' || w.method === 'POST' ? 'body' : undefined);
  });
}

/** Headers a client reads; request ids and dates differ by nature. */
const COMPARED = [
  'content-length',
  'content-range',
  'content-type',
  'content-disposition',
  'cache-control',
  'expires',
  'etag',
  'last-modified',
  'accept-ranges',
  'location',
  'allow',
];
const IGNORED_AMZ = new Set(['x-amz-request-id', 'x-amz-id-2']);

function view(r: Reply, method: string) {
  const h: Record<string, unknown> = {};
  for (const name of COMPARED) h[name] = r.headers[name];
  // Streaming responses through a Function URL are chunked; the shim keeps Content-Length.
  h['content-length'] = r.headers['x-amzn-remapped-content-length'] ?? r.headers['content-length'];
  // node:http frames a bodiless answer with "Content-Length: 0"; the Function URL side leaves it
  // out. No client reads the length of a HEAD or 304 that carries none of the object's.
  if ((method === 'HEAD' || r.status === 304) && h['content-length'] === '0') h['content-length'] = undefined;
  for (const [name, value] of Object.entries(r.headers)) {
    if (name.startsWith('x-amz-') && !IGNORED_AMZ.has(name)) h[name] = value;
  }
  const text = r.body.toString('utf8');
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
  const body =
    r.status < 300 ? r.body.toString('base64') : text.replace(/<(RequestId|HostId)>[^<]*<\/\1>/g, '');
  return { status: r.status, code, headers: h, body };
}

// ---------------------------------------------------------------- set-up

let backend: S3Server;
const pairs: Record<'proxy' | 'presignedUrl', RunningProxy[]> = { proxy: [], presignedUrl: [] };

beforeAll(async () => {
  backend = await startS3rver();
  const c = backendClient(backend.endpoint);
  await createBucket(c, 'lake');
  const keys = await uploadDir(c, 'lake', 'tables/sales/', await writeSpecialTable(REGIONS, ['2024-01-01']));
  c.destroy();
  stored = keys.map((k) => k.replace(/^tables\/sales\//, ''));
  for (const getMode of ['proxy', 'presignedUrl'] as const) {
    for (const [, serve] of TRANSPORTS) {
      pairs[getMode].push(
        await startProxy(
          backend,
          {
            getMode,
            logView: 'filtered',
            tableMapping: { sales: 's3://lake/tables/sales', other: 's3://lake/tables/other' },
            auth: { keys: [KEY], allowAnonymous: true },
            grants: [
              {
                principal: KEY.principal,
                table: 'sales',
                partitions: [{ region: 'EU' }, { region: 'a/b c' }, { region: 'ü+=x' }, { region: '😈' }],
              },
              { principal: 'anonymous', table: 'sales', partitions: [{ region: 'US' }] },
            ],
            maxUrlBytes: MAX_URL,
            maxHeaderBytes: MAX_HEADERS,
          },
          serve,
          { clock: { now: () => NOW } },
        ),
      );
    }
  }
  // The ETag and Last-Modified of a granted data file, for the conditional headers.
  const eu = stored.find((k) => k.includes('region=EU') && k.endsWith('.parquet'))!;
  const w = await wire({
    auth: 'header',
    method: 'HEAD',
    shape: { kind: 'object', key: `sales/${eu}`, enc: [], slash: '/' },
    query: [],
    headers: [],
    extra: { cookie: undefined, repeat: undefined, padding: undefined, oddCase: false },
    absolute: false,
    getMode: 'proxy',
  });
  const head = await send(pairs.proxy[0]!.url, w!);
  expect(head.status).toBe(200);
  etag = String(head.headers.etag);
  lastModified = String(head.headers['last-modified']);
}, 120_000);

afterAll(async () => {
  sdkS3.destroy();
  for (const p of [...pairs.proxy, ...pairs.presignedUrl]) await p.stop();
  await backend?.stop();
});

describe('node:http and the Lambda Function URL adapter answer alike (property)', () => {
  it('the same status, error, body and client-visible headers for the same request bytes', async () => {
    const statuses = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        // Two Hosts and an absolute target: node:http takes the target's authority; what a Function
        // URL's front end makes of that is unknown (the shim has no model of absolute form).
        if (c.absolute && c.extra.repeat === 'host') return;
        const w = await wire(c);
        if (w === undefined) return;
        const [node, lambda] = pairs[c.getMode];
        const a = await send(node!.url, w);
        // The shim hands an absolute-form target to the function as its rawPath; a Function URL's
        // own HTTP front end resolves it to the path first (as any RFC 9112 server), so Lambda is
        // sent the origin form of the same request.
        const b = await send(lambda!.url, { ...w, target: w.target.replace(`http://${HOST}`, '') });
        const what = JSON.stringify({ getMode: c.getMode, ...w });
        if (b.headers['x-amzn-requestid'] === undefined) {
          // The shim's own HTTP parser refused the bytes (node's bare 400): no function ran, and
          // what a Function URL's front end does with them is not the product's. node:http's
          // refusal must still be an S3 one.
          const code = w.method === 'HEAD' ? undefined : 'InvalidRequest';
          expect([b.status, a.status, view(a, w.method).code], what).toEqual([400, 400, code]);
          return;
        }
        const key = `${a.status} ${view(a, w.method).code ?? ''}`;
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
        expect(view(b, w.method), what).toEqual(view(a, w.method));
        expect(a.status, what).toBeLessThan(500);
      }),
      { numRuns: RUNS, seed: SEED, ...(PATH ? { path: PATH } : {}) },
    );
    if (process.env.FUZZ_STATS) console.log([...statuses].sort());
  }, 600_000);
});
