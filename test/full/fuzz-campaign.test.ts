/**
 * A fuzz campaign (test:full tier): signed (valid-signature) requests carrying odd but signable inputs, and
 * raw-wire request forms, through both front ends against a real proxy over s3rver. Every answer:
 * status < 500, an S3 XML error with a Code for a 4xx (HEAD: no body), a request id, no stack
 * trace or internal path, and an answer within a few seconds. Fixed seed (FUZZ_SEED / FUZZ_RUNS).
 */
import { createHash } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSpecialTable } from '../helpers/fixture-tables';
import { TRANSPORTS } from '../helpers/lambda-transports';
import { NodeSha256 } from '../helpers/node-sha256';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { type RawReply, rawRequest, rawSocket } from '../helpers/raw-http';
import { expectErrorDocument } from '../helpers/s3-error-document';
import { backendClient, createBucket, type S3Server, startS3rver, uploadDir } from '../helpers/s3-servers';

/**
 * SigV4 headers as an SDK computes them, for a raw query split the way S3 reads it: each
 * `&`-separated part at its first `=`, and an empty part skipped as the proxy skips it (the
 * shared signed-fetch helper signs an empty part as a parameter with an empty name).
 */
async function signHeaders(
  endpoint: string,
  method: string,
  rawPath: string,
  rawQuery: string,
  headers: Record<string, string>,
  credentials: { accessKeyId: string; secretAccessKey: string },
): Promise<Record<string, string>> {
  const url = new URL(endpoint);
  const signer = new SignatureV4({
    credentials,
    region: 'us-east-1',
    service: 's3',
    sha256: NodeSha256,
    uriEscapePath: false,
  });
  const query: Record<string, string | string[]> = {};
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
    const value = decodeURIComponent(eq < 0 ? '' : part.slice(eq + 1));
    const prev = query[name];
    query[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  const signed = await signer.sign({
    method,
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path: rawPath,
    query,
    headers: {
      ...headers,
      host: url.host,
      'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
      ...(headers['x-amz-content-sha256'] ? { 'x-amz-content-sha256': headers['x-amz-content-sha256'] } : {}),
    },
  });
  return signed.headers as Record<string, string>;
}

const SEED = Number(process.env.FUZZ_SEED ?? 20260712);
const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
const SLOW_MS = 4_000;

let s3: S3Server;
let euKey = '';
beforeAll(async () => {
  s3 = await startS3rver();
  const c = backendClient(s3.endpoint);
  await createBucket(c, 'lake');
  const keys = await uploadDir(
    c,
    'lake',
    'tables/sales/',
    await writeSpecialTable(['EU', 'US'], ['2024-01-01']),
  );
  euKey = keys.find((k) => k.includes('region=EU') && k.endsWith('.parquet') && !k.includes('_delta_log'))!;
  c.destroy();
});
afterAll(async () => {
  await s3?.stop();
});

// ---- checks -------------------------------------------------------------------------------------

function expectHonest(r: RawReply, method: string, what: string, ms: number): void {
  const w = `${what} → ${r.status} ${r.body.slice(0, 300)}`;
  expect(ms, `${w} took ${ms} ms`).toBeLessThan(SLOW_MS);
  expect(r.status, w).toBeGreaterThanOrEqual(200);
  expect(r.status, w).toBeLessThan(500);
  const rid = r.headers['x-amz-request-id'];
  expect(typeof rid === 'string' ? rid : '', `${w} request id`).toMatch(/^[0-9A-F]{16}$/);
  expect(r.body, w).not.toMatch(/\bat .*\.(ts|js|mjs|cjs):\d+|node:internal|\/work\/|\/lambda\/|Error: /);
  if (r.status >= 400) {
    if (method.toUpperCase() === 'HEAD') expect(r.body, w).toBe('');
    else {
      expect(r.headers['content-type'], w).toBe('application/xml');
      expectErrorDocument(r.body, w);
    }
  }
}

/** Parses what rawSocket returned: status line, headers, (de-chunked) body. */
function parseWire(out: string): RawReply {
  const end = out.indexOf('\r\n\r\n');
  const head = end < 0 ? out : out.slice(0, end);
  let body = end < 0 ? '' : out.slice(end + 4);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  if (headers['transfer-encoding'] === 'chunked') {
    let out2 = '';
    let rest = body;
    for (;;) {
      const nl = rest.indexOf('\r\n');
      if (nl < 0) break;
      const n = Number.parseInt(rest.slice(0, nl), 16);
      if (!n) break;
      out2 += rest.slice(nl + 2, nl + 2 + n);
      rest = rest.slice(nl + 2 + n + 2);
    }
    body = out2;
  }
  return { status, headers, body, headAt: 0 };
}

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const v = await f();
  return [v, Math.round(performance.now() - t)];
}

// ---- generators ---------------------------------------------------------------------------------

const pct = (b: number) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
const anyPct = fc.integer({ min: 0, max: 255 }).map(pct);
const oddText = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '%0D%0A',
    '%0D%0AX-Evil%3A%201',
    '%00',
    '%C3%BC',
    '%E2%82%AC',
    '%F0%9F%98%80',
    '%EF%BF%BF',
    '%ED%A0%80',
    '%C0%AF',
    '%FF',
    'a%2Cb',
    '%22',
    '%3C%2FError%3E',
    '%26',
    '%3D',
    '%2B',
    '+',
    '*',
    'x'.repeat(2000),
  ),
  fc.array(anyPct, { minLength: 1, maxLength: 4 }).map((a) => a.join('')),
  fc.string({ unit: 'grapheme-ascii', maxLength: 10 }).map(encodeURIComponent),
);

const dir = '/datalake/sales/region=EU/date=2024-01-01';
const pathArb = fc.oneof(
  fc.constantFrom(
    '/datalake',
    '/datalake/',
    '/',
    '/datalake/sales',
    '/datalake/sales/',
    '/datalake/sales/_delta_log/',
    '/datalake/sales/_delta_log/00000000000000000000.json',
    '/datalake/sales/_delta_log/_last_checkpoint',
    `/datalake/sales/${'k'.repeat(1024 - 'sales/'.length)}`,
    `/datalake/sales/${'k'.repeat(1025 - 'sales/'.length)}`,
    `/datalake/sales/${'%C3%BC'.repeat(512 - 3)}`,
    `/datalake/sales/${'%C3%BC'.repeat(510)}`,
    '/datalake/sales/a%3Bb',
    '/datalake/sales/a;b',
    '/datalake/sales/a%23b',
    '/datalake/sales/a%3Fb',
    '/datalake/sales/%3F',
    '/datalake/sales/%23',
    '/datalake/sales/;',
    '/datalake;x/sales/y',
    '/DataLake/sales/x',
    '/data.lake/x',
    '/da/x',
    '/-datalake/x',
    `/${'d'.repeat(64)}/x`,
    '/192.168.0.1/x',
    '/xn--datalake/x',
    '/datalake%2Fsales/x',
    '/datalake/sales%2F_delta_log/x',
    '/*',
    '/datalake/*',
    '/metrics',
    '/metrics/',
    '/datalake/sales/region=EU/',
    '/datalake/sales/region=EU',
    '/datalake/sales/region=%45U/date=2024-01-01/',
  ),
  fc.tuple(anyPct, fc.constantFrom('', '.parquet', '/x')).map(([b, t]) => `${dir}/a${b}b${t}`),
  fc.constant(null).map(() => `/datalake/${euKey.replace(/^tables\//, '')}`),
);

const queryPart = fc.oneof(
  fc.constantFrom(
    '=',
    '=x',
    '&',
    'list-type=2',
    'list-type=1',
    'list-type=',
    'list-type=02',
    'list-type=%202',
    'max-keys=1',
    'max-keys=0',
    'max-keys=1000',
    'max-keys=1001',
    'max-keys=2147483648',
    'max-keys=1e3',
    'max-keys=0x10',
    'max-keys=%2B5',
    'max-keys=%205',
    'max-keys=',
    'prefix=sales/',
    'prefix=sales/region=EU/',
    'prefix=sales/region=US/',
    'prefix=sales/_delta_log/',
    'prefix=',
    'prefix',
    'delimiter=/',
    'delimiter=%00',
    'delimiter=region',
    'delimiter=%2F%2F',
    'continuation-token=',
    'continuation-token=%00',
    'continuation-token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    'start-after=%FF',
    'start-after=',
    'marker=',
    'encoding-type=url',
    'encoding-type=URL',
    'encoding-type=',
    'fetch-owner=maybe',
    'x-id=ListObjectsV2',
    'x-id=GetObject',
    'versionId=',
    'versionId=null',
    'partNumber=',
    'uploadId=x',
    'response-content-type=text/plain',
    'response-content-disposition=attachment',
    'response-cache-control=no-cache',
    'response-expires=Thu%2C%2001%20Dec%201994%2016%3A00%3A00%20GMT',
    'response-expires=garbage',
    'response-content-language=en',
    'response-content-encoding=gzip',
    'Response-Content-Type=text/html',
    'list-type=2&list-type=1',
    'list-type=2&list-type=2',
    'max-keys=1&max-keys=2',
    'prefix=sales/&prefix=tables/',
    'prefix=sales/region=EU/&prefix=sales/region=US/',
    'continuation-token=a&continuation-token=b',
    'encoding-type=url&encoding-type=url',
    'delimiter=/&delimiter=',
    'response-content-type=a&response-content-type=b',
  ),
  fc
    .tuple(
      fc.constantFrom(
        'response-content-type',
        'response-content-disposition',
        'response-content-language',
        'response-cache-control',
        'response-expires',
        'response-content-encoding',
        'prefix',
        'delimiter',
        'start-after',
        'continuation-token',
        'max-keys',
        'encoding-type',
        '',
        'x-amz-foo',
      ),
      oddText,
    )
    .map(([k, v]) => `${k}=${v}`),
  fc.tuple(oddText, oddText).map(([k, v]) => `${k}=${v}`),
);
const queryArb = fc.array(queryPart, { maxLength: 4 }).map((a) => a.join('&').replace(/ /g, '%20'));

const oddHeaderValue = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    'ENABLED',
    'enabled',
    'DISABLED',
    'requester',
    'Requester',
    'bucket-owner',
    '123456789012',
    '000000000000',
    'abc',
    'AES256',
    'aws:kms',
    'aws:kms:dsse',
    'x'.repeat(2000),
    '\u00e9',
    'a,b',
    '"',
  ),
  fc.string({ unit: 'grapheme-ascii', maxLength: 30 }).map((s) => s.replace(/[^\x20-\x7e]/g, '').trim()),
);
const SSE_KEY = Buffer.alloc(32, 7).toString('base64');
const SSE_MD5 = createHash('md5').update(Buffer.alloc(32, 7)).digest('base64');
const headerArb = fc.oneof(
  fc.tuple(
    fc.constantFrom(
      'x-amz-checksum-mode',
      'x-amz-request-payer',
      'x-amz-expected-bucket-owner',
      'x-amz-server-side-encryption',
      'x-amz-server-side-encryption-customer-algorithm',
      'x-amz-server-side-encryption-customer-key',
      'x-amz-server-side-encryption-customer-key-md5',
      'x-amz-server-side-encryption-aws-kms-key-id',
      'x-amz-object-lock-mode',
      'x-amz-acl',
      'x-amz-copy-source',
      'x-amz-tagging',
      'x-amz-meta-foo',
      'x-amz-bucket-region',
      'x-amz-user-agent',
      'x-amz-sdk-checksum-algorithm',
      'x-amz-trailer',
      'x-amz-decoded-content-length',
      'x-amz-website-redirect-location',
      'range',
      'if-match',
      'if-none-match',
      'if-modified-since',
      'if-unmodified-since',
      'if-range',
      'content-md5',
      'content-type',
      'content-encoding',
      'accept-encoding',
      'forwarded',
    ),
    oddHeaderValue,
  ),
  fc.constantFrom<[string, string]>(
    ['range', 'bytes=0-0'],
    ['range', 'bytes=-0'],
    ['range', 'bytes=0-'],
    ['range', 'bytes=-99999999999999999999'],
    ['range', 'bytes=00000000000000000000000000000000001-2'],
    ['range', 'bytes=1-0'],
    ['range', 'bytes= 0 - 1'],
    ['range', 'bytes=0-1, 2-3'],
    ['range', 'bytes=0-9007199254740993'],
    ['range', 'BYTES=0-1'],
    ['range', 'bytes='],
    ['range', 'bytes=-'],
    ['range', 'bytes=1e3-2e3'],
    ['if-match', '*'],
    ['if-match', '"x", '.repeat(700)],
    ['if-none-match', `"${'y'.repeat(3000)}"`],
    ['if-match', `"${'\u00e9'.repeat(100)}"`],
    ['if-match', 'W/"x"'],
    ['if-match', '"unterminated'],
    ['if-none-match', 'W/*'],
    ['if-none-match', '"a", "b", *'],
    ['if-modified-since', 'Thu, 01 Jan 1970 00:00:00 GMT'],
    ['if-modified-since', 'Sat, 01 Jan 10000 00:00:00 GMT'],
    ['if-modified-since', '-1'],
    ['if-modified-since', '8.64e15'],
    ['if-unmodified-since', 'Fri, 31 Dec 9999 23:59:59 GMT'],
    ['if-unmodified-since', '0'],
    ['if-range', '"etag"'],
    ['x-amz-server-side-encryption-customer-algorithm', 'AES256'],
    ['x-amz-server-side-encryption-customer-key', 'bm90IGEga2V5'],
    ['x-amz-server-side-encryption-customer-key', '!!!not base64!!!'],
    ['x-amz-server-side-encryption-customer-key-md5', '=='],
    ['x-amz-content-sha256', 'UNSIGNED-PAYLOAD'],
    ['user-agent', 'delta-proxy-client/0.1.0'],
    ['user-agent', 'delta-proxy-client/0.1.0'],
    ['x-amz-checksum-mode', 'ENABLED'],
    ['x-amz-server-side-encryption-customer-key', SSE_KEY],
    ['x-amz-server-side-encryption-customer-key-md5', SSE_MD5],
    ['x-amz-content-sha256', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER'],
    ['x-amz-content-sha256', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
    ['x-amz-content-sha256', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD'],
  ),
);
const headersArb = fc.array(headerArb, { maxLength: 5 }).map((pairs) => {
  const h: Record<string, string> = {};
  for (const [k, v] of pairs) h[k] = v;
  return h;
});

const encodeRfc3986 = (v: string) =>
  encodeURIComponent(v).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

// ---- the campaign -------------------------------------------------------------------------------

describe.each(TRANSPORTS)('fuzz campaign via %s', (_name, serve) => {
  let proxy: RunningProxy;
  beforeAll(async () => {
    proxy = await startProxy(
      s3,
      {
        logView: 'filtered',
        tableMapping: { sales: 's3://lake/tables/sales' },
        grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{ region: 'EU' }] }],
      },
      serve,
    );
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  /** Signs and sends; undefined when the signer cannot sign it. */
  async function signedSend(
    method: string,
    p: string,
    q: string,
    h: Record<string, string>,
    host?: string,
  ): Promise<[RawReply, number] | undefined> {
    let signed: Record<string, string>;
    try {
      const endpoint = host ? `http://${host}` : proxy.url;
      signed = await signHeaders(endpoint, method, p, q, h, ANALYST);
    } catch {
      return undefined;
    }
    return timed(() => rawRequest(proxy.url, method, q ? `${p}?${q}` : p, signed));
  }

  it('signed odd queries, paths and headers: honest S3 answers', async () => {
    const codes = new Set<string>();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'GET', 'HEAD'),
        pathArb,
        queryArb,
        headersArb,
        async (m, p, q, h) => {
          const out = await signedSend(m, p, q, h);
          if (!out) return;
          const [r, ms] = out;
          // Documented (SECURITY.md, Refusals): aws-chunked payload signing on a GET or HEAD is 501.
          if (r.status === 501 && /^STREAMING-/.test(h['x-amz-content-sha256'] ?? '')) return;
          expectHonest(r, m, `${m} ${p}?${q} ${JSON.stringify(h).slice(0, 300)}`, ms);
          codes.add(`${r.status} ${/<Code>(\w+)/.exec(r.body)?.[1] ?? ''}`);
          // A valid signature is never refused as not matching (the signer and the proxy agree).
          expect(r.body, `${m} ${p}?${q}`).not.toContain('SignatureDoesNotMatch');
        },
      ),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    if (process.env.FUZZ_DEBUG) console.log([...codes].sort().join(' | '));
    expect(codes.size).toBeGreaterThan(4);
  });

  it('presigned (query-signed) odd queries, paths and signed headers: honest S3 answers', async () => {
    const signer = new SignatureV4({
      credentials: ANALYST,
      region: 'us-east-1',
      service: 's3',
      sha256: NodeSha256,
      uriEscapePath: false,
    });
    const url = new URL(proxy.url);
    const codes = new Set<string>();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'HEAD'),
        pathArb,
        queryArb,
        headersArb,
        fc.constantFrom(1, 60, 604800),
        async (m, p, q, h, expiresIn) => {
          const query: Record<string, string | string[]> = {};
          try {
            for (const part of q.split('&')) {
              if (part === '' || /^x-amz-/i.test(part)) continue;
              const eq = part.indexOf('=');
              const name = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
              const value = decodeURIComponent(eq < 0 ? '' : part.slice(eq + 1));
              const prev = query[name];
              query[name] =
                prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
            }
          } catch {
            return;
          }
          const { 'user-agent': ua, 'x-amz-content-sha256': _c, ...signable } = h;
          let presigned: Awaited<ReturnType<typeof signer.presign>>;
          try {
            presigned = await signer.presign(
              {
                method: m,
                protocol: 'http:',
                hostname: url.hostname,
                port: Number(url.port),
                path: p,
                query,
                headers: { ...signable, host: url.host, 'X-Amz-Content-Sha256': 'UNSIGNED-PAYLOAD' },
              },
              { expiresIn },
            );
          } catch {
            return;
          }
          const target = `${p}?${Object.entries(presigned.query ?? {})
            .flatMap(([k, v]) =>
              (Array.isArray(v) ? v : [v]).map((x) => `${encodeRfc3986(k)}=${encodeRfc3986(String(x))}`),
            )
            .join('&')}`;
          // What is not hoisted into the query is sent as signed.
          const { host: _h, ...rest } = presigned.headers as Record<string, string>;
          const send: Record<string, string> = { ...rest, ...(ua ? { 'user-agent': ua } : {}) };
          const [r, ms] = await timed(() => rawRequest(proxy.url, m, target, send));
          expectHonest(r, m, `${m} ${target} ${JSON.stringify(send).slice(0, 300)}`, ms);
          expect(r.body, target).not.toContain('SignatureDoesNotMatch');
          codes.add(`${r.status} ${/<Code>(\w+)/.exec(r.body)?.[1] ?? ''}`);
        },
      ),
      { numRuns: RUNS, seed: SEED + 1, endOnFailure: true },
    );
    if (process.env.FUZZ_DEBUG) console.log('presigned', [...codes].sort().join(' | '));
    expect([...codes]).toEqual(expect.arrayContaining(['200 ', '404 NoSuchKey']));
  });

  it('every byte 0x00-0xFF percent-encoded in a key, a prefix and an override', async () => {
    const cases: [string, string, string][] = [];
    for (let b = 0; b < 256; b++) {
      const e = pct(b);
      cases.push(
        ...([
          ['GET', `${dir}/a${e}b.parquet`, ''],
          ['HEAD', `${dir}/${e}`, ''],
          ['GET', '/datalake', `list-type=2&prefix=sales/region=EU/${e}`],
          ['GET', '/datalake', `list-type=2&delimiter=${e}`],
          ['GET', '/datalake', `list-type=2&start-after=${e}&encoding-type=url`],
          ['GET', `/datalake/${euKey.replace(/^tables\//, '')}`, `response-content-type=a${e}b`],
          ['GET', `/datalake/${euKey.replace(/^tables\//, '')}`, `response-content-disposition=${e}`],
          ['GET', '/datalake', `${e}=1`],
        ] as [string, string, string][]),
      );
    }
    // Sixteen at a time: the answers are checked alike, the campaign stays short.
    for (let i = 0; i < cases.length; i += 16) {
      await Promise.all(
        cases.slice(i, i + 16).map(async ([m, p, q]) => {
          const out = await signedSend(m, p, q, {});
          if (out) expectHonest(out[0], m, `${m} ${p}?${q}`, out[1]);
        }),
      );
    }
  });

  it('virtual-host-style and odd Host headers, signed', async () => {
    const port = new URL(proxy.url).port;
    for (const host of [
      `datalake.127.0.0.1:${port}`,
      `datalake.s3.amazonaws.com`,
      `datalake.s3.us-east-1.amazonaws.com:${port}`,
      `DATALAKE.localhost:${port}`,
      `nosuch.localhost:${port}`,
      `127.0.0.1`,
      `[::1]:${port}`,
      `a..b:${port}`,
      `:${port}`,
    ]) {
      for (const p of ['/', '/sales/', `/${euKey.replace(/^tables\//, '')}`, '/datalake/']) {
        for (const m of ['GET', 'HEAD']) {
          const out = await signedSend(m, p, '', {}, host);
          if (!out) continue;
          expectHonest(out[0], m, `${m} Host: ${host} ${p}`, out[1]);
        }
      }
    }
  });
});

/**
 * Raw-wire request forms. Through the Function URL shim node's own parser answers the malformed
 * ones before the function (as AWS's front end would); those are only checked for "no 5xx, no hang".
 */
describe.each(TRANSPORTS)('raw-wire request forms via %s', (transport, serve) => {
  let proxy: RunningProxy;
  beforeAll(async () => {
    proxy = await startProxy(
      s3,
      {
        logView: 'filtered',
        tableMapping: { sales: 's3://lake/tables/sales' },
        grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{ region: 'EU' }] }],
      },
      serve,
    );
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  async function wire(
    method: string,
    target: string,
    signPath: string,
    extra: string,
    opts: { version?: string; sign?: boolean; body?: string; signMethod?: string; waitMs?: number } = {},
  ): Promise<[RawReply, number, string]> {
    const host = new URL(proxy.url).host;
    let auth = '';
    if (opts.sign !== false) {
      const q = signPath.indexOf('?');
      const h = await signHeaders(
        proxy.url,
        opts.signMethod ?? method,
        q < 0 ? signPath : signPath.slice(0, q),
        q < 0 ? '' : signPath.slice(q + 1),
        {},
        ANALYST,
      );
      for (const [k, v] of Object.entries(h)) if (k !== 'host') auth += `${k}: ${v}\r\n`;
    }
    const payload = `${method} ${target} HTTP/${opts.version ?? '1.1'}\r\nHost: ${host}\r\n${auth}${extra}Connection: close\r\n\r\n${opts.body ?? ''}`;
    const t = performance.now();
    const out = await rawSocket(proxy.url, payload, opts.waitMs ?? SLOW_MS + 1000);
    return [parseWire(out), Math.round(performance.now() - t), payload.split('\r\n')[0]!];
  }

  const key = () => `/datalake/${euKey.replace(/^tables\//, '')}`;

  it.each([
    ['lower-case get', 'get', false],
    ['mixed-case Get', 'Get', false],
    ['lower-case head', 'head', false],
  ])('%s', async (_n, method) => {
    const [r, ms, line] = await wire(method, key(), key(), '');
    // node's parser refuses a method name it does not know (case-sensitive): S3 XML 400 on node.
    expect(r.status, line).toBeGreaterThanOrEqual(400);
    if (transport === 'node:http') expectHonest(r, 'GET', line, ms);
    else expect(r.status, line).toBeLessThan(500);
  });

  it('HTTP/1.0, signed', async () => {
    const [r, ms, line] = await wire('GET', key(), key(), '', { version: '1.0' });
    expectHonest(r, 'GET', line, ms);
    expect(r.status).toBe(200);
  });

  it.each([
    ['the proxy host', (host: string) => `http://${host}`],
    ['another host', () => 'http://evil.example'],
  ])('absolute-form request target naming %s', async (_n, base) => {
    const host = new URL(proxy.url).host;
    const [r, ms, line] = await wire('GET', `${base(host)}${key()}`, key(), '');
    expectHonest(r, 'GET', line, ms);
  });

  it('absolute-form listing with a query', async () => {
    const host = new URL(proxy.url).host;
    const [r, ms, line] = await wire(
      'GET',
      `http://${host}/datalake?list-type=2&prefix=sales/`,
      '/datalake?list-type=2&prefix=sales/',
      '',
    );
    expectHonest(r, 'GET', line, ms);
  });

  it('Expect: 100-continue on a signed GET', async () => {
    const [r, ms, line] = await wire('GET', key(), key(), 'Expect: 100-continue\r\n');
    expect(ms, line).toBeLessThan(SLOW_MS);
    expect(r.status, line).toBeLessThan(500);
    if (r.status === 100) return; // the final answer follows the 100 on the same socket
    expectHonest(r, 'GET', line, ms);
  });

  it.each([
    ['chunked body', 'Transfer-Encoding: chunked\r\n', '5\r\nhello\r\n0\r\n\r\n'],
    ['chunked, never ended', 'Transfer-Encoding: chunked\r\n', '5\r\nhello\r\n'],
    ['Content-Length body', 'Content-Length: 5\r\n', 'hello'],
    ['Content-Length over the bytes sent', 'Content-Length: 50\r\n', 'hello'],
    ['Transfer-Encoding gzip, chunked', 'Transfer-Encoding: gzip, chunked\r\n', '0\r\n\r\n'],
  ])('a GET with a %s', async (_n, extra, body) => {
    const [r, ms, line] = await wire('GET', key(), key(), extra, { body, waitMs: 1500 });
    // A body the client never finishes keeps the socket open (the shim, like a Function URL, waits
    // for the whole request); whatever arrived must not be a 5xx.
    if (r.status === 0) return;
    expect(r.status, `${line} ${extra}`).toBeLessThan(500);
    if (r.body.startsWith('<?xml')) expectErrorDocument(r.body, line);
    expect(ms).toBeLessThan(SLOW_MS + 1500);
  });

  it('very many headers (500 small ones)', async () => {
    const many = Array.from({ length: 500 }, (_, i) => `X-H${i}: v\r\n`).join('');
    const [r, ms, line] = await wire('GET', key(), key(), many);
    expect(r.status, line).toBeLessThan(500);
    if (transport === 'node:http' || r.status >= 400) expectHonest(r, 'GET', line, ms);
  });

  it('the same header 300 times (signed x-amz-meta)', async () => {
    const many = Array.from({ length: 300 }, () => 'X-Foo: v\r\n').join('');
    const [r, ms, line] = await wire('GET', key(), key(), many);
    expectHonest(r, 'GET', line, ms);
  });

  it.each([
    ['path with ;', '/datalake/sales/a;b'],
    ['path with %3B', '/datalake/sales/a%3Bb'],
    ['fragment in target', '/datalake/sales/a#b'],
    ['path with a raw space-free tab escape', '/datalake/sales/a%09b'],
    ['asterisk form', '*'],
    ['empty query', '/datalake?'],
    ['query of ampersands', '/datalake?&&&'],
    ['query with empty name', '/datalake?=&list-type=2'],
  ])('%s', async (_n, target) => {
    const [r, ms, line] = await wire('GET', target, target, '');
    expect(r.status, line).toBeLessThan(500);
    expect(r.status, line).toBeGreaterThan(0);
    if (transport === 'node:http' || r.headers['x-amz-request-id']) expectHonest(r, 'GET', line, ms);
  });
});
