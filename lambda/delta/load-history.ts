/**
 * Builds a table's History at its newest snapshot's version from the retained log: the
 * tombstones of the oldest checkpoint that still starts a reconstructable range, then every
 * retained commit (read a bounded window ahead, see log-read-ahead.ts, and applied strictly in
 * order). A recent history (loadRecentHistory) reads only the newest checkpoint's tombstones and
 * the commits after it: a few requests instead of one per retained commit, for the common
 * "removed file" case, and completeHistory turns a recent history into the complete one by adding
 * the change data of the older commits. An update
 * reads only the commits after the previous history, and re-lists the whole log only when a new
 * checkpoint appeared (writers clean up old log files right after a checkpoint), dropping the
 * change data of commits that are gone. It falls back to a full build when the partitioning
 * changed or a remove's partition values cannot be found in the new commits.
 */
import { runInSlices, WorkSlices, yieldToEventLoop } from '../core/event-loop';
import { StorageError } from '../storage/storage-backend';
import {
  type CheckpointFileAction,
  jsonFileAction,
  readCheckpointFileActions,
  readCheckpointHeader,
} from './checkpoint-file-actions';
import { DeltaLogError } from './delta-log-error';
import { type DeltaStorage, isNotFound, type ListedFile, readListed } from './delta-storage';
import { History, type HistoryInfo } from './history';
import { HistoryBuilder } from './history-builder';
import { LayeredMap } from './layered-map';
import { commitPath, LOG_DIR, type ParsedLogPath } from './log-path';
import { readInOrder } from './log-read-ahead';
import { forEachAction, logLines, metadataOf, PARSE_SLICE_BYTES, parseActionLine } from './log-replay';
import { type CheckpointChoice, listLogSegment, type ParsedListing, parseListing } from './log-segment';
import type { IoStats } from './parquet-leaves';
import { PathIndex } from './path-index';
import { AddConflicts } from './path-partitions';
import { type RetainedLog, retainedLogWork } from './retained-log';
import { deletedFileRetentionMs } from './retention';
import type { Snapshot } from './snapshot';
import type { PartitionColumn } from './snapshot-view';
import { partitionColumnsOf, sameColumns } from './table-metadata';
import { TableRoot } from './table-root';
import { listWholeLog } from './whole-log-listing';

/** The log after `startAfter`, or the whole log (listed in ranges up to `newest`). */
async function listLog(
  storage: DeltaStorage,
  io: IoStats,
  newest: number,
  startAfter?: string,
): Promise<ParsedListing> {
  const listing: ListedFile[] =
    startAfter === undefined ? await listWholeLog(storage, newest) : await storage.list(LOG_DIR, startAfter);
  io.requests += Math.max(1, Math.ceil(listing.length / 1000));
  return parseListing(listing);
}

/** The history of `snapshot`'s table at `snapshot.version`, read from storage. */
export async function loadHistory(storage: DeltaStorage, snapshot: Snapshot): Promise<History> {
  const io: IoStats = { requests: 0, bytes: 0 };
  const root = new TableRoot(snapshot.tableRoot);
  const listed = await listLog(storage, io, snapshot.version);
  const retained = await runInSlices(retainedLogWork(listed.parsed, snapshot.version));
  const b = new HistoryBuilder(root, snapshot.partitionColumns);
  const info: HistoryInfo = { logFilesRead: 0, requests: 0, bytesRead: 0, tombstones: 0, outcome: 'loaded' };
  if (!retained) {
    // The log now starts past the snapshot's version (a cleanup since the snapshot was loaded): an
    // empty history would refuse what it should serve, and be carried forward by updates. A
    // retryable failure; the refreshed snapshot's history reads the log as it now is.
    const current = await runInSlices(retainedLogWork(listed.parsed));
    if (current && current.oldestVersion > snapshot.version)
      throw new StorageError('Unavailable', `the log no longer holds version ${snapshot.version}`);
    return finish(b, snapshot, snapshot.version, io, info);
  }

  const { checkpoint, oldest } = await readTombstones(storage, retained, b, io, info).catch((e: unknown) => {
    // The newest checkpoint listed is gone: a cleanup since the listing (it keeps the newest
    // checkpoint, so a newer one exists). A race, not an unreadable log: retryable.
    if (e instanceof DeltaLogError && isNotFound(e.cause))
      throw new StorageError('Unavailable', `the checkpoints listed are gone: ${e.message}`);
    throw e;
  });
  b.repartitioned = false;
  const commits = retained.commits.filter((c) => c.version >= oldest);
  await applyCommits(storage, commits, io, info, (bytes, c) =>
    applyCommit(bytes, c.path, c.version, listed.lastModified.get(c.path) ?? 0, b),
  );
  if (!sameColumns(b.columns, snapshot.partitionColumns)) b.setColumns(snapshot.partitionColumns);
  if (b.unresolved.size) {
    // Removes that carried no partition values (old writers): a second pass finds the add that
    // introduced each path, in the commits since the partitioning last changed (the changing
    // commit's adds are of the new one; its removes, of the old one, find no add before it).
    let last = -1;
    for (const removes of b.unresolved.values()) for (const p of removes) last = Math.max(last, p.version);
    b.trackAdds();
    const again = commits.filter((c) => c.version >= b.epoch && c.version <= last);
    await applyCommits(storage, again, io, info, (bytes, c) => applyAdds(bytes, c.path, c.version, b));
  }
  // Still unresolved: the add predates the retained commits, so it is in the checkpoint the
  // range starts from (unless the partitioning changed since).
  if (b.unresolved.size && checkpoint && !b.repartitioned) {
    // A checkpoint that adds one path twice with different values places it by neither add, as
    // the snapshot refuses such a file (readers disagree on which row counts).
    const found = new AddConflicts<CheckpointFileAction['partitionValues']>((rel) => rel);
    await readCheckpointFileActions(
      storage,
      checkpoint.parts,
      'add',
      io,
      (a) => {
        const rel = root.resolve(a.path).relPath;
        if (rel !== undefined) found.add(rel, a.partitionValues);
      },
      (path) => {
        const rel = root.resolve(path).relPath;
        return rel !== undefined && b.unresolved.has(rel);
      },
    );
    for (const [rel, pv] of found.agreed()) b.resolve(rel, pv);
    info.logFilesRead++;
  }
  // What is still unresolved stays unplaced: its deletion-vector files hold a vector of unknown partition.
  return finish(b, snapshot, oldest, io, info, true, unplacedOf(b));
}

/**
 * Reads the tombstones of the oldest readable checkpoint of the range (an unreadable one is
 * skipped for the next: the range then starts there). Returns it and the range's first version.
 */
async function readTombstones(
  storage: DeltaStorage,
  retained: RetainedLog,
  b: HistoryBuilder,
  io: IoStats,
  info: HistoryInfo,
): Promise<{ checkpoint?: CheckpointChoice; oldest: number }> {
  if (retained.checkpoints.length === 0) return { oldest: retained.oldestVersion };
  let lastError: unknown;
  for (const cp of retained.checkpoints) {
    // A tombstone without deletionTimestamp dates from 0, as Spark and delta-rs read it: VACUUM
    // may delete its file at once. (The checkpoint's own time would renew it with every checkpoint
    // that repeats the tombstone, keeping the file readable past any retention.)
    let count = 0;
    try {
      await readCheckpointFileActions(
        storage,
        cp.parts,
        'remove',
        io,
        (t) => {
          count++;
          b.removal(t, t.deletionTimestamp ?? 0, cp.version);
        },
        undefined,
        (header) => {
          if (header.metadata) b.setColumns(partitionColumnsOf(header.metadata));
        },
      );
      info.tombstones = count;
      info.logFilesRead += cp.parts.length;
      return { checkpoint: cp, oldest: cp.version };
    } catch (e) {
      if (!(e instanceof DeltaLogError) && !isNotFound(e)) throw e;
      lastError = e;
      b.reset(b.columns); // the next checkpoint starts from nothing
    }
  }
  throw new DeltaLogError(
    'Unreadable',
    `no retained checkpoint is readable: ${(lastError as Error).message}`,
    {
      cause: lastError,
    },
  );
}

/**
 * Reads the commits a bounded window ahead (see log-read-ahead.ts) and applies them in order,
 * each from its bytes (a commit may be tens of MB: `apply` parses it a slice at a time).
 */
async function applyCommits(
  storage: DeltaStorage,
  commits: readonly Extract<ParsedLogPath, { type: 'commit' }>[],
  io: IoStats,
  info: HistoryInfo,
  apply: (bytes: Uint8Array, commit: Extract<ParsedLogPath, { type: 'commit' }>) => Promise<void>,
): Promise<void> {
  const fetchBytes = async ({ path, size }: { path: string; size: number }) => {
    try {
      const bytes = await readListed(storage, { path, size });
      io.requests++;
      io.bytes += bytes.byteLength;
      return bytes;
    } catch (e) {
      // Listed, then gone: a log cleanup raced this read. Not an unreadable log (that refuses what
      // only the history can serve): a retryable failure, and the next load lists the log again.
      if (isNotFound(e)) throw new StorageError('Unavailable', `${path} disappeared while reading the log`);
      throw e;
    }
  };
  await readInOrder(commits, fetchBytes, async (bytes, c) => {
    await apply(bytes, c);
    info.logFilesRead++;
    return true;
  });
}

/** File actions of one commit recorded between two yields to the event loop. */
const RECORD_SLICE = 2048;

async function applyCommit(
  bytes: Uint8Array,
  path: string,
  version: number,
  modifiedAt: number,
  b: HistoryBuilder,
): Promise<void> {
  const adds: CheckpointFileAction[] = [];
  const removes: CheckpointFileAction[] = [];
  const cdcs: CheckpointFileAction[] = [];
  let commitAt: number | undefined;
  await forEachAction(bytes, path, (a, at) => {
    const ci = a.commitInfo as { inCommitTimestamp?: unknown; timestamp?: unknown } | undefined;
    if (ci) {
      const t = typeof ci.inCommitTimestamp === 'number' ? ci.inCommitTimestamp : ci.timestamp;
      if (typeof t === 'number') commitAt = t;
    }
    // Actions are applied after the whole commit is read: commitInfo need not come first.
    if (a.metaData) b.setColumns(partitionColumnsOf(metadataOf(a.metaData, at)), version);
    for (const [kind, list] of [
      ['add', adds],
      ['remove', removes],
      ['cdc', cdcs],
    ] as const) {
      const x = a[kind] as Record<string, unknown> | undefined;
      if (!x) continue;
      if (typeof x.path !== 'string' || x.path === '')
        throw new DeltaLogError('Malformed', `${at}: file action without a path`);
      list.push(jsonFileAction(x));
    }
  });
  b.addAll(adds);
  let n = 0;
  for (const r of removes) {
    b.removal(r, r.deletionTimestamp ?? commitAt ?? modifiedAt, version);
    if (++n % RECORD_SLICE === 0) await yieldToEventLoop();
  }
  for (const c of cdcs) {
    b.changeData(c, version);
    if (++n % RECORD_SLICE === 0) await yieldToEventLoop();
  }
}

/** Second pass: only the adds of the paths still unresolved, after resolving this commit's removes. */
async function applyAdds(bytes: Uint8Array, path: string, version: number, b: HistoryBuilder): Promise<void> {
  b.resolveAt(version);
  const adds: CheckpointFileAction[] = [];
  await forEachAction(bytes, path, (a) => {
    const x = a.add as Record<string, unknown> | undefined;
    if (x && typeof x.path === 'string') adds.push(jsonFileAction(x));
  });
  b.addAll(adds);
}

/**
 * The recent history of `snapshot`: tombstones of its newest checkpoint (which carry every
 * remove still within retention when it was written, with partition values) and the commits
 * after it. Not complete: use it to serve, never to refuse. A table without a checkpoint gets the
 * complete history (its commits are all there is to read).
 */
export async function loadRecentHistory(storage: DeltaStorage, snapshot: Snapshot): Promise<History> {
  const io: IoStats = { requests: 0, bytes: 0 };
  const seg = await listLogSegment(storage, { version: snapshot.version });
  io.requests += 2;
  const cp = seg.checkpoints[0];
  if (!cp) return loadHistory(storage, snapshot);
  const b = new HistoryBuilder(new TableRoot(snapshot.tableRoot), snapshot.partitionColumns);
  const info: HistoryInfo = { logFilesRead: 0, requests: 0, bytesRead: 0, tombstones: 0, outcome: 'recent' };
  const listed: ParsedListing = { parsed: seg.listed, lastModified: seg.lastModified };
  try {
    const only = {
      oldestVersion: cp.version,
      latestVersion: snapshot.version,
      checkpoints: [cp],
      commits: [],
    };
    await readTombstones(storage, only, b, io, info);
  } catch (e) {
    if (e instanceof DeltaLogError) return loadHistory(storage, snapshot);
    throw e;
  }
  const commits = seg.listed
    .filter(
      (p): p is Extract<ParsedLogPath, { type: 'commit' }> =>
        p.type === 'commit' && p.version > cp.version && p.version <= snapshot.version,
    )
    .sort((x, y) => x.version - y.version);
  // A remove without deletionTimestamp (in a commit without commitInfo) dates from its commit's
  // Last-Modified, as in loadHistory: the two must agree on when such a file expires.
  await applyCommits(storage, commits, io, info, (bytes, c) =>
    applyCommit(bytes, c.path, c.version, listed.lastModified.get(c.path) ?? 0, b),
  );
  if (!sameColumns(b.columns, snapshot.partitionColumns)) b.reset(snapshot.partitionColumns);
  return finish(b, snapshot, cp.version, io, info, false, unplacedOf(b));
}

/** The removed files (and their deletion-vector files) a builder could not place in a partition. */
function unplacedOf(b: HistoryBuilder, prev: ReadonlySet<string> = new Set()): ReadonlySet<string> {
  if (b.unresolved.size === 0) return prev;
  const out = new Set(prev);
  for (const [rel, removes] of b.unresolved) {
    out.add(rel);
    for (const p of removes) if (p.dvFile !== undefined) out.add(p.dvFile);
  }
  return out;
}

/**
 * The complete history from a recent one at the same version. The recent history already holds
 * every remove still within retention (the newest checkpoint's tombstones) and every action after
 * that checkpoint; what only the older retained commits add is their change data. So those
 * commits are read for `cdc` and `metaData` lines alone (a line naming neither is not parsed),
 * and their change data joins the recent history's records. Falls back to loadHistory when the
 * recent history has removes it could not place (their adds are in the older commits), and when
 * an older commit removed a file with a deletion-vector file (that file still holds the vector
 * after the remove's retention, which the newest checkpoint's tombstones no longer show), or
 * changed the partitioning before a tombstone of the newest checkpoint was removed: the full load
 * starts over at the change and drops that tombstone, which the recent history may have read as
 * a file of the newest partitioning ("01" under `p STRING` as "1" under `p INT`).
 */
export async function completeHistory(
  recent: History,
  storage: DeltaStorage,
  snapshot: Snapshot,
): Promise<History> {
  if (recent.complete) return recent;
  const full = () => loadHistory(storage, snapshot);
  if (recent.version !== snapshot.version || recent.unplaced.size > 0) return full();
  const io: IoStats = { requests: 0, bytes: 0 };
  const listed = await listLog(storage, io, snapshot.version);
  const retained = await runInSlices(retainedLogWork(listed.parsed, snapshot.version));
  // The recent history starts at the newest checkpoint; the older commits end with its version.
  const upTo = recent.oldestVersion;
  if (!retained || retained.oldestVersion > upTo) return full();
  const commits = retained.commits.filter((c) => c.version <= upTo);
  // The partitioning at the start of the range: change data written under another one is dropped.
  let columns: readonly PartitionColumn[] | undefined;
  const first = retained.checkpoints[0];
  if (first && first.version === retained.oldestVersion) {
    try {
      const header = await readCheckpointHeader(storage, first.parts, io);
      if (header.metadata) columns = partitionColumnsOf(header.metadata);
    } catch (e) {
      if (!(e instanceof DeltaLogError) && !isNotFound(e)) throw e;
      return full();
    }
  }
  const info: HistoryInfo = { logFilesRead: 0, requests: 0, bytesRead: 0, tombstones: 0, outcome: 'loaded' };
  let pending: { action: CheckpointFileAction; version: number }[] = [];
  // An older remove that points at a deletion-vector file: the file still holds that vector after
  // the remove's retention (when the newest checkpoint has dropped its tombstone), so the history
  // must know that owner's partition: only a full load reads the removes of the older commits.
  let needsFull = false;
  // Once the partitioning changed in these commits, the full load starts over there: of the
  // newest checkpoint's tombstones it keeps only the files removed by the later commits.
  const root = new TableRoot(snapshot.tableRoot);
  let removedSinceChange: Set<string> | undefined;
  await applyCommits(storage, commits, io, info, async (bytes, c) => {
    if (needsFull) return;
    // A commit's actions count together: its change data is under its own metaData, whatever
    // the order of the lines.
    const cdcs: { action: CheckpointFileAction; version: number }[] = [];
    const removed: string[] = [];
    let repartitioned = false;
    const slices = new WorkSlices(PARSE_SLICE_BYTES);
    for (const [raw, lineNo, taken] of logLines(bytes)) {
      if (slices.spend(taken)) await yieldToEventLoop();
      const line = raw.trim();
      if (line === '') continue;
      // Not parsed unless needed, but a damaged commit is still told apart (and fails the load).
      if (line[0] !== '{' || line[line.length - 1] !== '}')
        throw new DeltaLogError('Malformed', `${c.path}: a line that is not a JSON object`);
      const removes = line.includes('"remove"');
      const removesVector = removes && line.includes('"deletionVector"');
      const wanted = removesVector || (removes && removedSinceChange !== undefined);
      if (!line.includes('"cdc"') && !line.includes('"metaData"') && !wanted) continue;
      const a = parseActionLine(line, c.path, lineNo)!;
      const at = `${c.path} line ${lineNo}`;
      const r = a.remove as { path?: unknown; deletionVector?: { storageType?: unknown } } | undefined;
      const dv = r?.deletionVector;
      if (typeof dv === 'object' && dv !== null && dv.storageType !== 'i') {
        needsFull = true;
        return;
      }
      const rel = typeof r?.path === 'string' ? root.resolve(r.path).relPath : undefined;
      if (rel !== undefined) removed.push(rel);
      if (a.metaData) {
        const cols = partitionColumnsOf(metadataOf(a.metaData, at));
        if (columns !== undefined && !sameColumns(cols, columns)) repartitioned = true;
        columns = cols;
      }
      const x = a.cdc as Record<string, unknown> | undefined;
      if (x && typeof x.path === 'string' && x.path !== '')
        cdcs.push({ action: jsonFileAction(x), version: c.version });
    }
    if (repartitioned) pending = cdcs;
    else for (const x of cdcs) pending.push(x);
    // The removes of the changing commit itself are of the older partitioning (never placed).
    if (repartitioned) removedSinceChange = new Set();
    else if (removedSinceChange) for (const rel of removed) removedSinceChange.add(rel);
  });
  if (needsFull) return full();
  // A tombstone removed before the change (maybe of an older partitioning with the newest one's
  // column names, behind one the recent history could not see: p STRING, then q, then p INT).
  if (removedSinceChange) {
    // A slice at a time: the newest checkpoint may carry hundreds of thousands of tombstones.
    const seen = removedSinceChange;
    let n = 0;
    for (const [rel] of recent.paths) {
      if (!seen.has(rel) && recent.someRecord(rel, (_t, _d, version) => version <= upTo)) return full();
      if (++n % RECORD_SLICE === 0) await yieldToEventLoop();
    }
  }
  if (columns !== undefined && !sameColumns(columns, snapshot.partitionColumns)) pending = [];
  const { b, files } = await continueFrom(recent, snapshot);
  for (const p of pending) b.changeData(p.action, p.version);
  return new History(
    snapshot.version,
    retained.oldestVersion,
    snapshot.partitionColumns,
    recent.retentionMs,
    files,
    recent.records,
    recent.tuples,
    { ...info, requests: io.requests, bytesRead: io.bytes },
    true,
  );
}

/**
 * A builder that adds to `prev`'s records, over a fork of its paths (`prev` stays as it is),
 * copied a slice at a time (a history of a million paths folds in hundreds of ms).
 */
async function continueFrom(prev: History, snapshot: Snapshot) {
  const files = await prev.paths.forkInSlices();
  const b = new HistoryBuilder(new TableRoot(snapshot.tableRoot), snapshot.partitionColumns, {
    files,
    records: prev.records,
    tuples: prev.tuples,
  });
  return { b, files };
}

function finish(
  b: HistoryBuilder,
  snapshot: Snapshot,
  oldest: number,
  io: IoStats,
  info: HistoryInfo,
  complete = true,
  unplaced?: ReadonlySet<string>,
): History {
  if (b.files instanceof PathIndex) b.files.trim();
  const files = b.files instanceof LayeredMap ? b.files : LayeredMap.of(b.files as PathIndex);
  return new History(
    snapshot.version,
    oldest,
    snapshot.partitionColumns,
    deletedFileRetentionMs(snapshot.metadata),
    files,
    b.records,
    b.tuples,
    { ...info, requests: io.requests, bytesRead: io.bytes },
    complete,
    unplaced,
  );
}

/**
 * Brings `prev` forward to `snapshot.version`, reading only the new commits (and the whole
 * listing when a checkpoint appeared: then what can no longer be read at `now` is forgotten, so a
 * long-lived process does not accumulate expired removes). Falls back to loadHistory when it
 * cannot combine.
 */
export async function updateHistory(
  prev: History,
  storage: DeltaStorage,
  snapshot: Snapshot,
  now = Number.NEGATIVE_INFINITY,
): Promise<History> {
  if (snapshot.version <= prev.version) return prev;
  const full = () => loadHistory(storage, snapshot);
  if (!sameColumns(prev.partitionColumns, snapshot.partitionColumns)) return full();
  const io: IoStats = { requests: 0, bytes: 0 };
  const listed = await listLog(storage, io, snapshot.version, commitPath(prev.version));
  const commits = listed.parsed
    .filter(
      (p): p is Extract<ParsedLogPath, { type: 'commit' }> =>
        p.type === 'commit' && p.version > prev.version && p.version <= snapshot.version,
    )
    .sort((a, b) => a.version - b.version);
  if (commits.length !== snapshot.version - prev.version) return full(); // a gap: the log moved under us
  let oldest = prev.oldestVersion;
  const checkpointed = listed.parsed.some((p) => p.type === 'checkpoint' && p.version > prev.version);
  if (checkpointed && prev.complete) {
    const all = await listLog(storage, io, snapshot.version);
    const retained = await runInSlices(retainedLogWork(all.parsed, snapshot.version));
    // Commits between prev and the new oldest version are gone: their removes are unknown.
    if (!retained || retained.oldestVersion > prev.version + 1) return full();
    oldest = Math.max(oldest, retained.oldestVersion);
  }
  const { b, files } = await continueFrom(prev, snapshot);
  const retentionMs = deletedFileRetentionMs(snapshot.metadata);
  if (checkpointed) b.prune(oldest, now, retentionMs);
  const info: HistoryInfo = { logFilesRead: 0, requests: 0, bytesRead: 0, tombstones: 0, outcome: 'updated' };
  await applyCommits(storage, commits, io, info, (bytes, c) =>
    applyCommit(bytes, c.path, c.version, listed.lastModified.get(c.path) ?? 0, b),
  );
  // A recent history simply does not know what it cannot place; a complete one must.
  if (b.repartitioned || (b.unresolved.size && prev.complete)) return full();
  return new History(
    snapshot.version,
    oldest,
    snapshot.partitionColumns,
    retentionMs,
    files,
    prev.records,
    prev.tuples,
    { ...info, requests: io.requests, bytesRead: io.bytes },
    prev.complete,
    unplacedOf(b, prev.unplaced),
  );
}
