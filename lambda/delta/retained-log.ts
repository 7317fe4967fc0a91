/**
 * Which versions of a table can still be reconstructed from what `_delta_log/` holds: from the
 * oldest complete checkpoint followed by every later commit, or from version 0 when every commit
 * since the first is there. Log cleanup (Spark's `delta.logRetentionDuration`, delta-rs
 * `cleanup_metadata`) deletes the oldest commits and checkpoints, so this range only moves forward.
 */

import type { ParsedLogPath } from './log-path';
import { type CheckpointChoice, completeCheckpoints } from './log-segment';

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
  const commits = new Map<number, Extract<ParsedLogPath, { type: 'commit' }>>();
  for (const p of parsed) if (p.type === 'commit') commits.set(p.version, p);
  const checkpoints = completeCheckpoints(parsed);
  const newest = Math.max(-1, ...commits.keys(), ...checkpoints.map((c) => c.version));
  const latest = upTo ?? newest;
  if (latest < 0 || latest > newest) return undefined;
  // The contiguous run of commits ending at `latest`: [low, latest].
  let low = latest + 1;
  while (low > 0 && commits.has(low - 1)) low--;
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
  const retained = [...commits.values()]
    .filter((c) => c.version >= oldest && c.version <= latest)
    .sort((a, b) => a.version - b.version);
  return { oldestVersion: oldest, latestVersion: latest, checkpoints: usable, commits: retained };
}
