/**
 * readCheckpointFileActions over every checkpoint of the real corpus (classic, multi-part, v2
 * JSON and Parquet with sidecars) gives exactly the `remove` and `add` actions hyparquet reads
 * from the same files (with the sidecars a v2 checkpoint names), and tells a remove without
 * partition values from one with an empty map. Skips where the corpus is absent.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { describe, expect, it } from 'vitest';
import {
  type CheckpointFileAction,
  readCheckpointFileActions,
} from '../../lambda/delta/checkpoint-file-actions';
import { LOG_DIR, parseLogPath } from '../../lambda/delta/log-path';
import { completeCheckpoints } from '../../lambda/delta/log-segment';
import { writeCheckpoint } from '../../lambda/local/delta-writer';
import { corpusDir, corpusMissing, corpusPresent, corpusTables } from '../helpers/delta-corpus';
import { fsDeltaStorage } from '../helpers/delta-fs-storage';
import { MemoryDeltaStorage, metaData } from '../helpers/delta-memory-storage';
import { withReason } from '../helpers/skips';

type Row = Record<string, unknown>;

const plain = (x: unknown): unknown =>
  JSON.parse(JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? Number(v) : v)));

/** What hyparquet (or JSON.parse) says the checkpoint's `kind` actions are. */
async function reference(dir: string, parts: string[], kind: 'add' | 'remove'): Promise<Row[]> {
  const out: Row[] = [];
  const files = [...parts];
  for (let i = 0; i < files.length; i++) {
    const f = files[i]!;
    const rows: Row[] = f.endsWith('.json')
      ? readFileSync(path.join(dir, f), 'utf8')
          .split('\n')
          .filter((l) => l.trim())
          .map((l) => JSON.parse(l) as Row)
      : ((await parquetReadObjects({ file: await asyncBufferFromFile(path.join(dir, f)) })) as Row[]);
    for (const r of rows) {
      const sc = r.sidecar as { path?: string } | null | undefined;
      if (sc?.path) files.push(`${LOG_DIR}_sidecars/${sc.path}`);
      if (r[kind]) out.push(plain(r[kind]) as Row);
    }
  }
  return out;
}

function shape(a: CheckpointFileAction | Row, ref: boolean) {
  const x = a as Row;
  const dv = x.deletionVector as Row | null | undefined;
  return {
    path: x.path,
    partitionValues: ref ? (x.partitionValues ?? undefined) : x.partitionValues,
    deletionTimestamp: x.deletionTimestamp ?? undefined,
    dv: dv ? `${dv.storageType}${dv.pathOrInlineDv}@${dv.offset ?? ''}` : null,
  };
}

const sortKey = (r: ReturnType<typeof shape>) => JSON.stringify(r);

describe.skipIf(!corpusPresent)(withReason('checkpoint file actions on the corpus', corpusMissing), () => {
  const cases = corpusTables().flatMap((t) => {
    const dir = path.join(corpusDir, t);
    const names = readdirSync(path.join(dir, '_delta_log'));
    const parsed = names.map((n) => parseLogPath(`${LOG_DIR}${n}`, 0)).filter((p) => p !== undefined);
    return completeCheckpoints(parsed).map((c) => [t, c.version, c.parts.map((p) => p.path)] as const);
  });

  it.each(cases)('%s checkpoint %i: removes and adds as hyparquet reads them', async (table, _v, parts) => {
    const dir = path.join(corpusDir, table);
    const storage = fsDeltaStorage(dir);
    const cp = await Promise.all(
      parts.map(async (p) => ({
        path: p,
        size: await storage.size(p),
        format: p.endsWith('.json') ? ('json' as const) : ('parquet' as const),
      })),
    );
    for (const kind of ['remove', 'add'] as const) {
      const got: ReturnType<typeof shape>[] = [];
      const io = { requests: 0, bytes: 0 };
      const header = await readCheckpointFileActions(storage, cp, kind, io, (a) => got.push(shape(a, false)));
      const want = (await reference(dir, parts, kind)).map((r) => shape(r, true));
      expect(got.map(sortKey).sort(), kind).toEqual(want.map(sortKey).sort());
      expect(header.metadata).toBeDefined();
    }
  });

  it('has cases (the corpus holds checkpoints)', () => {
    expect(cases.length).toBeGreaterThan(10);
  });
});

describe('checkpoint file actions on our own writer', () => {
  it('keeps "no partition values" apart from an empty map, and filters by path before decoding', async () => {
    const s = new MemoryDeltaStorage();
    const put = { put: async (rel: string, bytes: Uint8Array) => void s.put(rel, bytes) };
    await writeCheckpoint(
      put,
      7,
      { minReaderVersion: 1, minWriterVersion: 2 },
      metaData(['p']).metaData,
      [],
      {
        removes: [
          { path: 'p=1/a.parquet', deletionTimestamp: 5, partitionValues: { p: '1' } },
          {
            path: 'p=__HIVE_DEFAULT_PARTITION__/n.parquet',
            deletionTimestamp: 6,
            partitionValues: { p: null },
          },
          { path: 'p=2/old.parquet', deletionTimestamp: 7 },
        ],
      },
    );
    const file = '_delta_log/00000000000000000007.checkpoint.parquet';
    const parts = [{ path: file, size: await s.size(file), format: 'parquet' as const }];
    const got: CheckpointFileAction[] = [];
    await readCheckpointFileActions(s, parts, 'remove', { requests: 0, bytes: 0 }, (a) => got.push(a));
    expect(got.map((a) => [a.path, a.partitionValues, a.deletionTimestamp])).toEqual([
      ['p=1/a.parquet', { p: '1' }, 5],
      ['p=__HIVE_DEFAULT_PARTITION__/n.parquet', { p: null }, 6],
      ['p=2/old.parquet', undefined, 7],
    ]);
    const only: string[] = [];
    await readCheckpointFileActions(
      s,
      parts,
      'remove',
      { requests: 0, bytes: 0 },
      (a) => only.push(a.path),
      (p) => p.startsWith('p=2/'),
    );
    expect(only).toEqual(['p=2/old.parquet']);
  });
});
