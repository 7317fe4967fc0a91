/**
 * node:http keeps the first 2,000 header lines of a request and drops the rest without a word
 * (server.maxHeadersCount). Well within the header size limits, a signed request padded with
 * enough headers carried a second Host or Authorization past the proxy's repeated-header check:
 * served as if it had not been sent, where any other count gets 400 InvalidArgument.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { rawSocket } from '../helpers/raw-http';
import { expectErrorDocument } from '../helpers/s3-error-document';
import { type S3Server, startS3rver } from '../helpers/s3-servers';
import { signHeaders } from '../helpers/signed-fetch';

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

describe('a header after many others', () => {
  it.each([
    ['Host', 'Host: evil.example\r\n'],
    ['Authorization', 'Authorization: AWS4-HMAC-SHA256 Credential=other\r\n'],
  ])('a second %s after 2,100 padding headers is refused with 400 InvalidArgument', async (name, second) => {
    const signed = await signHeaders(proxy.url, 'GET', '/', '', {}, ANALYST);
    const headers = Object.entries(signed)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    // 2,100 short lines: 16.8 KB on the wire, within the parser's limit; joined, within maxHeaderBytes.
    const padding = 'x-p: 1\r\n'.repeat(2_100);
    const before = proxy.events.length;
    const out = await rawSocket(
      proxy.url,
      `GET / HTTP/1.1\r\n${headers}${padding}${second}Connection: close\r\n\r\n`,
    );
    expect(out).toMatch(/^HTTP\/1\.1 400/);
    expect(expectErrorDocument(out.slice(out.indexOf('<?xml')))).toBe('InvalidArgument');
    expect(out).toContain(`<ArgumentName>${name}</ArgumentName>`);
    expect(proxy.events.slice(before).map((e) => [e.status, e.code])).toEqual([[400, 'InvalidArgument']]);
  });

  it('the same request without the second header is served', async () => {
    const signed = await signHeaders(proxy.url, 'GET', '/', '', {}, ANALYST);
    const headers = Object.entries(signed)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    const out = await rawSocket(
      proxy.url,
      `GET / HTTP/1.1\r\n${headers}${'x-p: 1\r\n'.repeat(2_100)}Connection: close\r\n\r\n`,
    );
    expect(out).toMatch(/^HTTP\/1\.1 200/);
  });
});
