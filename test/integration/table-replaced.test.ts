/**
 * A table replaced under the proxy, through the real proxy on s3rver with an injected clock: a
 * table deleted and recreated at the same path (its versions start again at 0, its commits at the
 * same names and often the same sizes) is followed once the snapshot TTL has passed, in the data
 * it serves and in the filtered `_delta_log/` it generates; and so is one rolled back by deleting
 * its newest commits; and the filtered log follows a checkpoint and a log cleanup made after the
 * proxy listed it, though the table's version did not move.
 */
import { DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { DeltaTableWriter } from '../../lambda/local/delta-writer';
import { listAllPages, ManualClock, objectRequest } from '../helpers/authz-harness';
import { type LakeTable, lakeSuite } from '../helpers/lake-suite';
import { checkpointKey, commitKey } from '../helpers/log-text';
import { startS3rver } from '../helpers/s3-servers';

const READER = 'reader';
const TTL = 5_000;
const rel = (a: { path: string }) => decodeURIComponent(a.path);

describe('a table replaced under the proxy', () => {
  const lake = lakeSuite(startS3rver, undefined, [READER]);

  async function proxyOf(t: LakeTable, clock: ManualClock, snapshotTtlMs = TTL) {
    const proxy = await lake.proxyFor(clock, {
      tableMapping: { [t.alias]: t.uri },
      grants: [{ principal: READER, table: t.alias, partitions: [{ region: 'EU' }] }],
      snapshotTtlMs,
      logView: 'filtered',
    });
    const get = (key: string) =>
      objectRequest(proxy.url, 'GET', `${t.alias}/${key}`, READER, 'datalake', clock);
    const logPages = () => listAllPages(proxy.url, READER, 2, { prefix: `${t.alias}/_delta_log/` });
    const logKeys = async () => (await logPages()).flatMap((p) => p.keys);
    return Object.assign(get, { logKeys, logPages });
  }

  async function deleteKeys(prefix: string): Promise<void> {
    const page = await lake.s3.send(new ListObjectsV2Command({ Bucket: 'lake', Prefix: prefix }));
    for (const o of page.Contents ?? [])
      await lake.s3.send(new DeleteObjectCommand({ Bucket: 'lake', Key: o.Key! }));
  }

  /** A new table written where `t` was (same schema and partitioning, new id). */
  async function recreate(t: LakeTable): Promise<DeltaTableWriter> {
    await deleteKeys(t.prefix);
    const writer = new DeltaTableWriter(
      {
        put: async (relPath, bytes) =>
          void (await lake.s3.send(
            new PutObjectCommand({ Bucket: 'lake', Key: t.prefix + relPath, Body: bytes }),
          )),
      },
      { schema, partitionColumns: ['region'] },
    );
    await writer.create();
    return writer;
  }
  const schema = [
    { name: 'id', type: 'long' as const },
    { name: 'region', type: 'string' as const },
  ];

  it('follows a table deleted and recreated at the same path, in data and in the filtered log', async () => {
    const clock = new ManualClock();
    const t = await lake.freshTable();
    const old = await t.file('EU', 1);
    await t.writer.commit({ add: [old] });
    const get = await proxyOf(t, clock);
    expect((await get(rel(old))).status).toBe(200);
    expect((await get(commitKey(1))).text).toContain(old.path);

    const writer = await recreate(t);
    const fresh = await writer.writeDataFile({ region: 'EU' }, [{ id: 2, region: 'EU' }]);
    await writer.commit({ add: [fresh] });
    clock.advance(TTL);

    expect((await get(rel(fresh))).status).toBe(200);
    const log = await get(commitKey(1));
    expect(log.status).toBe(200);
    expect(log.text).toContain(fresh.path);
    expect(log.text).not.toContain(old.path);
    expect((await get(commitKey(0))).text).toContain(writer.metaData.id);
  });

  it('follows a table rolled back by deleting its newest commit', async () => {
    const clock = new ManualClock();
    const t = await lake.freshTable();
    const kept = await t.file('EU', 1);
    await t.writer.commit({ add: [kept] });
    const undone = await t.file('EU', 2);
    await t.writer.commit({ add: [undone] });
    const get = await proxyOf(t, clock);
    expect((await get(rel(undone))).status).toBe(200);

    // The newest commit is deleted; its data file stays in storage, and is no file of the table.
    await lake.s3.send(new DeleteObjectCommand({ Bucket: 'lake', Key: t.prefix + commitKey(2) }));
    clock.advance(TTL);
    expect((await get(rel(kept))).status).toBe(200);
    expect((await get(rel(undone))).status).toBe(404);
    expect((await get(commitKey(2))).status).toBe(404);
  });

  it('follows a checkpoint and a log cleanup at the version it already holds, in the filtered log', async () => {
    const clock = new ManualClock();
    const t = await lake.freshTable();
    const kept = await t.file('EU', 1);
    await t.writer.commit({ add: [kept] });
    const get = await proxyOf(t, clock);
    const longLived = await proxyOf(t, clock, 600_000);
    const before = [0, 1].map((v) => `${t.alias}/${commitKey(v)}`);
    expect(await get.logKeys()).toEqual(before);
    // This one has listed the log to read a commit, and generated no other.
    expect((await longLived(commitKey(1))).status).toBe(200);

    // A writer checkpoints version 1 and cleans up the commits before it: the version stays 1.
    await t.writer.checkpoint();
    await lake.s3.send(new DeleteObjectCommand({ Bucket: 'lake', Key: t.prefix + commitKey(0) }));
    const after = [checkpointKey(1), commitKey(1), '_delta_log/_last_checkpoint'].map(
      (k) => `${t.alias}/${k}`,
    );
    // Within the TTL: a commit listed a moment ago and gone since is missing, not a failure.
    expect((await longLived(commitKey(0))).status).toBe(404);
    expect(await longLived.logKeys()).toEqual(after);
    clock.advance(TTL);
    expect(await get.logKeys()).toEqual(after);
    const gone = await get(commitKey(0));
    expect(gone.status).toBe(404);
    expect((await get(rel(kept))).status).toBe(200);
  });

  it('a listing that meets a commit a log cleanup removed since the log was listed answers 503 once, then the new log', async () => {
    const clock = new ManualClock();
    const t = await lake.freshTable();
    await t.writer.commit({ add: [await t.file('EU', 1)] });
    const longLived = await proxyOf(t, clock, 600_000);
    // The log is listed (and held for the snapshot) by a read of the newest commit only.
    expect((await longLived(commitKey(1))).status).toBe(200);
    await t.writer.checkpoint();
    await lake.s3.send(new DeleteObjectCommand({ Bucket: 'lake', Key: t.prefix + commitKey(0) }));
    // The first request after the cleanup is a listing (delta-rs and the kernel list first): a
    // retryable 503, not 500 InternalError ("The storage of table ... failed").
    const first = await longLived.logPages();
    expect(first.map((p) => [p.status, /<Code>(\w+)</.exec(p.text)?.[1]])).toEqual([
      [503, 'ServiceUnavailable'],
    ]);
    expect(await longLived.logKeys()).toEqual(
      [checkpointKey(1), commitKey(1), '_delta_log/_last_checkpoint'].map((k) => `${t.alias}/${k}`),
    );
  });

  it('places a remove without partitionValues of a table recreated at a lower version by the new log', async () => {
    const clock = new ManualClock();
    const t = await lake.freshTable();
    const old = await t.file('EU', 1);
    await t.writer.commit({ add: [old] });
    await t.writer.commit({ remove: [old.path], removesWithoutPartitionValues: true, operation: 'DELETE' });
    for (let i = 3; i <= 5; i++) await t.writer.commit({ add: [await t.file('EU', i)] });
    const get = await proxyOf(t, clock);
    // The old table's remove is placed by its add (the lookup parses commits 1 and 2).
    expect((await get(commitKey(2))).text).toContain(`"remove":{"path":"${old.path}"`);

    // Recreated with fewer versions than the old one had: the same at version 2.
    const writer = await recreate(t);
    const fresh = await writer.writeDataFile({ region: 'EU' }, [{ id: 7, region: 'EU' }]);
    await writer.commit({ add: [fresh] });
    await writer.commit({ remove: [fresh.path], removesWithoutPartitionValues: true, operation: 'DELETE' });
    clock.advance(TTL);
    const log = await get(commitKey(2));
    expect(log.status).toBe(200);
    expect(log.text).toContain(`"remove":{"path":"${fresh.path}"`);
  });
});
