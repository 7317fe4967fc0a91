/**
 * A HEAD request that node's HTTP parser refuses (a raw non-ASCII byte in its path, as a client
 * that does not percent-encode UTF-8 sends it) was answered 400 with the S3 XML body after the
 * head: a response to HEAD has no body, so the client's HTTP parser failed on the extra bytes
 * ("Parse Error: Data after `Connection: close`") instead of seeing the 400. node:http only: a
 * Function URL's own front end parses HTTP before the function runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { rawRequest, rawSocket } from '../helpers/raw-http';
import { type S3Server, startS3rver } from '../helpers/s3-servers';

let s3: S3Server;
let proxy: RunningProxy;
beforeAll(async () => {
  s3 = await startS3rver();
  proxy = await startProxy(s3, {
    tableMapping: { sales: 's3://lake/tables/sales' },
    grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{}] }],
  });
});
afterAll(async () => {
  await proxy?.stop();
  await s3?.stop();
});

describe('a HEAD refused by the HTTP parser (node:http)', () => {
  it('is answered 400 with a request id and no body, which an HTTP client reads', async () => {
    // node's client sends U+00E9 as the one byte 0xE9, which node's parser refuses in a target.
    const r = await rawRequest(proxy.url, 'HEAD', '/datalake/sales/r\u00e9gion.parquet');
    expect([r.status, r.body]).toEqual([400, '']);
    expect(r.headers['x-amz-request-id']).toMatch(/^[0-9A-F]{16}$/);
  });

  it('has no body after the head on the wire either (a malformed header line)', async () => {
    const out = await rawSocket(proxy.url, 'HEAD /datalake HTTP/1.1\r\nHost x\r\n\r\n');
    expect(out).toMatch(/^HTTP\/1\.1 400/);
    expect(out.slice(out.indexOf('\r\n\r\n') + 4)).toBe('');
  });

  it('still answers a GET refused alike with the S3 XML body', async () => {
    const r = await rawRequest(proxy.url, 'GET', '/datalake/sales/r\u00e9gion.parquet');
    expect(r.status).toBe(400);
    expect(r.body).toContain('<Code>InvalidRequest</Code>');
  });
});
