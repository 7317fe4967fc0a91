/**
 * Spark writes a checkpoint's adds in one row group (a 1,000,000-file checkpoint is one group).
 * Every reader of such a group (the snapshot load, a caller's filtered checkpoint, the history)
 * must let other requests run while it decodes and walks it: here 200,000 adds in ONE row group,
 * each reader's longest event-loop block measured warm (the median of three runs), as a share of
 * the CPU the whole run cost. A share holds under load where milliseconds do not: at a load
 * average of 9-14 (CI beside three other sessions) the same code's blocks measured 41-65 ms
 * against 18-34 quiet, and its whole runs grew with them.
 */
import { createHash } from 'node:crypto';
import { beforeAll, expect, it } from 'vitest';
import { fileGrantOf } from '../../lambda/access/file-grant';
import { loadSnapshot } from '../../lambda/delta/load-snapshot';
import { openParquet, readLeaves } from '../../lambda/delta/parquet-leaves';
import { TableRoot } from '../../lambda/delta/table-root';
import { writeCheckpoint } from '../../lambda/local/delta-writer';
import { ActionFilter } from '../../lambda/log-view/action-filter';
import { readCheckpointRows } from '../../lambda/log-view/checkpoint-rows';
import { DvInliner } from '../../lambda/log-view/dv-inliner';
import { TupleClassifier } from '../../lambda/log-view/file-grant';
import { filterCheckpoint } from '../../lambda/log-view/filtered-checkpoint';
import { MemoryDeltaStorage, metaData, protocolV1 } from '../helpers/delta-memory-storage';
import { gc } from '../helpers/heap';
import { loopBlocks } from '../helpers/loop-watch';
import { measured, retryMeasured } from '../helpers/measured';
import { parquetRows } from '../helpers/virtual-log-replay';

const FILES = 200_000;
const REGIONS = 80;
const r = (i: number) => `r${String(i % REGIONS).padStart(2, '0')}`;
const CHECKPOINT = '_delta_log/00000000000000000000.checkpoint.parquet';
const pathOf = (i: number) =>
  `region=${r(i)}/part-${i}-c4f7e6e2-3d0f-4b8e-9a2c-7f1e2b3c4d5e.c000.snappy.parquet`;

const storage = new MemoryDeltaStorage();
let size = 0;

beforeAll(async () => {
  await writeCheckpoint(
    { put: async (rel, bytes) => void storage.put(rel, bytes) },
    0,
    protocolV1.protocol,
    metaData(['region']).metaData,
    Array.from({ length: FILES }, (_, i) => ({
      path: pathOf(i),
      partitionValues: { region: r(i) },
      size: 100 + i,
      modificationTime: 1_700_000_000_000 + i,
      dataChange: false,
    })),
    { rowGroupSize: FILES + 2 },
  );
  storage.commit(0, [protocolV1, metaData(['region'])]);
  size = storage.files.get(CHECKPOINT)!.byteLength;
}, 120_000);

/**
 * Runs `run` four times (the first warms the code up, unmeasured), each after a full collection
 * (the last run's garbage is not this run's block). Returns the digests of the results and the
 * median, over the three warm runs, of the share of the run's CPU its longest loop block took.
 */
async function warmBlocks<T>(run: () => Promise<T>, digest: (t: T) => string) {
  const shares: number[] = [];
  const digests = new Set<string>();
  const seen: string[] = [];
  for (let i = 0; i < 4; i++) {
    gc();
    const { result, blocks, samples } = await loopBlocks(run);
    digests.add(digest(result));
    if (i === 0) continue;
    const longest = blocks.reduce((m, b) => Math.max(m, b.cpuMs), 0);
    const cpu = samples.at(-1)!.cpu - samples[0]!.cpu;
    shares.push(longest / cpu);
    seen.push(`${longest.toFixed(1)} of ${cpu.toFixed(0)}`);
  }
  shares.sort((a, b) => a - b);
  console.log(expect.getState().currentTestName, "longest block of the run's CPU, ms:", seen.join(', '));
  return { digests: [...digests], share: shares[1]! };
}

/** A caller's classifier of the table's partitions (`region`) for grant maps. */
const classifierOf = (grant: { region: string }[]) =>
  new TupleClassifier(fileGrantOf([{ logical: 'region', physical: 'region', type: 'string' }], grant));

const sha256 = (...parts: (string | Uint8Array)[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

it('readLeaves decodes the chunks of one big row group a slice at a time', {
  ...retryMeasured,
  timeout: 120_000,
}, async () => {
  const io = { requests: 0, bytes: 0 };
  const paths = [
    ['add', 'path'],
    ['add', 'partitionValues', 'key_value', 'key'],
    ['add', 'partitionValues', 'key_value', 'value'],
    ['add', 'size'],
    ['add', 'modificationTime'],
    ['add', 'dataChange'],
  ];
  const { digests, share } = await warmBlocks(
    async () => readLeaves(storage, await openParquet(storage, CHECKPOINT, size, io), 0, paths, io),
    (leaves) =>
      sha256(
        ...leaves.flatMap((l) => [
          JSON.stringify([l.n, l.maxDef, l.maxRep, l.values]),
          l.def ?? '',
          l.rep ?? '',
        ]),
      ),
  );
  // Every run decodes the same leaves, and the paths are the ones written, in order.
  expect(digests).toHaveLength(1);
  const leaves = await readLeaves(storage, await openParquet(storage, CHECKPOINT, size, io), 0, paths, io);
  expect(leaves[0]!.values.filter((v) => typeof v === 'string')).toEqual(
    Array.from({ length: FILES }, (_, i) => pathOf(i)),
  );
  // Before: 150-200 ms of ~300 (about half), every chunk decoded in one synchronous pass; now
  // 0.10-0.12 at a load average of 14.
  measured(share, 'median longest loop block, share of the run').toBeLessThan(0.25);
});

it("a caller's filtered checkpoint of one big row group: the same bytes each time, exactly the granted adds", {
  timeout: 120_000,
}, async () => {
  const parts = [{ path: CHECKPOINT, size, format: 'parquet' as const }];
  const root = new TableRoot('s3://lake/t');
  const grant = Array.from({ length: REGIONS / 2 }, (_, i) => ({ region: r(i) }));
  const classifier = classifierOf(grant);
  const lookup = { partitionValuesAt: async () => undefined };
  const actions = new ActionFilter({ root, classifier, dv: new DvInliner(storage, root), lookup });
  const w = await filterCheckpoint(storage, parts, actions, classifier);
  // Instances compare these checkpoints by ETag: made twice, the same bytes.
  const again = await filterCheckpoint(storage, parts, actions, classifier);
  expect(sha256(again.bytes)).toBe(sha256(w.bytes));
  // Read back by hyparquet: exactly the granted regions' adds, in the order written.
  const adds = (await parquetRows(w.bytes, ['add']))
    .map((row) => (row.add as { path?: string } | null)?.path)
    .filter((p) => p !== undefined);
  const granted = new Set(grant.map((g) => g.region));
  expect(w.adds).toBe(FILES / 2);
  expect(adds).toEqual(
    Array.from({ length: FILES }, (_, i) => i)
      .filter((i) => granted.has(r(i)))
      .map(pathOf),
  );
});

it("a caller's filtered checkpoint of one big row group is made a slice at a time", {
  ...retryMeasured,
  timeout: 180_000,
}, async () => {
  const parts = [{ path: CHECKPOINT, size, format: 'parquet' as const }];
  const root = new TableRoot('s3://lake/t');
  // Every region: each of the 200,000 adds is made relative and written.
  const grant = Array.from({ length: REGIONS }, (_, i) => ({ region: r(i) }));
  const lookup = { partitionValuesAt: async () => undefined };
  const { digests, share } = await warmBlocks(
    async () => {
      const classifier = classifierOf(grant);
      const actions = new ActionFilter({ root, classifier, dv: new DvInliner(storage, root), lookup });
      return filterCheckpoint(storage, parts, actions, classifier);
    },
    (w) => `${w.adds} ${sha256(w.bytes)}`,
  );
  // Every run writes the same file, with every add of the table.
  expect(digests).toHaveLength(1);
  expect(digests[0]!.split(' ')[0]).toBe(String(FILES));
  // Before: 0.06-0.07 (160-210 ms, the row group's 200,000 rows handed to the filter in one
  // synchronous pass); now about 0.02 (the writer's column chunks), both at a load average of 8.
  measured(share, 'median longest loop block, share of the run').toBeLessThan(0.04);
});

it("a caller's checkpoint rows are built a slice at a time from one big row group", {
  ...retryMeasured,
  timeout: 120_000,
}, async () => {
  const parts = [{ path: CHECKPOINT, size, format: 'parquet' as const }];
  // Every region: each of the 200,000 adds is built.
  const grant = Array.from({ length: REGIONS }, (_, i) => ({ region: r(i) }));
  const { digests, share } = await warmBlocks(
    async () => {
      const classifier = classifierOf(grant);
      const h = createHash('sha256');
      let adds = 0;
      await readCheckpointRows(
        storage,
        parts,
        classifier,
        async (rows) => {
          for (const row of rows) if ('add' in row) adds++;
          h.update(JSON.stringify(rows.at(-1)));
        },
        { requests: 0, bytes: 0 },
      );
      return `${adds} ${h.digest('hex')}`;
    },
    (d) => d,
  );
  // Every run builds the same rows: every add of the table.
  expect(digests).toHaveLength(1);
  expect(digests[0]!.split(' ')[0]).toBe(String(FILES));
  // Before: 75-95 ms of ~750 (8,192 adds built between two yields); now 0.04 at a load average
  // of 14.
  measured(share, 'median longest loop block, share of the run').toBeLessThan(0.07);
});

it('the snapshot load walks one big row group of adds a slice at a time', {
  ...retryMeasured,
  timeout: 120_000,
}, async () => {
  const { digests, share } = await warmBlocks(
    () => loadSnapshot(storage, { tableUri: 's3://lake/t' }),
    (snap) => `${snap.fileCount} ${sha256(JSON.stringify([...snap.files()]))}`,
  );
  // Every run loads the same snapshot: the files written.
  expect(digests).toHaveLength(1);
  let turns = 0;
  let loading = true;
  const spin = () => {
    turns++;
    if (loading) setImmediate(spin);
  };
  setImmediate(spin);
  const snap = await loadSnapshot(storage, { tableUri: 's3://lake/t' }).finally(() => {
    loading = false;
  });
  // The loop gets its turns while the rows are walked, however loaded the machine: 275 turns
  // here (a yield every 2,048 rows of each of the two walks, and the reads); 48 when the walks
  // yielded every 16,384 rows.
  expect(turns).toBeGreaterThan(FILES / 2_000);
  expect(new Set([...snap.files()].map(([path]) => path))).toEqual(
    new Set(Array.from({ length: FILES }, (_, i) => pathOf(i))),
  );
  // Before: 55-125 ms of ~650 (16,384 rows walked between two yields); now 0.02-0.03 at a load
  // average of 14, alone in its process. In CI's test:full its worker also holds other files'
  // heap, and collections stretch its blocks to ~40 ms: 0.04-0.064. Under load the old walk read
  // 0.05-0.08 too, so the turns above are what tells the two apart there.
  measured(share, 'median longest loop block, share of the run').toBeLessThan(0.09);
});
