import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { versionPrefix } from '../../lambda/delta/log-path';
import { DeltaTableWriter, directoryTarget } from '../../lambda/local/delta-writer';
import { type AuthzProxy, listAllPages, objectRequest, startAuthzProxy } from '../helpers/authz-harness';
import { uploadTable } from '../helpers/fixture-tables';
import { backendClient, type S3Server, startS3rver } from '../helpers/s3-servers';
import { tempDir } from '../helpers/temp-dir';
import { parquetRows } from '../helpers/virtual-log-replay';

const commit = (v: number) => `_delta_log/${versionPrefix(v)}.json`;
const CHECKPOINT = `_delta_log/${versionPrefix(3)}.checkpoint.parquet`;

let s3: S3Server;
const started: AuthzProxy[] = [];
/** The EU file still active at the checkpoint. */
let kept = '';

/**
 * v1 adds three EU files and a US one; v2 removes an EU file as old writers did (no
 * partitionValues), v3 another one with them; checkpoint 3; v4 adds.
 */
async function writeTable(): Promise<string> {
  const dir = tempDir('checkpoint-bytes-');
  const w = new DeltaTableWriter(directoryTarget(dir), {
    schema: [
      { name: 'id', type: 'long' },
      { name: 'region', type: 'string' },
    ],
    partitionColumns: ['region'],
  });
  await w.create();
  const legacy = await w.writeDataFile({ region: 'EU' }, [{ id: 1, region: 'EU' }]);
  const full = await w.writeDataFile({ region: 'EU' }, [{ id: 2, region: 'EU' }]);
  const stays = await w.writeDataFile({ region: 'EU' }, [{ id: 5, region: 'EU' }]);
  await w.commit({
    add: [legacy, full, stays, await w.writeDataFile({ region: 'US' }, [{ id: 3, region: 'US' }])],
  });
  await w.commit({ remove: [legacy.path], removesWithoutPartitionValues: true, operation: 'DELETE' });
  await w.commit({ remove: [full.path], operation: 'DELETE' });
  await w.checkpoint();
  await w.commit({ add: [await w.writeDataFile({ region: 'EU' }, [{ id: 4, region: 'EU' }])] });
  kept = stays.path;
  return dir;
}

/** A proxy instance of its own (its own caches), as another Lambda execution environment. */
async function instance(): Promise<AuthzProxy> {
  const p = await startAuthzProxy(
    s3,
    {
      logView: 'filtered',
      tableMapping: { t: 's3://lake/t' },
      grants: [{ principal: 'eu', table: 't', partitions: [{ region: 'EU' }] }],
      snapshotTtlMs: 600_000,
    },
    ['eu'],
  );
  started.push(p);
  return p;
}

/** The checkpoint as a reader meets it: its size in the listing, then its bytes. */
async function readCheckpoint(p: AuthzProxy) {
  const pages = await listAllPages(p.url, 'eu', 2, { prefix: 't/_delta_log/' });
  expect(pages.map((x) => x.status)).toEqual(pages.map(() => 200));
  const listed = pages.map((x) => x.text).join('');
  const entry = new RegExp(`<Key>t/${CHECKPOINT}</Key>(?:(?!</Contents>)[\\s\\S])*?<Size>(\\d+)</Size>`).exec(
    listed,
  );
  const got = await objectRequest(p.url, 'GET', `t/${CHECKPOINT}`, 'eu');
  expect(got.status).toBe(200);
  return { size: Number(entry?.[1]), body: got.body, etag: got.headers.etag };
}

/** The paths of one action's rows in a checkpoint. */
const paths = async (body: Uint8Array, action: 'add' | 'remove') =>
  (await parquetRows(body, [action]))
    .map((r) => (r[action] as { path?: string } | null)?.path)
    .filter(Boolean);

async function backend(send: (client: ReturnType<typeof backendClient>) => Promise<unknown>): Promise<void> {
  const client = backendClient(s3.endpoint);
  try {
    await send(client);
  } finally {
    client.destroy();
  }
}

beforeAll(async () => {
  s3 = await startS3rver();
  await uploadTable(s3.endpoint, 'lake', 't/', await writeTable());
});

afterAll(async () => {
  for (const p of started) await p.stop();
  await s3?.stop();
});

it('one generated checkpoint has the same bytes before and after a log cleanup, on every instance', async () => {
  const first = await readCheckpoint(await instance());
  expect(first.size).toBe(first.body.byteLength);

  // An older commit written over with garbage: the checkpoint is not made of it.
  await backend((c) =>
    c.send(new PutObjectCommand({ Bucket: 'lake', Key: `t/${commit(1)}`, Body: '{"add": not json' })),
  );
  const malformed = await objectRequest((await instance()).url, 'GET', `t/${CHECKPOINT}`, 'eu');
  expect(malformed.status).toBe(200);
  expect(Buffer.from(malformed.body).equals(Buffer.from(first.body))).toBe(true);

  // A log cleanup up to the checkpoint: the commits before it are deleted.
  for (const v of [0, 1, 2])
    await backend((c) => c.send(new DeleteObjectCommand({ Bucket: 'lake', Key: `t/${commit(v)}` })));

  const other = await instance();
  const later = await readCheckpoint(other);
  expect(later.size).toBe(first.size);
  expect(later.etag).toBe(first.etag);
  expect(Buffer.from(later.body).equals(Buffer.from(first.body))).toBe(true);
  // A reader that listed on the first instance reads the footer by range from the other one.
  const footer = await objectRequest(other.url, 'GET', `t/${CHECKPOINT}`, 'eu', 'datalake', undefined, {
    Range: `bytes=${first.size - 8}-${first.size - 1}`,
  });
  expect(footer.status).toBe(206);
  expect(Buffer.from(footer.body).equals(Buffer.from(first.body.subarray(first.size - 8)))).toBe(true);

  // The readable adds, and no tombstone: not even the one with partitionValues, which would place
  // itself (only VACUUM reads them; they would be shown from some writers' tables, not others').
  expect(await paths(first.body, 'add')).toEqual([kept]);
  expect(await paths(first.body, 'remove')).toEqual([]);
});
