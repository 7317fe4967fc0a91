/**
 * The proxy's access keys are long-term keys: no session token belongs to any of them. A request
 * signed with a proxy key that also carries a token (a client whose environment still holds
 * AWS_SESSION_TOKEN from another account, say) gets what S3 answers a long-term key with a token:
 * 400 InvalidToken, however the token is sent (header, presigned query), and never its data.
 * The token never reaches a log line.
 */
import { GetObjectCommand, ListObjectsV2Command, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadDemoTable } from '../helpers/fixture-tables';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { type S3Server, startS3rver } from '../helpers/s3-servers';

const TOKEN = 'leftover-session-token-of-another-account';

describe('a proxy key signed with a session token', () => {
  let s3: S3Server;
  let proxy: RunningProxy;
  let key: string;

  beforeAll(async () => {
    s3 = await startS3rver();
    const active = await uploadDemoTable(s3.endpoint, 'lake', 'w/sales/');
    key = `sales/${active.find((p) => p.startsWith('region=EU/'))}`;
    proxy = await startProxy(s3, {
      tableMapping: { sales: 's3://lake/w/sales' },
      grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{ region: 'EU' }] }],
    });
  });
  afterAll(async () => {
    await proxy?.stop();
    await s3?.stop();
  });

  const withToken = () =>
    new S3Client({
      endpoint: proxy.url,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { ...ANALYST, sessionToken: TOKEN },
      maxAttempts: 1,
    });

  async function refusal(send: Promise<unknown>): Promise<[number | undefined, string]> {
    const e = await send.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(e).toBeInstanceOf(S3ServiceException);
    const s = e as S3ServiceException;
    return [s.$metadata.httpStatusCode, s.name];
  }

  it('is refused 400 InvalidToken (header-signed), where the same key without the token reads', async () => {
    const list = new ListObjectsV2Command({ Bucket: 'datalake', Prefix: 'sales/' });
    const get = new GetObjectCommand({ Bucket: 'datalake', Key: key });
    expect(await refusal(withToken().send(list))).toEqual([400, 'InvalidToken']);
    expect(await refusal(withToken().send(get))).toEqual([400, 'InvalidToken']);
    expect((await proxy.client().send(list)).KeyCount).toBeGreaterThan(0);
    const read = await proxy.client().send(get);
    expect((await read.Body!.transformToByteArray()).length).toBeGreaterThan(0);
  });

  it('is refused 400 InvalidToken in a presigned URL, and the token is in no log line', async () => {
    const get = new GetObjectCommand({ Bucket: 'datalake', Key: key });
    const url = await getSignedUrl(withToken(), get, { expiresIn: 60 });
    expect(url).toContain('X-Amz-Security-Token=');
    const r = await fetch(url);
    const body = await r.text();
    expect(r.status).toBe(400);
    expect(body).toContain('<Code>InvalidToken</Code>');
    expect(body).not.toContain(TOKEN);
    const plain = await fetch(await getSignedUrl(proxy.client(), get, { expiresIn: 60 }));
    expect(plain.status).toBe(200);
    await plain.arrayBuffer();
    expect(proxy.events.filter((e) => e.status === 400).length).toBeGreaterThanOrEqual(3);
    for (const line of proxy.logs) expect(line).not.toContain(TOKEN);
  });
});
