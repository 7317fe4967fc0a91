/**
 * Two complete checkpoints of one version (a writer checkpoints a version that already has one:
 * a UUID-named v2 checkpoint beside a classic one, a classic one beside a multi-part one). Every
 * instance must serve `N.checkpoint.parquet` with the same bytes, size and ETag, whether its
 * listing was made before or after the second one was written: a reader takes the size from one
 * instance's listing and reads the footer by range from another.
 */
import { describe, expect, it } from 'vitest';
import { fileGrantOf } from '../../lambda/access/file-grant';
import { loadSnapshot } from '../../lambda/delta/load-snapshot';
import { FilteredLogView } from '../../lambda/log-view/filtered-log-view';
import { add, MemoryDeltaStorage, metaData, protocolV1 } from '../helpers/delta-memory-storage';

const URI = 's3://bucket/t';
const CHECKPOINT = '_delta_log/00000000000000000001.checkpoint.parquet';
const UUID_CHECKPOINT =
  '_delta_log/00000000000000000001.checkpoint.3a0d65cd-4056-49b8-937b-95f9e3ee90e5.json';

const files = [
  { path: 'region=EU/a.parquet', partitionValues: { region: 'EU' } },
  { path: 'region=US/b.parquet', partitionValues: { region: 'US' } },
  { path: 'region=EU/c.parquet', partitionValues: { region: 'EU' } },
];

/** A new instance's answer for the checkpoint: its listing entry and its GET. */
async function instance(s: MemoryDeltaStorage) {
  const snapshot = await loadSnapshot(s, { tableUri: URI });
  const view = new FilteredLogView({ budgetBytes: () => 1 << 24 });
  const req = {
    tableUri: URI,
    storage: s,
    snapshot,
    grant: fileGrantOf(snapshot.partitionColumns, [{ region: 'EU' }]),
  };
  const folder = await view.folder(req);
  expect(folder.keys).toContain(CHECKPOINT);
  const listed = await folder.describe(CHECKPOINT);
  const got = (await view.object(req, CHECKPOINT))!;
  const hint = JSON.parse(
    new TextDecoder().decode((await view.object(req, '_delta_log/_last_checkpoint'))!.body),
  );
  return { listed, etag: got.etag, size: got.body.byteLength, hint };
}

describe('a version with two complete checkpoints', () => {
  it('is served with the same checkpoint bytes by an instance that listed before the second was written and one that lists after', async () => {
    const s = new MemoryDeltaStorage();
    s.lastModified = new Date(1_000_000);
    s.commit(0, [{ commitInfo: { timestamp: 1 } }, protocolV1, metaData(['region'])]);
    s.commit(1, [{ commitInfo: { timestamp: 2 } }, ...files.map((f) => add(f.path, f.partitionValues))]);
    await s.checkpoint(1, files);
    const before = await instance(s);

    // Later, a v2 checkpoint of the same version (its adds in another order) is written beside it.
    const lines = [
      { checkpointMetadata: { version: 1 } },
      protocolV1,
      metaData(['region']),
      ...[...files].reverse().map((f) => ({
        add: { ...f, size: 1, modificationTime: 0, dataChange: false },
      })),
    ];
    s.put(UUID_CHECKPOINT, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    s.modified.set(UUID_CHECKPOINT, new Date(2_000_000));
    const after = await instance(s);

    expect(after.etag).toBe(before.etag);
    expect(after.size).toBe(before.size);
    expect(after.listed).toEqual(before.listed);
    expect(after.hint).toEqual(before.hint);
  });
});
