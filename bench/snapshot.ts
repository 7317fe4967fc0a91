/**
 * `npm run bench -- snapshot [files=1000000] [no-naive]`: a synthetic table whose checkpoint lists 1M
 * files (~150 B of stats each, 2 partition columns), written once by our delta-writer into an
 * s3rver store under .bench-cache/, in two layouts: row groups of 100,000 rows (our writer's
 * default) and one row group for the whole checkpoint (as Spark writes it). Every read goes
 * through the project's S3Backend (lambda/storage/s3-backend.ts) to s3rver on 127.0.0.1.
 *
 * Per layout, each reader runs in a fresh child process (an esbuild bundle of this file, as the
 * Lambda runs one) and reports its time, requests and bytes fetched, peak RSS, and the heap it
 * retains once loaded (measured after a full GC: heapUsed + arrayBuffers, minus the same before):
 * - ours: loadSnapshot, the proxy's reader,
 * - simple: the obvious simple reader, the baseline: the same leaf columns (add.path,
 *   add.partitionValues, through hyparquet's page decoders) into a plain Map<path, partitionValues>,
 * - naive: hyparquet reads the whole checkpoint, all columns, rows as objects, then the same Map.
 * Then the incremental refresh after one new commit, in this process.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { type DeltaStorage, deltaStorageFromBackend } from '../lambda/delta/delta-storage';
import { loadSnapshot, refreshSnapshot } from '../lambda/delta/load-snapshot';
import {
  type IoStats,
  leavesUnder,
  openParquet,
  RepeatedCursor,
  readLeaves,
  ScalarCursor,
} from '../lambda/delta/parquet-leaves';
import { decodePath } from '../lambda/delta/table-root';
import { writeCheckpoint, writeLastCheckpoint } from '../lambda/local/delta-writer';
import { S3Backend } from '../lambda/storage/s3-backend';
import type { StorageBackend } from '../lambda/storage/storage-backend';
import { type LocalS3, startLocalS3 } from '../test/helpers/delta-s3';
import { objectExists } from '../test/helpers/s3-servers';
import { benchAdd, benchMetaData } from './child/bench-table';
import { peakRssMB } from './child/peak-rss';
import { bundleBench, runBenchChild } from './child/run-child';

process.env.AWS_EC2_METADATA_DISABLED = 'true';
process.env.AWS_EMF_ENVIRONMENT = 'Local';

const BUCKET = 'bench';
const CHECKPOINT_VERSION = 1000;
const repoRoot = path.resolve(import.meta.dirname, '..');
const cacheDir = path.join(repoRoot, '.bench-cache');

/** Checkpoint layouts: our writer's 100k-row groups, and one row group (Spark's). */
type Layout = 'rowGroups100k' | 'oneRowGroup';
const LAYOUTS: Layout[] = ['rowGroups100k', 'oneRowGroup'];
const tablePrefix = (files: number, layout: Layout = 'rowGroups100k') =>
  layout === 'rowGroups100k' ? `snapshot-${files}` : `snapshot-${files}-one-row-group`;
const commitKey = (files: number, v: number) =>
  `${tablePrefix(files)}/_delta_log/${String(v).padStart(20, '0')}.json`;
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** The project's S3Backend, counting requests and body bytes (GETs). */
function countingS3Backend(endpoint: string): { backend: StorageBackend; traffic: IoStats; close(): void } {
  const real = new S3Backend({
    endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: CREDENTIALS,
  });
  const traffic = { requests: 0, bytes: 0 };
  const backend: StorageBackend = {
    async get(ref, o) {
      traffic.requests++;
      const r = await real.get(ref, o);
      traffic.bytes += r.contentLength ?? 0;
      return r;
    },
    head(ref, o) {
      traffic.requests++;
      return real.head(ref, o);
    },
    list(p) {
      traffic.requests++;
      return real.list(p);
    },
    presign: (ref, o) => real.presign(ref, o),
  };
  return { backend, traffic, close: () => real.destroy() };
}

/** File i of the table, named with a random uuid. */
const syntheticAdd = (i: number) => benchAdd(i, randomUUID());

const metaData = benchMetaData('bench-table');

/** The table: a checkpoint at v1000 (its early log "cleaned up") and `_last_checkpoint`. */
async function ensureTable(client: S3Client, files: number, layout: Layout): Promise<void> {
  const prefix = tablePrefix(files, layout);
  if (await objectExists(client, BUCKET, `${prefix}/_delta_log/_last_checkpoint`)) return;
  const put = async (rel: string, bytes: Uint8Array) => {
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}/${rel}`, Body: bytes }));
  };
  function* adds() {
    for (let i = 0; i < files; i++) yield syntheticAdd(i);
  }
  await put(
    `_delta_log/${String(CHECKPOINT_VERSION).padStart(20, '0')}.json`,
    new TextEncoder().encode(`${JSON.stringify({ commitInfo: { operation: 'WRITE' } })}\n`),
  );
  const info = await writeCheckpoint(
    { put },
    CHECKPOINT_VERSION,
    { minReaderVersion: 1, minWriterVersion: 2 },
    metaData,
    adds(),
    { rowGroupSize: layout === 'oneRowGroup' ? files + 2 : 100_000 },
  );
  await writeLastCheckpoint({ put }, info);
}

/** Removes commits after the checkpoint left by an earlier run, so every run starts equal. */
async function resetCommits(client: S3Client, files: number): Promise<void> {
  for (let v = CHECKPOINT_VERSION + 1; v <= CHECKPOINT_VERSION + 20; v++) {
    await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: commitKey(files, v) }));
  }
}

/** The obvious simple reader: add.path and add.partitionValues into a Map, nothing else. */
async function simpleRead(storage: DeltaStorage, checkpoint: string, io: IoStats) {
  const size = await storage.size(checkpoint);
  const file = await openParquet(storage, checkpoint, size, io);
  const pv = leavesUnder(file.tree, ['add', 'partitionValues']);
  const index = new Map<string, Record<string, string | null>>();
  for (let rg = 0; rg < file.metadata.row_groups.length; rg++) {
    const [path, key, value] = await readLeaves(storage, file, rg, [['add', 'path'], ...pv], io);
    const paths = new ScalarCursor(path!);
    const values = new RepeatedCursor(key!, value!);
    for (let r = 0; r < path!.n; r++) {
      const p = paths.next() as string | null;
      const row: Record<string, string | null> = {};
      values.next((k, v) => {
        row[k as string] = v as string | null;
      });
      if (p !== null) index.set(decodePath(p), row);
    }
  }
  return index;
}

/** The naive reader: the whole checkpoint, every column, rows as objects, then the same Map. */
async function naiveRead(storage: DeltaStorage, checkpoint: string) {
  const bytes = await storage.read(checkpoint);
  const rows = await parquetReadObjects({
    file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
    compressors,
  });
  const index = new Map<string, Record<string, string | null>>();
  for (const r of rows) {
    const a = r.add as { path: string; partitionValues: Record<string, string | null> } | null;
    if (a) index.set(decodePath(a.path), a.partitionValues);
  }
  return index;
}

/** Child mode: one reader in a fresh process (run with --expose-gc); prints one JSON line. */
async function child(mode: string, endpoint: string, files: number, layout: Layout): Promise<void> {
  const { backend, traffic, close } = countingS3Backend(endpoint);
  const storage = deltaStorageFromBackend(backend, BUCKET, tablePrefix(files, layout));
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('the child needs --expose-gc');
  const heap = () => {
    for (let i = 0; i < 3; i++) gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const checkpoint = `_delta_log/${String(CHECKPOINT_VERSION).padStart(20, '0')}.checkpoint.parquet`;
  const heapBefore = heap();
  const t0 = performance.now();
  let loaded: unknown;
  let count: number;
  if (mode === 'ours') {
    const snap = await loadSnapshot(storage, { tableUri: `s3://${BUCKET}/${tablePrefix(files, layout)}` });
    loaded = snap;
    count = snap.fileCount;
  } else {
    const index =
      mode === 'simple'
        ? await simpleRead(storage, checkpoint, { requests: 0, bytes: 0 })
        : await naiveRead(storage, checkpoint);
    loaded = index;
    count = index.size;
  }
  const ms = performance.now() - t0;
  const retainedBytes = heap() - heapBefore;
  console.log(
    JSON.stringify({
      files: count,
      ms,
      requests: traffic.requests,
      bytesFetched: traffic.bytes,
      peakRssMB: peakRssMB(),
      retainedBytes,
      kept: loaded !== undefined,
    }),
  );
  close();
}

/** One reader in a fresh process (see child). */
function runChild(script: string, mode: string, endpoint: string, files: number, layout: Layout) {
  return runBenchChild(script, ['--child', mode, endpoint, String(files), layout], {
    // Node's default heap limit for ours and simple (as in Lambda, where RSS is what counts); the
    // naive reader needs more than the default to finish at all.
    nodeArgs: ['--expose-gc', ...(mode === 'naive' ? ['--max-old-space-size=8192'] : [])],
    timeoutMs: 300_000,
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The cached bench table, served by an s3rver on 127.0.0.1 (close() stops it). */
export interface BenchTable {
  endpoint: string;
  s3: LocalS3;
  bucket: string;
  /** Key prefix of the table in the bucket. */
  prefix: string;
  tableUri: string;
  /** Over the project's S3Backend. */
  storage: DeltaStorage;
  /** Requests and GET body bytes through `storage`. */
  traffic: IoStats;
  files: number;
  generated: boolean;
  generateMs: number;
  close(): Promise<void>;
}

/**
 * The synthetic `files`-file table in .bench-cache (generated on first use, ~1 min at 1M files),
 * with any commits left by an earlier run removed. Other benchmarks load it as a real Snapshot.
 * The calling process must run with --openssl-legacy-provider (s3rver's listings need it).
 */
export async function ensureBenchTable(
  files = 1_000_000,
  layouts: readonly Layout[] = ['rowGroups100k'],
): Promise<BenchTable> {
  mkdirSync(path.join(cacheDir, 's3rver'), { recursive: true });
  const s3 = await startLocalS3(path.join(cacheDir, 's3rver'), [BUCKET]);
  try {
    const generated = !(await objectExists(
      s3.client,
      BUCKET,
      `${tablePrefix(files)}/_delta_log/_last_checkpoint`,
    ));
    const tg = performance.now();
    for (const layout of layouts) {
      if (
        !(await objectExists(s3.client, BUCKET, `${tablePrefix(files, layout)}/_delta_log/_last_checkpoint`))
      )
        await ensureTable(s3.client, files, layout);
    }
    const generateMs = performance.now() - tg;
    await resetCommits(s3.client, files);
    const counted = countingS3Backend(s3.endpoint);
    return {
      endpoint: s3.endpoint,
      s3,
      bucket: BUCKET,
      prefix: tablePrefix(files),
      tableUri: `s3://${BUCKET}/${tablePrefix(files)}`,
      storage: deltaStorageFromBackend(counted.backend, BUCKET, tablePrefix(files)),
      traffic: counted.traffic,
      files,
      generated,
      generateMs,
      close: async () => {
        counted.close();
        await s3.close();
      },
    };
  } catch (e) {
    await s3.close();
    throw e;
  }
}

type ChildResult = Record<string, number>;

function summary(runs: ChildResult[], files: number) {
  const retained = median(runs.map((r) => r.retainedBytes!));
  return {
    ms: Math.round(median(runs.map((r) => r.ms!))),
    runsMs: runs.map((r) => Math.round(r.ms!)),
    requests: runs[0]!.requests,
    bytesFetched: runs[0]!.bytesFetched,
    peakRssMB: Math.round(Math.max(...runs.map((r) => r.peakRssMB!))),
    retainedHeapMB: +(retained / 1e6).toFixed(1),
    retainedBytesPerFile: +(retained / files).toFixed(1),
    filesRead: runs[0]!.files,
  };
}

export default async function snapshotBench(args: string[]) {
  const files = Number(args.find((a) => /^\d+$/.test(a)) ?? 1_000_000);
  const table = await ensureBenchTable(files, LAYOUTS);
  const { s3, generated, generateMs } = table;
  const onExit: (() => void)[] = [];
  try {
    const script = await bundleBench('snapshot');
    onExit.push(() => rmSync(script, { force: true }));
    const pathBytes = decodePath(syntheticAdd(0).path).length;

    const layouts: Record<string, unknown> = {};
    for (const layout of LAYOUTS) {
      const runs: Record<string, ChildResult[]> = { ours: [], simple: [], naive: [] };
      // Interleaved, three rounds of ours and simple; one naive run (about a minute and GBs at 1M).
      for (let round = 0; round < 3; round++) {
        runs.ours!.push(await runChild(script, 'ours', s3.endpoint, files, layout));
        runs.simple!.push(await runChild(script, 'simple', s3.endpoint, files, layout));
      }
      if (!args.includes('no-naive'))
        runs.naive!.push(await runChild(script, 'naive', s3.endpoint, files, layout));
      const ours = summary(runs.ours!, files);
      const simple = summary(runs.simple!, files);
      const naive = runs.naive!.length ? summary(runs.naive!, files) : 'skipped (no-naive)';
      layouts[layout] = {
        ours: {
          ...ours,
          retainedBytesPerFileBeyondPath: +(ours.retainedBytesPerFile - pathBytes).toFixed(1),
        },
        simpleBaseline: simple,
        naiveBaseline: naive,
        ratios: {
          simpleTimeVsOurs: +(simple.ms / ours.ms).toFixed(2),
          simpleHeapVsOurs: +(simple.retainedHeapMB / ours.retainedHeapMB).toFixed(2),
          simplePeakRssVsOurs: +(simple.peakRssMB / ours.peakRssMB).toFixed(2),
          ...(typeof naive === 'object'
            ? {
                naiveTimeVsOurs: +(naive.ms / ours.ms).toFixed(2),
                naivePeakRssVsOurs: +(naive.peakRssMB / ours.peakRssMB).toFixed(2),
              }
            : {}),
        },
      };
    }

    // Incremental refresh in this process: one new commit with one file, then refreshSnapshot.
    const { storage, traffic } = table;
    const opts = { tableUri: table.tableUri };
    let snap = await loadSnapshot(storage, opts);
    const refresh: { ms: number; requests: number; bytes: number; outcome: string }[] = [];
    for (let v = CHECKPOINT_VERSION + 1; v <= CHECKPOINT_VERSION + 10; v++) {
      const body = `${JSON.stringify({ commitInfo: { operation: 'WRITE' } })}\n${JSON.stringify({ add: syntheticAdd(files + v) })}\n`;
      await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: commitKey(files, v), Body: body }));
      const before = { ...traffic };
      const t0 = performance.now();
      const r = await refreshSnapshot(snap, storage, opts);
      refresh.push({
        ms: performance.now() - t0,
        requests: traffic.requests - before.requests,
        bytes: traffic.bytes - before.bytes,
        outcome: r.outcome,
      });
      snap = r.snapshot;
    }
    await resetCommits(s3.client, files);

    return {
      bench: 'snapshot',
      node: process.version,
      table: {
        files,
        partitionColumns: 2,
        checkpointVersion: CHECKPOINT_VERSION,
        pathBytesPerFile: pathBytes,
        generatedThisRun: generated,
        generateMs: Math.round(generateMs),
      },
      measured:
        'each reader in a fresh process over S3Backend → s3rver; ms = load time; retainedHeap = ' +
        'heapUsed + arrayBuffers after GC with the result alive, minus the same before the load',
      layouts,
      incrementalRefresh: {
        medianMs: +median(refresh.map((r) => r.ms)).toFixed(2),
        runsMs: refresh.map((r) => Number(r.ms.toFixed(2))),
        outcomes: [...new Set(refresh.map((r) => r.outcome))],
        requestsPerRefresh: median(refresh.map((r) => r.requests)),
        bytesPerRefresh: median(refresh.map((r) => r.bytes)),
      },
      targets: { coldMs: 2500, peakRssMB: 350, refreshMs: 10 },
      machine: {
        cpus: (await import('node:os')).cpus().length,
        loadAvg: (await import('node:os')).loadavg(),
      },
    };
  } finally {
    for (const f of onExit) f();
    await table.close();
  }
}

if (process.argv[2] === '--child') {
  await child(process.argv[3]!, process.argv[4]!, Number(process.argv[5]), process.argv[6] as Layout);
  process.exit(0);
}
