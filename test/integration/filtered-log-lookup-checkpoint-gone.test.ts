/**
 * A remove written without partitionValues is placed by its file's add, looked up in the commits
 * since the checkpoint before it, then in that checkpoint. A checkpoint a log cleanup deleted since
 * the log was listed (a newer checkpoint was written first) is not a broken one: taking it for
 * broken sent the lookup on to older commits, found nothing, and dropped the remove from the
 * generated commit, which stays cached: readers kept the deleted file active, its rows visible.
 */
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthzProxy, objectRequest, startAuthzProxy } from '../helpers/authz-harness';
import { writeTable } from '../helpers/fault-tables';
import { checkpointKey, commitKey } from '../helpers/log-text';
import { backendClient, createBucket, type S3Server, startS3rver } from '../helpers/s3-servers';
import { unhandledRejectionsPerTest } from '../helpers/unhandled-rejections';

const BUCKET = 'lake';
const unhandled = unhandledRejectionsPerTest();

describe('filtered log: a remove looked up in a checkpoint a cleanup deleted', () => {
  let s3: S3Server;
  let client: S3Client;
  let proxy: AuthzProxy | undefined;

  beforeAll(async () => {
    s3 = await startS3rver();
    client = backendClient(s3.endpoint);
    await createBucket(client, BUCKET);
  });
  afterAll(async () => {
    await proxy?.stop();
    client?.destroy();
    await s3?.stop();
  });

  it('keeps the remove in the generated commit (or answers 503), and serves it with the remove', async () => {
    const prefix = 't/';
    const t = await writeTable(client, BUCKET, 't', prefix);
    const w = t.writer;
    const f = await w.writeDataFile({ region: 'EU' }, [{ id: 1, region: 'EU' }]);
    const g = await w.writeDataFile({ region: 'EU' }, [{ id: 2, region: 'EU' }]);
    await w.commit({ add: [f, g] }); // 1
    await w.commit({ remove: [g.path], removesWithoutPartitionValues: true, operation: 'DELETE' }); // 2
    await w.checkpoint(); // at 2
    await t.commitFiles('EU'); // 3
    // Checkpoint 3 (it holds f's add) is written now, and put in place only after the proxy listed.
    await w.checkpoint();
    const key = (k: string) => ({ Bucket: BUCKET, Key: k });
    const take = async (k: string) => {
      const body = await (await client.send(new GetObjectCommand(key(k)))).Body!.transformToByteArray();
      await client.send(new DeleteObjectCommand(key(k)));
      return body;
    };
    const cp3 = await take(checkpointKey(3, prefix));
    const hint = await take(`${prefix}_delta_log/_last_checkpoint`);
    await w.commit({ remove: [f.path], removesWithoutPartitionValues: true, operation: 'DELETE' }); // 4
    // An earlier cleanup: the log starts at checkpoint 2.
    for (const v of [0, 1]) await client.send(new DeleteObjectCommand(key(commitKey(v, prefix))));

    proxy = await startAuthzProxy(
      s3,
      {
        logView: 'filtered',
        tableMapping: { t: `s3://${BUCKET}/t` },
        grants: [{ principal: 'eu', table: 't', partitions: [{ region: 'EU' }] }],
        snapshotTtlMs: 600_000,
      },
      ['eu'],
    );
    const get = (v: number) => objectRequest(proxy!.url, 'GET', commitKey(v, 't/'), 'eu');
    // The snapshot (version 4) and the log's listing are taken; commit 2's lookup parses commit 2.
    expect((await get(2)).status).toBe(200);

    // A writer checkpoints at 3, and a cleanup deletes what checkpoint 3 no longer needs.
    await client.send(new PutObjectCommand({ ...key(checkpointKey(3, prefix)), Body: cp3 }));
    await client.send(new PutObjectCommand({ ...key(`${prefix}_delta_log/_last_checkpoint`), Body: hint }));
    for (const k of [commitKey(2, prefix), checkpointKey(2, prefix)])
      await client.send(new DeleteObjectCommand(key(k)));

    const removed = `"remove":{"path":"${f.path}"`;
    const first = await get(4);
    if (first.status === 200) expect(first.text).toContain(removed);
    else expect(first.status).toBe(503);
    const again = await get(4);
    expect(again.status).toBe(200);
    expect(again.text).toContain(removed);
    expect(unhandled).toEqual([]);
  });
});
