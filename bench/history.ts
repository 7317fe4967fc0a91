/**
 * `npm run bench -- history [files=1000000]`: the retained history of a big table, through the
 * real DeltaAuthorizer and SnapshotCache over S3 (s3rver on 127.0.0.1, data under .bench-cache/).
 *
 * The table (generated once, ~1-2 min): 1,000,000 active files in two partition columns; the
 * early log is cleaned up, so the retained range starts at checkpoint v1000 (1M adds + 50,000
 * tombstones); commits v1001..v2000 each remove 50 files, add 50 and write 2 change-data files
 * (50,000 removes, 2,000 change-data files); checkpoint v2000 (the newest, with
 * `_last_checkpoint`) holds 1M adds and 100,000 tombstones.
 *
 * Figures (fresh child processes, as a cold Lambda):
 * - baseline: cold snapshot load of the same table (time, peak RSS);
 * - first request for a removed file: the snapshot is loaded by a first request for an active
 *   file, then a request for a file removed at v1500 loads the recent history (the newest
 *   checkpoint's tombstones; time, RSS during it, bytes held, requests and bytes read);
 * - first request for a data file no version knows: refused from the recent history already
 *   loaded (a checkpoint carries every unexpired remove; time, log requests: none);
 * - first request for a change-data file no commit wrote: loads the complete history (every
 *   retained commit), the only one that can refuse it (time, RSS, peak RSS of the process,
 *   bytes held);
 * - a flood of 10,000 requests for unknown data files (200 in flight) on a cold history: backend
 *   requests made, split into log reads (the one recent-history load) and existence checks.
 */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { AllowedSetCache } from '../lambda/access/allowed-set-cache';
import { DeltaAuthorizer } from '../lambda/access/delta-authorizer';
import { silentLogger } from '../lambda/core/logger';
import { parseTableUri, type TableMount } from '../lambda/core/table-mount';
import { SnapshotCache } from '../lambda/delta/snapshot-cache';
import { type RemoveFile, writeCheckpoint, writeLastCheckpoint } from '../lambda/local/delta-writer';
import type { StorageBackend } from '../lambda/storage/storage-backend';
import { s3Backend, startLocalS3 } from '../test/helpers/delta-s3';
import { objectExists } from '../test/helpers/s3-servers';
import { BENCH_T0, benchAdd, benchMetaData } from './child/bench-table';
import { peakRssMB } from './child/peak-rss';
import { bundleBench, runBenchChild } from './child/run-child';

process.env.AWS_EC2_METADATA_DISABLED = 'true';
process.env.AWS_EMF_ENVIRONMENT = 'Local';

const BUCKET = 'bench';
const OLDEST = 1000;
const COMMITS = 1000;
const NEWEST = OLDEST + COMMITS;
const PER_COMMIT = 50;
const TOMBSTONES = 50_000;
/** Removes are dated here; the authorizer's clock runs a day later (all within retention). */
const T0 = BENCH_T0;
const repoRoot = path.resolve(import.meta.dirname, '..');
const cacheDir = path.join(repoRoot, '.bench-cache');
const prefixOf = (files: number) => `history-${files}`;
const v20 = (v: number) => String(v).padStart(20, '0');

const hex = (n: number, w: number) => (n >>> 0).toString(16).padStart(w, '0').slice(-w);

/** File i: deterministic (its uuid too), so a later commit can remove it by path. */
const fileOf = (i: number, kind: 'part' | 'cdc' = 'part') =>
  benchAdd(
    i,
    `${hex(i, 8)}-${hex(i * 31, 4)}-4${hex(i * 7, 3)}-8${hex(i * 13, 3)}-${hex(i * 7919, 8)}${hex(i, 4)}`,
    kind,
  );

const metaData = benchMetaData('history-bench', { 'delta.enableChangeDataFeed': 'true' });
const protocol = { minReaderVersion: 1, minWriterVersion: 4 };

/**
 * Index layout: [0, files) active at v1000; [files, files + TOMBSTONES) removed before v1000;
 * commit k removes files (k-1001)*50 .. +49 and adds files from files + TOMBSTONES on.
 */
const removedAt = (k: number) =>
  Array.from({ length: PER_COMMIT }, (_, m) => (k - OLDEST - 1) * PER_COMMIT + m);
const addedAt = (files: number, k: number) =>
  Array.from({ length: PER_COMMIT }, (_, m) => files + TOMBSTONES + (k - OLDEST - 1) * PER_COMMIT + m);
const deletedAt = (k: number) => T0 + (k - OLDEST) * 1000;

function removeOf(i: number, at: number): RemoveFile {
  const a = fileOf(i);
  return { path: a.path, deletionTimestamp: at, partitionValues: a.partitionValues, size: a.size };
}

async function ensureTable(client: S3Client, files: number): Promise<boolean> {
  const prefix = prefixOf(files);
  if (await objectExists(client, BUCKET, `${prefix}/_delta_log/_last_checkpoint`)) return false;
  const put = async (rel: string, bytes: Uint8Array | string) => {
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}/${rel}`, Body: bytes }));
  };
  const commitInfo = (k: number, op: string) =>
    JSON.stringify({ commitInfo: { timestamp: deletedAt(k), operation: op } });
  await put(`_delta_log/${v20(OLDEST)}.json`, `${commitInfo(OLDEST, 'WRITE')}\n`);
  function* range(from: number, to: number) {
    for (let i = from; i < to; i++) yield fileOf(i);
  }
  function* oldTombstones() {
    for (let i = files; i < files + TOMBSTONES; i++) yield removeOf(i, T0 - (files + TOMBSTONES - i));
  }
  await writeCheckpoint({ put }, OLDEST, protocol, metaData, range(0, files), { removes: oldTombstones() });
  // Commits a few at a time (s3rver on the same event loop).
  const commits = Array.from({ length: COMMITS }, (_, j) => OLDEST + 1 + j);
  for (let j = 0; j < commits.length; j += 16) {
    await Promise.all(
      commits.slice(j, j + 16).map(async (k) => {
        const lines = [commitInfo(k, 'MERGE')];
        for (const i of removedAt(k))
          lines.push(
            JSON.stringify({
              remove: { ...removeOf(i, deletedAt(k)), dataChange: true, extendedFileMetadata: true },
            }),
          );
        for (const i of addedAt(files, k)) lines.push(JSON.stringify({ add: fileOf(i) }));
        for (let c = 0; c < 2; c++) {
          const a = fileOf(k * 2 + c, 'cdc');
          lines.push(
            JSON.stringify({
              cdc: { path: a.path, partitionValues: a.partitionValues, size: a.size, dataChange: false },
            }),
          );
        }
        await put(`_delta_log/${v20(k)}.json`, `${lines.join('\n')}\n`);
      }),
    );
  }
  function* newest() {
    yield* range(COMMITS * PER_COMMIT, files);
    for (let k = OLDEST + 1; k <= NEWEST; k++) for (const i of addedAt(files, k)) yield fileOf(i);
  }
  function* allTombstones() {
    yield* oldTombstones();
    for (let k = OLDEST + 1; k <= NEWEST; k++) for (const i of removedAt(k)) yield removeOf(i, deletedAt(k));
  }
  const info = await writeCheckpoint({ put }, NEWEST, protocol, metaData, newest(), {
    removes: allTombstones(),
  });
  await writeLastCheckpoint({ put }, info);
  return true;
}

/** Counts backend requests by kind: log listings/reads vs everything else. */
function counting(inner: StorageBackend) {
  const c = { logList: 0, logGet: 0, logHead: 0, head: 0, get: 0, list: 0, logBytes: 0 };
  const isLog = (key: string) => key.includes('/_delta_log/');
  const backend: StorageBackend = {
    async get(ref, o) {
      if (isLog(ref.key)) c.logGet++;
      else c.get++;
      const r = await inner.get(ref, o);
      if (isLog(ref.key)) c.logBytes += r.contentLength ?? 0;
      return r;
    },
    head(ref, o) {
      if (isLog(ref.key)) c.logHead++;
      else c.head++;
      return inner.head(ref, o);
    },
    list(p) {
      if (isLog(p.prefix)) c.logList++;
      else c.list++;
      return inner.list(p);
    },
    presign: (ref, o) => inner.presign(ref, o),
  };
  return { backend, c };
}

async function clientFor(endpoint: string) {
  const { S3Client } = await import('@aws-sdk/client-s3');
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
}

/** Child mode: one measurement in a fresh process; prints one JSON line. */
async function child(mode: string, endpoint: string, files: number): Promise<void> {
  const client = await clientFor(endpoint);
  const { backend, c } = counting(s3Backend(client, { requests: 0, bytes: 0 }));
  const started = performance.now();
  // The proxy's clock: a day after the removes, moving with real time (for the new-commit probe).
  const clock = { now: () => T0 + 86_400_000 + (performance.now() - started) };
  const snapshots = new SnapshotCache({ ttlMs: 3_600_000, maxBytes: 2 ** 31, clock });
  const authorizer = new DeltaAuthorizer({
    grants: { grantsFor: async () => [{ principal: 'analyst', table: 't', partitions: [{}] }] },
    snapshots,
    allowedSets: new AllowedSetCache(),
    storage: backend,
    logger: silentLogger,
    clock,
  });
  const uri = `s3://${BUCKET}/${prefixOf(files)}`;
  const mount: TableMount = { alias: 't', uri, ...parseTableUri(uri) };
  const principal = { name: 'analyst', anonymous: false };
  const decode = (p: string) => decodeURIComponent(p);
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 5);
  const mb = (n: number) => Math.round(n / 1e5) / 10;
  let out: Record<string, unknown> = {};
  const t0 = performance.now();
  const active = await authorizer.authorizeObject(principal, mount, decode(fileOf(files - 1).path));
  const coldMs = performance.now() - t0;
  const snap = await snapshots.get(
    uri,
    { list: async () => [], read: async () => new Uint8Array(), size: async () => 0 },
    uri,
  );
  if (!active.allow) throw new Error('bench table: the active file was refused');
  if (mode === 'cold') {
    out = { coldMs, snapshotBytes: snap.estimatedBytes, files: snap.fileCount };
  } else if (mode === 'first') {
    const rssBefore = process.memoryUsage.rss();
    peak = rssBefore;
    const before = { ...c };
    const t1 = performance.now();
    // Removed by commit v1500, in a granted partition: served from the recent history (the
    // newest checkpoint's tombstones).
    const removed = await authorizer.authorizeObject(
      principal,
      mount,
      decode(fileOf(removedAt(1500)[7]!).path),
    );
    const firstRemovedMs = performance.now() - t1;
    if (!removed.allow) throw new Error(`bench table: the removed file was refused (${removed.reason})`);
    const recentPeak = peak;
    const recentBytes = snapshots.stats().history.bytes;
    const recentRequests = c.logGet + c.logList - before.logGet - before.logList;
    const t2 = performance.now();
    const again = await authorizer.authorizeObject(
      principal,
      mount,
      decode(fileOf(removedAt(1999)[3]!).path),
    );
    const nextRemovedMs = performance.now() - t2;
    if (!again.allow) throw new Error('bench table: a second removed file was refused');
    // A data file no version knows: the recent history (already loaded) refuses it.
    const beforeUnknown = { ...c };
    const tu = performance.now();
    const unknown = await authorizer.authorizeObject(
      principal,
      mount,
      'date=2024-01-01/region=region-0/none.parquet',
    );
    const firstUnknownDataMs = performance.now() - tu;
    if (unknown.allow) throw new Error('bench table: an unknown path was served');
    const unknownDataLogRequests = c.logGet + c.logList - beforeUnknown.logGet - beforeUnknown.logList;
    // A change-data file no commit wrote: only the complete history (every retained commit) can
    // refuse it.
    const mid = { ...c };
    const t3 = performance.now();
    const unknownChange = await authorizer.authorizeObject(
      principal,
      mount,
      '_change_data/date=2024-01-01/region=region-0/none.snappy.parquet',
    );
    const firstUnknownMs = performance.now() - t3;
    if (unknownChange.allow) throw new Error('bench table: an unknown change-data path was served');
    const stats = snapshots.stats();
    out = {
      coldMs,
      firstRemovedMs,
      nextRemovedMs,
      firstUnknownDataMs,
      unknownDataLogRequests,
      firstUnknownMs,
      rssBeforeHistoryMB: mb(rssBefore),
      rssPeakDuringRecentMB: mb(recentPeak),
      rssPeakDuringCompleteMB: mb(peak),
      recentHistoryBytes: recentBytes,
      historyBytes: stats.history.bytes,
      snapshotBytes: snap.estimatedBytes,
      recentLogRequests: recentRequests,
      recentLogBytes: mid.logBytes - before.logBytes,
      completeLogRequests: c.logGet + c.logList - mid.logGet - mid.logList,
      completeLogBytes: c.logBytes - mid.logBytes,
      recentLoads: stats.history.recentLoads,
      loads: stats.history.loads,
    };
  } else {
    // Flood on a cold history: 10,000 unknown paths, 200 in flight.
    const before = { ...c };
    const t1 = performance.now();
    let next = 0;
    const answers = new Map<string, number>();
    const worker = async () => {
      while (next < 10_000) {
        const i = next++;
        const d = await authorizer.authorizeObject(
          principal,
          mount,
          `date=2024-01-01/region=region-0/unknown-${i}.parquet`,
        );
        const k = d.allow ? 'allow' : d.answer;
        answers.set(k, (answers.get(k) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 200 }, worker));
    const floodMs = performance.now() - t1;
    const d = (k: keyof typeof c) => c[k] - before[k];
    const stats = snapshots.stats();
    out = {
      floodMs,
      answers: Object.fromEntries(answers),
      backendRequests: {
        logListings: d('logList'),
        logReads: d('logGet'),
        logHeads: d('logHead'),
        existenceChecks: d('head'),
        other: d('get') + d('list'),
      },
      historyLoads: stats.history.loads,
      recentHistoryLoads: stats.history.recentLoads,
      historyFailures: stats.history.failures,
      newCommitProbes: stats.newCommitProbes,
      newCommitProbesReused: stats.newCommitProbesReused,
    };
  }
  clearInterval(sampler);
  console.log(JSON.stringify({ ...out, maxRssMB: peakRssMB() }));
  client.destroy();
}

/** One measurement in a fresh process (see child). */
function runChild(script: string, mode: string, endpoint: string, files: number) {
  return runBenchChild(script, ['--child', mode, endpoint, String(files)], { timeoutMs: 600_000 });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export default async function historyBench(args: string[]) {
  const files = Number(args.find((a) => /^\d+$/.test(a)) ?? 1_000_000);
  // The commits remove files [0, 50,000) of the oldest checkpoint: it must hold more than that.
  if (files <= COMMITS * PER_COMMIT) throw new Error(`files must exceed ${COMMITS * PER_COMMIT}`);
  mkdirSync(path.join(cacheDir, 's3rver'), { recursive: true });
  const s3 = await startLocalS3(path.join(cacheDir, 's3rver'), [BUCKET]);
  let script: string | undefined;
  try {
    const tg = performance.now();
    const generated = await ensureTable(s3.client, files);
    const generateMs = performance.now() - tg;
    script = await bundleBench('history');
    const cold: Record<string, number>[] = [];
    const first: Record<string, number>[] = [];
    // Interleaved, so machine load hits both alike.
    for (let i = 0; i < 3; i++) {
      cold.push(await runChild(script, 'cold', s3.endpoint, files));
      first.push(await runChild(script, 'first', s3.endpoint, files));
    }
    const flood = await runChild(script, 'flood', s3.endpoint, files);
    const coldMs = median(cold.map((r) => r.coldMs!));
    const historyMs = median(first.map((r) => r.firstRemovedMs!));
    const completeMs = median(first.map((r) => r.firstUnknownMs!));
    const coldPeak = Math.max(...cold.map((r) => r.maxRssMB!));
    const withHistoryPeak = Math.max(...first.map((r) => r.maxRssMB!));
    return {
      bench: 'history',
      table: {
        files,
        partitionColumns: 2,
        retainedCommits: COMMITS,
        retainedRemoves: TOMBSTONES + COMMITS * PER_COMMIT,
        changeDataFiles: COMMITS * 2,
        oldestRetainedCheckpoint: OLDEST,
        newestCheckpoint: NEWEST,
        generatedThisRun: generated,
        generateMs,
      },
      baselineColdSnapshot: {
        ms: coldMs,
        runsMs: cold.map((r) => Math.round(r.coldMs!)),
        peakRssMB: coldPeak,
        snapshotMB: cold[0]!.snapshotBytes! / 1e6,
      },
      firstRequestForRemovedFile: {
        recentHistoryLoadMs: historyMs,
        runsMs: first.map((r) => Math.round(r.firstRemovedMs!)),
        nextRemovedFileMs: median(first.map((r) => r.nextRemovedMs!)),
        recentHistoryMB: first[0]!.recentHistoryBytes! / 1e6,
        rssBeforeHistoryMB: median(first.map((r) => r.rssBeforeHistoryMB!)),
        rssPeakDuringRecentMB: Math.max(...first.map((r) => r.rssPeakDuringRecentMB!)),
        logRequests: first[0]!.recentLogRequests,
        logBytes: first[0]!.recentLogBytes,
      },
      firstRequestForUnknownDataFile: {
        ms: median(first.map((r) => r.firstUnknownDataMs!)),
        logRequests: first[0]!.unknownDataLogRequests,
      },
      firstRequestForUnknownChangeData: {
        completeHistoryLoadMs: completeMs,
        runsMs: first.map((r) => Math.round(r.firstUnknownMs!)),
        historyMB: first[0]!.historyBytes! / 1e6,
        historyBytesPerRetainedRemove: first[0]!.historyBytes! / (TOMBSTONES + COMMITS * PER_COMMIT),
        rssPeakDuringCompleteMB: Math.max(...first.map((r) => r.rssPeakDuringCompleteMB!)),
        processPeakRssMB: withHistoryPeak,
        logRequests: first[0]!.completeLogRequests,
        logBytes: first[0]!.completeLogBytes,
      },
      ratioRecentHistoryToColdLoad: historyMs / coldMs,
      ratioCompleteHistoryToColdLoad: completeMs / coldMs,
      floodOfUnknownPaths: { requests: 10_000, inFlight: 200, ...flood },
      targets: { historyLoadVsColdLoad: '≤ 1', historyLoadsDuringFlood: 1 },
      machine: {
        cpus: (await import('node:os')).cpus().length,
        loadAvg: (await import('node:os')).loadavg(),
      },
    };
  } finally {
    if (script) rmSync(script, { force: true });
    await s3.close();
  }
}

if (process.argv[2] === '--child') {
  await child(process.argv[3]!, process.argv[4]!, Number(process.argv[5]));
  process.exit(0);
}
