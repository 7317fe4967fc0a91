/**
 * Which files make up the table at a version: the newest complete checkpoint not after it, and
 * the commits after that checkpoint (log compaction files standing in for runs of commits where
 * they shorten the replay). `_last_checkpoint` only says where to start listing; if the
 * checkpoint it names is gone, the whole log is listed.
 */

import { runToEnd, WorkSlices, yieldToEventLoop } from '../core/event-loop';
import type { CheckpointFile } from './checkpoint-reader';
import { DeltaLogError } from './delta-log-error';
import type { DeltaStorage, ListedFile } from './delta-storage';
import { type LastCheckpointHint, readLastCheckpointHint } from './last-checkpoint-hint';
import {
  commitPath,
  LOG_DIR,
  LOG_FILES_PER_SLICE,
  type ParsedLogPath,
  parseLogPath,
  versionPrefix,
} from './log-path';

export interface LogFile {
  path: string;
  size: number;
}

/** One step of the replay after the checkpoint: a commit, or a compaction covering [version, endVersion]. */
export interface ReplayStep extends LogFile {
  version: number;
  endVersion: number;
  compaction: boolean;
}

export interface CheckpointChoice {
  version: number;
  parts: CheckpointFile[];
}

export interface LogSegment {
  version: number;
  /** Candidate checkpoints, newest first; the first is used unless it turns out unreadable. */
  checkpoints: CheckpointChoice[];
  /** All commits (and compactions) listed after the oldest candidate checkpoint, up to `version`. */
  listed: ParsedLogPath[];
  /** Last-Modified (ms) of the listed files the store reported one for. */
  lastModified: Map<string, number>;
  /** The commit file at `version` as listed (absent when only a checkpoint has that version). */
  head?: ListedFile;
}

export interface SegmentOptions {
  version?: number;
  /** Use log compaction files (default true). */
  useCompaction?: boolean;
  /** List the whole log instead of starting at `_last_checkpoint`. */
  ignoreHint?: boolean;
}

export async function listLogSegment(storage: DeltaStorage, opts: SegmentOptions = {}): Promise<LogSegment> {
  const hint = opts.ignoreHint ? undefined : await readLastCheckpointHint(storage);
  const useHint = hint !== undefined && (opts.version === undefined || hint.version <= opts.version);
  if (useHint) {
    const seg = await segmentFrom(storage, hint, opts);
    // The hinted checkpoint may be gone (or incomplete): then fall back to a full listing.
    if (seg?.checkpoints.some((c) => c.version >= hint.version)) return seg;
  }
  const seg = await segmentFrom(storage, undefined, opts);
  if (!seg) throw new DeltaLogError('MissingLog', 'no Delta log: _delta_log/ has no commit');
  return seg;
}

async function segmentFrom(
  storage: DeltaStorage,
  hint: LastCheckpointHint | undefined,
  opts: SegmentOptions,
): Promise<LogSegment | undefined> {
  const listing: ListedFile[] = await storage.list(
    LOG_DIR,
    hint ? `${LOG_DIR}${versionPrefix(hint.version)}` : undefined,
  );
  const { parsed, lastModified } = await parseListing(listing);
  const commits = parsed.filter((p) => p.type === 'commit');
  if (commits.length === 0 && !parsed.some((p) => p.type === 'checkpoint')) return undefined;
  // A loop, not Math.max(...): spreading a long log's versions passes the call stack's bound.
  let latest = -1;
  for (const p of parsed)
    if ((p.type === 'commit' || p.type === 'checkpoint') && p.version > latest) latest = p.version;
  const version = opts.version ?? latest;
  if (version > latest) {
    throw new DeltaLogError('MissingVersion', `version ${version} does not exist (latest is ${latest})`);
  }
  const checkpoints = completeCheckpoints(parsed).filter((c) => c.version <= version);
  const headPath = commitPath(version);
  const head = listing.find((f) => f.path === headPath);
  return {
    version,
    checkpoints,
    listed: parsed.filter((p) => p.version <= version),
    lastModified,
    ...(head ? { head } : {}),
  };
}

/** A listing's log files, parsed, and their Last-Modified times (ms) by path. */
export interface ParsedListing {
  parsed: ParsedLogPath[];
  lastModified: Map<string, number>;
}

/** A listing's log files parsed (other names skipped) with their Last-Modified times, in slices. */
export async function parseListing(listing: readonly ListedFile[]): Promise<ParsedListing> {
  const parsed: ParsedLogPath[] = [];
  const lastModified = new Map<string, number>();
  const slices = new WorkSlices(LOG_FILES_PER_SLICE);
  for (const f of listing) {
    if (slices.spend(1)) await yieldToEventLoop();
    const p = parseLogPath(f.path, f.size);
    if (!p) continue;
    parsed.push(p);
    if (f.lastModified) lastModified.set(f.path, f.lastModified.getTime());
  }
  return { parsed, lastModified };
}

/**
 * Has the log moved past `version`? One short listing of `_delta_log/` after `version.json`: any
 * versioned file there (a commit, a checkpoint or a compaction of a later version) says so. A
 * listing, not a HEAD of the next commit: that key usually does not exist, and under the stack's
 * prefix-scoped policy S3 answers a missing key with 403, not 404.
 */
export async function logMovedPast(storage: DeltaStorage, version: number): Promise<boolean> {
  const after = `${LOG_DIR}${versionPrefix(version)}.json`;
  const files = await storage.list(LOG_DIR, after, 8);
  return files.some((f) => f.path > after && (parseLogPath(f.path, f.size)?.version ?? -1) > version);
}

/** Complete checkpoints, newest first. A multi-part checkpoint counts only with all its parts. */
export function completeCheckpoints(parsed: readonly ParsedLogPath[]): CheckpointChoice[] {
  return runToEnd(completeCheckpointsWork(parsed));
}

/** completeCheckpoints, yielding between slices of a long log (see runInSlices). */
export function* completeCheckpointsWork(
  parsed: readonly ParsedLogPath[],
): Generator<void, CheckpointChoice[]> {
  const slices = new WorkSlices(LOG_FILES_PER_SLICE);
  const byVersion = new Map<number, ParsedLogPath[]>();
  for (const p of parsed) {
    if (slices.spend(1)) yield;
    if (p.type !== 'checkpoint') continue;
    const list = byVersion.get(p.version) ?? [];
    list.push(p);
    byVersion.set(p.version, list);
  }
  const out: CheckpointChoice[] = [];
  for (const [version, files] of [...byVersion].sort((a, b) => b[0] - a[0])) {
    const choices: CheckpointChoice[] = [];
    for (const f of files) {
      if (f.type !== 'checkpoint') continue;
      if (f.kind === 'uuid')
        choices.push({ version, parts: [{ path: f.path, size: f.size, format: f.format }] });
      if (f.kind === 'classic')
        choices.push({ version, parts: [{ path: f.path, size: f.size, format: 'parquet' }] });
    }
    // Multi-part: group by declared part count; complete when parts 1..p are all present.
    const multi = new Map<number, Map<number, CheckpointFile>>();
    for (const f of files) {
      if (f.type !== 'checkpoint' || f.kind !== 'multi') continue;
      const set = multi.get(f.parts!) ?? new Map<number, CheckpointFile>();
      set.set(f.part!, { path: f.path, size: f.size, format: 'parquet' });
      multi.set(f.parts!, set);
    }
    for (const [n, set] of multi) {
      if (set.size === n)
        choices.push({ version, parts: [...set].sort((a, b) => a[0] - b[0]).map((x) => x[1]) });
    }
    // Prefer a UUID-named (v2) checkpoint, then classic, then multi-part: fewest requests first.
    out.push(...choices);
    if (slices.spend(files.length)) yield;
  }
  return out;
}

/**
 * The replay steps from `from` (inclusive) to `to` (inclusive). Throws when a commit is
 * missing and no compaction covers it. Compactions are taken greedily, longest first.
 */
export function replaySteps(
  listed: readonly ParsedLogPath[],
  from: number,
  to: number,
  useCompaction = true,
): ReplayStep[] {
  const commits = new Map<number, LogFile>();
  const compactions = new Map<number, { endVersion: number; file: LogFile }[]>();
  for (const p of listed) {
    if (p.type === 'commit') commits.set(p.version, { path: p.path, size: p.size });
    if (p.type === 'compaction' && useCompaction) {
      const list = compactions.get(p.version) ?? [];
      list.push({ endVersion: p.endVersion, file: { path: p.path, size: p.size } });
      compactions.set(p.version, list);
    }
  }
  const steps: ReplayStep[] = [];
  let v = from;
  while (v <= to) {
    const best = (compactions.get(v) ?? [])
      .filter((c) => c.endVersion <= to)
      .sort((a, b) => b.endVersion - a.endVersion)[0];
    if (best) {
      steps.push({ ...best.file, version: v, endVersion: best.endVersion, compaction: true });
      v = best.endVersion + 1;
      continue;
    }
    const c = commits.get(v);
    if (!c)
      throw new DeltaLogError('MissingLog', `commit ${versionPrefix(v)}.json is missing from _delta_log/`);
    steps.push({ ...c, version: v, endVersion: v, compaction: false });
    v++;
  }
  return steps;
}
