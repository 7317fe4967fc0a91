/**
 * Request size limits (`maxUrlBytes`, `maxHeaderBytes`), through node:http and through the Lambda
 * adapter: a request over a limit gets a 400 S3 error before anything is looked up, one within the
 * limits is served. Keys over 1024 bytes (KeyTooLongError) are in hostile-requests.test.ts. Beyond
 * the core's limits, node's own parser (its maxHeaderSize sits above them) answers in S3 XML too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSpecialTable } from '../helpers/fixture-tables';
import { TRANSPORTS } from '../helpers/lambda-transports';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { rawRequest, rawSocket } from '../helpers/raw-http';
import { backendClient, createBucket, type S3Server, startS3rver, uploadDir } from '../helpers/s3-servers';
import { signedFetch } from '../helpers/signed-fetch';

const MAX_URL = 4096;
const MAX_HEADERS = 8192;
const config = {
  tableMapping: { sales: 's3://lake/tables/sales' },
  grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{}] }],
  maxUrlBytes: MAX_URL,
  maxHeaderBytes: MAX_HEADERS,
};
const code = (text: string) => /<Code>([^<]*)<\/Code>/.exec(text)?.[1];

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3rver();
  const c = backendClient(s3.endpoint);
  await createBucket(c, 'lake');
  await uploadDir(c, 'lake', 'tables/sales/', await writeSpecialTable(['EU'], ['2024-01-01']));
  c.destroy();
});
afterAll(async () => {
  await s3?.stop();
});

describe.each(TRANSPORTS)('request size limits via %s', (_name, serve) => {
  let proxy: RunningProxy;
  let before: number;
  beforeAll(async () => {
    proxy = await startProxy(s3, config, serve);
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  it('answers a URL over maxUrlBytes with 400 InvalidURI, before authenticating', async () => {
    before = proxy.events.length;
    const r = await rawRequest(proxy.url, 'GET', `/datalake?list-type=2&prefix=${'a'.repeat(MAX_URL)}`);
    expect([r.status, code(r.body)]).toEqual([400, 'InvalidURI']);
    expect(r.headers['content-type']).toBe('application/xml');
    expect(r.body).toContain('The request URI is too long.');
    const event = proxy.events.slice(before).at(-1);
    expect(event?.reason).toMatch(/maxUrlBytes/);
  });

  it('answers headers over maxHeaderBytes with 400 RequestHeaderSectionTooLarge (HEAD: no body)', async () => {
    const big = { 'x-padding': 'p'.repeat(MAX_HEADERS) };
    const r = await rawRequest(proxy.url, 'GET', '/datalake/sales/x.parquet', big);
    expect([r.status, code(r.body)]).toEqual([400, 'RequestHeaderSectionTooLarge']);
    const head = await rawRequest(proxy.url, 'HEAD', '/datalake/sales/x.parquet', big);
    expect([head.status, head.body]).toEqual([400, '']);
    expect(head.headers['x-amz-request-id']).toMatch(/^[0-9A-F]{16}$/);
  });

  it('serves a signed request just within both limits', async () => {
    const prefix = `sales/${'p'.repeat(MAX_URL - 200)}`;
    const r = await signedFetch(
      proxy.url,
      'GET',
      '/datalake',
      `list-type=2&prefix=${prefix}`,
      { 'x-padding': 'p'.repeat(MAX_HEADERS - 2048) },
      ANALYST,
    );
    // A prefix over 1024 bytes is S3's own KeyTooLongError; the limits let it through to say so.
    expect([r.status, code(r.text)]).toEqual([400, 'KeyTooLongError']);
    const ok = await signedFetch(
      proxy.url,
      'GET',
      '/datalake',
      'list-type=2&prefix=sales%2F',
      { 'x-padding': 'p'.repeat(MAX_HEADERS - 2048) },
      ANALYST,
    );
    expect(ok.status).toBe(200);
  });
});

describe('beyond the core limits, node:http parser (node:http transport only)', () => {
  let proxy: RunningProxy;
  beforeAll(async () => {
    proxy = await startProxy(s3, config);
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  it('answers a header section over the parser limit with S3 XML 400 and closes', async () => {
    // The parser's limit is maxUrlBytes + maxHeaderBytes + 1 KiB: 13 KiB here.
    const out = await rawSocket(
      proxy.url,
      `GET /datalake HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(MAX_URL + MAX_HEADERS + 2048)}\r\n\r\n`,
    );
    expect(out).toMatch(/^HTTP\/1\.1 400/);
    expect(out).toContain('<Code>RequestHeaderSectionTooLarge</Code>');
    expect(out).toMatch(/Connection: close/i);
  });
});
