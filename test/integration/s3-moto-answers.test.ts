/**
 * Answers compared with moto (a real S3 server on loopback) for what the other surface suites do
 * not reach: ListBuckets' `prefix` and `bucket-region` filters (S3 since 2024; the proxy listed
 * `datalake` whatever was asked), and an object of a granted partition stored in an archive class
 * (GLACIER, DEEP_ARCHIVE: a lifecycle rule on old partitions), which S3 refuses with 403
 * InvalidObjectState until it is restored (the proxy said AccessDenied, "ask the operator") and
 * whose HEAD names its storage class, and once a restore was asked for, its state (`x-amz-restore`,
 * which clients read to know when to GET).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ListBucketsCommand, PutObjectCommand, RestoreObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSpecialTable } from '../helpers/fixture-tables';
import { listingParser } from '../helpers/listing-compare';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import {
  backendClient,
  createBucket,
  motoUnavailableReason,
  type S3Server,
  startMoto,
  uploadDir,
} from '../helpers/s3-servers';
import { encodeKeyPath, signedFetch } from '../helpers/signed-fetch';

const reason = motoUnavailableReason();

describe.skipIf(reason !== undefined)('S3 answers compared with moto', () => {
  let moto: S3Server;
  let proxy: RunningProxy;
  let key: string;
  let restored: string;
  beforeAll(async () => {
    moto = await startMoto();
    const c = backendClient(moto.endpoint);
    for (const bucket of ['datalake', 'lake', 'ref']) await createBucket(c, bucket);
    const dir = await writeSpecialTable(['EU'], ['2024-01-01', '2024-01-02']);
    const keys = await uploadDir(c, 'lake', 'w/sales/', dir);
    await uploadDir(c, 'ref', 'sales/', dir);
    const data = keys.filter((k) => k.endsWith('.parquet') && k.includes('region=EU/'));
    [key, restored] = data.map((k) => k.slice('w/'.length)) as [string, string];
    for (const d of data) {
      const body = readFileSync(join(dir, d.slice('w/sales/'.length)));
      for (const [bucket, k] of [
        ['lake', d],
        ['ref', d.slice('w/'.length)],
      ] as const) {
        await c.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: body, StorageClass: 'GLACIER' }));
        if (d.endsWith(`/${restored.split('/').at(-1)}`))
          await c.send(new RestoreObjectCommand({ Bucket: bucket, Key: k, RestoreRequest: { Days: 1 } }));
      }
    }
    c.destroy();
    proxy = await startProxy(moto, {
      tableMapping: { sales: 's3://lake/w/sales' },
      grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{}] }],
      getMode: 'proxy',
    });
  });
  afterAll(async () => {
    await proxy?.stop();
    await moto?.stop();
  });

  describe('ListBuckets filters', () => {
    /** Whether `datalake` is listed (moto holds other buckets too). */
    const names = async (endpoint: 'proxy' | 'moto', input: { Prefix?: string; BucketRegion?: string }) => {
      const client = endpoint === 'proxy' ? proxy.client() : backendClient(moto.endpoint);
      try {
        const listed = (await client.send(new ListBucketsCommand(input))).Buckets ?? [];
        return listed.map((b) => b.Name).filter((n) => n === 'datalake');
      } finally {
        client.destroy();
      }
    };

    it.each([
      [{ Prefix: 'zzz' }],
      [{ Prefix: 'data' }],
      [{ Prefix: 'datalake' }],
      [{ Prefix: 'datalakes' }],
      [{ BucketRegion: 'eu-west-1' }],
      [{ BucketRegion: 'us-east-1' }],
      [{ Prefix: 'data', BucketRegion: 'eu-west-1' }],
    ])('%j selects datalake as moto does', async (input) => {
      expect(await names('proxy', input)).toEqual(await names('moto', input));
    });

    it('echoes a given prefix', async () => {
      const r = await signedFetch(proxy.url, 'GET', '/', 'prefix=zzz', {}, ANALYST);
      expect(r.status).toBe(200);
      expect(r.text).toContain('<Prefix>zzz</Prefix>');
      expect(r.text).not.toContain('<Name>datalake</Name>');
    });
  });

  describe('an archived object', () => {
    it('GET is 403 InvalidObjectState', async () => {
      const [a, b] = await Promise.all([
        signedFetch(proxy.url, 'GET', `/datalake/${encodeKeyPath(key)}`, '', {}, ANALYST),
        signedFetch(moto.endpoint, 'GET', `/ref/${encodeKeyPath(key)}`),
      ]);
      expect(b.status).toBe(403);
      expect(listingParser.parse(b.text).Error.Code).toBe('InvalidObjectState');
      expect(a.status).toBe(b.status);
      expect(listingParser.parse(a.text).Error.Code).toBe('InvalidObjectState');
    });

    it('HEAD shows the storage class', async () => {
      const [a, b] = await Promise.all([
        signedFetch(proxy.url, 'HEAD', `/datalake/${encodeKeyPath(key)}`, '', {}, ANALYST),
        signedFetch(moto.endpoint, 'HEAD', `/ref/${encodeKeyPath(key)}`),
      ]);
      expect(b.status).toBe(200);
      expect(a.status).toBe(200);
      expect(a.headers['x-amz-storage-class']).toBe(b.headers['x-amz-storage-class']);
    });

    it("once restored, HEAD tells the restore's state and GET serves it, as moto", async () => {
      for (const method of ['HEAD', 'GET']) {
        const [a, b] = await Promise.all([
          signedFetch(proxy.url, method, `/datalake/${encodeKeyPath(restored)}`, '', {}, ANALYST),
          // The same stored object: its restore's expiry is fixed when the restore was asked for.
          signedFetch(moto.endpoint, method, `/lake/w/${encodeKeyPath(restored)}`),
        ]);
        expect([method, b.status, b.headers['x-amz-restore']]).toEqual([method, 200, expect.any(String)]);
        expect([method, a.status, a.headers['x-amz-restore']]).toEqual([
          method,
          200,
          b.headers['x-amz-restore'],
        ]);
        expect(a.body.equals(b.body)).toBe(true);
      }
    });
  });
});
