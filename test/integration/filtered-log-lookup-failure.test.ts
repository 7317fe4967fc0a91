/**
 * A checkpoint's tombstones written without partitionValues (old writers) are placed by the adds of
 * their files, read from the commits (and checkpoint) before it. When that lookup meets a commit
 * gone since the log was listed (a log cleanup) or malformed, the checkpoint itself is fine: it
 * was dropped as broken all the same, so a GET of it, or of `_last_checkpoint`, was 404 and a
 * listing left it out (a reader then replays from an older checkpoint, or from a log that no
 * longer starts at 0, and fails). Now that generation fails, uncached: with a retryable 503 for a
 * gone file (the next request lists the log anew), with 500 for a malformed one (as any unreadable
 * log: a retry meets it again).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeltaTableWriter, directoryTarget } from '../../lambda/local/delta-writer';
import { type AuthzProxy, listAllPages, objectRequest, startAuthzProxy } from '../helpers/authz-harness';
import { uploadTable } from '../helpers/fixture-tables';
import { backendClient, type S3Server, startS3rver } from '../helpers/s3-servers';

const commit = (v: number) => `_delta_log/${String(v).padStart(20, '0')}.json`;
const CHECKPOINT = '_delta_log/00000000000000000002.checkpoint.parquet';
const TABLES = ['gone', 'listed', 'malformed'] as const;

let s3: S3Server;
let proxy: AuthzProxy;

/** v1 adds two EU files and a US one, v2 removes an EU file without partitionValues, checkpoint at 2, v3 adds. */
async function writeTable(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'lookup-failure-'));
  const w = new DeltaTableWriter(directoryTarget(dir), {
    schema: [
      { name: 'id', type: 'long' },
      { name: 'region', type: 'string' },
    ],
    partitionColumns: ['region'],
  });
  await w.create();
  const eu = await w.writeDataFile({ region: 'EU' }, [{ id: 1, region: 'EU' }]);
  await w.commit({
    add: [
      eu,
      await w.writeDataFile({ region: 'EU' }, [{ id: 2, region: 'EU' }]),
      await w.writeDataFile({ region: 'US' }, [{ id: 3, region: 'US' }]),
    ],
  });
  await w.commit({ remove: [eu.path], removesWithoutPartitionValues: true, operation: 'DELETE' });
  await w.checkpoint();
  await w.commit({ add: [await w.writeDataFile({ region: 'EU' }, [{ id: 4, region: 'EU' }])] });
  return dir;
}

async function backend(send: (client: ReturnType<typeof backendClient>) => Promise<unknown>): Promise<void> {
  const client = backendClient(s3.endpoint);
  try {
    await send(client);
  } finally {
    client.destroy();
  }
}

/** The snapshot and the listing of the log are taken (held for the snapshot's lifetime). */
async function listed(table: string): Promise<void> {
  expect((await objectRequest(proxy.url, 'GET', `${table}/${commit(3)}`, 'eu')).status).toBe(200);
}

/** A log cleanup up to the checkpoint: commits 0 and 1 deleted. */
async function cleanUp(table: string): Promise<void> {
  for (const v of [0, 1])
    await backend((c) => c.send(new DeleteObjectCommand({ Bucket: table, Key: `t/${commit(v)}` })));
}

const code = (text: string) => /<Code>(\w+)</.exec(text)?.[1];

beforeAll(async () => {
  s3 = await startS3rver();
  for (const name of TABLES) await uploadTable(s3.endpoint, name, 't/', await writeTable());
  proxy = await startAuthzProxy(
    s3,
    {
      logView: 'filtered',
      tableMapping: Object.fromEntries(TABLES.map((t) => [t, `s3://${t}/t`])),
      grants: TABLES.map((t) => ({ principal: 'eu', table: t, partitions: [{ region: 'EU' }] })),
      snapshotTtlMs: 600_000,
    },
    ['eu'],
  );
});

afterAll(async () => {
  await proxy?.stop();
  await s3?.stop();
});

describe('a checkpoint whose tombstone lookup fails is not taken for a broken one', () => {
  it('a commit gone since the listing: the checkpoint and its hint are served from a new listing', async () => {
    await listed('gone');
    await cleanUp('gone');
    const cp = await objectRequest(proxy.url, 'GET', `gone/${CHECKPOINT}`, 'eu');
    expect(cp.status).toBe(200);
    const hint = await objectRequest(proxy.url, 'GET', 'gone/_delta_log/_last_checkpoint', 'eu');
    expect(hint.status).toBe(200);
    expect(JSON.parse(hint.text).version).toBe(2);
  });

  it('a listing that meets it answers 503 once, never a log without the checkpoint', async () => {
    await listed('listed');
    await cleanUp('listed');
    const prefix = `listed/${CHECKPOINT.slice(0, -'parquet'.length)}`;
    const first = await listAllPages(proxy.url, 'eu', 2, { prefix });
    expect(first.map((p) => [p.status, code(p.text)])).toEqual([[503, 'ServiceUnavailable']]);
    const again = await listAllPages(proxy.url, 'eu', 2, { prefix: 'listed/_delta_log/' });
    expect(again.map((p) => p.status)).toEqual(again.map(() => 200));
    expect(again.flatMap((p) => p.keys)).toEqual([
      `listed/${CHECKPOINT}`,
      `listed/${commit(2)}`,
      `listed/${commit(3)}`,
      'listed/_delta_log/_last_checkpoint',
    ]);
  });

  it('a malformed commit: 500 InternalError (the log is broken; uncached), not 404', async () => {
    await listed('malformed');
    let original: Uint8Array | undefined;
    await backend(async (c) => {
      const got = await c.send(new GetObjectCommand({ Bucket: 'malformed', Key: `t/${commit(1)}` }));
      original = await got.Body!.transformToByteArray();
      await c.send(
        new PutObjectCommand({ Bucket: 'malformed', Key: `t/${commit(1)}`, Body: '{"add": not json' }),
      );
    });
    for (const key of [CHECKPOINT, '_delta_log/_last_checkpoint']) {
      for (let i = 0; i < 2; i++) {
        const r = await objectRequest(proxy.url, 'GET', `malformed/${key}`, 'eu');
        expect([key, r.status, code(r.text)]).toEqual([key, 500, 'InternalError']);
      }
    }
    // Mended, the same checkpoint is served: nothing of the failure was cached.
    await backend((c) =>
      c.send(new PutObjectCommand({ Bucket: 'malformed', Key: `t/${commit(1)}`, Body: original })),
    );
    for (const key of [CHECKPOINT, '_delta_log/_last_checkpoint']) {
      const r = await objectRequest(proxy.url, 'GET', `malformed/${key}`, 'eu');
      expect([key, r.status]).toEqual([key, 200]);
    }
  });
});
