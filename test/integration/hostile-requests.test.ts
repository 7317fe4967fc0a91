/**
 * Path escapes and malformed requests: every refusal is S3 XML with a 4xx, a request id and no
 * stack trace, and nothing outside a table's prefix is ever read. The suite runs once per front
 * end (node:http, and the Lambda adapter behind a Function URL); the cases that only node:http's
 * own parser can produce are kept apart at the end.
 */

import { connect } from 'node:net';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSpecialTable } from '../helpers/fixture-tables';
import { TRANSPORTS } from '../helpers/lambda-transports';
import {
  ANALYST,
  type RunningProxy,
  type ServeFn,
  serveWithNode,
  startProxy,
} from '../helpers/proxy-harness';
import { rawRequest, rawSocket } from '../helpers/raw-http';
import { expectErrorDocument } from '../helpers/s3-error-document';
import { backendClient, createBucket, type S3Server, startS3rver, uploadDir } from '../helpers/s3-servers';
import { encodeKeyPath, signedFetch, signHeaders } from '../helpers/signed-fetch';

let s3: S3Server;
/** One data file of the table, as the proxy names it. */
let dataKey: string;
const config = {
  tableMapping: { sales: 's3://lake/tables/sales' },
  grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{}] }],
  auth: { allowAnonymous: true },
};
beforeAll(async () => {
  s3 = await startS3rver();
  const c = backendClient(s3.endpoint);
  await createBucket(c, 'lake');
  const keys = await uploadDir(c, 'lake', 'tables/sales/', await writeSpecialTable(['EU'], ['2024-01-01']));
  const data = keys.find((k) => k.endsWith('.parquet') && !k.includes('_delta_log'))!;
  dataKey = data.replace('tables/', '');
  await c.send(new PutObjectCommand({ Bucket: 'lake', Key: 'tables/secret.parquet', Body: 'SECRET' }));
  await c.send(new PutObjectCommand({ Bucket: 'lake', Key: 'tables/sales/%2e%2e/x', Body: 'SECRET' }));
});
afterAll(async () => {
  await s3?.stop();
});

function expectS3Error(body: string, code: string): void {
  expect(expectErrorDocument(body)).toBe(code);
  expect(body).not.toMatch(/\bat .*\.(ts|js):\d+|SECRET/);
}

describe.each(TRANSPORTS)('hostile requests via %s', (transport, serve) => {
  let proxy: RunningProxy;
  beforeAll(async () => {
    proxy = await startProxy(s3, config, serve);
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  // node keeps the first of each and drops the rest; a Function URL joins them with a comma.
  it.each([
    ['Host', 'Host: 127.0.0.1\r\nHost: evil.example\r\n', 'InvalidArgument'],
    [
      'Authorization',
      'Host: x\r\nAuthorization: AWS4-HMAC-SHA256 a\r\nAuthorization: AWS4-HMAC-SHA256 b\r\n',
      transport === 'node:http' ? 'InvalidArgument' : 'AuthorizationHeaderMalformed',
    ],
  ])('refuses a repeated %s header with S3 XML 400, before authentication', async (_name, headers, code) => {
    const before = proxy.events.length;
    const out = await rawSocket(
      proxy.url,
      `GET /datalake/sales/ HTTP/1.1\r\n${headers}Connection: close\r\n\r\n`,
    );
    expect(out).toMatch(/^HTTP\/1\.1 400/);
    expectS3Error(out.slice(out.indexOf('<?xml')), code);
    const events = proxy.events.slice(before);
    expect(events.map((e) => [e.status, e.code, e.decision])).toEqual([[400, code, 'deny']]);
  });

  // node keeps the first of a repeated If-Modified-Since or If-Unmodified-Since; a Function URL
  // joins them. Both are a list of dates, which RFC 9110 §13.1.3-4 says to ignore: the whole
  // object, through either front end (a 304 or 412 on node alone before).
  it.each([
    ['If-Modified-Since', ['Fri, 01 Jan 2100 00:00:00 GMT', 'Mon, 01 Jan 2001 00:00:00 GMT']],
    ['If-Unmodified-Since', ['Mon, 01 Jan 2001 00:00:00 GMT', 'Fri, 01 Jan 2100 00:00:00 GMT']],
  ])('ignores a repeated %s, as a list of dates', async (name, dates) => {
    const path = `/datalake/${encodeKeyPath(dataKey)}`;
    const signed = await signHeaders(proxy.url, 'GET', path, '', {}, ANALYST);
    const once = await rawRequest(proxy.url, 'GET', path, { ...signed, [name]: dates[0]! });
    expect(once.status).toBe(name === 'If-Modified-Since' ? 304 : 412);
    const twice = await rawRequest(proxy.url, 'GET', path, { ...signed, [name]: dates });
    expect(twice.status).toBe(200);
    expect(twice.body.startsWith('PAR1')).toBe(true);
  });

  it('is answered through the front end under test', async () => {
    // Function URLs (and the shim that stands in for one) add their own request id header.
    const r = await rawRequest(proxy.url, 'GET', '/datalake/secret.parquet');
    expect(r.headers['x-amzn-requestid'] !== undefined).toBe(transport === 'Lambda Function URL');
  });

  // The signature covers the path exactly as sent: a front end that decoded or re-encoded it
  // would turn these into 403 SignatureDoesNotMatch instead of the 404 a missing key gets.
  it.each([
    ['%2F', '/datalake/sales/a%2Fb.parquet'],
    ['%3D', '/datalake/sales/region%3DEU/missing.parquet'],
    ['%20', '/datalake/sales/a%20b.parquet'],
    ['%25', '/datalake/sales/a%25b.parquet'],
    ['unicode', '/datalake/sales/%E2%82%AC-%CE%BB-%E4%B8%96.parquet'],
  ])('verifies the signature over a path with %s as the client sent it', async (_name, path) => {
    const r = await signedFetch(proxy.url, 'GET', path, '', {}, ANALYST);
    expect(r.status).toBe(404);
    expectS3Error(r.text, 'NoSuchKey');
  });

  describe('path escapes are refused before anything is read', () => {
    const long = 'k'.repeat(1100);
    it.each([
      ['/datalake/sales/../secret.parquet', 400, 'InvalidArgument'],
      ['/datalake/sales/a=1/../../secret.parquet', 400, 'InvalidArgument'],
      ['/datalake/sales/%2e%2e/secret.parquet', 400, 'InvalidArgument'],
      ['/datalake/sales/%2E%2E/secret.parquet', 400, 'InvalidArgument'],
      ['/datalake/sales/%252e%252e/secret.parquet', 400, 'InvalidArgument'],
      ['/datalake/sales/%25252e%25252e/secret.parquet', 400, 'InvalidArgument'],
      ['/datalake/sales/..%2fsecret.parquet', 400, 'InvalidArgument'],
      ['/datalake/sales/..%5csecret.parquet', 400, 'InvalidArgument'],
      ['/datalake/sales/./a=1/x.parquet', 400, 'InvalidArgument'],
      ['/datalake/sales//a=1/x.parquet', 400, 'InvalidArgument'],
      ['/datalake//sales/a=1/x.parquet', 400, 'InvalidArgument'],
      ['/datalake/sales/a=1\\x.parquet', 400, 'InvalidArgument'],
      ['/datalake/sales/a=1%5Cx.parquet', 400, 'InvalidArgument'],
      ['/datalake/sales/a=1/x%00.parquet', 400, 'InvalidArgument'],
      ['/datalake/sales/a=1/x%0a.parquet', 400, 'InvalidArgument'],
      ['/datalake/sales/%zz', 400, 'InvalidURI'],
      ['/datalake/sales/%C3%28', 400, 'InvalidURI'],
      [`/datalake/sales/${long}`, 400, 'KeyTooLongError'],
      ['/datalake?list-type=2&prefix=sales/../', 400, 'InvalidArgument'],
      ['/datalake?list-type=2&prefix=sales/%2e%2e/', 400, 'InvalidArgument'],
      ['/datalake?prefix=sales%5C', 400, 'InvalidArgument'],
      ['/datalake/secret.parquet', 404, 'NoSuchKey'],
      ['/datalake/tables/secret.parquet', 404, 'NoSuchKey'],
      ['/lake/tables/secret.parquet', 404, 'NoSuchBucket'],
      // Odd paths are errors with an S3 XML body, never another operation.
      ['/datalake%00abc', 400, 'InvalidBucketName'],
      ['/datalake%00', 400, 'InvalidBucketName'],
      ['/%00', 400, 'InvalidBucketName'],
      ['/datalake%0a/sales/x.parquet', 400, 'InvalidBucketName'],
      ['//anything', 400, 'InvalidURI'],
      ['//', 400, 'InvalidURI'],
      ['///datalake', 400, 'InvalidURI'],
      ['//datalake/sales/a=1/x.parquet', 400, 'InvalidURI'],
      [
        '/datalake?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%00%2F2024%01%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20240101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00',
        400,
        'AuthorizationQueryParametersError',
      ],
    ])('GET %s → %i %s', async (path, status, code) => {
      const r = await rawRequest(proxy.url, 'GET', path);
      expect(r.status).toBe(status);
      expectS3Error(r.body, code);
      expect(r.headers['content-type']).toBe('application/xml');
    });

    it('serves a key whose name merely contains an encoded dot pair as a literal, inside the prefix', async () => {
      // The key "%2e%2e/x" exists literally under the table: refusing it is the safe answer.
      const r = await rawRequest(proxy.url, 'GET', '/datalake/sales/%252e%252e/x');
      expect(r.status).toBe(400);
    });
  });

  describe('requests S3 refuses get S3 errors, never a 5xx', () => {
    it.each([
      ['PUT', '/datalake/sales/a=1/new.parquet', 403, 'AccessDenied'],
      ['POST', '/datalake?delete', 403, 'AccessDenied'],
      ['DELETE', '/datalake/sales/a=1/x.parquet', 403, 'AccessDenied'],
      ['PATCH', '/datalake/sales/a=1/x.parquet', 405, 'MethodNotAllowed'],
      ['PROPFIND', '/datalake/', 405, 'MethodNotAllowed'],
      ['OPTIONS', '/datalake/sales/a=1/x.parquet', 403, 'AccessDenied'],
      ['GET', '/datalake?acl', 403, 'AccessDenied'],
      ['GET', '/datalake?versions', 403, 'AccessDenied'],
      ['GET', '/datalake/sales/a=1/x.parquet?tagging', 403, 'AccessDenied'],
      ['GET', '/datalake/sales/a=1/x.parquet?versionId=abc', 400, 'InvalidArgument'],
      ['GET', '/datalake?list-type=3', 400, 'InvalidArgument'],
      ['GET', '/datalake?list-type=2&max-keys=-1', 400, 'InvalidArgument'],
      ['GET', '/datalake?list-type=2&max-keys=ten', 400, 'InvalidArgument'],
      ['GET', '/datalake?list-type=2&encoding-type=base64', 400, 'InvalidArgument'],
      ['GET', '/datalake?list-type=2&continuation-token=forged', 400, 'InvalidArgument'],
      ['GET', '/datalake?list-type=2&continuation-token=', 400, 'InvalidArgument'],
      ['GET', '/datalake/sales/a=1/x.parquet?partNumber=0', 400, 'InvalidArgument'],
      ['GET', '/datalake/sales/a=1/x.parquet?partNumber=10001', 400, 'InvalidArgument'],
      ['GET', '/datalake/sales/x.parquet?response-content-type=%C3%BC', 400, 'InvalidArgument'],
      ['GET', '/datalake/sales/x.parquet?response-foo=bar', 400, 'InvalidArgument'],
      [
        'GET',
        '/datalake/sales/x.parquet?response-content-disposition=a%0D%0AX-Evil%3A%201',
        400,
        'InvalidArgument',
      ],
    ])('%s %s → %i %s', async (method, path, status, code) => {
      const q = path.indexOf('?');
      const r = await signedFetch(
        proxy.url,
        method,
        q < 0 ? path : path.slice(0, q),
        q < 0 ? '' : path.slice(q + 1),
        {},
        ANALYST,
      );
      expect(r.status).toBe(status);
      expectS3Error(r.text, code);
      expect(r.headers['x-amz-request-id']).toMatch(/^[0-9A-F]{16}$/);
    });

    it.each([
      ['/datalake/sales/missing.parquet', 404],
      ['//anything', 400],
      ['/datalake%00abc', 400],
    ])('answers HEAD %s errors with the status %i and no body', async (path, status) => {
      const r = await rawRequest(proxy.url, 'HEAD', path);
      expect(r.status).toBe(status);
      expect(r.body).toBe('');
      expect(r.headers['x-amz-request-id']).toMatch(/^[0-9A-F]{16}$/);
    });
  });

  describe('backend failures', () => {
    it('answers 503 ServiceUnavailable XML when the backend is unreachable', async () => {
      const dead = { kind: 's3rver' as const, endpoint: 'http://127.0.0.1:9', stop: async () => {} };
      const down = await startProxy(dead, config, serve);
      try {
        const r = await signedFetch(down.url, 'GET', '/datalake/sales/x.parquet', '', {}, ANALYST);
        expect(r.status).toBe(503);
        expectS3Error(r.text, 'ServiceUnavailable');
      } finally {
        await down.stop();
      }
    });
  });
});

/**
 * node:http answers these itself, before any handler runs (DESIGN §6: no Host, CONNECT, what its
 * parser rejects); the proxy hooks its 'connect' and 'clientError' events to answer with S3 XML,
 * and records each like any other refusal.
 * Behind a Function URL the AWS front end parses HTTP and answers such requests itself, never
 * invoking the function, so these cases are transport-specific and run through node:http only.
 */
describe('node:http parser edge cases (node:http transport only)', () => {
  let proxy: RunningProxy;
  /** Core calls not settled yet: the handler, wrapped. */
  let unsettled = 0;
  /** The most core calls in progress at once. */
  let most = 0;
  const counting: ServeFn = (handler, options) =>
    serveWithNode((req) => {
      most = Math.max(most, ++unsettled);
      return handler(req).finally(() => unsettled--);
    }, options);
  beforeAll(async () => {
    proxy = await startProxy(s3, config, counting);
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  it('answers CONNECT with S3 XML 405', async () => {
    const out = await rawSocket(proxy.url, 'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n');
    expect(out).toMatch(/^HTTP\/1\.1 405/);
    expectS3Error(out.slice(out.indexOf('<?xml')), 'MethodNotAllowed');
  });

  it.each([
    ['a malformed request line', 'G@T / HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a malformed header line', 'GET / HTTP/1.1\r\nHost x\r\n\r\n'],
    ['an oversized header', `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`],
  ])('answers %s with S3 XML 400', async (_name, payload) => {
    const out = await rawSocket(proxy.url, payload);
    expect(out).toMatch(/^HTTP\/1\.1 400/);
    expect(out).toContain('<Error><Code>');
    expect(out).toMatch(/x-amz-request-id: [0-9A-F]{16}/);
  });

  it('records each request refused for its form once, as answered: a refused request, not an authentication failure', async () => {
    const before = proxy.events.length;
    const countsBefore = await refusalCounts();
    const request = (target: string, extra = '') =>
      `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${extra}\r\n`;
    const answers = [
      // node's parser refuses these itself...
      await rawSocket(proxy.url, 'G@T / HTTP/1.1\r\nHost: x\r\n\r\n'),
      await rawSocket(proxy.url, request('/', `X-Big: ${'a'.repeat(40_000)}\r\n`)),
      await rawSocket(proxy.url, 'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n'),
      // ...and the core these, over maxHeaderBytes and maxUrlBytes, before authentication.
      await rawSocket(proxy.url, request('/', `X-Big: ${'a'.repeat(20_000)}\r\n`)),
      await rawSocket(proxy.url, request(`/datalake/${'k'.repeat(9_000)}`)),
    ];
    const events = proxy.events.slice(before);
    expect(events.map((e) => [e.status, e.code, e.op, e.decision, e.reasonClass])).toEqual([
      [400, 'InvalidRequest', 'Unknown', 'deny', 'request'],
      [400, 'RequestHeaderSectionTooLarge', 'Unknown', 'deny', 'request'],
      [405, 'MethodNotAllowed', 'Unknown', 'deny', 'request'],
      [400, 'RequestHeaderSectionTooLarge', 'Unknown', 'deny', 'request'],
      [400, 'InvalidURI', 'Unknown', 'deny', 'request'],
    ]);
    // The audit line names the request id the answer carried, and the caller's address.
    for (const [i, answer] of answers.entries()) {
      expect(answer).toContain(`x-amz-request-id: ${events[i]!.requestId}`);
      expect(events[i]!.sourceIp).toMatch(/127\.0\.0\.1/);
    }
    const counts = await refusalCounts();
    expect(counts.unknown4xx - countsBefore.unknown4xx).toBe(5);
    expect(counts.authFailures).toBe(countsBefore.authFailures);
  });

  /** Requests of no known operation answered 4xx, and authentication failures, as Prometheus counts them. */
  async function refusalCounts(): Promise<{ unknown4xx: number; authFailures: number }> {
    const lines = (await proxy.proxy.metrics.render()).body.split('\n');
    const value = (line: string) => Number(line.slice(line.lastIndexOf(' ') + 1));
    const total = (match: (line: string) => boolean) => lines.filter(match).reduce((n, l) => n + value(l), 0);
    return {
      unknown4xx: total(
        (l) =>
          l.startsWith('deltaproxy_requests_total{') &&
          l.includes('operation="Unknown"') &&
          l.includes('status_class="4xx"'),
      ),
      authFailures: total((l) => l.startsWith('deltaproxy_auth_failures_total{')),
    };
  }

  async function signedGet(path: string, extra = ''): Promise<string> {
    const signed = await signHeaders(proxy.url, 'GET', path, '', {}, ANALYST);
    const headers = Object.entries(signed)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    return `GET ${path} HTTP/1.1\r\n${headers}${extra}`;
  }

  /** Waits (bounded) until every core call has settled: each has recorded what it will. */
  async function settled(): Promise<void> {
    for (let i = 0; i < 200 && unsettled > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(unsettled).toBe(0);
  }

  const statusLines = (out: string) => out.match(/HTTP\/1\.1 \d{3}/g) ?? [];

  // node answered its refusal on the raw socket at once: the client read it as the answer to the
  // request before it, whose answer was lost (recorded all the same).
  it('answers a good request pipelined before a malformed one in full, then the refusal in S3 XML', async () => {
    const path = `/datalake/${encodeKeyPath(dataKey)}`;
    expect(await rawSocket(proxy.url, `${await signedGet(path)}Connection: close\r\n\r\n`)).toMatch(
      /^HTTP\/1\.1 200/,
    ); // the table loaded: the next answer comes from its snapshot
    const before = proxy.events.length;
    const out = await rawSocket(proxy.url, `${await signedGet(path)}\r\nG@T / HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(statusLines(out)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 400']);
    expect(out.indexOf('PAR1')).toBeGreaterThan(0);
    expect(out.indexOf('PAR1')).toBeLessThan(out.indexOf('HTTP/1.1 400'));
    expectS3Error(out.slice(out.indexOf('<?xml')), 'InvalidRequest');
    await settled();
    expect(proxy.events.slice(before).map((e) => [e.status, e.code ?? null])).toEqual([
      [200, null],
      [400, 'InvalidRequest'],
    ]);
  });

  // The core had the headers and went on (an aborted backend call, a 499 recorded) while the
  // parser's handler answered and recorded a 400 of its own: two events for one request.
  it('answers a signed GET whose chunked body the parser refuses with one S3 XML 400, recorded once', async () => {
    const path = `/datalake/${encodeKeyPath(dataKey)}`;
    const before = proxy.events.length;
    const out = await rawSocket(
      proxy.url,
      `${await signedGet(path, 'Transfer-Encoding: chunked\r\n')}\r\nzz\r\n`,
    );
    expect(statusLines(out)).toEqual(['HTTP/1.1 400']);
    expectS3Error(out.slice(out.indexOf('<?xml')), 'InvalidRequest');
    expect(out).not.toContain('PAR1');
    await settled();
    const events = proxy.events.slice(before);
    expect(events.map((e) => [e.status, e.code, e.decision])).toEqual([[400, 'InvalidRequest', 'deny']]);
    expect(out).toContain(`x-amz-request-id: ${events[0]!.requestId}`);
  });

  // node's parser hands over every request of a chunk at once; served as they came, one 64 KiB
  // write of pipelined GETs held the event loop for tens of ms (their answers go out in order anyway).
  it('serves requests pipelined on one connection one at a time, every one answered in order', async () => {
    const path = `/datalake/${encodeKeyPath(dataKey)}`;
    const n = 300; // past the 64 the adapter parses ahead of the one it serves
    const one = await signedGet(path);
    await settled();
    most = 0;
    const before = proxy.events.length;
    // The last one closes the connection; the wait is only a bound (301 reads take seconds on a
    // loaded machine, and a cut connection would leave answers and events for the next test).
    const out = await rawSocket(
      proxy.url,
      `${`${one}\r\n`.repeat(n)}${one}Connection: close\r\n\r\n`,
      60_000,
    );
    expect(statusLines(out)).toEqual(Array(n + 1).fill('HTTP/1.1 200'));
    expect(out.split('PAR1').length - 1).toBe(2 * (n + 1)); // each file starts and ends with it
    await settled();
    expect(most).toBe(1);
    expect(proxy.events.length - before).toBe(n + 1);
  }, 90_000);

  // node answered an unknown expectation itself: a bare 417, no S3 XML, no request id, unrecorded.
  // No request body is ever read, so it is ignored (RFC 9110 §10.1.1).
  it.each(['foo', '200-ok'])(
    'answers a request with Expect: %s as without it, recorded once',
    async (value) => {
      const path = `/datalake/${encodeKeyPath(dataKey)}`;
      const before = proxy.events.length;
      const out = await rawSocket(
        proxy.url,
        `${await signedGet(path, `Expect: ${value}\r\n`)}Connection: close\r\n\r\n`,
      );
      expect(out).toMatch(/^HTTP\/1\.1 200/);
      expect(out).toContain('PAR1');
      const events = proxy.events.slice(before);
      expect(events.map((e) => e.status)).toEqual([200]);
      expect(out).toContain(`x-amz-request-id: ${events[0]!.requestId}`);
    },
  );

  // node keeps a request's first 2,000 header lines and drops the rest unseen (maxHeadersCount):
  // a second Host or Authorization behind padding, well within the size limits, was served.
  it.each([
    ['Host', 'Host: evil.example\r\n'],
    ['Authorization', 'Authorization: AWS4-HMAC-SHA256 Credential=other\r\n'],
  ])('refuses a second %s after 2,100 padding headers with 400 InvalidArgument', async (name, second) => {
    const padding = 'x-p: 1\r\n'.repeat(2_100); // 16.8 KB, within the parser's and the core's limits
    const served = await rawSocket(proxy.url, `${await signedGet('/', padding)}Connection: close\r\n\r\n`);
    expect(served).toMatch(/^HTTP\/1\.1 200/);
    const before = proxy.events.length;
    const out = await rawSocket(
      proxy.url,
      `${await signedGet('/', `${padding}${second}`)}Connection: close\r\n\r\n`,
    );
    expect(out).toMatch(/^HTTP\/1\.1 400/);
    expectS3Error(out.slice(out.indexOf('<?xml')), 'InvalidArgument');
    expect(out).toContain(`<ArgumentName>${name}</ArgumentName>`);
    expect(proxy.events.slice(before).map((e) => [e.status, e.code])).toEqual([[400, 'InvalidArgument']]);
  });

  it('serves an HTTP/1.0 request without a Host header', async () => {
    const out = await rawSocket(proxy.url, 'GET / HTTP/1.0\r\n\r\n');
    expect(out).toMatch(/^HTTP\/1\.[01] 200/);
    expect(out).toContain('<Name>datalake</Name>');
  });
});

describe('a client too slow to send its request (node:http transport only)', () => {
  let proxy: RunningProxy;
  beforeAll(async () => {
    const slow: ServeFn = (handler, options) =>
      serveWithNode(handler, {
        ...options,
        slowClientTimeouts: { headersMs: 300, requestMs: 300, checkEveryMs: 50 },
      });
    proxy = await startProxy(s3, config, slow);
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  // node's own timeout reached the parser's refusal: 400 InvalidRequest "could not be parsed",
  // which no SDK retries. S3 answers RequestTimeout, which they do.
  it('gets S3 XML 400 RequestTimeout, recorded once', async () => {
    const before = proxy.events.length;
    const { port } = new URL(proxy.url);
    const out = await new Promise<string>((resolve, reject) => {
      let got = '';
      const socket = connect(Number(port), '127.0.0.1', () =>
        socket.write('GET /datalake HTTP/1.1\r\nHost: x\r\n'),
      );
      socket.setEncoding('latin1');
      socket.on('data', (d) => {
        got += d;
      });
      socket.on('close', () => resolve(got));
      socket.on('error', reject);
      socket.setTimeout(10_000, () => socket.destroy());
    });
    expect(out).toMatch(/^HTTP\/1\.1 400/);
    expectS3Error(out.slice(out.indexOf('<?xml')), 'RequestTimeout');
    expect(proxy.events.slice(before).map((e) => [e.status, e.code])).toEqual([[400, 'RequestTimeout']]);
  });
});
