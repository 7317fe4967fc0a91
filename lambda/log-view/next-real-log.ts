/**
 * The real log at a new version, made from the one made of the listing before: a new version of a
 * long log adds a file or a few, and walking every held file again (150,000 of a table committing
 * every minute) cost ~0.5 s of CPU per version. What the held listing kept as it was (its files
 * before the versions it listed again: held-log-listing.ts) is taken from the log before; only the
 * files listed again are walked, and after a log cleanup those at the log's new start (Spark's runs
 * at every checkpoint, so every ~10 versions). Whenever that is not clearly the log a whole walk
 * would make (a checkpoint was dropped as unreadable, the listing was listed whole, the cleanup
 * left no complete checkpoint before the files listed again), the log is made whole (real-log.ts).
 * Likewise the keys a listing of the view shows.
 */
import { runInSlices, WorkSlices } from '../core/event-loop';
import { firstIndex } from '../core/first-index';
import { LOG_DIR, LOG_FILES_PER_SLICE, type ParsedLogPath, versionPrefix } from '../delta/log-path';
import { completeCheckpointsWork } from '../delta/log-segment';
import { type LogFile, listingOf } from './held-log-listing';
import {
  logOf,
  type RealCheckpoint,
  type RealLog,
  shownCheckpointsWork,
  virtualKeys,
  virtualKeysWork,
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
    const { log } = next;
    made.set(log, { listing: listing!.id, reconstructable: true, checkpoints: log.checkpoints });
    const keys = keysMade.get(before!);
    if (keys && keys.checkpoints === before!.checkpoints)
      keysBefore.set(log, { keys: keys.keys, start: next.start, checkpoints: log.checkpoints });
    return log;
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

/**
 * How `files` continue the listing `before` was made of: its files of versions before `start` are
 * as they were, but those a log cleanup deleted (of versions up to `droppedUpTo`, -1: none).
 */
interface Continuation {
  start: number;
  droppedUpTo: number;
}

function continuation(before: RealLog, files: readonly LogFile[]): Continuation | undefined {
  const how = made.get(before);
  const listing = listingOf(files);
  if (!how || !listing) return undefined;
  if (listing.change?.previous === how.listing) return listing.change;
  // The same listing (requests for two versions shared it): every file is as it was.
  if (listing.id === how.listing) return { start: Number.POSITIVE_INFINITY, droppedUpTo: -1 };
  return undefined;
}

/** The index of the first of `files` (in version order) of `version` or later. */
function firstAt(files: readonly LogFile[], version: number): number {
  return firstIndex(files, (f) => f.parsed.version >= version);
}

/**
 * `before` continued by the files of versions from `start` on, or undefined when it cannot be.
 * `start` is the first version listed again, or the one after `before`'s or after `upTo` if
 * earlier (a snapshot lagging the listing, or older than `before`): the files kept before it are
 * as they were. Valid when `before` was reconstructable (oldest version O; its commits O+1 to its
 * version all there), the commits from `start` to `upTo` are all there, and the oldest version O'
 * a whole walk picks is before `start`: the commit run ending at `upTo` then reaches O + 1, or
 * after a cleanup the oldest version kept (movedOldest()), so O' is O, or the one derived there.
 */
function* continuedWork(
  before: RealLog,
  files: readonly LogFile[],
  upTo: number,
  { start: listedAgain, droppedUpTo }: Continuation,
  walked: Walked,
): Generator<void, { log: RealLog; start: number } | undefined> {
  const how = made.get(before)!;
  if (!how.reconstructable) return undefined;
  // A checkpoint dropped as unreadable: the whole walk shows it again (and drops it again).
  if (before.checkpoints !== how.checkpoints) return undefined;
  const start = Math.min(listedAgain, before.version + 1, upTo + 1);
  const slices = new WorkSlices(LOG_FILES_PER_SLICE);
  let oldest = before.oldest;
  if (droppedUpTo >= oldest) {
    const moved = yield* movedOldestWork(files, droppedUpTo, start, slices, walked);
    if (moved === undefined) return undefined;
    oldest = moved;
  }
  if (start <= oldest) return undefined;
  const commits = before.commits.continued(start, upTo, oldest);
  const parsed: ParsedLogPath[] = [];
  const parts = new Map<string, LogFile>();
  let expected = start;
  for (let i = firstAt(files, start); i < files.length; i++) {
    if (slices.spend(1)) yield;
    const f = files[i]!;
    const p = f.parsed;
    if (p.version > upTo) break; // in version order
    walked.entries++;
    parsed.push(p);
    if (p.type === 'checkpoint') parts.set(p.path, f);
    else if (p.version !== expected++)
      return undefined; // a gap: the run ends after O
    else commits.set(p.version, f);
  }
  if (expected !== upTo + 1) return undefined;
  // Checkpoints of the versions walked, then those kept from `oldest` (newest first; versions apart).
  const complete = yield* completeCheckpointsWork(parsed);
  const fresh = yield* shownCheckpointsWork(complete, oldest, parts, slices);
  const from = firstIndex(before.checkpoints, (c) => c.version < start);
  const to = firstIndex(before.checkpoints, (c) => c.version < oldest, from);
  const log = logOf(upTo, oldest, commits, fresh.concat(before.checkpoints.slice(from, to)));
  return { log, start };
}

/**
 * The oldest version a whole walk picks after a log cleanup deleted the files of `before`'s oldest
 * version O (up to `droppedUpTo`), or undefined when it is not clearly one before `start`. The
 * cleanup deletes the oldest files first (held-log-listing.ts), so the files kept begin at version
 * `droppedUpTo`; the commits after it (from O + 1 on: in `before`'s run) up to `upTo` are all there
 * (continuedWork checks those walked). The commit run ending at `upTo` thus begins at
 * `droppedUpTo` if its commit was kept, else the version after; and the oldest version is, as
 * retainedLogWork picks it, the oldest complete checkpoint (completeCheckpointsWork) from the
 * version before the run's first on. One at `droppedUpTo` (some of its parts may be gone, a choice
 * of before's changed) or none before `start`: the whole walk.
 */
function* movedOldestWork(
  files: readonly LogFile[],
  droppedUpTo: number,
  start: number,
  slices: WorkSlices,
  walked: Walked,
): Generator<void, number | undefined> {
  let runFrom = droppedUpTo + 1;
  let i = 0;
  while (i < files.length && files[i]!.parsed.version < start) {
    const version = files[i]!.parsed.version;
    const checkpoint: ParsedLogPath[] = [];
    for (; i < files.length && files[i]!.parsed.version === version; i++) {
      if (slices.spend(1)) yield;
      walked.entries++;
      const p = files[i]!.parsed;
      if (p.type === 'checkpoint') checkpoint.push(p);
      else if (version === droppedUpTo) runFrom = droppedUpTo;
    }
    if (runFrom === 0) return undefined; // from commit 0: the oldest is 0, its checkpoint changed
    if (version < runFrom - 1 || !checkpoint.length) continue;
    if ((yield* completeCheckpointsWork(checkpoint)).length === 0) continue;
    return version > droppedUpTo ? version : undefined;
  }
  return undefined;
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

/** The index of the first of `keys` (sorted) of `version` or later (`_last_checkpoint` sorts after every version). */
function firstKeyAt(keys: readonly string[], version: number): number {
  const first = `${LOG_DIR}${versionPrefix(version)}`;
  return firstIndex(keys, (k) => k >= first);
}

async function continuedKeys(
  log: RealLog,
  before: Promise<string[]>,
  start: number,
  walked: Walked,
): Promise<string[]> {
  const old = await before;
  // Those of versions from the log's oldest (a cleanup may have moved it) and before `start`.
  const keys = old.slice(firstKeyAt(old, log.oldest), firstKeyAt(old, start));
  walked.entries += Math.max(0, log.version - start + 1);
  return runInSlices(virtualKeysWork(log, start, keys));
}
