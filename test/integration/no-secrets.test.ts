/**
 * Secrets never reach a log line, an audit event or an error body: not the secret key, not a
 * signature (header or presigned), not a presigned URL handed out in a redirect.
 */
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { uploadDemoTable } from '../helpers/fixture-tables';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { type S3Server, startS3rver } from '../helpers/s3-servers';
import { encodeKeyPath, signedFetch } from '../helpers/signed-fetch';

let s3: S3Server;
let proxy: RunningProxy;
let active: string[];
beforeAll(async () => {
  s3 = await startS3rver();
  active = await uploadDemoTable(s3.endpoint, 'lake', 'w/sales/');
  proxy = await startProxy(s3, {
    tableMapping: { sales: 's3://lake/w/sales', broken: 's3://lake/w/broken' },
    getMode: 'presignedUrl',
    grants: [
      { principal: ANALYST.principal, table: 'sales', partitions: [{ region: 'EU' }] },
      { principal: ANALYST.principal, table: 'broken', partitions: [{}] },
    ],
  });
});
afterAll(async () => {
  await proxy?.stop();
  await s3?.stop();
});

it('keeps secrets, signatures and presigned URLs out of logs, audit events and error bodies', async () => {
  const seen: string[] = [];
  const secrets = [ANALYST.secretAccessKey];
  const client = proxy.client();
  const eu = `sales/${active.find((p) => p.startsWith('region=EU/'))}`;
  const us = `sales/${active.find((p) => p.startsWith('region=US/'))}`;
  await client.send(new ListObjectsV2Command({ Bucket: 'datalake', Prefix: 'sales/' }));
  await client.send(new GetObjectCommand({ Bucket: 'datalake', Key: eu }));
  await client.send(new GetObjectCommand({ Bucket: 'datalake', Key: us })).catch(() => {});
  // A table whose log cannot be read exercises the operational log.
  await client.send(new GetObjectCommand({ Bucket: 'datalake', Key: 'broken/x.parquet' })).catch(() => {});
  const wrong = new S3Client({
    endpoint: proxy.url,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: ANALYST.accessKeyId, secretAccessKey: 'not-the-secret-at-all' },
    maxAttempts: 1,
  });
  await wrong
    .send(new GetObjectCommand({ Bucket: 'datalake', Key: eu }))
    .catch((e) => seen.push(JSON.stringify(e)));
  const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: 'datalake', Key: eu }), {
    expiresIn: 60,
  });
  const presignedSig = new URL(url).searchParams.get('X-Amz-Signature')!;
  secrets.push(presignedSig);
  const viaUrl = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  expect(viaUrl.status).toBe(200);
  const tampered = await fetch(
    url.replace(/X-Amz-Signature=[0-9a-f]+/, `X-Amz-Signature=${'0'.repeat(64)}`),
    { signal: AbortSignal.timeout(10_000) },
  );
  seen.push(await tampered.text());
  const redirect = await signedFetch(
    proxy.url,
    'GET',
    `/datalake/${encodeKeyPath(eu)}`,
    '',
    { 'user-agent': 'delta-proxy-client/0.1.0' },
    ANALYST,
  );
  expect(redirect.status).toBe(307);
  secrets.push(new URL(redirect.headers.location!).searchParams.get('X-Amz-Signature')!);
  const headerSig = /Signature=([0-9a-f]{64})/;
  const signed = await signedFetch(proxy.url, 'GET', '/datalake', 'list-type=2&prefix=sales%2F', {}, ANALYST);
  expect(signed.status).toBe(200);

  const everything = [...proxy.logs, ...proxy.events.map((e) => JSON.stringify(e)), ...seen].join('\n');
  expect(proxy.events.length).toBeGreaterThanOrEqual(8);
  expect(proxy.logs.length).toBeGreaterThan(0);
  for (const s of secrets) expect(everything).not.toContain(s);
  expect(everything).not.toMatch(headerSig);
  // A SignatureDoesNotMatch body shows the canonical request with X-Amz-Credential (the key id),
  // as S3 does, but never a signature.
  expect(everything).not.toMatch(/X-Amz-Signature=/);
});
