/**
 * Which versions of a table can still be reconstructed from what `_delta_log/` holds: from the
 * oldest complete checkpoint followed by every later commit, or from version 0 when every commit
 * since the first is there. Log cleanup (Spark's `delta.logRetentionDuration`, delta-rs
 * `cleanup_metadata`) deletes the oldest commits and checkpoints, so this range only moves forward.
 */

import { runToEnd, WorkSlices } from '../core/event-loop';
import { ShardedMap } from '../core/sharded-map';
import { LOG_FILES_PER_SLICE, type ParsedLogPath } from './log-path';
import { type CheckpointChoice, completeCheckpointsWork } from './log-segment';

export interface RetainedLog {
  /** The oldest reconstructable version (R). */
  oldestVersion: number;
  /** The newest version considered (the latest commit, or `upTo`). */
  latestVersion: number;
  /**
   * Checkpoints from which R or a later version can be rebuilt, oldest first: their tombstones
   * name files removed at or before them. Empty when R is 0 and reached by commits alone.
   */
  checkpoints: CheckpointChoice[];
  /** Commit files with version R..latest, ascending (commit R included when it exists). */
  commits: Extract<ParsedLogPath, { type: 'commit' }>[];
}

/**
 * The retained range of a listing of `_delta_log/`, up to `upTo` (default: the latest commit).
 * Undefined when no version up to `upTo` is reconstructable (a gap with no checkpoint after it).
 */
export function retainedLog(parsed: readonly ParsedLogPath[], upTo?: number): RetainedLog | undefined {
  return runToEnd(retainedLogWork(parsed, upTo));
}

/**
 * retainedLog, yielding between slices of a long log (see runInSlices). `complete`: the listing's
 * completeCheckpoints(), where the caller has made them already.
 */
export function* retainedLogWork(
  parsed: readonly ParsedLogPath[],
  upTo?: number,
  complete?: readonly CheckpointChoice[],
): Generator<void, RetainedLog | undefined> {
  const slices = new WorkSlices(LOG_FILES_PER_SLICE);
  // Sharded: a V8 Map of a long log's commits grows by rehashing them all in one block.
  const commits = new ShardedMap<number, Extract<ParsedLogPath, { type: 'commit' }>>();
  // Loops, not Math.max(...): spreading a long log's versions passes the call stack's bound.
  let newest = -1;
  for (const p of parsed) {
    if (slices.spend(1)) yield;
    if (p.type !== 'commit') continue;
    commits.set(p.version, p);
    if (p.version > newest) newest = p.version;
  }
  const checkpoints = complete ?? (yield* completeCheckpointsWork(parsed));
  for (const c of checkpoints) if (c.version > newest) newest = c.version;
  const latest = upTo ?? newest;
  if (latest < 0 || latest > newest) return undefined;
  // The contiguous run of commits ending at `latest`: [low, latest].
  let low = latest + 1;
  while (low > 0 && commits.has(low - 1)) {
    low--;
    if (slices.spend(1)) yield;
  }
  let oldest: number;
  let usable: CheckpointChoice[];
  if (low === 0) {
    oldest = 0;
    usable = [];
  } else {
    // A checkpoint at c rebuilds c when commits c+1..latest follow it.
    usable = checkpoints.filter((c) => c.version >= low - 1 && c.version <= latest).reverse();
    if (usable.length === 0) return undefined;
    oldest = usable[0]!.version;
  }
  const retained: Extract<ParsedLogPath, { type: 'commit' }>[] = [];
  let sorted = true;
  for (const p of parsed) {
    if (slices.spend(1)) yield;
    if (p.type !== 'commit' || p.version < oldest || p.version > latest || commits.get(p.version) !== p)
      continue;
    sorted &&= retained.length === 0 || retained.at(-1)!.version < p.version;
    retained.push(p);
  }
  // A listing is in path order, so in version order: sorted only when given otherwise.
  if (!sorted) retained.sort((a, b) => a.version - b.version);
  return { oldestVersion: oldest, latestVersion: latest, checkpoints: usable, commits: retained };
}
