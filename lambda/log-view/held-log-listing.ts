/**
 * The real `_delta_log/` commits and checkpoints of one table, held between the view's listings and
 * brought up to date by listing only what can have changed: the log from a few versions before
 * the newest one held (new commits, and a checkpoint written after its commit, even after a
 * concurrent writer's next commit), and the log's first few keys (a log cleanup deletes the oldest
 * files first: Spark's runs after every checkpoint, so every ~10 versions). The whole log is listed
 * again when those disagree with what is held (a table deleted and written again, or rolled back),
 * after forget() (a file the listing named turned out gone or rewritten), and every
 * `fullListingMs` (what neither look sees: a checkpoint written long after its commit, a file
 * deleted out of order). A 30-day log of a table committing every minute is ~90 LIST pages (listed
 * in ranges side by side: whole-log-listing.ts); a new version costs two requests.
 */

import { runInSlices, runToEnd, WorkSlices } from '../core/event-loop';
import type { DeltaStorage, ListedFile } from '../delta/delta-storage';
import {
  LOG_DIR,
  LOG_FILES_PER_SLICE,
  type ParsedLogPath,
  parseLogPath,
  versionPrefix,
} from '../delta/log-path';
import { listWholeLog } from '../delta/whole-log-listing';

export interface LogFile {
  parsed: Extract<ParsedLogPath, { type: 'commit' | 'checkpoint' }>;
  /** parsed.path and parsed.size, so that a commit's LogFile is its RealCommit (no copy per version). */
  path: string;
  size: number;
  lastModified: Date;
  /** Which write of the file this is (path, size, Last-Modified, ETag). */
  source: string;
}

/** Versions before the newest held that every listing covers again (a checkpoint written late). */
const LATE_VERSIONS = 10;
/** Keys the look at the log's start reads: its oldest commit or checkpoint is among them. */
const FIRST_KEYS = 10;
/**
 * Where that look starts: after hidden files, which sort before the versions ("." before "0"), and
 * of which a log copied from a Hadoop file system holds one per commit (`.N.json.crc`).
 */
const BEFORE_VERSIONS = `${LOG_DIR}/`;
/** The whole log is listed at least this often (what the two looks cannot see). */
const FULL_LISTING_MS = 60 * 60 * 1000;
/**
 * Heap a held file takes: its LogFile, parsed name, source string, path and Last-Modified, and its
 * share of the logs made of the listing (test/log-view/listing-budget.test.ts measures it).
 */
export const HELD_FILE_BYTES = 400;

/**
 * Which listing a list() answer is, and how it continues the one before it (`previous`): that
 * one's files but those a log cleanup deleted, `kept` of them (the same objects, as they were), then the
 * files of version `start` or later, listed again. Without `change` it was listed whole. The logs
 * made of a listing are made from those of the one before (next-real-log.ts). Ids, not the
 * arrays: a listing naming the one before would keep every listing since the whole one.
 */
export interface ListingOf {
  id: number;
  change?: {
    previous: number;
    /** The newest version of the files at the log's start a log cleanup deleted (-1: none). */
    droppedUpTo: number;
    kept: number;
    start: number;
  };
}

const listings = new WeakMap<readonly LogFile[], ListingOf>();
let lastId = 0;

/** What listing `files` (a list() answer) is; undefined for an array that is none. */
export function listingOf(files: readonly LogFile[]): ListingOf | undefined {
  return listings.get(files);
}

interface Held {
  /** Sorted by path. */
  files: LogFile[];
  fullAt: number;
  /** forgets as of the whole listing: a forget() since makes the next one whole. */
  forgets: number;
}

export class HeldLogListing {
  private held?: Held;
  private forgets = 0;
  /** The refresh running, if any: the next one starts after it (it merges into what it holds). */
  private running: Promise<unknown> = Promise.resolve();
  /** A refresh waiting for the running one: requests made meanwhile share it. */
  private queued?: { from: number; newest: number; files: Promise<readonly LogFile[]> };

  constructor(
    private readonly storage: DeltaStorage,
    private readonly now: () => number,
    private readonly fullListingMs = FULL_LISTING_MS,
  ) {}

  /**
   * The log's commits and checkpoints, from a listing begun after this call. `from`: the version
   * from which the log is listed again at least (a checkpoint known to exist there). `newest`:
   * the newest version known (a whole listing is split in ranges up to it).
   */
  list(from = Number.POSITIVE_INFINITY, newest = 0): Promise<readonly LogFile[]> {
    if (this.queued) {
      this.queued.from = Math.min(this.queued.from, from);
      this.queued.newest = Math.max(this.queued.newest, newest);
      return this.queued.files;
    }
    const queued = { from, newest, files: undefined as unknown as Promise<readonly LogFile[]> };
    queued.files = this.running.then(() => {
      if (this.queued === queued) this.queued = undefined;
      return this.refresh(queued.from, queued.newest);
    });
    this.queued = queued;
    this.running = queued.files.catch(() => {});
    return queued.files;
  }

  /** What the held listing takes (an estimate: HELD_FILE_BYTES a file). */
  get bytes(): number {
    return (this.held?.files.length ?? 0) * HELD_FILE_BYTES;
  }

  /** A file the held listing named is gone or was written again: the next listing is whole. */
  forget(): void {
    this.forgets++;
  }

  private async refresh(from: number, newest: number): Promise<LogFile[]> {
    const held = this.held;
    const now = this.now();
    if (held && held.forgets === this.forgets && now - held.fullAt < this.fullListingMs) {
      const newestHeld = held.files.at(-1)?.parsed.version ?? 0;
      const start = Math.min(from, newestHeld - LATE_VERSIONS);
      const files = start > 0 ? await this.listFrom(held.files, start) : undefined;
      if (files) {
        this.held = { ...held, files };
        return files;
      }
    }
    const forgets = this.forgets;
    const files = await runInSlices(logFiles(await listWholeLog(this.storage, newest)));
    listings.set(files, { id: ++lastId });
    this.held = { files, fullAt: now, forgets };
    return files;
  }

  /** `held` with the log listed again from `start`, or undefined if the log does not continue it. */
  private async listFrom(held: readonly LogFile[], start: number): Promise<LogFile[] | undefined> {
    const [after, first] = await Promise.all([
      this.storage.list(LOG_DIR, `${LOG_DIR}${versionPrefix(start)}`),
      this.storage.list(LOG_DIR, BEFORE_VERSIONS, FIRST_KEYS),
    ]);
    const fresh = runToEnd(logFiles(after));
    const listed = new Map(fresh.map((f) => [f.parsed.path, f.source]));
    // What was held from `start` on is still there as it was (new files may have come). Held in
    // path order, so in version order: those before `start` come first.
    let before = held.length;
    while (before > 0 && held[before - 1]!.parsed.version >= start) before--;
    for (let i = before; i < held.length; i++)
      if (listed.get(held[i]!.parsed.path) !== held[i]!.source) return undefined;
    let dropped = 0;
    if (before > 0) {
      // A log cleanup deletes the oldest files first: those held before the log's first are gone,
      // the others still there. A first file not held (or none) is another log.
      const oldest = runToEnd(logFiles(first))[0];
      let at = -1;
      if (oldest)
        for (let i = 0; i < before && at < 0; i++) if (held[i]!.parsed.path === oldest.parsed.path) at = i;
      if (at < 0 || held[at]!.source !== oldest!.source) return undefined;
      dropped = at;
    }
    // One copy of what is kept (a long log holds hundreds of thousands of files), then the new.
    const files = held.slice(dropped, before).concat(fresh);
    const droppedUpTo = dropped > 0 ? held[dropped - 1]!.parsed.version : -1;
    const kept = before - dropped;
    const previous = listings.get(held)?.id ?? 0;
    listings.set(files, {
      id: ++lastId,
      change: { previous, droppedUpTo, kept, start },
    });
    return files;
  }
}

function* logFiles(listing: readonly ListedFile[]): Generator<void, LogFile[]> {
  const slices = new WorkSlices(LOG_FILES_PER_SLICE);
  const out: LogFile[] = [];
  for (const f of listing) {
    if (slices.spend(1)) yield;
    const parsed = parseLogPath(f.path, f.size);
    if (parsed?.type !== 'commit' && parsed?.type !== 'checkpoint') continue;
    out.push({
      parsed,
      path: parsed.path,
      size: parsed.size,
      lastModified: f.lastModified ?? new Date(0),
      // A table deleted and written again has commits of the same names, often of the same sizes.
      source: `${f.path}:${f.size}:${f.lastModified?.getTime() ?? ''}:${f.etag ?? ''}`,
    });
  }
  return out;
}
