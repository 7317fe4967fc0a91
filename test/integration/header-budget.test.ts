/**
 * maxHeaderBytes meets the same count through both fronts:
 * - a header sent twice: a Function URL joins the values with ",", node:http's adapter joined them
 *   with ", ", so a request exactly at the limit with a repeated header was refused by node:http
 *   (400 RequestHeaderSectionTooLarge) and served in Lambda;
 * - a Function URL adds its own headers to the event (x-forwarded-for, -proto, -port,
 *   x-amzn-trace-id: ~140 bytes); counted as the client's, a request just within the limit was
 *   served by node:http and refused in Lambda.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSpecialTable } from '../helpers/fixture-tables';
import { TRANSPORTS } from '../helpers/lambda-transports';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { rawRequest } from '../helpers/raw-http';
import { backendClient, createBucket, type S3Server, startS3rver, uploadDir } from '../helpers/s3-servers';
import { signHeaders } from '../helpers/signed-fetch';

const MAX_HEADERS = 4096;

let s3: S3Server;
let key: string;
beforeAll(async () => {
  s3 = await startS3rver();
  const c = backendClient(s3.endpoint);
  await createBucket(c, 'lake');
  const keys = await uploadDir(c, 'lake', 'tables/sales/', await writeSpecialTable(['EU'], ['2024-01-01']));
  c.destroy();
  key = keys.find((k) => k.endsWith('.parquet') && !k.includes('_delta_log'))!.replace(/^tables\//, '');
});
afterAll(async () => {
  await s3?.stop();
});

describe.each(TRANSPORTS)('the header budget via %s', (_name, serve) => {
  let proxy: RunningProxy;
  beforeAll(async () => {
    proxy = await startProxy(
      s3,
      {
        tableMapping: { sales: 's3://lake/tables/sales' },
        grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{}] }],
        maxHeaderBytes: MAX_HEADERS,
      },
      serve,
    );
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  it('serves a signed GET whose header section, the repeat joined with ",", is exactly maxHeaderBytes', async () => {
    const path = `/datalake/${key.split('/').map(encodeURIComponent).join('/')}`;
    const sizeOf = (h: Record<string, string>) =>
      Object.entries(h).reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
    // node's client adds "connection: keep-alive"; "x-custom: a" and "x-custom: b" count as "x-custom: a,b".
    const fixed = 'connection'.length + 'keep-alive'.length + 4 + 'x-custom'.length + 'a,b'.length + 4;
    const probe = await signHeaders(proxy.url, 'GET', path, '', { 'x-padding': 'p' }, ANALYST);
    const padding = 'p'.repeat(1 + MAX_HEADERS - fixed - sizeOf(probe));
    const signed = await signHeaders(proxy.url, 'GET', path, '', { 'x-padding': padding }, ANALYST);
    expect(sizeOf(signed) + fixed).toBe(MAX_HEADERS);
    const r = await rawRequest(proxy.url, 'GET', path, { ...signed, 'x-custom': ['a', 'b'] });
    expect([r.status, /<Code>([^<]*)/.exec(r.body)?.[1]]).toEqual([200, undefined]);
    // One byte more is over the limit through both.
    const over = await rawRequest(proxy.url, 'GET', path, { ...signed, 'x-custom': ['a', 'bb'] });
    expect([over.status, /<Code>([^<]*)/.exec(over.body)?.[1]]).toEqual([
      400,
      'RequestHeaderSectionTooLarge',
    ]);
  });

  it('serves a signed GET whose own header section is 60 bytes within maxHeaderBytes', async () => {
    const path = `/datalake/${key.split('/').map(encodeURIComponent).join('/')}`;
    // Signed once to learn the size of the signed headers, then padded to the limit less 60 bytes
    // (node's client adds "connection: keep-alive", 24 bytes as counted).
    const sizeOf = (h: Record<string, string>) =>
      Object.entries(h).reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
    const probe = await signHeaders(proxy.url, 'GET', path, '', { 'x-padding': 'p' }, ANALYST);
    const padding = 'p'.repeat(1 + MAX_HEADERS - 60 - sizeOf(probe));
    const headers = await signHeaders(proxy.url, 'GET', path, '', { 'x-padding': padding }, ANALYST);
    expect(sizeOf(headers)).toBe(MAX_HEADERS - 60);
    const r = await rawRequest(proxy.url, 'GET', path, headers);
    expect([r.status, /<Code>([^<]*)/.exec(r.body)?.[1]]).toEqual([200, undefined]);
  });
});
