/**
 * The S3 read surface through real SDK clients, on each backend: s3rver always, moto where
 * installed. (The byte-level comparison with S3 semantics is s3-conformance.test.ts.)
 */
import {
  GetBucketLocationCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  paginateListObjectsV2,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SPECIAL_REGIONS, writeSpecialTable } from '../helpers/fixture-tables';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { backendClient, createBucket, type S3Server, s3rverAndMoto, uploadDir } from '../helpers/s3-servers';

const backends = s3rverAndMoto();

async function errorOf(p: Promise<unknown>): Promise<{ name: string; status?: number }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof S3ServiceException) return { name: e.name, status: e.$metadata.httpStatusCode };
    throw e;
  }
  throw new Error('expected the request to fail');
}

describe.each(backends)('S3 surface on %s', (_name, start, skipReason) => {
  let s3: S3Server;
  let proxy: RunningProxy;
  let keys: string[];
  const run = it.skipIf(skipReason !== undefined);
  beforeAll(async () => {
    if (skipReason) return;
    s3 = await start();
    const c = backendClient(s3.endpoint);
    await createBucket(c, 'lake');
    keys = (await uploadDir(c, 'lake', 'tables/sales/', await writeSpecialTable())).map((k) =>
      k.replace('tables/', ''),
    );
    proxy = await startProxy(s3, {
      tableMapping: { sales: 's3://lake/tables/sales', hidden: 's3://lake/tables/hidden' },
      grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{}] }],
    });
  });
  afterAll(async () => {
    await proxy?.stop();
    await s3?.stop();
  });

  run('answers the calls clients make at start-up', async () => {
    const c = proxy.client();
    expect((await c.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name)).toEqual(['datalake']);
    const head = await c.send(new HeadBucketCommand({ Bucket: 'datalake' }));
    expect(head.BucketRegion).toBe('us-east-1');
    expect(
      (await c.send(new GetBucketLocationCommand({ Bucket: 'datalake' }))).LocationConstraint,
    ).toBeUndefined();
    expect(await errorOf(c.send(new HeadBucketCommand({ Bucket: 'nope' })))).toMatchObject({ status: 404 });
  });

  run('pages a whole table with the SDK paginator, every key exactly once, in S3 order', async () => {
    const c = proxy.client();
    const seen: string[] = [];
    for await (const page of paginateListObjectsV2(
      { client: c, pageSize: 3 },
      { Bucket: 'datalake', Prefix: 'sales/' },
    )) {
      expect(page.KeyCount).toBe(page.Contents?.length ?? 0);
      seen.push(...(page.Contents ?? []).map((o) => o.Key!));
    }
    expect(seen).toEqual([...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
  });

  run('rolls partitions up into common prefixes, special characters intact', async () => {
    const c = proxy.client();
    const res = await c.send(
      new ListObjectsCommand({ Bucket: 'datalake', Prefix: 'sales/', Delimiter: '/' }),
    );
    const prefixes = (res.CommonPrefixes ?? []).map((p) => p.Prefix);
    expect(prefixes).toContain('sales/_delta_log/');
    expect(prefixes).toContain('sales/region=a%2Fb c/');
    expect(prefixes.length).toBe(SPECIAL_REGIONS.length + 1);
  });

  run('serves ranges, conditional requests and HEAD', async () => {
    const c = proxy.client();
    const key = `sales/${keys.find((k) => k.includes('region=EU/'))!.slice('sales/'.length)}`;
    const full = await c.send(new GetObjectCommand({ Bucket: 'datalake', Key: key }));
    const bytes = await full.Body!.transformToByteArray();
    expect(full.ContentLength).toBe(bytes.length);
    const ranged = await c.send(new GetObjectCommand({ Bucket: 'datalake', Key: key, Range: 'bytes=0-3' }));
    expect(ranged.ContentRange).toBe(`bytes 0-3/${bytes.length}`);
    expect(Buffer.from(await ranged.Body!.transformToByteArray()).toString()).toBe('PAR1');
    const head = await c.send(new HeadObjectCommand({ Bucket: 'datalake', Key: key }));
    expect(head.ETag).toBe(full.ETag);
    expect(head.ContentLength).toBe(bytes.length);
    expect(
      await errorOf(c.send(new GetObjectCommand({ Bucket: 'datalake', Key: key, IfNoneMatch: full.ETag }))),
    ).toMatchObject({ status: 304 });
    expect(
      await errorOf(c.send(new GetObjectCommand({ Bucket: 'datalake', Key: key, IfMatch: '"0000"' }))),
    ).toMatchObject({ status: 412 });
    expect(
      await errorOf(
        c.send(new GetObjectCommand({ Bucket: 'datalake', Key: key, Range: `bytes=${bytes.length + 10}-` })),
      ),
    ).toMatchObject({
      name: 'InvalidRange',
      status: 416,
    });
  });

  run(
    'treats a forged continuation token as a lower bound inside the request, never as a way out',
    async () => {
      const c = proxy.client();
      const forge = (after: string) => Buffer.from(`dlp1:${after}`).toString('base64url');
      const all = await c.send(
        new ListObjectsV2Command({ Bucket: 'datalake', ContinuationToken: forge('') }),
      );
      expect(all.Contents?.every((o) => o.Key!.startsWith('sales/'))).toBe(true);
      const intoHidden = await c.send(
        new ListObjectsV2Command({ Bucket: 'datalake', ContinuationToken: forge('hidden/') }),
      );
      expect(intoHidden.Contents?.some((o) => o.Key!.startsWith('hidden/')) ?? false).toBe(false);
      const outside = await c.send(
        new ListObjectsV2Command({ Bucket: 'datalake', Prefix: 'sales/', ContinuationToken: forge('a') }),
      );
      expect(outside.Contents?.every((o) => o.Key!.startsWith('sales/'))).toBe(true);
      expect(
        await errorOf(
          c.send(new ListObjectsV2Command({ Bucket: 'datalake', ContinuationToken: 'bm90LW91cnM' })),
        ),
      ).toMatchObject({
        name: 'InvalidArgument',
        status: 400,
      });
    },
  );

  run('answers a table without a grant exactly like a table that does not exist', async () => {
    const c = proxy.client();
    const hidden = await errorOf(
      c.send(new GetObjectCommand({ Bucket: 'datalake', Key: 'hidden/x.parquet' })),
    );
    const missing = await errorOf(
      c.send(new GetObjectCommand({ Bucket: 'datalake', Key: 'nosuchtable/x.parquet' })),
    );
    expect(hidden).toEqual(missing);
    expect(hidden).toMatchObject({ name: 'NoSuchKey', status: 404 });
    const list = await c.send(new ListObjectsCommand({ Bucket: 'datalake', Delimiter: '/' }));
    expect(list.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['sales/']);
  });
});
