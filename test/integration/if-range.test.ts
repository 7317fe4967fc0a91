/**
 * If-Range (RFC 9110 §13.1.5), which S3 honours on GetObject: a Range sent with a validator that
 * no longer matches gets the whole current object (200), never a piece of it (206). A client
 * resuming a download, or reading a Parquet footer by range after a HEAD, otherwise splices bytes
 * of two versions of a file. Generated `_delta_log` files do change (a grant or partitioning
 * change, a rewritten checkpoint) while keeping their key, so they must honour it as real ones.
 */
import { GetObjectCommand, HeadObjectCommand, type S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { versionPrefix } from '../../lambda/delta/log-path';
import { writeTable } from '../helpers/fault-tables';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { backendClient, createBucket, type S3Server, s3rverAndMoto } from '../helpers/s3-servers';

/** An SDK client that adds If-Range to every request (GetObjectCommand has no parameter for it). */
function withIfRange(client: S3Client, value: () => string | undefined): S3Client {
  client.middlewareStack.add(
    (next) => async (args) => {
      const v = value();
      const request = args.request as { headers: Record<string, string> };
      if (v !== undefined) request.headers['if-range'] = v;
      return next(args);
    },
    { step: 'build', name: 'ifRange' },
  );
  return client;
}

describe.each(s3rverAndMoto())('If-Range on %s', (_name, start, skipReason) => {
  const run = it.skipIf(skipReason !== undefined);
  let s3: S3Server;
  let proxy: RunningProxy;
  let client: S3Client;
  let ifRange: string | undefined;
  let dataKey: string;
  const checkpoint = `t/_delta_log/${versionPrefix(2)}.checkpoint.parquet`;
  const commit = `t/_delta_log/${versionPrefix(1)}.json`;

  beforeAll(async () => {
    if (skipReason) return;
    s3 = await start();
    const backend = backendClient(s3.endpoint);
    await createBucket(backend, 'lake');
    const table = await writeTable(backend, 'lake', 't', 't/');
    const [eu] = await table.commitFiles('EU', 'US');
    await table.writer.checkpoint();
    backend.destroy();
    dataKey = `t/${eu}`;
    proxy = await startProxy(s3, {
      logView: 'filtered',
      getMode: 'proxy',
      tableMapping: { t: 's3://lake/t' },
      grants: [{ principal: ANALYST.principal, table: 't', partitions: [{ region: 'EU' }] }],
    });
    client = withIfRange(proxy.client(), () => ifRange);
  });
  afterAll(async () => {
    client?.destroy();
    await proxy?.stop();
    await s3?.stop();
  });

  async function get(key: string, range: string, validator?: string) {
    ifRange = validator;
    try {
      const r = await client.send(new GetObjectCommand({ Bucket: 'datalake', Key: key, Range: range }));
      const body = await r.Body!.transformToByteArray();
      return {
        status: r.$metadata.httpStatusCode,
        contentRange: r.ContentRange,
        length: r.ContentLength,
        body,
      };
    } finally {
      ifRange = undefined;
    }
  }

  async function head(key: string, range?: string, validator?: string) {
    ifRange = validator;
    try {
      const r = await client.send(new HeadObjectCommand({ Bucket: 'datalake', Key: key, Range: range }));
      return {
        status: r.$metadata.httpStatusCode,
        contentRange: r.ContentRange,
        length: r.ContentLength,
        etag: r.ETag!,
        lastModified: r.LastModified!,
      };
    } finally {
      ifRange = undefined;
    }
  }

  for (const [what, key] of [
    ['a generated checkpoint', () => checkpoint],
    ['a generated commit', () => commit],
    ['a real data file', () => dataKey],
  ] as const) {
    run(`${what}: a stale validator gets the whole object (200), a current one the range (206)`, async () => {
      const whole = await head(key());
      const size = whole.length!;
      expect(size).toBeGreaterThan(8);

      const stale = await get(key(), 'bytes=0-3', '"00000000000000000000000000000000"');
      expect([stale.status, stale.contentRange, stale.length, stale.body.byteLength]).toEqual([
        200,
        undefined,
        size,
        size,
      ]);
      // No suffix ranges on real files: s3rver reads bytes=-4 as bytes=0-4.
      const older = await get(
        key(),
        'bytes=4-7',
        new Date(whole.lastModified.getTime() - 60_000).toUTCString(),
      );
      expect([older.status, older.body.byteLength]).toEqual([200, size]);
      // A weak tag never matches (strong comparison).
      const weak = await get(key(), 'bytes=0-3', `W/${whole.etag}`);
      expect([weak.status, weak.body.byteLength]).toEqual([200, size]);

      const current = await get(key(), 'bytes=0-3', whole.etag);
      expect([current.status, current.contentRange, current.body.byteLength]).toEqual([
        206,
        `bytes 0-3/${size}`,
        4,
      ]);
      // A generated file keeps its commit's Last-Modified while its body follows the grants: a date
      // never validates it (test/integration/if-range-generated-date.test.ts); a real file's does.
      const sameDate = await get(key(), 'bytes=4-7', whole.lastModified.toUTCString());
      expect([sameDate.status, sameDate.contentRange]).toEqual(
        what === 'a real data file' ? [206, `bytes 4-7/${size}`] : [200, undefined],
      );
    });
  }

  run('a ranged HEAD of a generated file answers with the whole size under a stale validator', async () => {
    const whole = await head(checkpoint);
    const stale = await head(checkpoint, 'bytes=0-3', '"00000000000000000000000000000000"');
    expect([stale.status, stale.contentRange, stale.length]).toEqual([200, undefined, whole.length]);
    const current = await head(checkpoint, 'bytes=0-3', whole.etag);
    expect([current.status, current.length]).toEqual([206, 4]);
  });

  run('a stale validator with a range past the end is the whole object, not 416', async () => {
    const whole = await head(checkpoint);
    const r = await get(checkpoint, `bytes=${whole.length! + 10}-`, '"00000000000000000000000000000000"');
    expect([r.status, r.body.byteLength]).toEqual([200, whole.length]);
    const e = await get(checkpoint, `bytes=${whole.length! + 10}-`, whole.etag).catch((err: unknown) => err);
    expect(e instanceof S3ServiceException && e.$metadata.httpStatusCode).toBe(416);
  });
});
