/**
 * `npm run bench -- authz [real|synthetic] [files]`: authorization decision cost on a cached snapshot,
 * 1,000,000 files, 100 grant maps, in two sections:
 * - realSnapshot: the real `Snapshot` loaded (in this process) from the snapshot bench's cached
 *   1M-file table (bench/snapshot.ts ensureBenchTable, s3rver on 127.0.0.1), grant maps over its
 *   real partition tuples, probes = the paths a listing of it shows, re-made as a request's
 *   decoded key would be (fresh strings);
 * - synthetic: an in-memory SnapshotView test double (365 days x 20 regions).
 * Each section measures (JSON to stdout):
 * - build: time to compute the allowed-set (once per principal, table, snapshot version),
 * - decision: ns per cached decision on fresh path strings. Timed: the synchronous part of the
 *   request path's authorization, i.e. the caller's grants → effective maps → allowed-set cache
 *   lookup → isReadable(path). Not timed: SigV4, routing and key decoding, the grant store and
 *   snapshot cache lookups (both awaited), the backend request. isReadable alone is shown too;
 *   the real snapshot section also times the whole awaited DeltaAuthorizer.authorizeObject,
 * - resident bytes of the allowed-set (bitset over tuples) and of readableFolders(), per file of
 *   the table,
 * - baselines in the same run, per file of the same table: a Set<string> of the readable paths
 *   (build, lookup, bytes), and a per-request evaluation with the grant maps compiled once
 *   (column indexes and canonical values), the best simple alternative to a precomputed set.
 * The real snapshot section also floods the real proxy (over s3rver) with requests for paths the
 * table does not have and counts every backend request they cause, by kind.
 * Targets: ≤ 2 µs per cached decision, ≤ 64 B resident per file.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { AllowedSet } from '../lambda/access/allowed-set';
import { AllowedSetCache } from '../lambda/access/allowed-set-cache';
import { DeltaAuthorizer } from '../lambda/access/delta-authorizer';
import type { Grant, PartitionMap } from '../lambda/access/grant';
import { ConfigGrantStore, effectivePartitions } from '../lambda/access/grant-sources';
import { canonicalize, grantCanonicals, grantKeysFor, normalizerFor } from '../lambda/access/partition-value';
import { startNodeServer } from '../lambda/adapters/node-server';
import { createProxy } from '../lambda/bootstrap';
import { parseConfig } from '../lambda/config';
import { silentLogger } from '../lambda/core/logger';
import { TableMap } from '../lambda/core/table-mount';
import { systemClock } from '../lambda/core/types';
import { loadSnapshot } from '../lambda/delta/load-snapshot';
import { SnapshotCache } from '../lambda/delta/snapshot-cache';
import type { PartitionColumn, SnapshotView } from '../lambda/delta/snapshot-view';
import { S3Backend } from '../lambda/storage/s3-backend';
import type { StorageBackend } from '../lambda/storage/storage-backend';
import { InMemorySnapshot } from '../test/access/in-memory-snapshot';
import { encodeKeyPath, signedFetch } from '../test/helpers/signed-fetch';
import { type BenchTable, ensureBenchTable } from './snapshot';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  // Typed-array backing stores live outside the JS heap: count them too.
  return m.heapUsed + m.arrayBuffers;
}

const REGIONS = Array.from({ length: 20 }, (_, i) => `region-${i}`);
const DAYS = Array.from({ length: 365 }, (_, i) =>
  new Date(Date.UTC(2024, 0, 1 + i)).toISOString().slice(0, 10),
);

function pathOf(i: number): string {
  const region = REGIONS[i % REGIONS.length]!;
  const day = DAYS[Math.floor(i / REGIONS.length) % DAYS.length]!;
  return `region=${region}/date=${day}/part-${String(i).padStart(7, '0')}-c000.snappy.parquet`;
}

type Timing = { nsPerOp: number; checksum: number };

async function interleaved(
  ops: number,
  runs: number,
  fns: (() => number | Promise<number>)[],
): Promise<Timing[]> {
  const times = fns.map(() => [] as number[]);
  const sums = fns.map(() => 0);
  for (let r = 0; r < runs; r++) {
    for (const [i, fn] of fns.entries()) {
      const t0 = process.hrtime.bigint();
      sums[i] = await fn();
      times[i]!.push(Number(process.hrtime.bigint() - t0) / ops);
    }
  }
  return times.map((t, i) => ({
    nsPerOp: t.sort((a, b) => a - b)[Math.floor(runs / 2)]!,
    checksum: sums[i]!,
  }));
}

/** Median of `runs` timed passes (the machine may be shared; the median resists noise). */
async function nsPer(ops: number, fn: () => number | Promise<number>, runs = 3): Promise<Timing> {
  const times: number[] = [];
  let checksum = 0;
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    checksum = await fn();
    times.push(Number(process.hrtime.bigint() - t0) / ops);
  }
  times.sort((a, b) => a - b);
  return { nsPerOp: times[Math.floor(runs / 2)]!, checksum };
}

/** Everything measured for one snapshot: allowed-set build/memory, decisions, baselines. */
async function measure(
  snapshot: SnapshotView,
  maps: PartitionMap[],
  probes: readonly string[],
  extra: Record<string, unknown> = {},
) {
  const FILES = probes.length;
  const columns: readonly PartitionColumn[] = snapshot.partitionColumns;
  const grants: readonly Grant[] = Object.freeze([
    { principal: 'analyst', table: 'trades', partitions: maps },
  ]);

  // ---- allowed-set: build and memory (200 sets kept alive, so the heap delta is theirs alone) ----
  const buildT0 = process.hrtime.bigint();
  let allowed: AllowedSet | undefined = await AllowedSet.build(snapshot, maps);
  const buildMs = Number(process.hrtime.bigint() - buildT0) / 1e6;
  const set0Bytes = allowed.residentBytes;
  const before = heapAfterGc();
  const kept = Array.from({ length: 200 }, (_, k) => new AllowedSet(snapshot, maps.slice(k % 50)));
  const allowedBytes = Math.round((heapAfterGc() - before) / kept.length);
  const foldersT0 = process.hrtime.bigint();
  const folders = await allowed.readableFolders();
  const foldersMs = Number(process.hrtime.bigint() - foldersT0) / 1e6;
  const beforeFolders = heapAfterGc();
  const keptFolders = await Promise.all(kept.slice(0, 5).map((k) => k.readableFolders()));
  const foldersBytes = Math.round((heapAfterGc() - beforeFolders) / keptFolders.length);
  kept.length = 0;

  // ---- decisions ----
  const cache = new AllowedSetCache();
  const requestPathPass = async () => {
    let n = 0;
    for (let i = 0; i < FILES; i++) {
      const eff = effectivePartitions(grants, 'trades')!;
      if ((await cache.get('analyst', 'trades', snapshot, eff)).isReadable(probes[i]!)) n++;
    }
    return n;
  };
  // First pass over fresh strings: each path is hashed once, as a new request's key would be.
  const coldFirstPass = await nsPer(FILES, requestPathPass, 1);
  const set = allowed;
  // The variants run interleaved, five times each; medians reported (the machine may be shared).
  const [requestPath, isReadableOnly, tupleOfOnly] = (await interleaved(FILES, 5, [
    requestPathPass,
    () => {
      let n = 0;
      for (let i = 0; i < FILES; i++) if (set.isReadable(probes[i]!)) n++;
      return n;
    },
    () => {
      let n = 0;
      for (let i = 0; i < FILES; i++) if (snapshot.tupleOf(probes[i]!) >= 0) n++;
      return n;
    },
  ])) as [Timing, Timing, Timing];

  // ---- baseline 1: Set<string> of allowed paths ----
  const readablePaths: string[] = [];
  snapshot.forEachFile((p) => {
    if (set.isReadable(p)) readablePaths.push(p);
  });
  allowed = undefined;
  const beforeSet = heapAfterGc();
  const setT0 = process.hrtime.bigint();
  // Copies of the paths: a per-caller set owns its strings (they are not shared with the snapshot).
  const pathSet = new Set(readablePaths.map((p) => p.split('').join('')));
  const setBuildMs = Number(process.hrtime.bigint() - setT0) / 1e6;
  const setBytes = heapAfterGc() - beforeSet;
  const setLookup = await nsPer(FILES, () => {
    let n = 0;
    for (let i = 0; i < FILES; i++) if (pathSet.has(probes[i]!)) n++;
    return n;
  });
  const setSize = pathSet.size;
  pathSet.clear();

  // ---- baseline 2: per-request evaluation of grant maps compiled once ----
  // Compiled as a careful engineer would: each map becomes (column index, canonical value) pairs,
  // a map naming an unknown column or an unparsable value is dropped. Per request: the file's
  // tuple, its values canonicalized once per column, then the maps compared against them.
  const normalizers = columns.map((c) => normalizerFor(c.type));
  const compiled = maps.flatMap((m) => {
    const terms: { c: number; want: readonly (string | null)[] }[] = [];
    for (const [k, v] of Object.entries(m)) {
      const c = columns.findIndex((col) => col.logical === k);
      const want = c < 0 ? undefined : grantCanonicals(grantKeysFor(columns[c]!.type), v);
      if (want === undefined) return [];
      terms.push({ c, want });
    }
    return [terms];
  });
  const canonical: (string | null | undefined)[] = new Array(columns.length);
  const compiledEval = await nsPer(FILES, () => {
    let n = 0;
    for (let i = 0; i < FILES; i++) {
      const t = snapshot.tupleOf(probes[i]!);
      if (t < 0) continue;
      const values = snapshot.tupleValues(t);
      for (let c = 0; c < columns.length; c++) canonical[c] = canonicalize(normalizers[c]!, values[c]!);
      if (compiled.some((terms) => terms.every(({ c, want }) => want.includes(canonical[c]!)))) n++;
    }
    return n;
  });

  const files = snapshot.fileCount;
  if (compiledEval.checksum !== requestPath.checksum)
    throw new Error(
      `compiled baseline allowed ${compiledEval.checksum}, the request path ${requestPath.checksum}`,
    );
  return {
    ...extra,
    files,
    tuples: snapshot.tupleCount,
    grantMaps: maps.length,
    allowedTuples: set.allowedTupleCount,
    readableFiles: readablePaths.length,
    probes: FILES,
    allowedSet: {
      buildMs: +buildMs.toFixed(2),
      residentBytes: allowedBytes,
      bitsetBytes: set0Bytes,
      residentBytesPerFile: +(allowedBytes / files).toFixed(4),
      readableFolders: folders.size,
      readableFoldersMs: +foldersMs.toFixed(1),
      readableFoldersBytes: foldersBytes,
      withFoldersBytesPerFile: +((allowedBytes + foldersBytes) / files).toFixed(4),
    },
    decision: {
      timed:
        'grants → effectivePartitions → AllowedSetCache.get → isReadable(path), synchronous, warm caches',
      cachedRequestPathNs: +requestPath.nsPerOp.toFixed(1),
      cachedRequestPathFirstPassNs: +coldFirstPass.nsPerOp.toFixed(1),
      overheadBeyondTupleOfNs: +(requestPath.nsPerOp - tupleOfOnly.nsPerOp).toFixed(1),
      isReadableOnlyNs: +isReadableOnly.nsPerOp.toFixed(1),
      tupleOfOnlyNs: +tupleOfOnly.nsPerOp.toFixed(1),
      allowed: requestPath.checksum,
      cacheHits: cache.hits,
      cacheMisses: cache.misses,
    },
    baseline: {
      setOfPaths: {
        buildMs: +setBuildMs.toFixed(1),
        residentBytes: setBytes,
        residentBytesPerFile: +(setBytes / files).toFixed(4),
        residentBytesPerReadableFile: +(setBytes / Math.max(1, setSize)).toFixed(1),
        lookupNs: +setLookup.nsPerOp.toFixed(1),
        allowed: setLookup.checksum,
      },
      compiledMapsPerRequestNs: +compiledEval.nsPerOp.toFixed(1),
      compiledMapsResidentBytesPerFile: 0,
    },
    ratios: {
      compiledMapsVsRequestPath: +(compiledEval.nsPerOp / requestPath.nsPerOp).toFixed(2),
      setOfPathsBytesVsAllowedSet: +(setBytes / Math.max(1, allowedBytes)).toFixed(0),
    },
    pass: requestPath.nsPerOp <= TARGETS.decisionNs && allowedBytes / files <= TARGETS.residentBytesPerFile,
    firstPassWithinTarget: coldFirstPass.nsPerOp <= TARGETS.decisionNs,
  };
}

const TARGETS = { decisionNs: 2000, residentBytesPerFile: 64 };

/** The real Snapshot of the snapshot bench's cached table, with maps over its own tuples. */
async function realSnapshotSection(files: number) {
  const table = await ensureBenchTable(files);
  try {
    const t0 = performance.now();
    const snapshot = await loadSnapshot(table.storage, { tableUri: table.tableUri });
    const loadMs = performance.now() - t0;
    // 100 maps over the table's real tuples: 80 (date, region) pairs and 20 whole days.
    const col = (name: string) => snapshot.partitionColumns.findIndex((c) => c.logical === name);
    const [di, ri] = [col('date'), col('region')];
    const tuples = Array.from({ length: snapshot.tupleCount }, (_, t) => snapshot.tupleValues(t));
    const maps: PartitionMap[] = [];
    for (let k = 0; k < 80; k++) {
      const v = tuples[(k * 7) % tuples.length]!;
      maps.push({ date: v[di]!, region: v[ri]! });
    }
    for (let k = 0; k < 20; k++) maps.push({ date: tuples[(k * 11 + 3) % tuples.length]![di]! });
    // Probes: what a listing shows, as a request's decoded key (a fresh string per request),
    // in a scattered order; 1 in 10 is not in the snapshot (an orphan or a made-up name).
    const listed: string[] = [];
    snapshot.forEachFile((p) => {
      listed.push(p);
    });
    const probes: string[] = [];
    for (let i = 0; i < listed.length; i++) {
      const p = listed[(i * 7919) % listed.length]!;
      // As the router makes it: the decoded key ("alias/…") sliced after the alias.
      const key = decodeURIComponent(encodeURIComponent(`trades/${i % 10 === 9 ? `${p}.orphan` : p}`));
      probes.push(key.slice(key.indexOf('/') + 1));
    }
    listed.length = 0;
    const known = probes.filter((p) => snapshot.tupleOf(p) >= 0);
    const result = await measure(snapshot, maps, probes, {
      table: table.tableUri,
      snapshotLoadMs: Math.round(loadMs),
    });
    return { ...result, awaitedAuthorizeObject: await awaitedPath(table, maps, known) };
  } finally {
    await table.close();
  }
}

/** A backend over s3rver: the project's S3Backend, as createProxy builds it. */
function benchBackend(table: BenchTable): S3Backend {
  return new S3Backend({
    endpoint: table.endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
}

/**
 * The whole awaited decision, DeltaAuthorizer.authorizeObject, as the pipeline calls it: config
 * grant store, snapshot cache (warm, within its TTL), allowed-set cache. Files the snapshot knows
 * only (a path it does not know costs backend requests: see unknownPathFlood).
 */
async function awaitedPath(table: BenchTable, maps: PartitionMap[], known: string[]) {
  const storage = benchBackend(table);
  const authorizer = new DeltaAuthorizer({
    grants: new ConfigGrantStore({ grants: [{ principal: 'analyst', table: 'trades', partitions: maps }] }),
    snapshots: new SnapshotCache({ ttlMs: 3_600_000, maxBytes: 2 ** 31, clock: systemClock }),
    allowedSets: new AllowedSetCache(),
    storage,
    logger: silentLogger,
  });
  const mount = new TableMap({ trades: table.tableUri }).get('trades')!;
  const principal = { name: 'analyst', anonymous: false };
  await authorizer.authorizeObject(principal, mount, known[0]!); // loads the snapshot once
  const n = Math.min(known.length, 100_000);
  const times: number[] = [];
  let allowed = 0;
  for (let r = 0; r < 3; r++) {
    allowed = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++)
      if ((await authorizer.authorizeObject(principal, mount, known[i]!)).allow) allowed++;
    times.push(Number(process.hrtime.bigint() - t0) / n);
  }
  storage.destroy();
  return {
    timed: 'await DeltaAuthorizer.authorizeObject(principal, mount, path), warm caches, known files',
    decisions: n,
    allowed,
    nsPerDecision: +times.sort((a, b) => a - b)[1]!.toFixed(1),
  };
}

/**
 * Requests for paths the table does not have, through the real proxy (node:http, SigV4, real
 * S3Backend) over s3rver: every backend request they cause, counted by kind.
 */
async function unknownPathFlood() {
  const table = await ensureBenchTable(1_000);
  const counts: Record<string, number> = {};
  const real = benchBackend(table);
  const count = (kind: string) => {
    counts[kind] = (counts[kind] ?? 0) + 1;
  };
  const where = (key: string) => (key.includes('/_delta_log/') ? 'log' : 'table');
  const counting: StorageBackend = {
    get(ref, o) {
      count(`GET ${where(ref.key)}`);
      return real.get(ref, o);
    },
    head(ref, o) {
      count(`HEAD ${where(ref.key)}`);
      return real.head(ref, o);
    },
    list(p) {
      count(`LIST ${where(p.prefix)}`);
      return real.list(p);
    },
    presign: (ref, o) => real.presign(ref, o),
  };
  const key = { accessKeyId: 'AKIDBENCHFLOOD', secretAccessKey: 'bench-flood-secret', principal: 'bench' };
  const proxy = createProxy(
    parseConfig({
      tableMapping: { t: table.tableUri },
      getMode: 'proxy',
      grants: [{ principal: 'bench', table: 't', partitions: [{}] }],
      auth: { keys: [key] },
      s3: { endpoint: table.endpoint, forcePathStyle: true, region: 'us-east-1' },
    }),
    { storage: counting, audit: false, logger: silentLogger },
  );
  const server = await startNodeServer(proxy.handler, '127.0.0.1', 0);
  try {
    const get = (rel: string) =>
      signedFetch(server.url, 'GET', `/datalake/t/${encodeKeyPath(rel)}`, '', {}, key).then((r) => r.status);
    // Warm: a listing of the table loads its snapshot (the bench table has a log, no data files).
    const listing = await signedFetch(
      server.url,
      'GET',
      '/datalake',
      'list-type=2&max-keys=1&prefix=t%2F',
      {},
      key,
    );
    if (listing.status !== 200)
      throw new Error(`flood bench: the warm-up listing answered ${listing.status}`);
    for (const k of Object.keys(counts)) delete counts[k];
    const N = 2_000;
    const statuses: Record<number, number> = {};
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < N) {
          const i = next++;
          const status = await get(`date=2024-01-01/region=region-1/part-${i}-no-such-file.snappy.parquet`);
          statuses[status] = (statuses[status] ?? 0) + 1;
        }
      }),
    );
    const elapsedMs = performance.now() - t0;
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    return {
      measured:
        `${N} GETs of paths the table does not have, 16 at a time, through the proxy over s3rver; ` +
        'every backend request counted by kind (log = under _delta_log/)',
      unknownPaths: N,
      statuses,
      elapsedMs: Math.round(elapsedMs),
      backendRequests: counts,
      backendRequestsPerUnknownPath: +(total / N).toFixed(3),
      logRequestsPer50ms: +(
        ((counts['HEAD log'] ?? 0) + (counts['LIST log'] ?? 0) + (counts['GET log'] ?? 0)) /
        (elapsedMs / 50)
      ).toFixed(2),
    };
  } finally {
    await server.close();
    real.destroy();
    await table.close();
  }
}

/** The in-memory test double: 365 days x 20 regions, region-first folders. */
async function syntheticSection() {
  const FILES = 1_000_000;
  const columns = [
    { logical: 'region', physical: 'region', type: 'string' },
    { logical: 'date', physical: 'date', type: 'date' },
  ];
  const snapshot = new InMemorySnapshot(columns, [], 42);
  const tupleIds = new Map<string, number>();
  for (let i = 0; i < FILES; i++) {
    const region = REGIONS[i % REGIONS.length]!;
    const day = DAYS[Math.floor(i / REGIONS.length) % DAYS.length]!;
    const key = `${region}|${day}`;
    let t = tupleIds.get(key);
    if (t === undefined) {
      t = snapshot.intern([region, day]);
      tupleIds.set(key, t);
    }
    snapshot.addFile(pathOf(i), t);
  }
  // 100 maps: 80 (region, date) pairs, 20 whole days across regions.
  const maps: PartitionMap[] = [];
  for (let k = 0; k < 80; k++) maps.push({ region: REGIONS[k % 20]!, date: DAYS[(k * 7) % 365]! });
  for (let k = 0; k < 20; k++) maps.push({ date: DAYS[(k * 11 + 3) % 365]! });
  // Fresh probe strings (not the Map's own key objects), 1/10 of them not in the snapshot.
  const probes: string[] = [];
  for (let i = 0; i < FILES; i++) {
    const j = (i * 7919) % FILES;
    probes.push(i % 10 === 9 ? `${pathOf(j)}.orphan` : pathOf(j).split('').join(''));
  }
  return measure(snapshot, maps, probes);
}

export default async function authz(args: string[] = []): Promise<void> {
  const only = args.find((a) => a === 'real' || a === 'synthetic');
  const result: Record<string, unknown> = { bench: 'authz', node: process.version };
  let pass = true;
  if (only !== 'synthetic') {
    const files = Number(args.find((a) => /^\d+$/.test(a)) ?? 1_000_000);
    const real = await realSnapshotSection(files);
    result.realSnapshot = real;
    pass &&= real.pass;
    result.unknownPathFlood = await unknownPathFlood();
  }
  // The real snapshot is unreachable now: collect it before the synthetic one is built.
  heapAfterGc();
  if (only !== 'real') {
    const synthetic = await syntheticSection();
    result.synthetic = synthetic;
    pass &&= synthetic.pass;
  }
  result.targets = TARGETS;
  result.pass = pass;
  result.machine = { loadAvg: (await import('node:os')).loadavg() };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
