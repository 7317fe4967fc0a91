import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type NodeServer, startNodeServer } from '../../lambda/adapters/node-server';
import { createApp } from '../../lambda/core/app';
import { systemClock } from '../../lambda/core/types';
import { TableMap } from '../../lambda/s3/virtual-key';
import { S3Backend } from '../../lambda/storage/s3-backend';
import { allowAllAuthorizer, anonymousAuthenticator } from '../helpers/interim-access';
import {
  BACKEND_CREDENTIALS,
  backendClient,
  createBucket,
  type S3Server,
  startS3rver,
} from '../helpers/s3-servers';

let s3: S3Server;
let proxy: NodeServer;
beforeAll(async () => {
  s3 = await startS3rver();
  const c = backendClient(s3.endpoint);
  await createBucket(c, 'lake');
  for (const k of ['t/a=1/x.parquet', 't/a=2/y.parquet', 't/_delta_log/0.json'])
    await c.send(new PutObjectCommand({ Bucket: 'lake', Key: k, Body: `body of ${k}` }));
  const app = createApp({
    options: { readOnly: true, region: 'us-east-1' },
    tables: new TableMap({ sales: 's3://lake/t' }),
    storage: new S3Backend({ endpoint: s3.endpoint, forcePathStyle: true, credentials: BACKEND_CREDENTIALS }),
    authenticator: anonymousAuthenticator,
    authorizer: allowAllAuthorizer,
    clock: systemClock,
    observer: { record: () => {} },
  });
  proxy = await startNodeServer(app, '127.0.0.1', 0);
});
afterAll(async () => {
  await proxy?.close();
  await s3?.stop();
});

it('lists and reads through the proxy', async () => {
  const client = new S3Client({
    endpoint: proxy.url,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
  });
  const root = await client.send(new ListObjectsV2Command({ Bucket: 'datalake', Delimiter: '/' }));
  expect(root.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['sales/']);
  const inner = await client.send(new ListObjectsV2Command({ Bucket: 'datalake', Prefix: 'sales/' }));
  expect(inner.Contents?.map((o) => o.Key)).toEqual([
    'sales/_delta_log/0.json',
    'sales/a=1/x.parquet',
    'sales/a=2/y.parquet',
  ]);
  const got = await client.send(new GetObjectCommand({ Bucket: 'datalake', Key: 'sales/a=1/x.parquet' }));
  expect(await got.Body?.transformToString()).toBe('body of t/a=1/x.parquet');
});
