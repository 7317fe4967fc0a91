/**
 * The real log at a new version, made from the one made of the listing before: a new version of a
 * long log adds a file or a few, and walking every held file again (150,000 of a table committing
 * every minute) cost ~0.5 s of CPU per version. What the held listing kept as it was (its files
 * before the versions it listed again: held-log-listing.ts) is taken from the log before; only the
 * files listed again are walked. Whenever that is not clearly the log a whole walk would make (the
 * log's oldest version could move, a checkpoint was dropped as unreadable, the listing was listed
 * whole), the log is made whole (real-log.ts). Likewise the keys a listing of the view shows.
 */
import { runInSlices, WorkSlices } from '../core/event-loop';
import {
  LAST_CHECKPOINT,
  LOG_DIR,
  LOG_FILES_PER_SLICE,
  type ParsedLogPath,
  versionPrefix,
} from '../delta/log-path';
import { completeCheckpointsWork } from '../delta/log-segment';
import { type LogFile, listingOf } from './held-log-listing';
import {
  checkpointName,
  logOf,
  type RealCheckpoint,
  type RealLog,
  shownCheckpointsWork,
  virtualKeys,
  wholeRealLogWork,
} from './real-log';

/** What the view walked to make its logs: held files, and the keys of its listings. */
export interface Walked {
  entries: number;
}

/** How a log was made: of which listing, and its checkpoints as made (a drop makes a new array). */
interface Made {
  listing: number;
  /** Some version up to the log's can be rebuilt: its oldest is not the 0 of none. */
  reconstructable: boolean;
  checkpoints: RealCheckpoint[];
}

const made = new WeakMap<RealLog, Made>();

/** The log of `files` (a held listing) at `upTo`, from `before` (the log made of the listing before) where valid. */
export async function nextRealLog(
  before: RealLog | undefined,
  files: readonly LogFile[],
  upTo: number,
  walked: Walked,
): Promise<RealLog> {
  const listing = listingOf(files);
  const from = before && listing && continuation(before, files);
  const next = from && (await runInSlices(continuedWork(before!, files, upTo, from, walked)));
  if (next) {
    made.set(next, { listing: listing!.id, reconstructable: true, checkpoints: next.checkpoints });
    const keys = keysMade.get(before!);
    if (keys && keys.checkpoints === before!.checkpoints)
      keysBefore.set(next, { keys: keys.keys, start: from.start, checkpoints: next.checkpoints });
    return next;
  }
  walked.entries += files.length;
  const whole = await runInSlices(wholeRealLogWork(files, upTo));
  made.set(whole.log, {
    listing: listing?.id ?? 0,
    reconstructable: whole.reconstructable,
    checkpoints: whole.log.checkpoints,
  });
  return whole.log;
}

/** Which of `files` are as they were when `before` was made: those before index `kept`, of versions before `start`. */
interface Continuation {
  kept: number;
  start: number;
  /** The newest version of the files a log cleanup deleted since (-1: none). */
  droppedUpTo: number;
}

function continuation(before: RealLog, files: readonly LogFile[]): Continuation | undefined {
  const how = made.get(before);
  const listing = listingOf(files);
  if (!how || !listing) return undefined;
  if (listing.change?.previous === how.listing) return listing.change;
  if (listing.id !== how.listing) return undefined;
  // The same listing (requests for two versions shared it): the versions after `before`'s are new.
  const start = before.version + 1;
  let lo = 0;
  let hi = files.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (files[mid]!.parsed.version < start) lo = mid + 1;
    else hi = mid;
  }
  return { kept: lo, start, droppedUpTo: -1 };
}

/**
 * `before` continued by the files after the `kept` ones, or undefined when it cannot be. Valid when
 * the log a whole walk makes keeps `before`'s oldest version O: `before` was reconstructable; the
 * files kept (versions before `start`) are as they were but those a cleanup deleted, all older
 * than O; O is before `start` (its checkpoint among the files kept); and the commits from `start`
 * to `upTo` are all there. The commit run ending at `upTo` then reaches O + 1 and no lower than
 * `before`'s, so O is still the oldest checkpoint it can start from (or 0, from commit 0, nothing
 * deleted).
 */
function* continuedWork(
  before: RealLog,
  files: readonly LogFile[],
  upTo: number,
  { kept: from, start, droppedUpTo }: Continuation,
  walked: Walked,
): Generator<void, RealLog | undefined> {
  const how = made.get(before)!;
  if (!how.reconstructable) return undefined;
  // A checkpoint dropped as unreadable: the whole walk shows it again (and drops it again).
  if (before.checkpoints !== how.checkpoints) return undefined;
  const oldest = before.oldest;
  if (upTo < before.version || start > before.version + 1 || start <= oldest) return undefined;
  if (droppedUpTo >= oldest) return undefined;
  const slices = new WorkSlices(LOG_FILES_PER_SLICE);
  const commits = before.commits.continued(start, upTo);
  const parsed: ParsedLogPath[] = [];
  const parts = new Map<string, LogFile>();
  let expected = start;
  for (let i = from; i < files.length; i++) {
    if (slices.spend(1)) yield;
    walked.entries++;
    const f = files[i]!;
    const p = f.parsed;
    if (p.version > upTo) continue;
    parsed.push(p);
    if (p.type === 'checkpoint') parts.set(p.path, f);
    else if (p.version !== expected++)
      return undefined; // a gap: the run ends after O
    else commits.set(p.version, f);
  }
  if (expected !== upTo + 1) return undefined;
  // Checkpoints of the versions listed again, then those kept (newest first; versions apart).
  const complete = yield* completeCheckpointsWork(parsed);
  const fresh = yield* shownCheckpointsWork(complete, oldest, parts, slices);
  let kept = 0;
  while (kept < before.checkpoints.length && before.checkpoints[kept]!.version >= start) kept++;
  return logOf(upTo, oldest, commits, fresh.concat(before.checkpoints.slice(kept)));
}

/** Keys made per log, with the checkpoints they were made of (a drop makes them again). */
const keysMade = new WeakMap<RealLog, { checkpoints: RealCheckpoint[]; keys: Promise<string[]> }>();
/** For a log continued from one whose keys were made: those, to continue from `start`. */
const keysBefore = new WeakMap<
  RealLog,
  { keys: Promise<string[]>; start: number; checkpoints: RealCheckpoint[] }
>();

/**
 * The virtual `_delta_log/` keys of `log` (virtualKeys()), made once per log and its checkpoints;
 * for a continued log, from the keys of the one before: those before the versions listed again are
 * the same (the same commits and checkpoints), the others are made.
 */
export function keysOf(log: RealLog, walked: Walked): Promise<string[]> {
  let f = keysMade.get(log);
  if (!f || f.checkpoints !== log.checkpoints) {
    const from = keysBefore.get(log);
    keysBefore.delete(log);
    let keys: Promise<string[]>;
    if (from && from.checkpoints === log.checkpoints)
      keys = continuedKeys(log, from.keys, from.start, walked);
    else {
      walked.entries += log.commits.size + log.checkpoints.length;
      keys = virtualKeys(log);
    }
    f = { checkpoints: log.checkpoints, keys };
    keysMade.set(log, f);
  }
  return f.keys;
}

async function continuedKeys(
  log: RealLog,
  before: Promise<string[]>,
  start: number,
  walked: Walked,
): Promise<string[]> {
  const old = await before;
  // Sorted: the first key of `start` or later (`_last_checkpoint` sorts after every version).
  const first = `${LOG_DIR}${versionPrefix(start)}`;
  let lo = 0;
  let hi = old.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (old[mid]! < first) lo = mid + 1;
    else hi = mid;
  }
  const keys = old.slice(0, lo);
  const checkpoints: number[] = [];
  for (const c of log.checkpoints) {
    if (c.version < start) break; // newest first
    checkpoints.push(c.version);
  }
  checkpoints.reverse();
  let next = 0;
  // As virtualKeys merges: a checkpoint's name sorts before its version's commit.
  for (let v = start; v <= log.version; v++) {
    walked.entries++;
    const c = log.commits.get(v);
    if (!c) continue;
    while (next < checkpoints.length && checkpoints[next]! <= v)
      keys.push(checkpointName(checkpoints[next++]!));
    keys.push(c.path);
  }
  while (next < checkpoints.length) keys.push(checkpointName(checkpoints[next++]!));
  if (log.checkpoints.length) keys.push(LAST_CHECKPOINT);
  return keys;
}
