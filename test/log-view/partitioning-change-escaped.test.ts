/**
 * A commit whose metaData key is written with a JSON escape (`"meta\u0044ata"`, valid JSON: the
 * snapshot's parser reads it as metaData) that changes the partitioning `a` -> none; `a` again
 * after. The snapshot drops the first `a` files there, so GET refuses them; the filtered log must
 * not list them as active either (a reader would plan them and fail on a 403).
 */
import { describe, expect, it } from 'vitest';
import { MemoryDeltaStorage } from '../helpers/delta-memory-storage';
import { addAction, commitKey, field, metaData, protocolV1 } from '../helpers/log-text';
import { checkAgreement } from '../helpers/view-agreement';

const byA = metaData(['a']);
const unpartitioned = metaData([], { schema: [field('a', 'string')] });

describe('a change of partitioning in a metaData whose key is escaped', () => {
  it('the files of the first partitioning are not listed after it', async () => {
    const s = new MemoryDeltaStorage().commit(0, [
      { commitInfo: { timestamp: 1 } },
      protocolV1,
      byA,
      addAction('a=x/f.parquet', { a: 'x' }),
    ]);
    s.put(
      commitKey(1),
      `${JSON.stringify({ commitInfo: { timestamp: 2 } })}\n` +
        `{"meta\\u0044ata":${JSON.stringify(unpartitioned.metaData)}}\n` +
        `${JSON.stringify(addAction('u.parquet', {}))}\n`,
    );
    s.commit(2, [{ commitInfo: { timestamp: 3 } }, byA, addAction('a=x/h.parquet', { a: 'x' })]);
    const r = await checkAgreement(s, [{ a: 'x' }], 10);
    expect(r.namedButRefused).toEqual([]);
    expect(r.at.get(2)).toEqual(['a=x/h.parquet']);
  });
});
