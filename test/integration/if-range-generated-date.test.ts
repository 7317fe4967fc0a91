/**
 * Dates as validators of a generated `_delta_log` file. The file keeps its real commit's
 * Last-Modified (readers take it for the commit's time) while its body changes with the caller's
 * grants, so a date cannot tell two versions of it apart: after a grant change (here: a second
 * proxy deployed with a wider grant) a resumed read (If-Range) must get the whole current file
 * (200), not a piece of the new body spliced onto the old one (206), and a revalidation
 * (If-Modified-Since) the current file, not 304.
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { versionPrefix } from '../../lambda/delta/log-path';
import { writeTable } from '../helpers/fault-tables';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { backendClient, createBucket, type S3Server, startS3rver } from '../helpers/s3-servers';

function withIfRange(client: S3Client, value: () => string | undefined): S3Client {
  client.middlewareStack.add(
    (next) => async (args) => {
      const v = value();
      if (v !== undefined) (args.request as { headers: Record<string, string> }).headers['if-range'] = v;
      return next(args);
    },
    { step: 'build', name: 'ifRange' },
  );
  return client;
}

describe('If-Range date on a generated file whose body changed with the grants', () => {
  let s3: S3Server;
  let narrow: RunningProxy;
  let wide: RunningProxy;
  let ifRange: string | undefined;
  const clients: S3Client[] = [];

  beforeAll(async () => {
    s3 = await startS3rver();
    const backend = backendClient(s3.endpoint);
    await createBucket(backend, 'lake');
    const table = await writeTable(backend, 'lake', 't', 't/');
    await table.commitFiles('EU', 'US');
    await table.writer.checkpoint();
    backend.destroy();
    const config = (partitions: { region: string }[]) => ({
      logView: 'filtered' as const,
      getMode: 'proxy' as const,
      tableMapping: { t: 's3://lake/t' },
      grants: [{ principal: ANALYST.principal, table: 't', partitions }],
    });
    narrow = await startProxy(s3, config([{ region: 'EU' }]));
    wide = await startProxy(s3, config([{ region: 'EU' }, { region: 'US' }]));
  });
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await narrow?.stop();
    await wide?.stop();
    await s3?.stop();
  });

  async function get(proxy: RunningProxy, key: string, range?: string, validator?: string, since?: Date) {
    const client = withIfRange(proxy.client(), () => ifRange);
    clients.push(client);
    ifRange = validator;
    try {
      const r = await client.send(
        new GetObjectCommand({ Bucket: 'datalake', Key: key, Range: range, IfModifiedSince: since }),
      );
      return {
        status: r.$metadata.httpStatusCode,
        etag: r.ETag!,
        lastModified: r.LastModified!,
        body: Buffer.from(await r.Body!.transformToByteArray()),
      };
    } finally {
      ifRange = undefined;
    }
  }

  for (const key of [
    `t/_delta_log/${versionPrefix(2)}.json`,
    `t/_delta_log/${versionPrefix(2)}.checkpoint.parquet`,
  ])
    it(`${key.slice(13)}: a resumed read by date after a grant change gets the whole new file`, async () => {
      const before = await get(narrow, key);
      const after = await get(wide, key);
      // Same key and Last-Modified, another body: only the ETag tells them apart.
      expect(after.etag).not.toBe(before.etag);
      expect(after.lastModified.getTime()).toBe(before.lastModified.getTime());

      const resumed = await get(wide, key, 'bytes=4-', before.lastModified.toUTCString());
      expect(resumed.status).toBe(200);
      expect(resumed.body.equals(after.body)).toBe(true);
    });

  for (const key of [
    `t/_delta_log/${versionPrefix(2)}.json`,
    `t/_delta_log/${versionPrefix(2)}.checkpoint.parquet`,
  ])
    it(`${key.slice(13)}: a revalidation by date after a grant change gets the new file, not 304`, async () => {
      const before = await get(narrow, key);
      const after = await get(wide, key);
      const revalidated = await get(wide, key, undefined, undefined, before.lastModified);
      expect(revalidated.status).toBe(200);
      expect(revalidated.body.equals(after.body)).toBe(true);
    });
});
