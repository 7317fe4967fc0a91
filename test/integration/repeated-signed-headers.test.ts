/**
 * A signed header sent more than once. SigV4 signs such a header as its values, each trimmed and
 * with inner runs of spaces folded, joined with "," (the AWS docs; botocore; @smithy/signature-v4
 * signs a value given as "a,b" the same way). node:http joins the lines with ", " and the Function
 * URL with ","; the proxy must verify against the values as sent, through both front ends, and
 * refuse any other values, order or count.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSpecialTable } from '../helpers/fixture-tables';
import { TRANSPORTS } from '../helpers/lambda-transports';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { rawRequest } from '../helpers/raw-http';
import { backendClient, createBucket, type S3Server, startS3rver, uploadDir } from '../helpers/s3-servers';
import { signHeaders } from '../helpers/signed-fetch';

const config = {
  tableMapping: { sales: 's3://lake/tables/sales' },
  grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{}] }],
};
const code = (text: string) => /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
const QUERY = 'list-type=2&prefix=sales%2F';

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

describe.each(TRANSPORTS)('a signed header sent more than once via %s', (_name, serve) => {
  let proxy: RunningProxy;
  beforeAll(async () => {
    proxy = await startProxy(s3, config, serve);
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  /** Signs `signedAs` as the header's value, then sends `sent` (one line per value). */
  const send = async (name: string, signedAs: string, sent: string[], extra: Record<string, string> = {}) => {
    const headers = await signHeaders(
      proxy.url,
      'GET',
      '/datalake',
      QUERY,
      { ...extra, [name]: signedAs },
      ANALYST,
    );
    return rawRequest(proxy.url, 'GET', `/datalake?${QUERY}`, { ...headers, [name]: sent });
  };

  it('is accepted when its values, joined with "," as SigV4 joins them, are what was signed', async () => {
    const r = await send('x-client-trace', 'first,second', ['first', 'second']);
    expect([r.status, code(r.body)]).toEqual([200, undefined]);
    expect(r.body).toContain('<ListBucketResult');
  });

  it('is accepted with each value trimmed and its inner spaces folded before joining', async () => {
    const r = await send('x-client-trace', 'one two,three,four', ['one   two ', ' three', 'four']);
    expect([r.status, code(r.body)]).toEqual([200, undefined]);
  });

  it('works for a signed x-amz-* header too', async () => {
    const r = await send('x-amz-client-note', 'a,b', ['a', 'b']);
    expect([r.status, code(r.body)]).toEqual([200, undefined]);
  });

  it.each([
    ['a value changed', ['first', 'other']],
    ['the values swapped', ['second', 'first']],
    ['a value added', ['first', 'second', 'third']],
    ['a value dropped', ['first']],
  ])('is refused with %s', async (_what, sent) => {
    const r = await send('x-client-trace', 'first,second', sent);
    expect([r.status, code(r.body)]).toEqual([403, 'SignatureDoesNotMatch']);
  });

  it('never shows a repeated signed session token in the canonical request of a refusal', async () => {
    const r = await send('x-amz-security-token', 'token-secret-one,token-secret-two', [
      'token-secret-one',
      'token-secret-changed',
    ]);
    expect([r.status, code(r.body)]).toEqual([403, 'SignatureDoesNotMatch']);
    expect(r.body).toContain('<CanonicalRequest>');
    expect(r.body).not.toContain('token-secret');
    for (const line of proxy.logs) expect(line).not.toContain('token-secret');
  });
});
