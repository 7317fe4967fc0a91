/**
 * The real `_delta_log/` as the filtered view needs it: which commits exist, which versions have a
 * complete checkpoint (of any form), and when each was written. Made once per snapshot the
 * authorizer works with, from a listing begun after it, so the view never shows a version the
 * authorizer does not know.
 */
import { runInSlices, WorkSlices } from '../core/event-loop';
import { firstIndex } from '../core/first-index';
import type { CheckpointFile } from '../delta/checkpoint-reader';
import type { DeltaStorage } from '../delta/delta-storage';
import {
  LAST_CHECKPOINT,
  LOG_DIR,
  LOG_FILES_PER_SLICE,
  type ParsedLogPath,
  parseLogPath,
  versionPrefix,
} from '../delta/log-path';
import { type CheckpointChoice, completeCheckpoints, completeCheckpointsWork } from '../delta/log-segment';
import { retainedLogWork } from '../delta/retained-log';
import type { LogFile } from './held-log-listing';

export interface RealCommit {
  path: string;
  size: number;
  lastModified: Date;
  /** Which write of the file this is (size, Last-Modified, ETag): generated files are cached by it. */
  source: string;
}

export interface RealCheckpoint {
  version: number;
  parts: CheckpointFile[];
  lastModified: Date;
  /** Which write of its parts this is (see RealCommit.source). */
  source: string;
}

/** Versions a chunk of CommitsByVersion holds. */
const CHUNK = 4096;
/** A chunk of versions all below the first held (a log cleanup moved it past them): released. */
const RELEASED: (RealCommit | undefined)[] = [];

/**
 * The commits shown, by version: arrays of CHUNK versions from `base` (the oldest version shown
 * when the log was first made), not a Map (a V8 Map of a long log's commits grows by rehashing them
 * all in one block, and this is made per version). In chunks so that the log of the next version
 * shares those it does not change (continued()): a new version copies one chunk, not the whole log.
 * Versions before `first` (a log cleanup moved the oldest version shown) are not held.
 */
export class CommitsByVersion {
  private readonly chunks: (RealCommit | undefined)[][];
  private readonly length: number;
  size = 0;

  /** `shared`: the chunks of the versions before the first it may set (continued()). */
  constructor(
    private readonly base: number,
    newest: number,
    shared: (RealCommit | undefined)[][] = [],
    private readonly first = base,
  ) {
    this.length = Math.max(0, newest - base + 1);
    this.chunks = shared;
    while (this.chunks.length * CHUNK < this.length) this.chunks.push(new Array(CHUNK));
  }

  get(version: number): RealCommit | undefined {
    const i = version - this.base;
    if (version < this.first || i >= this.length) return undefined;
    return this.chunks[Math.floor(i / CHUNK)]![i % CHUNK];
  }

  /**
   * These commits from `first` and before `before`, for a log up to `newest`: the chunks before the
   * one holding `before` are shared (never set again: a log only sets versions from `before` on),
   * that one copied, so the log they were made for stays as it was; those wholly before `first`
   * released.
   */
  continued(before: number, newest: number, first = this.first): CommitsByVersion {
    const keep = Math.max(0, Math.min(before - this.base, this.length));
    const whole = Math.floor(keep / CHUNK);
    const released = Math.min(whole, Math.floor((first - this.base) / CHUNK));
    const shared = this.chunks.slice(0, whole);
    shared.fill(RELEASED, 0, released);
    if (keep % CHUNK) {
      const part: (RealCommit | undefined)[] = new Array(CHUNK);
      const from = this.chunks[whole]!;
      for (let i = 0; i < keep % CHUNK; i++) part[i] = from[i];
      shared.push(part);
    }
    const next = new CommitsByVersion(this.base, newest, shared, first);
    let dropped = 0;
    for (let v = this.base + keep; v < this.base + this.length; v++) if (this.get(v)) dropped++;
    // Those a log cleanup took off (first moved): the versions it moved past.
    for (let v = this.first; v < Math.min(first, this.base + keep); v++) if (this.get(v)) dropped++;
    next.size = this.size - dropped;
    return next;
  }

  set(version: number, commit: RealCommit): void {
    const i = version - this.base;
    if (version < this.first || i >= this.length)
      throw new RangeError(`version ${version} is outside the log`);
    const chunk = this.chunks[Math.floor(i / CHUNK)]!;
    if (chunk[i % CHUNK] === undefined) this.size++;
    chunk[i % CHUNK] = commit;
  }

  /** Oldest first. */
  *[Symbol.iterator](): IterableIterator<[number, RealCommit]> {
    for (let i = Math.max(0, this.first - this.base); i < this.length; i++) {
      const c = this.chunks[Math.floor(i / CHUNK)]![i % CHUNK];
      if (c !== undefined) yield [this.base + i, c];
    }
  }
}

export interface RealLog {
  /** Newest version shown (the authorizer's snapshot version). */
  version: number;
  commits: CommitsByVersion;
  /** Newest first; a checkpoint that turns out unreadable is removed (readers fall back to an older one). */
  checkpoints: RealCheckpoint[];
  /** The newest checkpoint's version as listed (before any was removed), -1 when none. */
  newestListedCheckpoint: number;
  /** The versions of the checkpoints listed (before any was removed). */
  listedCheckpoints: CheckpointVersions;
  /** The oldest version shown (the oldest the log can rebuild). */
  oldest: number;
}

/**
 * The versions of checkpoints listed, found by binary search in the (newest first) list: not a Set,
 * made anew for every version of a log of tens of thousands of checkpoints.
 */
export class CheckpointVersions {
  constructor(private readonly newestFirst: readonly RealCheckpoint[]) {}

  has(version: number): boolean {
    return this.newestFirst[firstIndex(this.newestFirst, (c) => c.version <= version)]?.version === version;
  }
}

/** Drops a checkpoint that could not be read, so the view (and `_last_checkpoint`) stop showing it. */
export function dropCheckpoint(log: RealLog, version: number): void {
  log.checkpoints = log.checkpoints.filter((c) => c.version !== version);
}

/**
 * The log as the view shows it at `upTo`, from the table's held listing (held-log-listing.ts), in
 * slices: a long log holds hundreds of thousands of files, and this runs for every new version.
 */
export async function realLogOf(files: readonly LogFile[], upTo: number): Promise<RealLog> {
  return (await runInSlices(wholeRealLogWork(files, upTo))).log;
}

/** realLogOf's work; `reconstructable`: some version up to `upTo` can be rebuilt (else oldest is 0). */
export function* wholeRealLogWork(
  files: readonly LogFile[],
  upTo: number,
): Generator<void, { log: RealLog; reconstructable: boolean }> {
  const slices = new WorkSlices(LOG_FILES_PER_SLICE);
  // No map keyed by every file: a V8 Map grows by rehashing all it holds in one block.
  const shown: LogFile[] = [];
  const parsed: ParsedLogPath[] = [];
  const parts = new Map<string, LogFile>();
  for (const f of files) {
    if (slices.spend(1)) yield;
    if (f.parsed.version > upTo) continue;
    shown.push(f);
    parsed.push(f.parsed);
    if (f.parsed.type === 'checkpoint') parts.set(f.parsed.path, f);
  }
  // Commits and checkpoints before the oldest version the log can rebuild (a log cleanup under way
  // left them) are not shown: the proxy's history starts there, so it serves no change data of
  // theirs and cannot place a file that only they name.
  const complete = yield* completeCheckpointsWork(parsed);
  const retained = yield* retainedLogWork(parsed, upTo, complete);
  const oldest = retained?.oldestVersion ?? 0;
  const commits = new CommitsByVersion(oldest, upTo);
  for (const f of shown) {
    if (slices.spend(1)) yield;
    const p = f.parsed;
    // The held LogFile is the RealCommit: no object per commit and version.
    if (p.type === 'commit' && p.version >= oldest) commits.set(p.version, f);
  }
  const checkpoints = yield* shownCheckpointsWork(complete, oldest, parts, slices);
  return { log: logOf(upTo, oldest, commits, checkpoints), reconstructable: retained !== undefined };
}

export function logOf(
  version: number,
  oldest: number,
  commits: CommitsByVersion,
  checkpoints: RealCheckpoint[],
): RealLog {
  return {
    version,
    commits,
    checkpoints,
    // Newest first.
    newestListedCheckpoint: checkpoints[0]?.version ?? -1,
    listedCheckpoints: new CheckpointVersions(checkpoints),
    oldest,
  };
}

/**
 * The checkpoints shown, newest first, of the complete ones listed (newest first) and their parts
 * by path: from `oldest` on, none with a zero-byte part, one per version.
 */
export function* shownCheckpointsWork(
  complete: readonly CheckpointChoice[],
  oldest: number,
  parts: ReadonlyMap<string, LogFile>,
  slices: WorkSlices,
): Generator<void, RealCheckpoint[]> {
  const checkpoints: RealCheckpoint[] = [];
  for (const c of complete) {
    if (c.version < oldest) break; // newest first
    if (slices.spend(c.parts.length)) yield;
    // Zero-byte parts are skipped by Spark and the kernel: so here.
    if (c.parts.some((p) => p.size === 0)) continue;
    let written = 0;
    for (const p of c.parts) written = Math.max(written, parts.get(p.path)!.lastModified.getTime());
    // Of two complete checkpoints of one version, the one written first: an instance that listed
    // the log before the second was written serves it too, so every instance generates the same
    // bytes (a reader may take the size from one instance's listing and read from another).
    const same = checkpoints.at(-1);
    if (same?.version === c.version) {
      if (same.lastModified.getTime() <= written) continue;
      checkpoints.pop();
    }
    checkpoints.push({
      version: c.version,
      parts: c.parts,
      lastModified: new Date(written),
      source: c.parts.map((p) => parts.get(p.path)!.source).join(','),
    });
  }
  return checkpoints;
}

/** Files a probe for the checkpoint at one version lists: its parts, `.crc`, compactions, the commit. */
const PROBE_FILES = 100;

/**
 * Does the log hold a checkpoint at `version` that a listing would show (complete, no zero-byte
 * part)? One short listing from that version on.
 */
export async function checkpointExistsAt(storage: DeltaStorage, version: number): Promise<boolean> {
  const files = await storage.list(LOG_DIR, `${LOG_DIR}${versionPrefix(version)}`, PROBE_FILES);
  const parsed: ParsedLogPath[] = [];
  for (const f of files) {
    const p = parseLogPath(f.path, f.size);
    if (p?.version === version) parsed.push(p);
  }
  return completeCheckpoints(parsed).some((c) => c.parts.every((p) => p.size > 0));
}

export function checkpointName(version: number): string {
  return `${LOG_DIR}${versionPrefix(version)}.checkpoint.parquet`;
}

/**
 * The virtual `_delta_log/` keys (relative to the table root), sorted as S3 sorts them. Made by
 * merging in version order (a checkpoint's name sorts before its version's commit), not by
 * sorting, and in slices: a long log holds hundreds of thousands of keys, made once per version.
 */
export function virtualKeys(log: RealLog): Promise<string[]> {
  return runInSlices(virtualKeysWork(log, log.oldest, []));
}

/** The keys of `log`'s versions from `from` on, appended to `keys` (those of the versions before). */
export function* virtualKeysWork(log: RealLog, from: number, keys: string[]): Generator<void, string[]> {
  const slices = new WorkSlices(LOG_FILES_PER_SLICE);
  // Those from `from` on, oldest first (the log holds them newest first).
  const checkpoints = log.checkpoints
    .slice(
      0,
      firstIndex(log.checkpoints, (c) => c.version < from),
    )
    .map((c) => c.version)
    .reverse();
  let next = 0;
  for (let version = Math.max(from, log.oldest); version <= log.version; version++) {
    if (slices.spend(1)) yield;
    const c = log.commits.get(version);
    if (!c) continue;
    while (next < checkpoints.length && checkpoints[next]! <= version)
      keys.push(checkpointName(checkpoints[next++]!));
    keys.push(c.path);
  }
  while (next < checkpoints.length) keys.push(checkpointName(checkpoints[next++]!));
  if (log.checkpoints.length) keys.push(LAST_CHECKPOINT);
  return keys;
}

/** What a virtual key names, or undefined. */
export type VirtualFile =
  | { kind: 'commit'; version: number; commit: RealCommit }
  | { kind: 'checkpoint'; checkpoint: RealCheckpoint }
  | { kind: 'lastCheckpoint'; checkpoint: RealCheckpoint };

export function virtualFile(log: RealLog, relKey: string): VirtualFile | undefined {
  if (relKey === LAST_CHECKPOINT) {
    const newest = log.checkpoints[0];
    return newest ? { kind: 'lastCheckpoint', checkpoint: newest } : undefined;
  }
  const p = parseLogPath(relKey, 0);
  if (p?.type === 'commit') {
    const commit = log.commits.get(p.version);
    return commit ? { kind: 'commit', version: p.version, commit } : undefined;
  }
  if (p?.type === 'checkpoint' && p.kind === 'classic') {
    const checkpoint = log.checkpoints.find((c) => c.version === p.version);
    return checkpoint ? { kind: 'checkpoint', checkpoint } : undefined;
  }
  return undefined;
}
