/**
 * An instance whose snapshot (version 0) is checked by a probe a moment old, while a writer
 * commits, checkpoints and cleans up the log (commit 0 deleted): a listing of `_delta_log/` on it
 * must not be empty (readers take an empty log for a missing table, "not a Delta table"); a
 * retryable 503 is fine, and once the probe window passed the listing holds the new versions.
 */
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { versionPrefix } from '../../lambda/delta/log-path';
import { type AuthzProxy, listAllPages, ManualClock, startAuthzProxy } from '../helpers/authz-harness';
import { writeTable } from '../helpers/fault-tables';
import { backendClient, createBucket, type S3Server, startS3rver } from '../helpers/s3-servers';

let s3: S3Server;
let client: S3Client;
let proxy: AuthzProxy | undefined;

beforeAll(async () => {
  s3 = await startS3rver();
  client = backendClient(s3.endpoint);
  await createBucket(client, 'lake');
});

afterAll(async () => {
  await proxy?.stop();
  client?.destroy();
  await s3?.stop();
});

it('a listing of the log on an instance whose snapshot a log cleanup left behind is never empty', async () => {
  const clock = new ManualClock();
  const table = await writeTable(client, 'lake', 't', 't/');
  proxy = await startAuthzProxy(
    s3,
    {
      logView: 'filtered',
      tableMapping: { t: 's3://lake/t' },
      grants: [
        { principal: 'eu', table: 't', partitions: [{ region: 'EU' }] },
        { principal: 'all', table: 't', partitions: [{}] },
      ],
    },
    ['eu', 'all'],
    { clock },
  );
  const list = async (who = 'all') => {
    const pages = await listAllPages(proxy!.url, who, 2, { prefix: 't/_delta_log/' }, 'datalake', 10, clock);
    return { status: pages.at(-1)!.status, keys: pages.flatMap((p) => p.keys) };
  };
  // Another caller's grant: this one's commit 0 is not generated yet when the cleanup comes.
  expect(await list('eu')).toEqual({ status: 200, keys: [`t/_delta_log/${versionPrefix(0)}.json`] });
  await table.commitFiles('EU'); // 1
  await table.writer.checkpoint(); // at 1, with _last_checkpoint
  await client.send(
    new DeleteObjectCommand({ Bucket: 'lake', Key: `t/_delta_log/${versionPrefix(0)}.json` }),
  );
  await table.commitFiles('EU'); // 2
  for (let i = 0; i < 3; i++) {
    const got = await list();
    if (got.status === 200) expect(got.keys).not.toEqual([]);
    else expect(got.status).toBe(503);
  }
  clock.advance(60);
  expect(await list()).toEqual({
    status: 200,
    keys: [
      `t/_delta_log/${versionPrefix(1)}.checkpoint.parquet`,
      `t/_delta_log/${versionPrefix(1)}.json`,
      `t/_delta_log/${versionPrefix(2)}.json`,
      't/_delta_log/_last_checkpoint',
    ],
  });
});
