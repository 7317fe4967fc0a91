/**
 * Generated hostile requests (fast-check) against the whole proxy on a real backend, through each
 * front end. Whatever the method, path, query and headers:
 * - a client's mistake is never a 5xx, and every error is S3 XML with a request id and no stack;
 * - nothing outside the caller's grants is ever answered: no byte of a forbidden or unmapped
 *   object, no listing entry of an ungranted partition;
 * - a signed request changed after signing (path, query, a signed header, the signature) is
 *   refused;
 * - the proxy still answers a good request afterwards.
 * The seed is fixed so a run is reproducible; FUZZ_SEED and FUZZ_RUNS explore further.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSpecialTable } from '../helpers/fixture-tables';
import { TRANSPORTS } from '../helpers/lambda-transports';
import { ANALYST, type RunningProxy, type ServeFn, startProxy } from '../helpers/proxy-harness';
import { type RawReply, rawRequest } from '../helpers/raw-http';
import { expectErrorDocument } from '../helpers/s3-error-document';
import { backendClient, createBucket, type S3Server, startS3rver, uploadDir } from '../helpers/s3-servers';
import { signHeaders } from '../helpers/signed-fetch';

const SEED = Number(process.env.FUZZ_SEED ?? 20261204);
const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
const SECRET = 'SECRET-BYTES-OUTSIDE-ANY-TABLE';

let s3: S3Server;
let keys: string[] = [];
beforeAll(async () => {
  s3 = await startS3rver();
  const c = backendClient(s3.endpoint);
  await createBucket(c, 'lake');
  keys = await uploadDir(c, 'lake', 'tables/sales/', await writeSpecialTable(['EU', 'US'], ['2024-01-01']));
  await c.send(new PutObjectCommand({ Bucket: 'lake', Key: 'tables/secret.parquet', Body: SECRET }));
  await c.send(new PutObjectCommand({ Bucket: 'lake', Key: 'tables/sales/region=US/x.txt', Body: SECRET }));
  c.destroy();
});
afterAll(async () => {
  await s3?.stop();
});

// ---- generators -----------------------------------------------------------------------------

const dataKeys = () => keys.filter((k) => k.endsWith('.parquet') && !k.includes('_delta_log'));
/** Percent-encoded bytes, valid or not as UTF-8. */
const pctBytes = fc
  .uint8Array({ minLength: 1, maxLength: 4 })
  .map((b) => [...b].map((x) => `%${x.toString(16).padStart(2, '0')}`).join(''));

/**
 * One path segment: table words, escapes, encodings of them, odd bytes, long runs. Printable
 * ASCII only: a raw byte beyond it is refused by the front end's own HTTP parser before the
 * proxy sees it (node:http's case is in hostile-requests.test.ts).
 */
const segment = fc.oneof(
  fc.constantFrom(
    'datalake',
    'sales',
    'lake',
    'tables',
    '_delta_log',
    '_change_data',
    'region=EU',
    'region=US',
    'region%3DEU',
    'date=2024-01-01',
    '00000000000000000000.json',
    '00000000000000000000.checkpoint.parquet',
    '_last_checkpoint',
    'secret.parquet',
    'x.txt',
    '..',
    '.',
    '',
    '%2e%2e',
    '%2E%2E',
    '%252e%252e',
    '%2F',
    '%5C',
    '\\',
    '%00',
    '%zz',
    '%',
    '%C3%28',
    '%E2%82%AC',
    '?',
    '#',
    ';',
    'k'.repeat(1100),
  ),
  pctBytes,
  fc.string({ unit: 'grapheme-ascii', maxLength: 12 }).map((s) => s.replace(/[\s?#]/g, '')),
);

const path = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.array(segment, { minLength: 0, maxLength: 6 }).map((segs) => `/${segs.join('/')}`),
  },
  // Listings of the bucket and the service.
  { weight: 2, arbitrary: fc.constantFrom('/datalake', '/datalake/', '/', '/lake') },
  // Every stored object of the table (both partitions, log and data), as the proxy names it,
  // plain or with one more segment.
  {
    weight: 3,
    arbitrary: fc
      .constant(null)
      .chain(() => fc.constantFrom(...keys.map((k) => `/datalake/${k.replace(/^tables\//, '')}`)))
      .chain((p) =>
        fc.oneof(
          fc.constant(p),
          segment.map((leaf) => `${p}/${leaf}`),
        ),
      ),
  },
  // Well-formed paths into the table with an odd last segment.
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom('EU', 'US'), segment)
      .map(([region, leaf]) => `/datalake/sales/region=${region}/date=2024-01-01/${leaf}`),
  },
);

const queryPart = fc.oneof(
  fc.constantFrom(
    'list-type=2',
    'list-type=1',
    'list-type=3',
    'prefix=sales/',
    'prefix=sales/region=US/',
    'prefix=sales/_delta_log/',
    'prefix=sales/../',
    'prefix=tables/',
    'prefix=',
    'delimiter=/',
    'delimiter=',
    'max-keys=0',
    'max-keys=-1',
    'max-keys=99999999999999999999',
    'max-keys=abc',
    'continuation-token=',
    'continuation-token=AAAA',
    'start-after=sales/region=US/',
    'marker=sales/region=US/',
    'encoding-type=url',
    'encoding-type=xml',
    'fetch-owner=true',
    'versionId=null',
    'uploads',
    'acl',
    'location',
    'x-id=GetObject',
    'partNumber=1',
    'response-content-type=text/html',
    'X-Amz-Algorithm=AWS4-HMAC-SHA256',
    'X-Amz-Credential=AKIATESTANALYST0001%2F20260101%2Fus-east-1%2Fs3%2Faws4_request',
    'X-Amz-Date=20260101T000000Z',
    'X-Amz-Expires=604801',
    'X-Amz-SignedHeaders=host',
    `X-Amz-Signature=${'0'.repeat(64)}`,
    'X-Amz-Security-Token=abc',
  ),
  fc
    .tuple(
      fc.string({ unit: 'grapheme-ascii', maxLength: 8 }),
      fc.oneof(pctBytes, fc.string({ maxLength: 8 })),
    )
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`),
  pctBytes.map((b) => `prefix=${b}`),
);
const query = fc.array(queryPart, { maxLength: 5 }).map((parts) => parts.join('&'));

const method = fc.constantFrom(
  'GET',
  'GET',
  'GET',
  'HEAD',
  'PUT',
  'POST',
  'DELETE',
  'OPTIONS',
  'PATCH',
  'PROPFIND',
);

const headerPair = fc.oneof(
  fc.constantFrom<[string, string]>(
    ['range', 'bytes=0-0'],
    ['range', 'bytes=-1'],
    ['range', 'bytes=5-1'],
    ['range', 'bytes=0-1,4-5'],
    ['range', 'bytes=99999999999999999999-'],
    ['range', 'items=0-1'],
    ['if-none-match', '*'],
    ['if-match', '"x"'],
    ['if-modified-since', 'yesterday'],
    ['x-amz-date', '20260101T000000Z'],
    ['x-amz-date', 'not a date'],
    ['x-amz-content-sha256', 'UNSIGNED-PAYLOAD'],
    ['x-amz-content-sha256', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD'],
    ['x-amz-security-token', 'abc'],
    ['authorization', 'AWS4-HMAC-SHA256'],
    ['authorization', 'AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature='],
    [
      'authorization',
      `AWS4-HMAC-SHA256 Credential=AKIATESTANALYST0001/20260101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'a'.repeat(64)}`,
    ],
    ['authorization', `AWS AKIATESTANALYST0001:${'a'.repeat(28)}`],
    ['authorization', 'Bearer x'],
    ['user-agent', 'delta-proxy-client/0.1.0'],
    ['user-agent', 'aws-cli/2.15 Botocore/1.34'],
    ['expect', '100-continue'],
  ),
  fc.tuple(
    fc.constantFrom(
      'range',
      'authorization',
      'x-amz-date',
      'host',
      'x-amz-content-sha256',
      'user-agent',
      'x-foo',
    ),
    fc.string({ unit: 'grapheme-ascii', maxLength: 40 }).map((s) => s.replace(/[^\x20-\x7e]/g, '')),
  ),
);
const headers = fc.array(headerPair, { maxLength: 4 }).map((pairs) => Object.fromEntries(pairs));

// ---- what every answer must be ----------------------------------------------------------------

function expectHonestAnswer(r: RawReply, m: string, what: string): void {
  expect(r.status, `${what} → ${r.status} ${r.body.slice(0, 300)}`).toBeLessThan(500);
  expect(r.body, what).not.toContain(SECRET);
  expect(r.body, what).not.toMatch(/\bat .*\.(ts|js|mjs):\d+/);
  if (r.status >= 400 && m !== 'HEAD') {
    expect(r.headers['content-type'], what).toBe('application/xml');
    expectErrorDocument(r.body, what);
  }
}

/**
 * No listing entry of the US partition (not granted) or outside the table. An error echoing the
 * key the client asked for (`<Key>`, `<Resource>`, as S3 does) tells it nothing new.
 */
function expectWithinGrant(r: RawReply, what: string): void {
  const listed = [...r.body.matchAll(/<(?:Contents>\s*<Key|CommonPrefixes>\s*<Prefix)>([^<]*)</g)].map(
    (x) => x[1]!,
  );
  for (const entry of listed) {
    expect(entry, what).not.toMatch(/region(=|%3D)US/i);
    expect(entry, what).not.toContain('secret.parquet');
  }
}

/** What a caller granted the EU partition may get: EU files, the log, listings without US; reads only. */
function expectGrantedReaderAnswer(r: RawReply, m: string, target: string, what: string): void {
  expectHonestAnswer(r, m, what);
  expectWithinGrant(r, what);
  if (r.status < 300 && m === 'GET') expectGrantedRead(target, `${what} answered ${r.status}`);
  if (m !== 'GET' && m !== 'HEAD') expect(r.status, what).toBeGreaterThanOrEqual(400);
}

/** "404 NoSuchKey", or the bare status of an answer without a body (HEAD). */
const answerCode = (r: RawReply) => `${r.status} ${/<Code>(\w+)/.exec(r.body)?.[1] ?? ''}`.trim();

/**
 * A GET answered 2xx read a granted file, the log, or listed: its path (up to the first "?", as
 * the server splits it) names the EU partition or the log, or it is a listing.
 */
function expectGrantedRead(target: string, what: string): void {
  const at = target.indexOf('?');
  const path = at < 0 ? target : target.slice(0, at);
  const query = at < 0 ? '' : target.slice(at + 1);
  if (path.split('/').length <= 2 || /list-type|prefix|delimiter/.test(query)) return;
  expect(path, what).toMatch(/region(=|%3D)EU|_delta_log|^\/datalake\/?$/i);
}

const prop = (p: fc.IAsyncPropertyWithHooks<unknown[]>) =>
  fc.assert(p, { numRuns: RUNS, seed: SEED, endOnFailure: true });

/** The proxy of one describe, through `serve`: the sales table, `principal` granted EU. */
function proxyFor(serve: ServeFn, principal: string, allowAnonymous = false): () => RunningProxy {
  let proxy: RunningProxy;
  beforeAll(async () => {
    proxy = await startProxy(
      s3,
      {
        tableMapping: { sales: 's3://lake/tables/sales' },
        grants: [{ principal, table: 'sales', partitions: [{ region: 'EU' }] }],
        ...(allowAnonymous ? { auth: { allowAnonymous } } : {}),
      },
      serve,
    );
  });
  afterAll(async () => {
    await proxy?.stop();
  });
  return () => proxy;
}

/** Sends a generated request as is; `what` names it in a failure. */
async function send(proxy: RunningProxy, m: string, p: string, q: string, h: Record<string, string>) {
  const target = q ? `${p}?${q}` : p;
  const r = await rawRequest(proxy.url, m, target, h);
  return { r, target, what: `${m} ${target} ${JSON.stringify(h)}` };
}

describe.each(TRANSPORTS)('generated hostile requests via %s', (_name, serve) => {
  const running = proxyFor(serve, ANALYST.principal);

  it('unsigned: an S3 error for every request, never a 5xx, never a byte or a listing entry', async () => {
    const codes = new Set<string>();
    await prop(
      fc.asyncProperty(method, path, query, headers, async (m, p, q, h) => {
        const { r, what } = await send(running(), m, p, q, h);
        expectHonestAnswer(r, m, what);
        expect(r.status, what).toBeGreaterThanOrEqual(400);
        expect(r.body, what).not.toMatch(/<Contents>|PAR1/);
        codes.add(answerCode(r));
      }),
    );
    // Authentication comes first: the generators reach each of its refusals.
    expect([...codes]).toEqual(
      expect.arrayContaining([
        '403 AccessDenied',
        '400 AuthorizationHeaderMalformed',
        '400 AuthorizationQueryParametersError',
      ]),
    );
  });

  it('signed by a key granted one partition: only that partition, only reads, never a 5xx', async () => {
    const codes = new Set<string>();
    await prop(
      fc.asyncProperty(method, path, query, async (m, p, q) => {
        let signed: Record<string, string>;
        try {
          signed = await signHeaders(running().url, m, p, q, {}, ANALYST);
        } catch {
          return; // a path or query the SDK's signer cannot sign (a lone %): the unsigned case covers it
        }
        const { r, target, what } = await send(running(), m, p, q, signed);
        expectGrantedReaderAnswer(r, m, target, what);
        codes.add(answerCode(r));
      }),
    );
    // Past authentication the generators reach the parser, the router, the method check and the
    // authorizer: granted reads and listings succeed, the rest is refused or missing.
    expect([...codes]).toEqual(
      expect.arrayContaining([
        '200',
        '400 InvalidURI',
        '400 InvalidArgument',
        '403 AccessDenied',
        '404 NoSuchKey',
        '405 MethodNotAllowed',
      ]),
    );
  });

  it('signed, then changed: refused', async () => {
    const granted = `/datalake/${dataKeys()
      .find((k) => k.includes('region=EU'))!
      .replace(/^tables\//, '')}`;
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('path' as const), extra: segment }),
      fc.record({ kind: fc.constant('query' as const), extra: queryPart }),
      fc.record({
        kind: fc.constant('header' as const),
        name: fc.constantFrom('x-amz-date', 'x-amz-content-sha256', 'host'),
        value: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 20 }),
      }),
      fc.record({
        kind: fc.constant('signature' as const),
        at: fc.nat({ max: 63 }),
        digit: fc.constantFrom(...'0123456789abcdef'),
      }),
      fc.record({
        kind: fc.constant('drop' as const),
        name: fc.constantFrom('x-amz-date', 'x-amz-content-sha256', 'authorization'),
      }),
    );
    const reference = await rawRequest(
      running().url,
      'GET',
      granted,
      await signHeaders(running().url, 'GET', granted, '', {}, ANALYST),
    );
    expect(reference.status).toBe(200);
    await prop(
      fc.asyncProperty(mutation, async (mu) => {
        const h = { ...(await signHeaders(running().url, 'GET', granted, '', {}, ANALYST)) };
        let target = granted;
        // A trailing "?" is the same request (an empty query), not a change.
        if (mu.kind === 'path') target = `${granted}${mu.extra === '?' ? '%3F' : mu.extra || 'x'}`;
        if (mu.kind === 'query') target = `${granted}?${mu.extra}`;
        if (mu.kind === 'header') {
          const value = mu.value.replace(/[^\x21-\x7e]/g, 'x');
          if (h[mu.name] === value) return;
          h[mu.name] = value;
        }
        if (mu.kind === 'signature') {
          const sig = /Signature=([0-9a-f]{64})/.exec(h.authorization!)![1]!;
          if (sig[mu.at] === mu.digit) return;
          const changed = sig.slice(0, mu.at) + mu.digit + sig.slice(mu.at + 1);
          h.authorization = h.authorization!.replace(sig, changed);
        }
        if (mu.kind === 'drop') delete h[mu.name];
        const r = await rawRequest(running().url, 'GET', target, h);
        const what = `${JSON.stringify(mu)} → ${target}`;
        expectHonestAnswer(r, 'GET', what);
        expect(r.status, what).toBeGreaterThanOrEqual(400);
        expect(r.body, what).not.toContain('PAR1');
      }),
    );
    // Still answering good requests.
    const after = await rawRequest(
      running().url,
      'GET',
      granted,
      await signHeaders(running().url, 'GET', granted, '', {}, ANALYST),
    );
    expect(after.status).toBe(200);
  });
});

// With anonymous access granted one partition, unsigned requests reach the router, the key
// parser and the authorizer with every odd path and query, including the ones no SDK can sign.
describe.each(TRANSPORTS)('generated anonymous requests via %s', (_name, serve) => {
  const running = proxyFor(serve, 'anonymous', true);

  it('granted one partition: only that partition, only reads, never a 5xx', async () => {
    const codes = new Set<string>();
    await prop(
      fc.asyncProperty(method, path, query, headers, async (m, p, q, h) => {
        const { r, target, what } = await send(running(), m, p, q, h);
        expectGrantedReaderAnswer(r, m, target, what);
        codes.add(answerCode(r));
      }),
    );
    expect([...codes]).toEqual(
      expect.arrayContaining(['200', '400 InvalidURI', '400 InvalidArgument', '404 NoSuchKey']),
    );
  });
});
