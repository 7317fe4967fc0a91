/**
 * `npm run bench -- snapshot [files=1000000] [no-naive]`: a synthetic table whose checkpoint lists 1M
 * files (~150 B of stats each, 2 partition columns), written once by our delta-writer into an
 * s3rver store under .bench-cache/, read back through S3 on 127.0.0.1.
 *
 * Figures: cold snapshot load (fresh child process: time, peak RSS, bytes fetched), the same
 * checkpoint read naively with hyparquet (whole file, all columns) as the baseline, and the
 * incremental refresh after one new commit. The child runs an esbuild bundle of this file,
 * as the Lambda would.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { type DeltaStorage, deltaStorageFromBackend } from '../lambda/delta/delta-storage';
import { loadSnapshot, refreshSnapshot } from '../lambda/delta/load-snapshot';
import {
  type AddFile,
  logPathOf,
  type MetaData,
  writeCheckpoint,
  writeLastCheckpoint,
} from '../lambda/local/delta-writer';
import { type LocalS3, s3Backend, startLocalS3 } from '../test/helpers/delta-s3';

process.env.AWS_EC2_METADATA_DISABLED = 'true';
process.env.AWS_EMF_ENVIRONMENT = 'Local';

const BUCKET = 'bench';
const CHECKPOINT_VERSION = 1000;
const repoRoot = path.resolve(import.meta.dirname, '..');
const cacheDir = path.join(repoRoot, '.bench-cache');

const tablePrefix = (files: number) => `snapshot-${files}`;
const commitKey = (files: number, v: number) =>
  `${tablePrefix(files)}/_delta_log/${String(v).padStart(20, '0')}.json`;

function syntheticAdd(i: number): AddFile {
  const date = `2024-${String(1 + (i % 12)).padStart(2, '0')}-${String(1 + (i % 28)).padStart(2, '0')}`;
  const region = `region-${i % 10}`;
  const stats =
    `{"numRecords":${1000 + (i % 5000)},"minValues":{"id":${i * 1000},"ts":"2024-01-01T00:00:00.000Z"},` +
    `"maxValues":{"id":${i * 1000 + 999},"ts":"2024-12-31T23:59:59.999Z"},"nullCount":{"id":0,"ts":0}}`;
  return {
    path: logPathOf(
      `date=${date}/region=${region}/part-${String(i % 100000).padStart(5, '0')}-${randomUUID()}.c000.snappy.parquet`,
    ),
    partitionValues: { date, region },
    size: 100_000 + i,
    modificationTime: 1_700_000_000_000 + i,
    dataChange: true,
    stats,
  };
}

const metaData: MetaData = {
  id: 'bench-table',
  format: { provider: 'parquet', options: {} },
  schemaString: JSON.stringify({
    type: 'struct',
    fields: [
      { name: 'id', type: 'long', nullable: true, metadata: {} },
      { name: 'ts', type: 'timestamp', nullable: true, metadata: {} },
      { name: 'date', type: 'date', nullable: true, metadata: {} },
      { name: 'region', type: 'string', nullable: true, metadata: {} },
    ],
  }),
  partitionColumns: ['date', 'region'],
  configuration: {},
  createdTime: 1_700_000_000_000,
};

async function exists(client: S3Client, key: string): Promise<boolean> {
  try {
    await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    return true;
  } catch {
    return false;
  }
}

/** The table: a checkpoint at v1000 (its early log "cleaned up") and `_last_checkpoint`. */
async function ensureTable(client: S3Client, files: number): Promise<void> {
  const prefix = tablePrefix(files);
  if (await exists(client, `${prefix}/_delta_log/_last_checkpoint`)) return;
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
  );
  await writeLastCheckpoint({ put }, info);
}

/** Removes commits after the checkpoint left by an earlier run, so every run starts equal. */
async function resetCommits(client: S3Client, files: number): Promise<void> {
  for (let v = CHECKPOINT_VERSION + 1; v <= CHECKPOINT_VERSION + 20; v++) {
    await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: commitKey(files, v) }));
  }
}

function clientFor(endpoint: string) {
  return import('@aws-sdk/client-s3').then(
    ({ S3Client }) =>
      new S3Client({
        endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      }),
  );
}

/** Child mode: one measurement in a fresh process; prints one JSON line. */
async function child(mode: string, endpoint: string, files: number): Promise<void> {
  const client = await clientFor(endpoint);
  const traffic = { requests: 0, bytes: 0 };
  const backend = s3Backend(client, traffic);
  const startRss = process.memoryUsage.rss();
  // Where the memory is when RSS peaks (sampled; the peak itself comes from getrusage).
  let atPeak = process.memoryUsage();
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    if (m.rss > atPeak.rss) atPeak = m;
  }, 10);
  const t0 = performance.now();
  let out: Record<string, unknown>;
  if (mode === 'cold') {
    const storage = deltaStorageFromBackend(backend, BUCKET, tablePrefix(files));
    const snap = await loadSnapshot(storage, { tableUri: `s3://${BUCKET}/${tablePrefix(files)}` });
    out = { files: snap.fileCount, tuples: snap.tupleCount, estimatedBytes: snap.estimatedBytes };
  } else {
    // Naive: the whole checkpoint, every column, rows as objects, then a path → partition map.
    const key = `${tablePrefix(files)}/_delta_log/${String(CHECKPOINT_VERSION).padStart(20, '0')}.checkpoint.parquet`;
    const res = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    const bytes = await res.Body!.transformToByteArray();
    traffic.requests++;
    traffic.bytes += bytes.byteLength;
    const rows = await parquetReadObjects({ file: bytes.buffer as ArrayBuffer, compressors });
    const index = new Map<string, Record<string, string>>();
    for (const r of rows) {
      const a = r.add as { path: string; partitionValues: Record<string, string> } | null;
      if (a) index.set(decodeURIComponent(a.path), a.partitionValues);
    }
    out = { files: index.size };
  }
  const ms = performance.now() - t0;
  clearInterval(sampler);
  const mb = (n: number) => Math.round(n / 1e5) / 10;
  console.log(
    JSON.stringify({
      ...out,
      ms,
      requests: traffic.requests,
      bytesFetched: traffic.bytes,
      maxRssMB: process.resourceUsage().maxRSS / 1024,
      startRssMB: mb(startRss),
      atPeakMB: {
        rss: mb(atPeak.rss),
        heapUsed: mb(atPeak.heapUsed),
        heapTotal: mb(atPeak.heapTotal),
        external: mb(atPeak.external),
        arrayBuffers: mb(atPeak.arrayBuffers),
      },
    }),
  );
  client.destroy();
}

async function bundle(): Promise<string> {
  // One bundle per run: .bench-cache may be shared by several worktrees benchmarking at once.
  const out = path.join(cacheDir, `snapshot-bench-${process.pid}.mjs`);
  const { build } = await import('esbuild');
  await build({
    entryPoints: [path.join(repoRoot, 'bench/snapshot.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['s3rver', 'esbuild'],
    outfile: out,
    logLevel: 'warning',
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
  });
  return out;
}

/** Async on purpose: s3rver serves the child from this process's event loop. */
async function runChild(
  script: string,
  mode: string,
  endpoint: string,
  files: number,
): Promise<Record<string, number>> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [script, '--child', mode, endpoint, String(files)],
    {
      env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true', AWS_EMF_ENVIRONMENT: 'Local' },
      maxBuffer: 1 << 20,
      timeout: 300_000,
    },
  );
  return JSON.parse(stdout.trim().split('\n').pop()!);
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
  storage: DeltaStorage;
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
export async function ensureBenchTable(files = 1_000_000): Promise<BenchTable> {
  mkdirSync(path.join(cacheDir, 's3rver'), { recursive: true });
  const s3 = await startLocalS3(path.join(cacheDir, 's3rver'), [BUCKET]);
  try {
    const generated = !(await exists(s3.client, `${tablePrefix(files)}/_delta_log/_last_checkpoint`));
    const tg = performance.now();
    await ensureTable(s3.client, files);
    const generateMs = performance.now() - tg;
    await resetCommits(s3.client, files);
    return {
      endpoint: s3.endpoint,
      s3,
      bucket: BUCKET,
      prefix: tablePrefix(files),
      tableUri: `s3://${BUCKET}/${tablePrefix(files)}`,
      storage: deltaStorageFromBackend(s3.backend, BUCKET, tablePrefix(files)),
      files,
      generated,
      generateMs,
      close: () => s3.close(),
    };
  } catch (e) {
    await s3.close();
    throw e;
  }
}

export default async function snapshotBench(args: string[]) {
  const files = Number(args.find((a) => /^\d+$/.test(a)) ?? 1_000_000);
  const table = await ensureBenchTable(files);
  const { s3, generated, generateMs } = table;
  const onExit: (() => void)[] = [];
  try {
    const script = await bundle();
    onExit.push(() => rmSync(script, { force: true }));

    const cold: Record<string, number>[] = [];
    for (let i = 0; i < 3; i++) cold.push(await runChild(script, 'cold', s3.endpoint, files));
    const naive: Record<string, number>[] = [];
    // One naive run: at 1M files it takes about a minute and 4 GB (`no-naive` skips it).
    if (!args.includes('no-naive')) naive.push(await runChild(script, 'naive', s3.endpoint, files));

    // Incremental refresh in this process: one new commit with one file, then refreshSnapshot.
    const { storage } = table;
    const opts = { tableUri: table.tableUri };
    let snap = await loadSnapshot(storage, opts);
    const refresh: { ms: number; requests: number; bytes: number; outcome: string }[] = [];
    for (let v = CHECKPOINT_VERSION + 1; v <= CHECKPOINT_VERSION + 10; v++) {
      const body = `${JSON.stringify({ commitInfo: { operation: 'WRITE' } })}\n${JSON.stringify({ add: syntheticAdd(files + v) })}\n`;
      await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: commitKey(files, v), Body: body }));
      const before = { ...s3.traffic };
      const t0 = performance.now();
      const r = await refreshSnapshot(snap, storage, opts);
      refresh.push({
        ms: performance.now() - t0,
        requests: s3.traffic.requests - before.requests,
        bytes: s3.traffic.bytes - before.bytes,
        outcome: r.outcome,
      });
      snap = r.snapshot;
    }
    await resetCommits(s3.client, files);

    const coldMs = median(cold.map((c) => c.ms!));
    const naiveMs = naive.length ? median(naive.map((c) => c.ms!)) : Number.NaN;
    return {
      bench: 'snapshot',
      table: {
        files,
        partitionColumns: 2,
        checkpointVersion: CHECKPOINT_VERSION,
        generatedThisRun: generated,
        generateMs,
      },
      cold: {
        ms: coldMs,
        runsMs: cold.map((c) => Math.round(c.ms!)),
        peakRssMB: Math.max(...cold.map((c) => c.maxRssMB!)),
        peakRssRunsMB: cold.map((c) => Math.round(c.maxRssMB!)),
        rssBeforeLoadMB: cold[0]!.startRssMB,
        atPeakMB: cold[0]!.atPeakMB,
        bytesFetched: cold[0]!.bytesFetched,
        requests: cold[0]!.requests,
        estimatedSnapshotMB: cold[0]!.estimatedBytes! / 1e6,
        residentBytesPerFile: cold[0]!.estimatedBytes! / files,
        pathBytesPerFile: decodeURIComponent(syntheticAdd(0).path).length,
      },
      baselineNaiveHyparquet: naive.length
        ? {
            ms: naiveMs,
            runsMs: naive.map((c) => Math.round(c.ms!)),
            peakRssMB: Math.max(...naive.map((c) => c.maxRssMB!)),
            bytesFetched: naive[0]!.bytesFetched,
          }
        : 'skipped (no-naive)',
      speedupVsNaive: naive.length ? naiveMs / coldMs : null,
      incrementalRefresh: {
        medianMs: median(refresh.map((r) => r.ms)),
        runsMs: refresh.map((r) => Number(r.ms.toFixed(2))),
        outcomes: [...new Set(refresh.map((r) => r.outcome))],
        requestsPerRefresh: median(refresh.map((r) => r.requests)),
        bytesPerRefresh: median(refresh.map((r) => r.bytes)),
      },
      targets: { coldMs: 2500, peakRssMB: 350, speedupVsNaive: 4, refreshMs: 10 },
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
  await child(process.argv[3]!, process.argv[4]!, Number(process.argv[5]));
  process.exit(0);
}
