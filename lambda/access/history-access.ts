/**
 * The history rule (README, Access control): a file the newest snapshot does not know is
 * readable when a version still reconstructable from the retained log referenced it in a
 * partition the caller may read, and it has not yet passed its retention:
 * - a removed data file, or the deletion-vector file of one: until deletionTimestamp +
 *   `delta.deletedFileRetentionDuration` (VACUUM may have deleted it after that);
 * - a change-data file of a retained commit: while that commit is retained.
 * A deletion-vector file needs every file whose vectors it holds granted (deletionVectorVerdict).
 * Listings show the newest snapshot's files and the readable change-data files, never removed
 * ones (a reader globbing a folder must not read a compacted-away file twice).
 */
import { yieldToEventLoop } from '../core/event-loop';
import { CHANGE_DATA, type History } from '../delta/history';
import { isDvFileName } from '../delta/log-replay';
import type { AllowedSet } from './allowed-set';
import { isWriterForm } from './partition-value';

export type HistoryVerdict =
  /** Referenced by a retained version in a granted partition, within retention. */
  | 'readable'
  /** Referenced in a granted partition, but past its retention. */
  | 'expired'
  /** Referenced only in partitions the caller may not read. */
  | 'forbidden'
  /** History does not know the path. */
  | 'unknown';

/**
 * `allowed` must be the caller's AllowedSet over this same History. A deletion-vector file holds
 * the vectors of every file that pointed at it, so it is readable only when every one of them that
 * the history knows is in a granted partition (expired or not: the file still holds their vectors),
 * and none is of a partition it could not find.
 */
export function historyVerdict(
  history: History,
  allowed: AllowedSet,
  relPath: string,
  now: number,
): HistoryVerdict {
  if (isDvFileName(relPath)) return deletionVectorVerdict(history, allowed, relPath, now);
  let verdict: HistoryVerdict = 'unknown';
  history.someRecord(relPath, (tuple, deletedAt) => {
    if (!allowed.isTupleAllowed(tuple)) {
      if (verdict === 'unknown') verdict = 'forbidden';
      return false;
    }
    if (now < history.expiresAt(deletedAt)) {
      verdict = 'readable';
      return true;
    }
    verdict = 'expired';
    return false;
  });
  return verdict;
}

/**
 * For a recent history's 'readable': is the path readable through a record the recent history can
 * vouch for? A tombstone of its checkpoint (version up to `oldestVersion`) may be a file of an
 * older partitioning (`p STRING` → `p INT`) whose change is before the checkpoint, out of its
 * sight; one whose values are all in the writers' form of the current types reads the same
 * under both. Another one is for the complete history to judge (it sees that change while its
 * commit is retained: longer than the tombstone's retention by default).
 */
export function recentlyVouched(
  history: History,
  allowed: AllowedSet,
  relPath: string,
  now: number,
): boolean {
  const cols = history.partitionColumns;
  return history.someRecord(
    relPath,
    (tuple, deletedAt, version) =>
      allowed.isTupleAllowed(tuple) &&
      now < history.expiresAt(deletedAt) &&
      (version > history.oldestVersion ||
        history.tupleValues(tuple).every((v, i) => v === null || isWriterForm(cols[i]!.type, v))),
  );
}

function deletionVectorVerdict(
  history: History,
  allowed: AllowedSet,
  relPath: string,
  now: number,
): HistoryVerdict {
  if (history.unplaced.has(relPath) && !allowed.grantsWholeTable) return 'forbidden';
  let verdict: HistoryVerdict = 'unknown';
  history.someRecord(relPath, (tuple, deletedAt) => {
    if (!allowed.isTupleAllowed(tuple)) {
      verdict = 'forbidden';
      return true;
    }
    if (now < history.expiresAt(deletedAt)) verdict = 'readable';
    else if (verdict === 'unknown') verdict = 'expired';
    return false;
  });
  return verdict;
}

const listedFolders = new WeakMap<AllowedSet, Promise<ReadonlySet<string>>>();
/** History paths looked at between two yields (a history may know hundreds of thousands). */
const FOLDER_SLICE = 4096;

/**
 * What a listing adds from history: the change-data files the caller may read, and the folders
 * that hold one. `allowed` must be the caller's AllowedSet over `history`.
 */
export async function changeDataListing(
  history: History,
  allowed: AllowedSet,
): Promise<{ allowObject(rel: string): boolean; allowPrefix(rel: string): boolean }> {
  const readable = (rel: string) =>
    history.someRecord(rel, (tuple, deletedAt) => deletedAt === CHANGE_DATA && allowed.isTupleAllowed(tuple));
  let folders = listedFolders.get(allowed);
  if (!folders) {
    // Once per (caller's grants, history), shared by concurrent listings, a slice at a time:
    // every readable change-data file's ancestor folders.
    folders = readableFolders(history, allowed, readable);
    listedFolders.set(allowed, folders);
  }
  const f = await folders;
  return {
    allowObject: readable,
    allowPrefix: (rel) => {
      if (f.has(rel)) return true;
      if (rel.endsWith('/')) return false;
      // A delimiter other than "/": look for a readable change-data file under the prefix.
      let found = false;
      history.paths.forEach((_head, path) => {
        if (!found && path.startsWith(rel) && readable(path)) found = true;
      });
      return found;
    },
  };
}

async function readableFolders(
  history: History,
  allowed: AllowedSet,
  readable: (rel: string) => boolean,
): Promise<ReadonlySet<string>> {
  const set = new Set<string>();
  if (allowed.allowsNone) return set;
  let n = 0;
  // The history is frozen once built (a newer one is a fork): iterating across yields is safe.
  for (const [rel] of history.paths) {
    if (++n % FOLDER_SLICE === 0) await yieldToEventLoop();
    if (!readable(rel)) continue;
    for (let i = rel.indexOf('/'); i >= 0; i = rel.indexOf('/', i + 1)) set.add(rel.slice(0, i + 1));
  }
  return set;
}
