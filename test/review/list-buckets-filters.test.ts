/**
 * ListBuckets takes `prefix` and `bucket-region` (S3 since 2024; the SDKs' `Prefix` and
 * `BucketRegion`): a bucket they do not select is not listed, and a given prefix is echoed. moto
 * (a real server) filters the same way; the proxy listed `datalake` whatever was asked.
 */
import { ListBucketsCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import {
  backendClient,
  createBucket,
  motoUnavailableReason,
  type S3Server,
  startMoto,
} from '../helpers/s3-servers';
import { signedFetch } from '../helpers/signed-fetch';

const reason = motoUnavailableReason();

describe.skipIf(reason !== undefined)('ListBuckets filters like S3', () => {
  let moto: S3Server;
  let proxy: RunningProxy;
  beforeAll(async () => {
    moto = await startMoto();
    const c = backendClient(moto.endpoint);
    await createBucket(c, 'datalake');
    c.destroy();
    proxy = await startProxy(moto, { tableMapping: {}, grants: [] });
  });
  afterAll(async () => {
    await proxy?.stop();
    await moto?.stop();
  });

  const names = async (endpoint: 'proxy' | 'moto', input: { Prefix?: string; BucketRegion?: string }) => {
    const client = endpoint === 'proxy' ? proxy.client() : backendClient(moto.endpoint);
    try {
      return ((await client.send(new ListBucketsCommand(input))).Buckets ?? []).map((b) => b.Name);
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
  ])('%j lists what moto lists', async (input) => {
    expect(await names('proxy', input)).toEqual(await names('moto', input));
  });

  it('echoes a given prefix', async () => {
    const r = await signedFetch(proxy.url, 'GET', '/', 'prefix=zzz', {}, ANALYST);
    expect(r.status).toBe(200);
    expect(r.text).toContain('<Prefix>zzz</Prefix>');
    expect(r.text).not.toContain('<Name>datalake</Name>');
  });
});
