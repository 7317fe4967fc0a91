/**
 * `npm run bench -- logshapes [rounds=2] [commits=3000]`: log shapes and cache pressure, over
 * s3rver in its own process (so its CPU is not this event loop's) and the project's S3Backend.
 *
 * coldLoad: a table of 3,000 commits and no checkpoint (as delta-rs writes small tables), written
 * once with lambda/local/delta-writer.ts into .bench-cache/. Each reader loads it cold, in rounds,
 * interleaved, in two settings: s3rver as is (loopback: no network latency, s3rver's CPU is the
 * limit) and every backend call answered 20 ms late (a timer, like S3's first-byte latency for a
 * small GET in region, 10-30 ms). Readers:
 * - ours: loadSnapshot, 64 reads / 8 MiB ahead, applied in order (log-read-ahead.ts);
 * - window8: the previous reader (8 reads ahead, the next started as one is applied);
 * - poolThenReplay: the simple alternative: every commit fetched by a pool of 64 (Promise.all with
 *   a concurrency limit), all held in memory, then replayed;
 * - and ours with 8 → 128 reads ahead, once each (the bound's sweep), with 20 ms latency.
 * cachePressure: SnapshotCache with the frequency admission against the previous LRU, in this
 * process: two tables alternating whose sum exceeds the budget, and three in a cycle of which two
 * fit. Loads per request, request latency (p50/p99), and the worst cache bytes against the budget.
 */
import os from 'node:os';
import path from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { type DeltaStorage, deltaStorageFromBackend } from '../lambda/delta/delta-storage';
import { loadSnapshot } from '../lambda/delta/load-snapshot';
import { DEFAULT_READ_AHEAD, type ReadAhead } from '../lambda/delta/log-read-ahead';
import { SnapshotCache } from '../lambda/delta/snapshot-cache';
import {
  type AddFile,
  DeltaTableWriter,
  writeCheckpoint,
  writeLastCheckpoint,
} from '../lambda/local/delta-writer';
import { S3Backend } from '../lambda/storage/s3-backend';
import type { StorageBackend } from '../lambda/storage/storage-backend';
import { loopBlocks } from '../test/helpers/loop-watch';
import {
  BACKEND_CREDENTIALS,
  backendClient,
  createBucket,
  objectExists,
  REPO_ROOT,
  startS3rver,
} from '../test/helpers/s3-servers';
import { slowStorage } from '../test/helpers/slow-storage';

process.env.AWS_EC2_METADATA_DISABLED = 'true';
process.env.AWS_EMF_ENVIRONMENT = 'Local';

const BUCKET = 'logshapes';
const LATENCY_MS = 20;
const WIDE_FILES = 30_000;
const cacheDir = path.join(REPO_ROOT, '.bench-cache');

/** A put target that keeps at most `limit` PutObjects in flight (the writer awaits each put). */
function boundedPuts(client: S3Client, prefix: string, limit = 32) {
  const inFlight = new Set<Promise<unknown>>();
  let failure: unknown;
  return {
    async put(rel: string, bytes: Uint8Array) {
      while (inFlight.size >= limit) await Promise.race(inFlight);
      if (failure) throw failure;
      const p: Promise<unknown> = client
        .send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}/${rel}`, Body: bytes }))
        .catch((e: unknown) => {
          failure ??= e;
        })
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
    },
    async drained() {
      await Promise.all(inFlight);
      if (failure) throw failure;
    },
  };
}

const stats = (i: number) =>
  `{"numRecords":${1000 + i},"minValues":{"id":${i * 1000},"ts":"2024-01-01T00:00:00.000Z"},` +
  `"maxValues":{"id":${i * 1000 + 999},"ts":"2024-12-31T23:59:59.999Z"},"nullCount":{"id":0,"ts":0}}`;

const file = (i: number, name: string): AddFile => ({
  path: `date=2024-01-${String(1 + (i % 28)).padStart(2, '0')}/${name}-${i}.snappy.parquet`,
  partitionValues: { date: `2024-01-${String(1 + (i % 28)).padStart(2, '0')}` },
  size: 100_000 + i,
  modificationTime: 1_700_000_000_000 + i,
  dataChange: true,
  stats: stats(i),
});

const SCHEMA = [
  { name: 'id', type: 'long' as const },
  { name: 'ts', type: 'timestamp' as const },
  { name: 'date', type: 'string' as const },
];

/** `commits` commits, no checkpoint: an append each, and every tenth one compacts two files. */
async function ensureLongTable(client: S3Client, prefix: string, commits: number): Promise<number> {
  if (
    await objectExists(client, BUCKET, `${prefix}/_delta_log/${String(commits - 1).padStart(20, '0')}.json`)
  )
    return 0;
  const t0 = performance.now();
  const target = boundedPuts(client, prefix);
  const w = new DeltaTableWriter(target, { schema: SCHEMA, partitionColumns: ['date'] });
  await w.create();
  const live: string[] = [];
  for (let v = 1; v < commits; v++) {
    const add = file(v, 'part');
    const remove = v % 10 === 0 ? live.splice(0, 2) : [];
    await w.commit({ add: [add], remove, operation: remove.length ? 'OPTIMIZE' : 'WRITE' });
    live.push(add.path);
  }
  await target.drained();
  return performance.now() - t0;
}

/** A checkpoint of `files` files and its hint (a table for the cache-pressure runs). */
async function ensureWideTable(client: S3Client, prefix: string, files: number): Promise<void> {
  if (await objectExists(client, BUCKET, `${prefix}/_delta_log/_last_checkpoint`)) return;
  const target = boundedPuts(client, prefix);
  const w = new DeltaTableWriter(target, { schema: SCHEMA, partitionColumns: ['date'] });
  const adds = Array.from({ length: files }, (_, i) => file(i, prefix));
  const info = await writeCheckpoint(target, 0, w.protocol, w.metaData, adds);
  await writeLastCheckpoint(target, info);
  await target.drained();
}

/** Counts backend calls and GET bytes, and the most GETs in flight at once. */
function counting(inner: StorageBackend) {
  const c = { requests: 0, bytes: 0, inFlight: 0, worstInFlight: 0 };
  const backend: StorageBackend = {
    async get(ref, o) {
      c.requests++;
      c.worstInFlight = Math.max(c.worstInFlight, ++c.inFlight);
      try {
        const r = await inner.get(ref, o);
        c.bytes += r.contentLength ?? 0;
        return r;
      } finally {
        c.inFlight--;
      }
    },
    head(ref, o) {
      c.requests++;
      return inner.head(ref, o);
    },
    list(p) {
      c.requests++;
      return inner.list(p);
    },
    presign: (ref, o) => inner.presign(ref, o),
  };
  return { backend, c };
}

/** The simple alternative: a pool of `pool` reads fetches every commit, then the replay runs from memory. */
async function poolThenReplay(storage: DeltaStorage, tableUri: string, pool: number) {
  const listing = (await storage.list('_delta_log/')).filter((f) => f.path.endsWith('.json'));
  const texts = new Map<string, Uint8Array>();
  let next = 0;
  await Promise.all(
    Array.from({ length: pool }, async () => {
      while (next < listing.length) {
        const f = listing[next++]!;
        texts.set(f.path, await storage.read(f.path));
      }
    }),
  );
  const held = [...texts.values()].reduce((n, b) => n + b.byteLength, 0);
  const fromMemory: DeltaStorage = {
    list: (d, a, l) => storage.list(d, a, l),
    size: (p) => storage.size(p),
    read: async (p, r) => texts.get(p) ?? storage.read(p, r),
  };
  // Everything is in memory: the replay's own read-ahead changes nothing here.
  const snap = await loadSnapshot(fromMemory, { tableUri, readAhead: { files: 1, bytes: 0 } });
  return { snap, held };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;
const r1 = (x: number) => Math.round(x * 10) / 10;

type Reader = 'ours' | 'window8' | 'poolThenReplay';

async function coldLoad(endpoint: string, prefix: string, rounds: number, meanCommitBytes: number) {
  const tableUri = `s3://${BUCKET}/${prefix}`;
  const once = async (reader: Reader | ReadAhead, latencyMs: number) => {
    const real = new S3Backend({
      endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: BACKEND_CREDENTIALS,
    });
    const { backend, c } = counting(latencyMs ? slowStorage(real, latencyMs) : real);
    const storage = deltaStorageFromBackend(backend, BUCKET, prefix);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let held: number;
    const { result: snap, blocks } = await loopBlocks(async () => {
      if (reader === 'poolThenReplay') {
        const r = await poolThenReplay(storage, tableUri, DEFAULT_READ_AHEAD.files);
        held = r.held;
        return r.snap;
      }
      const readAhead =
        reader === 'ours'
          ? DEFAULT_READ_AHEAD
          : reader === 'window8'
            ? { files: 8, bytes: Infinity }
            : reader;
      held = Math.min(readAhead.bytes, readAhead.files * meanCommitBytes);
      return loadSnapshot(storage, { tableUri, readAhead });
    });
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    real.destroy();
    return {
      ms,
      cpuMs: (cpu.user + cpu.system) / 1000,
      requests: c.requests,
      worstGetsInFlight: c.worstInFlight,
      longestBlockMs: blocks.reduce((worst, b) => Math.max(worst, b.cpuMs), 0),
      // Stretches the loop was held past 10 ms (CPU in them): one long block, or many.
      blocksOver10ms: blocks.filter((b) => b.cpuMs > 10).length,
      commitBytesHeldAtMost: Math.round(held!),
      version: snap.version,
      files: snap.activeFileCount,
    };
  };
  const settings: Record<string, unknown> = {};
  for (const latencyMs of [0, LATENCY_MS]) {
    const runs: Record<Reader, Awaited<ReturnType<typeof once>>[]> = {
      ours: [],
      window8: [],
      poolThenReplay: [],
    };
    for (let round = 0; round < rounds; round++) {
      for (const reader of ['window8', 'ours', 'poolThenReplay'] as const)
        runs[reader].push(await once(reader, latencyMs));
    }
    const sum = (rs: Awaited<ReturnType<typeof once>>[]) => ({
      ms: Math.round(median(rs.map((r) => r.ms))),
      runsMs: rs.map((r) => Math.round(r.ms)),
      requests: rs[0]!.requests,
      // This process only (s3rver runs in another): the reader's CPU per backend request.
      cpuMsPerRequest: +(median(rs.map((r) => r.cpuMs)) / rs[0]!.requests).toFixed(3),
      worstGetsInFlight: Math.max(...rs.map((r) => r.worstGetsInFlight)),
      // On a loaded machine this includes time the OS did not run the process at all.
      longestEventLoopBlockMs: r1(Math.max(...rs.map((r) => r.longestBlockMs))),
      eventLoopBlocksOver10msPerLoad: median(rs.map((r) => r.blocksOver10ms)),
      commitBytesHeldAtMost: rs[0]!.commitBytesHeldAtMost,
      version: rs[0]!.version,
      activeFiles: rs[0]!.files,
    });
    const ours = sum(runs.ours);
    const window8 = sum(runs.window8);
    const pool = sum(runs.poolThenReplay);
    settings[latencyMs ? `backendLatency${latencyMs}ms` : 'loopback'] = {
      ours,
      previousWindow8: window8,
      poolThenReplay: pool,
      ratios: {
        window8TimeVsOurs: r1(window8.ms / ours.ms),
        poolThenReplayTimeVsOurs: +(pool.ms / ours.ms).toFixed(2),
        poolThenReplayHeldVsOurs: r1(pool.commitBytesHeldAtMost / ours.commitBytesHeldAtMost),
      },
    };
  }
  const sweep: Record<string, number> = {};
  for (const files of [8, 16, 32, 64, 128]) {
    const r = await once({ files, bytes: DEFAULT_READ_AHEAD.bytes }, LATENCY_MS);
    sweep[`readAhead${files}`] = Math.round(r.ms);
  }
  return { ...settings, sweepMsWithLatency: sweep };
}

async function cachePressure(endpoint: string, tables: string[], rounds: number) {
  const sizes: number[] = [];
  for (const t of tables) {
    const real = new S3Backend({
      endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: BACKEND_CREDENTIALS,
    });
    sizes.push(
      (await loadSnapshot(deltaStorageFromBackend(real, BUCKET, t), { tableUri: `s3://${BUCKET}/${t}` }))
        .estimatedBytes,
    );
    real.destroy();
  }
  const one = Math.max(...sizes);
  const scenario = async (policy: 'frequency' | 'lru', keys: string[], budget: number, requests: number) => {
    const real = new S3Backend({
      endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: BACKEND_CREDENTIALS,
    });
    const { backend, c } = counting(real);
    let loads = 0;
    const cache = new SnapshotCache({
      ttlMs: 600_000,
      maxBytes: budget,
      clock: { now: () => Date.now() },
      policy,
      onLoad: (l) => {
        if (l.kind === 'load') loads++;
      },
    });
    const storages = new Map(keys.map((k) => [k, deltaStorageFromBackend(backend, BUCKET, k)]));
    const latencies: number[] = [];
    let worstBytes = 0;
    for (let i = 0; i < requests; i++) {
      const k = keys[i % keys.length]!;
      const t0 = performance.now();
      await cache.get(k, storages.get(k)!, `s3://${BUCKET}/${k}`);
      latencies.push(performance.now() - t0);
      worstBytes = Math.max(worstBytes, cache.stats().bytes);
    }
    real.destroy();
    return {
      loadsPerRequest: +(loads / requests).toFixed(2),
      backendRequestsPerRequest: +(c.requests / requests).toFixed(1),
      p50Ms: r1(pct(latencies, 50)),
      p99Ms: r1(pct(latencies, 99)),
      totalMs: Math.round(latencies.reduce((a, b) => a + b, 0)),
      worstCacheBytes: worstBytes,
      budget,
      withinBudget: worstBytes <= budget,
    };
  };
  const out: Record<string, unknown> = { tableSnapshotBytes: sizes };
  const cases = [
    { name: 'twoTablesAlternating', keys: tables.slice(0, 2), budget: Math.round(one * 1.5), requests: 40 },
    { name: 'threeTablesCycling', keys: tables.slice(0, 3), budget: Math.round(one * 2.5), requests: 60 },
  ];
  for (const k of cases) {
    const runs: Record<'frequency' | 'lru', Awaited<ReturnType<typeof scenario>>[]> = {
      frequency: [],
      lru: [],
    };
    for (let round = 0; round < rounds; round++) {
      for (const policy of ['lru', 'frequency'] as const)
        runs[policy].push(await scenario(policy, k.keys, k.budget, k.requests));
    }
    const pick = (rs: Awaited<ReturnType<typeof scenario>>[]) =>
      rs.sort((a, b) => a.totalMs - b.totalMs)[rs.length >> 1]!;
    const ours = pick(runs.frequency);
    const lru = pick(runs.lru);
    out[k.name] = {
      requests: k.requests,
      frequencyAdmission: ours,
      previousLru: lru,
      ratios: {
        lruLoadsVsOurs: r1(lru.loadsPerRequest / ours.loadsPerRequest),
        lruTotalTimeVsOurs: r1(lru.totalMs / ours.totalMs),
      },
    };
  }
  return out;
}

export default async function logshapesBench(args: string[]) {
  const rounds = Number(args[0] ?? 2);
  const commits = Number(args[1] ?? 3000);
  const s3rver = await startS3rver({ dir: path.join(cacheDir, 'logshapes-s3rver') });
  const { endpoint } = s3rver;
  const client = backendClient(endpoint);
  try {
    await createBucket(client, BUCKET).catch(() => undefined); // kept from an earlier run
    const prefix = `long-${commits}`;
    const writeMs = await ensureLongTable(client, prefix, commits);
    const wide = ['wide-a', 'wide-b', 'wide-c'];
    for (const t of wide) await ensureWideTable(client, t, WIDE_FILES);
    const real = new S3Backend({
      endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: BACKEND_CREDENTIALS,
    });
    const logBytes = (await deltaStorageFromBackend(real, BUCKET, prefix).list('_delta_log/')).reduce(
      (n, f) => n + f.size,
      0,
    );
    real.destroy();
    const loadBefore = os.loadavg();
    const cold = await coldLoad(endpoint, prefix, rounds, logBytes / commits);
    const pressure = await cachePressure(endpoint, wide, rounds);
    return {
      bench: 'logshapes',
      node: process.version,
      table: { commits, checkpoint: false, logBytes, writtenThisRunMs: Math.round(writeMs) },
      measured:
        'S3Backend → s3rver (child process) on 127.0.0.1; ms = cold load time, median of rounds ' +
        '(interleaved); requests = backend calls; commitBytesHeldAtMost = the bound (ours, window8: ' +
        'files ahead × mean commit size, at most the byte bound) or every commit (poolThenReplay)',
      coldLoad: cold,
      cachePressure: pressure,
      machine: { cpus: os.cpus().length, loadAvgBefore: loadBefore, loadAvgAfter: os.loadavg() },
    };
  } finally {
    client.destroy();
    await s3rver.stop();
  }
}
