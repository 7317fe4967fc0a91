/**
 * The three views of a table agree on generated logs (fast-check): adds, removes and change data
 * whose partition values are complete, missing, empty or carry a stray key, removes with and
 * without their values and timestamps, files added again after a remove, checkpoints with their
 * tombstones, and log cleanups up to a checkpoint. For each grant, every file the filtered log
 * names at any version a reader can replay is served by the authorizer (snapshot, then history),
 * and every file of the real log the authorizer serves is named by the view
 * (test/helpers/view-agreement.ts). The seed is fixed; FUZZ_SEED and FUZZ_RUNS explore further.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PartitionMap } from '../../lambda/access/grant';
import { writeCheckpoint } from '../../lambda/local/delta-writer';
import { MemoryDeltaStorage, metaData, protocolV1 } from '../helpers/delta-memory-storage';
import { checkAgreement } from '../helpers/view-agreement';

const SEED = Number(process.env.FUZZ_SEED ?? 20261204);
const RUNS = Number(process.env.FUZZ_RUNS ?? 40);

type PV = Record<string, string | null>;
type Region = 'EU' | 'US' | null;

/** How an action writes a file's partition values. */
type Shape = 'full' | 'blank' | 'none' | 'empty' | 'stray';
const REGIONS: readonly Region[] = ['EU', 'US', null];
const FILES = 5;
const regionOf = (file: number) => REGIONS[file % REGIONS.length]!;
const pathOf = (file: number) => `region=${regionOf(file) ?? '__HIVE_DEFAULT_PARTITION__'}/f${file}.parquet`;

/** Partition values as a writer (or a broken one) writes them; undefined: no field at all. */
function valuesOf(region: Region, shape: Shape): PV | undefined {
  switch (shape) {
    case 'full':
      return { region };
    case 'blank':
      return { region: region ?? '' };
    case 'none':
      return undefined;
    case 'empty':
      return {};
    case 'stray':
      return { region, old: 'x' };
  }
}

type Op =
  | { op: 'add'; file: number }
  | { op: 'remove'; file: number; shape: Shape; stamped: boolean }
  | { op: 'cdc'; region: Region; shape: Shape };

const shape = fc.constantFrom<Shape>('full', 'full', 'blank', 'none', 'empty', 'stray');
const file = fc.integer({ min: 0, max: FILES - 1 });
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('add' as const), file }) },
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant('remove' as const), file, shape, stamped: fc.boolean() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('cdc' as const), region: fc.constantFrom(...REGIONS), shape }),
  },
);
const commit = fc.record({
  ops: fc.array(op, { minLength: 1, maxLength: 4 }),
  info: fc.boolean(),
  checkpoint: fc.boolean(),
});
const table = fc.record({
  // How each file's adds write its values (a null as null or ""), the same every time it is added:
  // writers write them whole. Removes and change data come in every shape (Spark 3.3 leaves
  // nulls out of removes, old writers no values at all, Delta 2.1 nulls out of cdc).
  addShapes: fc.array(fc.constantFrom<Shape>('full', 'blank'), { minLength: FILES, maxLength: FILES }),
  commits: fc.array(commit, { minLength: 1, maxLength: 6 }),
  cleanup: fc.boolean(),
});

type Table = typeof table extends fc.Arbitrary<infer T> ? T : never;

interface Tombstone {
  path: string;
  partitionValues?: PV;
  deletionTimestamp: number;
}

/** Writes the generated log: commits, and checkpoints of the state a replay reaches. */
async function write(t: Table) {
  const s = new MemoryDeltaStorage();
  const active = new Map<string, PV | undefined>();
  const tombstones = new Map<string, Tombstone>();
  let lastCheckpoint = -1;
  let cdcs = 0;
  for (const [version, c] of t.commits.entries()) {
    const actions: object[] = [];
    if (c.info) actions.push({ commitInfo: { timestamp: version + 1 } });
    if (version === 0) actions.push(protocolV1, metaData(['region']));
    const touched = new Set<string>();
    for (const o of c.ops) {
      if (o.op === 'cdc') {
        const pv = valuesOf(o.region, o.shape);
        actions.push({
          cdc: {
            path: `_change_data/c${cdcs++}.parquet`,
            size: 1,
            dataChange: false,
            ...(pv ? { partitionValues: pv } : {}),
          },
        });
        continue;
      }
      const path = pathOf(o.file);
      if (touched.has(path)) continue; // one action per path and commit, as the protocol requires
      touched.add(path);
      const pv = valuesOf(regionOf(o.file), o.op === 'add' ? t.addShapes[o.file]! : o.shape);
      if (o.op === 'add') {
        actions.push({
          add: { path, size: 1, modificationTime: 0, dataChange: true, partitionValues: pv ?? {} },
        });
        active.set(path, pv ?? {});
        tombstones.delete(path);
      } else if (active.has(path)) {
        const stamp = o.stamped ? { deletionTimestamp: version + 1 } : {};
        actions.push({
          remove: {
            path,
            dataChange: true,
            ...stamp,
            ...(pv ? { partitionValues: pv, extendedFileMetadata: true } : {}),
          },
        });
        active.delete(path);
        tombstones.set(path, {
          path,
          deletionTimestamp: version + 1,
          ...(pv ? { partitionValues: pv } : {}),
        });
      }
    }
    s.commit(version, actions);
    if (c.checkpoint) {
      await writeCheckpoint(
        { put: async (rel, bytes) => void s.put(rel, bytes) },
        version,
        protocolV1.protocol,
        metaData(['region']).metaData,
        [...active].map(([path, partitionValues]) => ({
          path,
          partitionValues: partitionValues ?? {},
          size: 1,
          modificationTime: 0,
          dataChange: false,
        })),
        { removes: [...tombstones.values()] },
      );
      lastCheckpoint = version;
    }
  }
  // A log cleanup: the commits before the newest checkpoint are gone.
  if (t.cleanup && lastCheckpoint > 0) {
    for (let v = 0; v < lastCheckpoint; v++) s.files.delete(`_delta_log/${String(v).padStart(20, '0')}.json`);
  }
  return s;
}

const GRANTS: PartitionMap[][] = [[{ region: 'EU' }], [{ region: null }], [{}]];

describe('the filtered log and the authorizer agree on generated logs', () => {
  it('every named file is served and every served file is named, for each grant', {
    timeout: 120_000,
  }, async () => {
    await fc.assert(
      fc.asyncProperty(table, async (t) => {
        const s = await write(t);
        for (const maps of GRANTS) {
          // Every remove is within its retention at this instant.
          const r = await checkAgreement(s, maps, 100);
          // A data file is served only in its own partition, the one its add gave it.
          const outside = r.served.filter((p) => {
            const m = /^region=[^/]+\/f(\d)\.parquet$/.exec(p);
            return m && !maps.some((g) => !('region' in g) || g.region === regionOf(Number(m[1])));
          });
          expect({ maps, named: r.namedButRefused, hidden: r.servedButHidden, outside }).toEqual({
            maps,
            named: [],
            hidden: [],
            outside: [],
          });
        }
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });
});
