/**
 * A log cleaned up to a checkpoint whose own commit holds a metaData that keeps the partitioning
 * (schema evolution, a column-mapping rename): the history starts at that checkpoint under its
 * partitioning and serves the files the commit removed, so the filtered log must show those
 * removes (a change-data or streaming reader from that version reads them).
 */
import { describe, expect, it } from 'vitest';
import { writeCheckpoint } from '../../lambda/local/delta-writer';
import { MemoryDeltaStorage } from '../helpers/delta-memory-storage';
import { addAction, commitKey, field, metaData, protocolV1, removeAction } from '../helpers/log-text';
import { checkAgreement } from '../helpers/view-agreement';

const byA = metaData(['a']);
// The same partitioning (`a STRING`), one column more.
const byAWider = metaData(['a'], { schema: [field('a', 'string'), field('w', 'long')] });
const put = (s: MemoryDeltaStorage) => ({ put: async (rel: string, b: Uint8Array) => void s.put(rel, b) });

async function cleanedUpTable(): Promise<MemoryDeltaStorage> {
  const s = new MemoryDeltaStorage()
    .commit(0, [{ commitInfo: { timestamp: 1 } }, protocolV1, byA, addAction('a=x/f.parquet', { a: 'x' })])
    .commit(1, [{ commitInfo: { timestamp: 2 } }, addAction('a=y/g.parquet', { a: 'y' })])
    // An overwrite with schema evolution: metaData, removes and adds in one commit.
    .commit(2, [
      { commitInfo: { timestamp: 3 } },
      byAWider,
      removeAction('a=x/f.parquet', { partitionValues: { a: 'x' }, deletionTimestamp: 5 }),
      removeAction('a=y/g.parquet', { partitionValues: { a: 'y' }, deletionTimestamp: 5 }),
      addAction('a=x/h.parquet', { a: 'x' }),
    ]);
  await writeCheckpoint(
    put(s),
    2,
    protocolV1.protocol,
    byAWider.metaData,
    [{ path: 'a=x/h.parquet', partitionValues: { a: 'x' }, size: 1, modificationTime: 0, dataChange: false }],
    {
      removes: [
        { path: 'a=x/f.parquet', deletionTimestamp: 5, partitionValues: { a: 'x' }, size: 1 },
        { path: 'a=y/g.parquet', deletionTimestamp: 5, partitionValues: { a: 'y' }, size: 1 },
      ],
    },
  );
  s.commit(3, [{ commitInfo: { timestamp: 4 } }, addAction('a=x/i.parquet', { a: 'x' })]);
  // Log cleanup: the commits before the checkpoint are gone.
  s.files.delete(commitKey(0));
  s.files.delete(commitKey(1));
  return s;
}

describe('the oldest retained commit holds a metaData that keeps the partitioning', () => {
  it('its removes of granted files are shown, as the history serves those files', async () => {
    const r = await checkAgreement(await cleanedUpTable(), [{ a: 'x' }], 10);
    expect(r.namedButRefused).toEqual([]);
    expect(r.servedButHidden).toEqual([]);
    expect(r.text).toContain('a=x/f.parquet');
    expect(r.text).not.toContain('a=y/g.parquet');
  });
});
