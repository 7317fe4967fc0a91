/**
 * A signed header sent more than once. SigV4 signs such a header as its values, each trimmed and
 * with inner runs of spaces folded, joined with "," (the AWS docs; botocore; @smithy/signature-v4
 * signs a value given as "a,b" the same way). node:http joins the lines with ", " and the Function
 * URL with ","; the proxy must verify against the values as sent, through both front ends, and
 * refuse any other values, order or count.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientEnv } from '../auth/helpers/python-env';
import { writeSpecialTable } from '../helpers/fixture-tables';
import { TRANSPORTS } from '../helpers/lambda-transports';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { rawRequest } from '../helpers/raw-http';
import {
  backendClient,
  createBucket,
  REPO_ROOT,
  type S3Server,
  startS3rver,
  uploadDir,
} from '../helpers/s3-servers';
import { signHeaders } from '../helpers/signed-fetch';
import { pythonPackageMissing, withReason } from '../helpers/skips';

const config = {
  tableMapping: { sales: 's3://lake/tables/sales' },
  grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{}] }],
};
const code = (text: string) => /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
const QUERY = 'list-type=2&prefix=sales%2F';
const run = promisify(execFile);
const botocoreMissing = pythonPackageMissing('botocore');

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

  /** botocore signs the header's lines itself (the reference for repeated headers) and sends `sent`. */
  const botocore = async (signed: string[], sent: string[]) => {
    const script = join(REPO_ROOT, 'test/integration/clients/botocore_repeated_header.py');
    const args = { endpoint: proxy.url, region: 'us-east-1', ...ANALYST, path: `/datalake?${QUERY}` };
    const input = JSON.stringify({ ...args, header: 'X-Client-Trace', signed, sent });
    const { stdout } = await run('python3', [script, input], {
      env: clientEnv('us-east-1', ANALYST),
      timeout: 60_000,
    });
    const out = JSON.parse(stdout) as { status: number; body: string };
    return [out.status, code(out.body)];
  };

  it.skipIf(botocoreMissing !== undefined)(
    withReason(
      'is accepted signed by botocore, one line per value, and refused once a line changes',
      botocoreMissing,
    ),
    async () => {
      const values = [' one   two ', 'three'];
      expect(await botocore(values, values)).toEqual([200, undefined]);
      expect(await botocore(values, ['one two', 'four'])).toEqual([403, 'SignatureDoesNotMatch']);
      expect(await botocore(values, ['three', 'one two'])).toEqual([403, 'SignatureDoesNotMatch']);
    },
  );

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
