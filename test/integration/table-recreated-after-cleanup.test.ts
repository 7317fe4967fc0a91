/**
 * A table deleted and written again at its path while a running proxy holds a snapshot of the old
 * one, and the new table's log cleaned up (its commits up to the cached version deleted after a
 * checkpoint): the commit at the cached version is gone, but the new table's log continues right
 * after it. The next refresh must follow the new table, not replay its newest commits onto the
 * old table's files.
 */
import { DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { DeltaTableWriter } from '../../lambda/local/delta-writer';
import { ManualClock, objectRequest } from '../helpers/authz-harness';
import { type LakeTable, lakeSuite } from '../helpers/lake-suite';
import { commitKey } from '../helpers/log-text';
import { startS3rver } from '../helpers/s3-servers';

const READER = 'reader';
const TTL = 5_000;
const rel = (a: { path: string }) => decodeURIComponent(a.path);

describe.each(['raw', 'filtered'] as const)(
  'a table recreated and cleaned up under the proxy (%s log)',
  (logView) => {
    const lake = lakeSuite(startS3rver, undefined, [READER]);

    async function proxyOf(t: LakeTable, clock: ManualClock) {
      const proxy = await lake.proxyFor(clock, {
        tableMapping: { [t.alias]: t.uri },
        grants: [{ principal: READER, table: t.alias, partitions: [{ region: 'EU' }] }],
        snapshotTtlMs: TTL,
        logView,
      });
      return (key: string) => objectRequest(proxy.url, 'GET', `${t.alias}/${key}`, READER, 'datalake', clock);
    }

    async function deleteKeys(prefix: string): Promise<void> {
      const page = await lake.s3.send(new ListObjectsV2Command({ Bucket: 'lake', Prefix: prefix }));
      for (const o of page.Contents ?? [])
        await lake.s3.send(new DeleteObjectCommand({ Bucket: 'lake', Key: o.Key! }));
    }

    it('serves the new table, and not the old one, once its log restarted past the cached version', async () => {
      const clock = new ManualClock();
      const t = await lake.freshTable();
      const old = await t.file('EU', 1);
      await t.writer.commit({ add: [old] }); // the old table at version 1
      const get = await proxyOf(t, clock);
      expect((await get(rel(old))).status).toBe(200);

      // The log is deleted (the old data files stay, as after `rm -r _delta_log`) and a new table
      // is written there: versions 0..2, a checkpoint at 2, and a log cleanup of commits 0 and 1.
      await deleteKeys(`${t.prefix}_delta_log/`);
      const writer = new DeltaTableWriter(
        {
          put: async (relPath, bytes) =>
            void (await lake.s3.send(
              new PutObjectCommand({ Bucket: 'lake', Key: t.prefix + relPath, Body: bytes }),
            )),
        },
        {
          schema: [
            { name: 'id', type: 'long' },
            { name: 'region', type: 'string' },
          ],
          partitionColumns: ['region'],
        },
      );
      await writer.create();
      const fresh = await writer.writeDataFile({ region: 'EU' }, [{ id: 2, region: 'EU' }]);
      await writer.commit({ add: [fresh] });
      await writer.commit({ add: [await writer.writeDataFile({ region: 'US' }, [{ id: 3, region: 'US' }])] });
      await writer.checkpoint();
      for (const v of [0, 1])
        await lake.s3.send(new DeleteObjectCommand({ Bucket: 'lake', Key: t.prefix + commitKey(v) }));
      clock.advance(TTL);

      // The new table's EU file is granted; the old table's file is no file of the table now.
      const statuses = [(await get(rel(fresh))).status, (await get(rel(old))).status];
      expect(statuses).toEqual([200, logView === 'raw' ? 403 : 404]);
    });
  },
);
