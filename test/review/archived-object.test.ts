/**
 * A file of a granted partition stored in an archive class (GLACIER, DEEP_ARCHIVE: a lifecycle rule
 * on old partitions) is refused by S3 with 403 InvalidObjectState until it is restored. Through the
 * proxy the same GET must say so, not AccessDenied ("ask the operator"), and HEAD must show the
 * object's storage class, as S3 (moto here) does.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
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

describe.skipIf(reason !== undefined)('an archived object answers like S3', () => {
  let moto: S3Server;
  let proxy: RunningProxy;
  let key: string;
  beforeAll(async () => {
    moto = await startMoto();
    const c = backendClient(moto.endpoint);
    await createBucket(c, 'lake');
    await createBucket(c, 'ref');
    const dir = await writeSpecialTable(['EU'], ['2024-01-01']);
    const keys = await uploadDir(c, 'lake', 'w/sales/', dir);
    await uploadDir(c, 'ref', 'sales/', dir);
    const data = keys.find((k) => k.endsWith('.parquet') && k.includes('region=EU/'))!;
    key = data.slice('w/'.length);
    const body = readFileSync(join(dir, data.slice('w/sales/'.length)));
    for (const [bucket, k] of [
      ['lake', data],
      ['ref', key],
    ] as const)
      await c.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: body, StorageClass: 'GLACIER' }));
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
});
