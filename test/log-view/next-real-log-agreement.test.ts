/**
 * The log (and listing keys) made of a held listing from the log before (next-real-log.ts) is the
 * one a walk of the whole listing makes (real-log.ts), whatever happened to the real log between
 * the two listings (fast-check): commits, checkpoints written with their commit or late, multi-part
 * ones complete or not, zero-byte parts, log cleanups (the oldest version moves: all at once, as
 * Spark's at a checkpoint, or under way, stopped anywhere), a file written again, a gap, snapshots
 * lagging the listing or older than the log before, readers alternating between versions on one
 * listing, a checkpoint of the log before dropped as unreadable, its keys made or not. Compared on
 * the same listing, so only the making of the log is under test (the held listing has its own
 * tests). The seed is fixed; FUZZ_SEED and FUZZ_RUNS explore.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HeldLogListing, listingOf } from '../../lambda/log-view/held-log-listing';
import { keysOf, nextRealLog } from '../../lambda/log-view/next-real-log';
import { dropCheckpoint, type RealLog, realLogOf, virtualKeys } from '../../lambda/log-view/real-log';
import { MemoryDeltaStorage } from '../helpers/delta-memory-storage';
import { checkpointKey, commitKey, logVersion } from '../helpers/log-text';

const SEED = Number(process.env.FUZZ_SEED ?? 20261206);
const RUNS = Number(process.env.FUZZ_RUNS ?? 60);

type Step =
  | { op: 'commit'; n: number }
  | { op: 'checkpoint'; back: number; empty: boolean }
  | { op: 'multi'; back: number; parts: number; missing: boolean }
  | { op: 'cleanup'; back: number }
  | { op: 'sparkCleanup'; back: number }
  | { op: 'cleanupUnderWay'; files: number }
  | { op: 'rewrite'; back: number }
  | { op: 'gap'; back: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({ op: fc.constant('commit' as const), n: fc.integer({ min: 1, max: 4 }) }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('checkpoint' as const),
      back: fc.integer({ min: 0, max: 14 }),
      empty: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('multi' as const),
      back: fc.integer({ min: 0, max: 14 }),
      parts: fc.integer({ min: 2, max: 3 }),
      missing: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('cleanup' as const), back: fc.integer({ min: 0, max: 40 }) }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant('sparkCleanup' as const), back: fc.integer({ min: 5, max: 40 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('cleanupUnderWay' as const),
      files: fc.integer({ min: 1, max: 12 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('rewrite' as const), back: fc.integer({ min: 0, max: 30 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('gap' as const), back: fc.integer({ min: 1, max: 30 }) }),
  },
);

/**
 * Then readers: at the newest version less `back`, one to three on one listing (a snapshot lagging
 * the listing by more than the versions it lists again, readers alternating between an older and a
 * newer snapshot), maybe keys, maybe a drop.
 */
const back = fc.oneof(
  { weight: 4, arbitrary: fc.constant(0) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 15 }) },
  { weight: 1, arbitrary: fc.integer({ min: 16, max: 40 }) },
);
const read = fc.record({
  backs: fc.array(back, { minLength: 1, maxLength: 3 }),
  keys: fc.boolean(),
  drop: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
});

const versionOf = (key: string) => Number(/^_delta_log\/(\d{20})\./.exec(key)?.[1] ?? -1);

/** `st` done at `now`: what it writes has that Last-Modified (a rewrite of the same size is another write). */
function apply(storage: MemoryDeltaStorage, st: Step, newest: number, now: Date): number {
  const s = {
    files: storage.files,
    put: (key: string, text: string) => {
      storage.put(key, text);
      storage.modified.set(key, now);
    },
  };
  const at = Math.max(0, newest - ('back' in st ? st.back : 0));
  switch (st.op) {
    case 'commit':
      for (let i = 0; i < st.n; i++) s.put(commitKey(++newest), `{"commitInfo":{"v":${newest}}}\n`);
      break;
    case 'checkpoint':
      s.put(checkpointKey(at), st.empty ? '' : `checkpoint ${at}`);
      break;
    case 'multi':
      for (let p = 1; p <= st.parts; p++)
        if (!(st.missing && p === st.parts))
          s.put(
            `_delta_log/${logVersion(at)}.checkpoint.${logVersion(p).slice(-10)}.${logVersion(st.parts).slice(-10)}.parquet`,
            `part ${p}`,
          );
      break;
    case 'cleanup':
      // Spark's: every file before a checkpoint (the oldest first; here all at once).
      for (const key of [...s.files.keys()])
        if (versionOf(key) >= 0 && versionOf(key) < at) s.files.delete(key);
      break;
    case 'sparkCleanup': {
      // Spark's and delta-rs's at a checkpoint: every file before the newest checkpoint up to `at`.
      let kept = -1;
      for (const key of s.files.keys())
        if (key.includes('.checkpoint.') && versionOf(key) <= at) kept = Math.max(kept, versionOf(key));
      for (const key of [...s.files.keys()])
        if (versionOf(key) >= 0 && versionOf(key) < kept) s.files.delete(key);
      break;
    }
    case 'cleanupUnderWay':
      // The oldest files first, in key order, stopped anywhere (within a version too).
      for (const key of [...s.files.keys()]
        .filter((k) => versionOf(k) >= 0)
        .sort()
        .slice(0, st.files))
        s.files.delete(key);
      break;
    case 'rewrite':
      if (s.files.has(commitKey(at))) s.put(commitKey(at), `{"commitInfo":{"again":${at}}}\n`);
      break;
    case 'gap':
      if (at > 0) s.files.delete(commitKey(at));
      break;
  }
  return newest;
}

/** What a RealLog shows, as plain data. */
function shown(log: RealLog) {
  const listed: number[] = [];
  for (let v = log.oldest - 2; v <= log.version + 1; v++) if (log.listedCheckpoints.has(v)) listed.push(v);
  return {
    version: log.version,
    oldest: log.oldest,
    size: log.commits.size,
    commits: [...log.commits].map(([v, c]) => [v, c.path, c.source]),
    checkpoints: log.checkpoints.map((c) => ({ ...c, lastModified: c.lastModified.getTime() })),
    newestListedCheckpoint: log.newestListedCheckpoint,
    listed,
  };
}

/** What the logs made in a property were: made from the log before, and in which cases. */
interface Counts {
  /** Of a listing that continued the one before. */
  made: number;
  continued: number;
  /** Continued when a cleanup moved the oldest version, when the snapshot lags or goes back. */
  movedOn: number;
  lagging: number;
}

/** The property: for logs of `rounds` of steps then readers, each log and its keys are a whole walk's. */
function agreement(steps: fc.Arbitrary<Step>, counts: Counts) {
  return fc.asyncProperty(
    fc.array(fc.tuple(fc.array(steps, { maxLength: 4 }), read), { minLength: 1, maxLength: 25 }),
    async (rounds) => {
      const s = new MemoryDeltaStorage();
      s.lastModified = new Date(1);
      let newest = apply(s, { op: 'commit', n: 30 }, -1, new Date(1));
      // Checkpoints every ten, as Spark writes them: a cleanup has some to keep.
      for (const back of [20, 10]) apply(s, { op: 'checkpoint', back, empty: false }, newest, new Date(1));
      const listing = new HeldLogListing(s, () => 0);
      const walked = { entries: 0 };
      let before: RealLog | undefined;
      let time = 1;
      for (const [steps, r] of rounds) {
        for (const st of steps) newest = apply(s, st, newest, new Date(++time));
        const files = await listing.list(undefined, newest);
        for (const upTo of r.backs.map((b) => newest - b)) {
          if (upTo < 0) continue;
          const whole = await realLogOf(files, upTo);
          const w = walked.entries;
          const next = await nextRealLog(before, files, upTo, walked);
          // Listed whole (a file rewritten or gone in the versions listed again): made whole.
          if (listingOf(files)?.change) counts.made++;
          if (walked.entries - w < files.length) {
            counts.continued++;
            if (before && next.oldest > before.oldest) counts.movedOn++;
            if (before && (upTo < before.version || upTo > before.version + 11)) counts.lagging++;
          }
          expect(shown(next)).toEqual(shown(whole));
          if (r.keys) expect(await keysOf(next, walked)).toEqual(await virtualKeys(whole));
          before = next;
        }
        if (r.drop && before?.checkpoints[0]) dropCheckpoint(before, before.checkpoints[0].version);
      }
    },
  );
}

/**
 * A streaming table as Spark and delta-rs write it: commits, checkpoints (classic or multi-part)
 * at or soon after their version, the log cleaned up at checkpoints (all at once or under way); no gap, nothing rewritten.
 */
const streaming: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({ op: fc.constant('commit' as const), n: fc.integer({ min: 1, max: 10 }) }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('checkpoint' as const),
      back: fc.integer({ min: 0, max: 3 }),
      empty: fc.constant(false),
    }),
  },
  {
    // Multi-part (Spark's checkpointPartSize), maybe at a version with a classic one as well.
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('multi' as const),
      back: fc.integer({ min: 0, max: 3 }),
      parts: fc.integer({ min: 2, max: 3 }),
      missing: fc.constant(false),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('sparkCleanup' as const), back: fc.integer({ min: 5, max: 40 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('cleanupUnderWay' as const),
      files: fc.integer({ min: 1, max: 12 }),
    }),
  },
);

describe('a log made from the log before', () => {
  it('is the log a walk of the whole listing makes, and so are its keys', async () => {
    const counts: Counts = { made: 0, continued: 0, movedOn: 0, lagging: 0 };
    await fc.assert(agreement(step, counts), { seed: SEED, numRuns: RUNS });
    // Most logs of a listing that continued the one before were made from the log before (else
    // this tests only the whole walk).
    expect(counts.continued).toBeGreaterThan(counts.made / 2);
  });

  it('is so of a streaming table cleaned up at its checkpoints, read at lagging and alternating versions', async () => {
    const counts: Counts = { made: 0, continued: 0, movedOn: 0, lagging: 0 };
    const reader = { backs: [0], keys: true, drop: false };
    // A cleanup under way stopped between the parts of a multi-part checkpoint at 29 that a
    // classic one of 29 (written later) completes: the oldest version is 29, of the classic one.
    const partOfOldest: [Step[], typeof reader][] = [
      [[{ op: 'sparkCleanup', back: 5 }], reader],
      [[{ op: 'multi', back: 0, parts: 2, missing: false }], reader],
      [[{ op: 'checkpoint', back: 0, empty: false }], reader],
      [[{ op: 'commit', n: 12 }], reader],
      [[{ op: 'cleanupUnderWay', files: 12 }], reader],
    ];
    await fc.assert(agreement(streaming, counts), {
      seed: SEED,
      numRuns: RUNS,
      examples: [[partOfOldest]],
    });
    // The cleanups that moved the oldest version and the lagging snapshots were continued (else
    // this tests only the whole walk).
    expect(counts.continued).toBeGreaterThan((counts.made * 3) / 4);
    expect(counts.movedOn).toBeGreaterThan(RUNS / 4);
    expect(counts.lagging).toBeGreaterThan(RUNS / 2);
  });
});
