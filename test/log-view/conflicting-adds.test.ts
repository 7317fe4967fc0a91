/**
 * A JSON (v2) checkpoint that adds one file twice with different partition values: the snapshot
 * refuses the file, so the filtered checkpoint shows neither add, and a later remove without values
 * is placed by neither (SECURITY.md 16). (A Parquet checkpoint with the same rows: SECURITY.md 16.)
 */
import { describe, expect, it } from 'vitest';
import type { PartitionMap } from '../../lambda/access/grant';
import { add, MemoryDeltaStorage, metaData } from '../helpers/delta-memory-storage';
import { protocol } from '../helpers/log-text';
import { checkAgreement } from '../helpers/view-agreement';

const GRANTS: PartitionMap[][] = [[{ region: 'EU' }], [{ region: 'US' }], [{}]];

async function expectAgreement(s: MemoryDeltaStorage, grants = GRANTS) {
  for (const maps of grants) {
    const r = await checkAgreement(s, maps, 10);
    expect({ maps, named: r.namedButRefused, hidden: r.servedButHidden }).toEqual({
      maps,
      named: [],
      hidden: [],
    });
  }
}

describe('a checkpoint that adds one file twice with different values', () => {
  const x = 'region=EU/x.parquet';

  it('JSON (v2) checkpoint: the filtered checkpoint shows neither add, as the snapshot refuses the file', async () => {
    // SECURITY.md 16: "a commit (or compaction, or JSON checkpoint) that adds one file twice with
    // different partition values ... is refused by every reader: the snapshot, the history and the
    // filtered log (neither add shown)". The snapshot applies a JSON checkpoint's adds as one batch
    // and refuses x; the filtered checkpoint showed the add whose values the grant matches.
    const s = new MemoryDeltaStorage();
    const v2 = protocol(3, 7, ['v2Checkpoint']);
    s.commit(0, [
      { commitInfo: { timestamp: 1 } },
      v2,
      metaData(['region']),
      add('region=EU/y.parquet', { region: 'EU' }),
    ]);
    s.commit(1, [{ commitInfo: { timestamp: 2 } }, add(x, { region: 'EU' }), add(x, { region: 'US' })]);
    const lines = [
      { checkpointMetadata: { version: 1 } },
      v2,
      metaData(['region']),
      add('region=EU/y.parquet', { region: 'EU' }),
      add(x, { region: 'EU' }),
      add(x, { region: 'US' }),
    ];
    s.put(
      '_delta_log/00000000000000000001.checkpoint.3a0d65cd-4056-49b8-937b-95f9e3ee90e5.json',
      `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`,
    );
    await expectAgreement(s);
    // A later remove without values is placed by neither add (the view's lookup reads the checkpoint).
    s.commit(2, [
      { commitInfo: { timestamp: 3 } },
      { remove: { path: x, dataChange: true, deletionTimestamp: 3 } },
    ]);
    await expectAgreement(s);
  });
});
