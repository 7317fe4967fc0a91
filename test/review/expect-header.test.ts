/**
 * An Expect header other than 100-continue: node:http answered it itself with a bare 417 (no S3
 * XML, no request id) and the request was never recorded. The proxy reads no request body, so it
 * ignores the expectation (RFC 9110 §10.1.1 allows it) and answers as it would without it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { rawSocket } from '../helpers/raw-http';
import { expectErrorDocument } from '../helpers/s3-error-document';
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

describe('an unknown expectation', () => {
  it.each(['foo', '200-ok'])('Expect: %s is answered in S3 XML and recorded once', async (value) => {
    const before = proxy.events.length;
    const out = await rawSocket(
      proxy.url,
      `GET /datalake HTTP/1.1\r\nHost: x\r\nExpect: ${value}\r\nConnection: close\r\n\r\n`,
    );
    // Unsigned: refused as any unsigned request is, in S3 XML with a request id.
    expect(out).toMatch(/^HTTP\/1\.1 403/);
    expect(expectErrorDocument(out.slice(out.indexOf('<?xml')))).toBe('AccessDenied');
    const events = proxy.events.slice(before);
    expect(events.map((e) => [e.status, e.code])).toEqual([[403, 'AccessDenied']]);
    expect(out).toContain(`x-amz-request-id: ${events[0]!.requestId}`);
  });
});
