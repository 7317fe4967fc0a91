/**
 * `npm run bench -- churn [refreshes=10000] [files=10000]`: memory of a long-lived snapshot cache
 * under churn, as a warm Lambda or `npm start` keeps it. One table (date × region partitions),
 * `files` active files; each refresh reads one new commit that adds two files (a new date every 10
 * commits, so partition tuples churn too), removes the two oldest and writes two change-data
 * files; a checkpoint every 100 commits, as writers do. 16 callers take their
 * (every 10 refreshes) allowed-set; every 50 refreshes they also list folders (folder index built).
 *
 * Figures (JSON): the bytes the cache accounts for (`stats().bytes`, what `snapshotCacheBytes`
 * bounds) and the heap it really retains (measured by dropping it: heap after GC, with typed-array
 * stores) at the end, with the accounted bytes every 2,000 refreshes; the same-run baseline is the same final table
 * loaded fresh (one load from its newest checkpoint, same callers, same listings).
 * Target: after 10,000 refreshes, retained ≤ 1.5 × the fresh load's, and accounted ≥ 0.5 × retained.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { AllowedSetCache } from '../lambda/access/allowed-set-cache';
import type { PartitionMap } from '../lambda/access/grant';
import { SnapshotCache } from '../lambda/delta/snapshot-cache';
import { type AddFile, writeCheckpoint } from '../lambda/local/delta-writer';
import { MemoryDeltaStorage, metaData, protocolV1 } from '../test/helpers/delta-memory-storage';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const REGIONS = Array.from({ length: 10 }, (_, i) => `r${i}`);
const CALLERS = 16;
const TABLE = 's3://bench/churn';
const clock = { now: () => 0 };

function dateOf(day: number): string {
  return new Date(Date.UTC(2020, 0, 1 + day)).toISOString().slice(0, 10);
}

function fileOf(i: number, day: number): AddFile {
  const date = dateOf(day);
  const region = REGIONS[i % REGIONS.length]!;
  return {
    path: `date=${date}/region=${region}/part-${String(i).padStart(8, '0')}-c000.snappy.parquet`,
    partitionValues: { date, region },
    size: 1000,
    modificationTime: 0,
    dataChange: true,
  };
}

/** Each caller's grant: a few regions, and a few dates. */
function mapsOf(caller: number): PartitionMap[] {
  return [
    { region: REGIONS[caller % REGIONS.length]! },
    { region: REGIONS[(caller * 3 + 1) % REGIONS.length]! },
  ];
}

interface Cached {
  snapshots: SnapshotCache;
  allowedSets: AllowedSetCache;
}

async function touch(
  c: Cached,
  storage: MemoryDeltaStorage,
  maps: PartitionMap[][],
  list: boolean,
): Promise<void> {
  const snapshot = await c.snapshots.get('churn', storage, TABLE);
  for (let k = 0; k < CALLERS; k++) {
    const set = await c.allowedSets.get(`caller-${k}`, 'churn', snapshot, maps[k]!);
    if (list) await set.readableFolders();
  }
}

function newCache(): Cached {
  return {
    snapshots: new SnapshotCache({ ttlMs: 0, maxBytes: Number.MAX_SAFE_INTEGER, clock }),
    allowedSets: new AllowedSetCache(),
  };
}

/**
 * What the cache holds, as numbers only. (A snapshot kept in a local of a long-running async
 * function stays reachable from its suspended frame and would spoil the measurement.)
 */
async function sample(c: Cached, storage: MemoryDeltaStorage) {
  const snapshot = await c.snapshots.get('churn', storage, TABLE);
  return {
    accountedBytes: c.snapshots.stats().bytes,
    activeFiles: snapshot.activeFileCount,
    partitionTuples: snapshot.tupleCount,
    changeDataFiles: snapshot.fileCount - snapshot.activeFileCount,
  };
}

const nextTurn = () => new Promise((r) => setTimeout(r, 10));

/**
 * Heap the cache retains: heap after GC with it, minus heap after GC once it is dropped for good
 * (each measured on a fresh turn of the event loop: a WeakRef deref'd in this one keeps its target).
 */
async function dropAndMeasure(holder: { c?: Cached }): Promise<number> {
  await nextTurn();
  const withIt = heapAfterGc();
  holder.c = undefined;
  await nextTurn();
  return withIt - heapAfterGc();
}

export default async function churn(args: string[] = []): Promise<unknown> {
  const refreshes = Number(args[0] ?? 10_000);
  const files = Number(args[1] ?? 10_000);
  const storage = new MemoryDeltaStorage();
  const target = { put: async (rel: string, bytes: Uint8Array) => void storage.put(rel, bytes) };
  const meta = metaData(['date', 'region']).metaData;
  const maps = Array.from({ length: CALLERS }, (_, k) => mapsOf(k));

  // Version 0: `files` files over 100 dates, in a checkpoint.
  const active: AddFile[] = [];
  let next = 0;
  for (; next < files; next++) active.push(fileOf(next, Math.floor((next * 100) / files)));
  storage.commit(0, [protocolV1, metaData(['date', 'region'])]);
  await writeCheckpoint(target, 0, protocolV1.protocol, meta, active);

  const churned: { c?: Cached } = { c: newCache() };
  await touch(churned.c!, storage, maps, true);
  const samples: Record<string, unknown>[] = [];
  let day = 100;
  const t0 = performance.now();
  for (let v = 1; v <= refreshes; v++) {
    if (v % 10 === 0) day++;
    const added = [fileOf(next++, day), fileOf(next++, day)];
    const removed = active.splice(0, 2);
    active.push(...added);
    storage.commit(v, [
      ...removed.map((f) => ({ remove: { path: f.path, deletionTimestamp: 0, dataChange: true } })),
      ...added.map((f) => ({ add: f })),
      ...added.map((f, i) => ({
        cdc: {
          path: `_change_data/cdc-${v}-${i}.parquet`,
          partitionValues: f.partitionValues,
          size: 1,
          dataChange: false,
        },
      })),
    ]);
    if (v % 100 === 0) await writeCheckpoint(target, v, protocolV1.protocol, meta, active);
    // Every refresh reads the new commit; callers come back every 10 (listing every 50).
    if (v % 10 === 0) await touch(churned.c!, storage, maps, v % 50 === 0);
    else await churned.c!.snapshots.get('churn', storage, TABLE);
    if (v % 2000 === 0 || v === refreshes)
      samples.push({ refreshes: v, ...(await sample(churned.c!, storage)) });
  }
  const churnMs = performance.now() - t0;
  await touch(churned.c!, storage, maps, true);
  const stats = churned.c!.snapshots.stats();
  const final = { accountedBytes: stats.bytes, retainedBytes: await dropAndMeasure(churned) };

  // Baseline: the same final table, loaded fresh, same callers and listings.
  const fresh: { c?: Cached } = { c: newCache() };
  await touch(fresh.c!, storage, maps, true);
  const baseline = { ...(await sample(fresh.c!, storage)), retainedBytes: 0 };
  baseline.retainedBytes = await dropAndMeasure(fresh);
  const retainedRatio = final.retainedBytes / baseline.retainedBytes;
  const accountedShare = final.accountedBytes / final.retainedBytes;
  return {
    bench: 'churn',
    node: process.version,
    refreshes,
    activeFiles: files,
    callers: CALLERS,
    churnMs: Math.round(churnMs),
    refreshOutcomes: stats.refreshes,
    samples,
    afterChurn: final,
    baselineFreshLoad: baseline,
    retainedVsFresh: +retainedRatio.toFixed(2),
    accountedShareOfRetained: +accountedShare.toFixed(2),
    targets: { retainedVsFreshAtMost: 1.5, accountedShareAtLeast: 0.5 },
    pass: retainedRatio <= 1.5 && accountedShare >= 0.5,
  };
}
