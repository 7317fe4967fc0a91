/**
 * `npm run bench -- longlog [commits=150000] [versions=30] [cleanupEvery=10]`: what a new version of
 * a long log costs the filtered view (`logView: "filtered"`). A table of `commits` retained commits
 * (each with its .crc, a checkpoint every ten), listed over the model of S3 LIST of
 * bench/loglisting.ts (sorted keys in memory, 1,000 a page). Then `versions` new commits, one at a
 * time (a checkpoint every ten), and every `cleanupEvery` of them (0: never) a log cleanup as
 * Spark's and delta-rs's at a checkpoint: the files of the oldest versions deleted up to the
 * checkpoint `cleanupEvery` or more versions on (the oldest version moves; the log keeps its
 * length). Each version: the snapshot brought up to date (refreshSnapshot, as the proxy does), and a
 * reader's requests for it, a listing of the filtered `_delta_log/` and a GET of the newest commit;
 * the process CPU of those two is measured per version, for two views side by side on the same
 * storage and snapshots:
 * - ours: the log and keys of a new version made from those of the version before
 *   (lambda/log-view/next-real-log.ts);
 * - baseline: `wholeLogPerVersion`, every held file walked again per version (what the view did).
 * Also `logEntriesWalked` per version (the view's own count) and the first, whole, listing.
 */
import { fileGrantOf } from '../lambda/access/file-grant';
import { type DeltaStorage, deltaStorageFromBackend } from '../lambda/delta/delta-storage';
import { loadSnapshot, refreshSnapshot } from '../lambda/delta/load-snapshot';
import { versionPrefix } from '../lambda/delta/log-path';
import type { Snapshot } from '../lambda/delta/snapshot';
import { writeCheckpoint } from '../lambda/local/delta-writer';
import { FilteredLogView, type LogViewRequest } from '../lambda/log-view/filtered-log-view';
import { StorageError } from '../lambda/storage/storage-backend';
import { metaData, protocolV1 } from '../test/helpers/log-text';
import { sortedListingBackend } from '../test/helpers/sorted-listing';

const URI = 's3://lake/t';
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number, d = 1) => Number(x.toFixed(d));

/** Commit v's text: one add in region EU or US (alternating). */
function commitText(v: number): Uint8Array {
  const region = v % 2 ? 'EU' : 'US';
  const add = {
    path: `region=${region}/part-${v}.parquet`,
    partitionValues: { region },
    size: 1000,
    modificationTime: v,
    dataChange: true,
  };
  return new TextEncoder().encode(
    `${JSON.stringify({ commitInfo: { timestamp: v } })}\n${JSON.stringify({ add })}\n`,
  );
}

/** The log's keys (sorted, as S3 lists them) and the bytes of what is read: commits, one checkpoint. */
async function longLog(first: number, commits: number) {
  const keys: string[] = [];
  const present = new Set<string>();
  const bytes = new Map<string, Uint8Array>();
  const name = (v: number) => `_delta_log/${versionPrefix(v)}`;
  const commit = (v: number) => {
    if (v % 10 === 0 && (v < first + commits || bytes.has(`${name(v)}.checkpoint.parquet`)))
      keys.push(`${name(v)}.checkpoint.parquet`);
    keys.push(`${name(v)}.crc`, `${name(v)}.json`);
    present.add(`${name(v)}.json`);
  };
  for (let v = first; v < first + commits; v++) commit(v);
  // The newest checkpoint (the snapshot loads from it) and those of new versions are real ones;
  // older ones are never read.
  const checkpoint = (v: number) =>
    writeCheckpoint(
      { put: async (rel, b) => void bytes.set(rel, b) },
      v,
      protocolV1.protocol,
      metaData(['region']).metaData,
      [
        {
          path: 'region=EU/old.parquet',
          partitionValues: { region: 'EU' },
          size: 1,
          modificationTime: 0,
          dataChange: false,
        },
      ],
    );
  const newest = first + commits - 1;
  await checkpoint(newest);
  let oldest = first;
  /** A log cleanup: the files of versions before the checkpoint `every` or more versions on. */
  const cleanup = (every: number) => {
    const kept = Math.ceil((oldest + every) / 10) * 10;
    let n = 0;
    while (n < keys.length && Number(keys[n]!.slice(11, 31)) < kept) present.delete(keys[n++]!);
    keys.splice(0, n);
    oldest = kept;
  };
  const read = (key: string) =>
    bytes.get(key) ?? (key.endsWith('.json') ? commitText(Number(key.slice(11, 31))) : new Uint8Array(100));
  const { backend } = sortedListingBackend(keys, 0, (key) => read(key).byteLength);
  const lister = deltaStorageFromBackend(backend, 'lake', '');
  const storage: DeltaStorage = {
    list: (dir, after, limit, until) => lister.list(dir, after, limit, until),
    async read(rel, range) {
      if (!present.has(rel) && !bytes.has(rel)) throw new StorageError('NotFound', `${rel} not found`);
      const b = read(rel);
      return range ? b.subarray(range.start, Math.min(range.end, b.byteLength)) : b;
    },
    async size(rel) {
      return read(rel).byteLength;
    },
  };
  return { keys, storage, newest, commit, checkpoint, cleanup };
}

function cpuMs<T>(work: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const t0 = process.cpuUsage();
  return work().then((result) => {
    const d = process.cpuUsage(t0);
    return { ms: (d.user + d.system) / 1000, result };
  });
}

/** A reader of the newest version: lists the filtered log and GETs the newest commit. */
async function read(view: FilteredLogView, req: LogViewRequest) {
  const keys = (await view.folder(req)).keys;
  const newest = await view.object(req, `_delta_log/${versionPrefix(req.snapshot.version)}.json`);
  if (!newest) throw new Error('the newest commit is not shown');
  return { keys: keys.length, newest: newest.body.byteLength };
}

export default async function longlog(args: string[]) {
  const commits = Number(args[0] ?? 150_000);
  const versions = Number(args[1] ?? 30);
  const cleanupEvery = Number(args[2] ?? 10);
  // A table committing for years, its oldest versions cleaned up; the newest has a checkpoint.
  const first = 1_000_000 + ((((1 - commits) % 10) + 10) % 10);
  const log = await longLog(first, commits);
  let snapshot: Snapshot = await loadSnapshot(log.storage, { tableUri: URI });
  const views = {
    ours: new FilteredLogView({ budgetBytes: () => 1 << 30 }),
    baseline: new FilteredLogView({ budgetBytes: () => 1 << 30, wholeLogPerVersion: true }),
  };
  const reqOf = (s: Snapshot): LogViewRequest => ({
    tableUri: URI,
    storage: log.storage,
    snapshot: s,
    grant: fileGrantOf(s.partitionColumns, [{ region: 'EU' }]),
  });
  const first_: Record<string, number> = {};
  for (const [name, view] of Object.entries(views))
    first_[name] = round((await cpuMs(() => read(view, reqOf(snapshot)))).ms);
  const perVersion: Record<string, { ms: number[]; walked: number[] }> = {
    ours: { ms: [], walked: [] },
    baseline: { ms: [], walked: [] },
  };
  /** The indexes of the versions after a log cleanup. */
  const cleaned: number[] = [];
  let newest = log.newest;
  for (let i = 0; i < versions; i++) {
    if (++newest % 10 === 0) await log.checkpoint(newest);
    log.commit(newest);
    if (cleanupEvery > 0 && (i + 1) % cleanupEvery === 0) {
      log.cleanup(cleanupEvery);
      cleaned.push(i);
    }
    const r = await refreshSnapshot(snapshot, log.storage, { tableUri: URI });
    snapshot = r.snapshot;
    if (snapshot.version !== newest) throw new Error(`snapshot at ${snapshot.version}, not ${newest}`);
    const shown: Record<string, unknown> = {};
    // Interleaved, the order alternating: neither gets the other's warm caches every time.
    const order = i % 2 ? (['baseline', 'ours'] as const) : (['ours', 'baseline'] as const);
    for (const name of order) {
      const view = views[name];
      const walked = view.stats().logEntriesWalked;
      const m = await cpuMs(() => read(view, reqOf(snapshot)));
      perVersion[name]!.ms.push(m.ms);
      perVersion[name]!.walked.push(view.stats().logEntriesWalked - walked);
      shown[name] = m.result;
    }
    if (JSON.stringify(shown.ours) !== JSON.stringify(shown.baseline)) throw new Error('the views disagree');
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const summary = (name: string) => {
    const { ms, walked } = perVersion[name]!;
    const afterCleanup = cleaned.map((i) => ms[i]!);
    return {
      firstListingCpuMs: first_[name],
      newVersionCpuMs: {
        median: round(median(ms), 2),
        // What a streaming table costs on average: the versions after a cleanup included.
        mean: round(mean(ms), 2),
        afterCleanupMedian: afterCleanup.length ? round(median(afterCleanup), 2) : null,
        each: ms.map((x) => round(x, 2)),
      },
      entriesWalkedPerVersion: median(walked),
      entriesWalkedAfterCleanup: cleaned.map((i) => walked[i]!),
    };
  };
  const ours = summary('ours');
  const baseline = summary('baseline');
  return {
    bench: 'longlog',
    node: process.version,
    measured:
      `${commits.toLocaleString('en')} retained commits (each with a .crc, a checkpoint every ten) listed over an ` +
      `in-memory model of S3 LIST; then ${versions} new commits one at a time (a checkpoint every ten), ` +
      (cleanupEvery > 0
        ? `a log cleanup every ${cleanupEvery} (the oldest versions deleted up to a checkpoint), `
        : 'no log cleanup, ') +
      'each read as a reader does (a ' +
      'listing of the filtered _delta_log/ and a GET of the newest commit): process CPU of those two requests, ' +
      'per version, for each view in turn on the same storage and snapshots',
    ours,
    baseline,
    speedup: round(baseline.newVersionCpuMs.median / ours.newVersionCpuMs.median),
    speedupMean: round(baseline.newVersionCpuMs.mean / ours.newVersionCpuMs.mean),
  };
}
