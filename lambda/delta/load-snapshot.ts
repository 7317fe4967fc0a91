/**
 * LogSegment → replay → Snapshot, and the incremental refresh of a cached snapshot
 * (outcomes as in delta-kernel-rs: unchanged, combined with the new commits, or rebuilt from a
 * newer checkpoint when that is cheaper or the log cannot be combined).
 */
import { readCheckpoint } from './checkpoint-reader';
import { DeltaLogError } from './delta-log-error';
import { type DeltaStorage, FileChanged, isNotFound, type ListedFile, readListed } from './delta-storage';
import { commitPath, LOG_DIR, type ParsedLogPath, parseLogPath, versionPrefix } from './log-path';
import { DEFAULT_READ_AHEAD, type ReadAhead, readInOrder } from './log-read-ahead';
import { type ActionBatch, LogReplay, parseActionBytesInSlices } from './log-replay';
import {
  type CheckpointChoice,
  completeCheckpoints,
  type LogSegment,
  listLogSegment,
  type ReplayStep,
  replaySteps,
} from './log-segment';
import type { IoStats } from './parquet-leaves';
import { type LogFileStamp, Snapshot } from './snapshot';
import { partitionColumnsOf, sameColumns, unsupportedReaderFeatures } from './table-metadata';
import { TableRoot } from './table-root';
import { emptyMaps, emptyState, fork, freeze, outgrown } from './table-state';

export interface LoadOptions {
  /** s3://bucket/prefix of the table: absolute paths in the log are resolved against it. */
  tableUri: string;
  /** Time travel: the version to load (default: latest). */
  version?: number;
  /** Use log compaction files where they shorten the replay (default true). */
  useCompaction?: boolean;
  /** How far ahead commits are read (default DEFAULT_READ_AHEAD; benchmarks vary it). */
  readAhead?: ReadAhead;
}

export type RefreshOutcome = 'unchanged' | 'combined' | 'rebuilt';

export interface RefreshResult {
  outcome: RefreshOutcome;
  snapshot: Snapshot;
  /**
   * The log no longer continues `prev` (its newest commit is gone or written again: the table was
   * deleted and recreated, or rolled back): the snapshot was loaded anew, and nothing remembered
   * of the old log (its history) may be used with it.
   */
  replaced?: true;
}

export async function loadSnapshot(storage: DeltaStorage, opts: LoadOptions): Promise<Snapshot> {
  const root = new TableRoot(opts.tableUri);
  let seg = await listLogSegment(storage, opts);
  let fullListing = false;
  const failed = new Set<string>();
  let checkpointError: Error | undefined;
  let rereads = 0;
  for (;;) {
    const choice = seg.checkpoints.find((c) => !failed.has(c.parts[0]!.path));
    const io: IoStats = { requests: 0, bytes: 0 };
    try {
      return await build(storage, root, seg, choice, opts, io);
    } catch (e) {
      // Only checkpoints are read in pinned ranges (FilePin): one was written again while being
      // read. A fresh listing gives its new size, and the next read sees that version whole.
      if (e instanceof FileChanged && choice && rereads < MAX_CHECKPOINT_REREADS) {
        rereads++;
        seg = await listLogSegment(storage, fullListing ? { ...opts, ignoreHint: true } : opts);
        continue;
      }
      if (e instanceof CheckpointFailure || (e instanceof FileChanged && choice)) {
        // A checkpoint that cannot be read (a failed write, a missing part or sidecar) is
        // skipped for an older one, or for the JSON commits, as long as those still exist.
        failed.add(choice!.parts[0]!.path);
        checkpointError = e instanceof CheckpointFailure ? (e.cause as Error) : e;
      } else if (!(e instanceof DeltaLogError && e.kind === 'MissingLog' && !fullListing)) {
        if (checkpointError && e instanceof DeltaLogError && e.kind === 'MissingLog') {
          throw new DeltaLogError('Unreadable', `${checkpointError.message}; and ${e.message}`, { cause: e });
        }
        throw e;
      }
      if (!fullListing) {
        // The listing started at _last_checkpoint: list the whole log to reach older files.
        seg = await listLogSegment(storage, { ...opts, ignoreHint: true });
        fullListing = true;
      }
    }
  }
}

/** A checkpoint that keeps changing while being read is passed over for an older one. */
const MAX_CHECKPOINT_REREADS = 2;

/** A checkpoint could not be read; the loader falls back to an older one. */
class CheckpointFailure extends Error {}

async function build(
  storage: DeltaStorage,
  root: TableRoot,
  seg: LogSegment,
  choice: CheckpointChoice | undefined,
  opts: LoadOptions,
  io: IoStats,
  allAdds = false,
): Promise<Snapshot> {
  const { version, listed } = seg;
  const state = emptyState();
  const replay = new LogReplay(state, root);
  if (choice) {
    try {
      await readCheckpoint(storage, choice.parts, replay, io, allAdds);
    } catch (e) {
      if (e instanceof DeltaLogError || isNotFound(e)) {
        const msg = `checkpoint ${choice.parts[0]!.path} is unreadable: ${(e as Error).message}`;
        throw new CheckpointFailure(msg, { cause: new DeltaLogError('Unreadable', msg, { cause: e }) });
      }
      throw e;
    }
    state.version = choice.version;
  }
  const skippedCheckpointAdds =
    !allAdds && choice !== undefined && unsupportedReaderFeatures(state.protocol, state.metadata).length > 0;
  const steps = replaySteps(listed, (choice?.version ?? -1) + 1, version, opts.useCompaction ?? true);
  await applySteps(storage, replay, steps, io, undefined, opts.readAhead);
  if (!state.metadata || !state.protocol) {
    throw new DeltaLogError(
      'Malformed',
      `the log up to version ${version} has no ${state.metadata ? 'protocol' : 'metaData'}`,
    );
  }
  if (unsupportedReaderFeatures(state.protocol, state.metadata).length) clearFiles(replay);
  else if (skippedCheckpointAdds) {
    // A reader feature was dropped after the checkpoint, whose adds were skipped: read it again
    // whole (readers take a checkpoint's adds whatever its protocol).
    return build(storage, root, seg, choice, opts, io, true);
  }
  state.version = version;
  state.loadedTuples = state.tuples.count;
  return new Snapshot(freeze(state), root, {
    ...(choice ? { checkpointVersion: choice.version } : {}),
    logFilesRead: steps.length,
    requests: io.requests,
    bytesRead: io.bytes,
    ...(seg.head ? { head: stamp(seg.head) } : {}),
  });
}

/**
 * Reads the steps a bounded window ahead (see log-read-ahead.ts) and applies them strictly in
 * order. Returns true when `accept` refused a batch (nothing from it or later was applied).
 */
async function applySteps(
  storage: DeltaStorage,
  replay: LogReplay,
  steps: ReplayStep[],
  io: IoStats,
  accept: (b: ActionBatch) => boolean = () => true,
  readAhead: ReadAhead = DEFAULT_READ_AHEAD,
): Promise<boolean> {
  const fetchBytes = async (s: ReplayStep) => {
    try {
      const b = await readListed(storage, s);
      io.requests++;
      io.bytes += b.byteLength;
      return b;
    } catch (e) {
      if (isNotFound(e))
        throw new DeltaLogError('MissingLog', `${s.path} disappeared while reading the log`, { cause: e });
      throw e;
    }
  };
  const completed = await readInOrder(
    steps,
    fetchBytes,
    async (bytes, step) => {
      const batch: ActionBatch = await parseActionBytesInSlices(bytes, step.path);
      if (!accept(batch)) return false;
      await replay.applyBatchInSlices(batch);
      replay.s.version = step.endVersion;
      return true;
    },
    readAhead,
  );
  return !completed;
}

function clearFiles(replay: LogReplay): void {
  const maps = emptyMaps();
  Object.assign(replay.s, maps, { pathChars: 0 });
}

/**
 * Brings `prev` up to date reading only what changed: lists the log after prev.version, and
 * either returns prev (unchanged), replays the new commits onto a fork of it (combined), or
 * loads from a newer checkpoint when its parts are smaller than the new commits (rebuilt).
 */
export async function refreshSnapshot(
  prev: Snapshot,
  storage: DeltaStorage,
  opts: LoadOptions,
): Promise<RefreshResult> {
  const rebuilt = async () => ({ outcome: 'rebuilt' as const, snapshot: await loadSnapshot(storage, opts) });
  if (opts.version !== undefined && opts.version <= prev.version) {
    return opts.version === prev.version ? { outcome: 'unchanged', snapshot: prev } : rebuilt();
  }
  if (prev.unsupportedReaderFeatures.length) return rebuilt();
  const io: IoStats = { requests: 1, bytes: 0 };
  // From prev's own version on: its commit must still be the one prev was made from.
  const listing = await storage.list(LOG_DIR, `${LOG_DIR}${versionPrefix(prev.version)}`);
  const parsed = listing
    .map((f) => parseLogPath(f.path, f.size))
    .filter((p): p is ParsedLogPath => p !== undefined && p.version > prev.version);
  const commits = parsed.filter((p) => p.type === 'commit');
  if (opts.version === undefined && !continues(prev, listing)) {
    return { ...(await rebuilt()), replaced: true };
  }
  if (commits.length === 0) return { outcome: 'unchanged', snapshot: prev };
  // A loop, not Math.max(...): an instance thawed after days may find 100,000s of commits since.
  let latest = opts.version ?? -1;
  if (opts.version === undefined) for (const c of commits) latest = Math.max(latest, c.version);
  const inRange = parsed.filter((p) => p.version <= latest);
  let steps: ReplayStep[];
  try {
    steps = replaySteps(inRange, prev.version + 1, latest, opts.useCompaction ?? true);
  } catch {
    return rebuilt(); // a gap after prev (log cleaned up): start over
  }
  const newBytes = steps.reduce((n, s) => n + s.size, 0);
  const cp = completeCheckpoints(inRange)[0];
  if (cp) {
    const cpBytes = cp.parts.reduce((n, p) => n + p.size, 0);
    const after = inRange
      .filter((p) => p.type === 'commit' && p.version > cp.version)
      .reduce((n, p) => n + p.size, 0);
    if (cpBytes + after < newBytes || outgrown(prev.state)) return rebuilt();
  }
  const state = await fork(prev.state);
  const replay = new LogReplay(state, prev.root);
  let repartitioned: boolean;
  try {
    repartitioned = await applySteps(
      storage,
      replay,
      steps,
      io,
      (batch) => (batch.metadata ? sameColumns(partitionColumnsOf(batch.metadata), state.columns) : true),
      opts.readAhead,
    );
  } catch (e) {
    // A commit listed then gone (a log cleanup since the listing): a race, not a missing log
    // (403). Loaded anew from a fresh listing, as for a gap found in the listing.
    if (e instanceof DeltaLogError && e.kind === 'MissingLog') return rebuilt();
    throw e;
  }
  if (repartitioned) return rebuilt();
  if (unsupportedReaderFeatures(state.protocol, state.metadata).length) clearFiles(replay);
  state.version = latest;
  const head = listing.find((f) => f.path === commitPath(latest));
  return {
    outcome: 'combined',
    snapshot: new Snapshot(freeze(state), prev.root, {
      logFilesRead: steps.length,
      requests: io.requests,
      bytesRead: io.bytes,
      ...(head ? { head: stamp(head) } : {}),
    }),
  };
}

/**
 * Does the log (listed from prev's version on) still continue prev? Its commit at prev's version
 * is the same file (size and Last-Modified). A commit written again, or gone (a log that ends
 * before prev's version, or a cleanup of a table written again there whose log goes on right
 * after it: nothing tells it from a cleanup of this one), is taken for another table (deleted and
 * recreated) or a rollback (newer commits deleted).
 */
function continues(prev: Snapshot, listing: readonly ListedFile[]): boolean {
  const was = prev.loadInfo.head;
  if (!was) return true; // not listed when prev was made: nothing to compare with
  const now = listing.find((f) => f.path === commitPath(prev.version));
  if (!now) return false;
  const is = stamp(now);
  const same = <T>(a: T | undefined, b: T | undefined) => a === undefined || b === undefined || a === b;
  return is.size === was.size && same(is.lastModified, was.lastModified) && same(is.etag, was.etag);
}

function stamp(f: { size: number; lastModified?: Date; etag?: string }): LogFileStamp {
  return {
    size: f.size,
    ...(f.lastModified ? { lastModified: f.lastModified.getTime() } : {}),
    ...(f.etag ? { etag: f.etag } : {}),
  };
}
