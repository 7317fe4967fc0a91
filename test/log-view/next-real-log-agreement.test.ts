/**
 * The log (and listing keys) made of a held listing from the log before (next-real-log.ts) is the
 * one a walk of the whole listing makes (real-log.ts), whatever happened to the real log between
 * the two listings (fast-check): commits, checkpoints written with their commit or late, multi-part
 * ones complete or not, zero-byte parts, log cleanups (the oldest version moves), a file written
 * again, a gap, snapshots older than the log before, two logs of one listing, a checkpoint of the
 * log before dropped as unreadable, its keys made or not. Compared on the same listing, so only the
 * making of the log is under test (the held listing has its own tests). The seed is fixed;
 * FUZZ_SEED and FUZZ_RUNS explore.
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
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('rewrite' as const), back: fc.integer({ min: 0, max: 30 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('gap' as const), back: fc.integer({ min: 1, max: 30 }) }),
  },
);

/** Then a reader: at the newest version less `back`, once or twice on one listing, maybe keys, maybe a drop. */
const read = fc.record({
  back: fc.oneof(
    { weight: 4, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 15 }) },
  ),
  twice: fc.boolean(),
  keys: fc.boolean(),
  drop: fc.boolean(),
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

describe('a log made from the log before', () => {
  it('is the log a walk of the whole listing makes, and so are its keys', async () => {
    let continued = 0;
    let made = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.array(step, { maxLength: 4 }), read), { minLength: 1, maxLength: 25 }),
        async (rounds) => {
          const s = new MemoryDeltaStorage();
          s.lastModified = new Date(1);
          const newest0 = apply(s, { op: 'commit', n: 30 }, -1, new Date(1));
          let newest = newest0;
          const listing = new HeldLogListing(s, () => 0);
          const walked = { entries: 0 };
          let before: RealLog | undefined;
          let time = 1;
          for (const [steps, r] of rounds) {
            for (const st of steps) newest = apply(s, st, newest, new Date(++time));
            const files = await listing.list(undefined, newest);
            const upTos = r.twice ? [Math.max(0, newest - r.back - 1), newest - r.back] : [newest - r.back];
            for (const upTo of upTos) {
              if (upTo < 0) continue;
              const whole = await realLogOf(files, upTo);
              const w = walked.entries;
              const next = await nextRealLog(before, files, upTo, walked);
              // Listed whole (a file rewritten or gone in the versions listed again): made whole.
              if (listingOf(files)?.change) made++;
              if (walked.entries - w < files.length) continued++;
              expect(shown(next)).toEqual(shown(whole));
              if (r.keys) expect(await keysOf(next, walked)).toEqual(await virtualKeys(whole));
              before = next;
            }
            if (r.drop && before?.checkpoints[0]) dropCheckpoint(before, before.checkpoints[0].version);
          }
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
    // Most logs of a listing that continued the one before were made from the log before (else
    // this tests only the whole walk).
    expect(continued).toBeGreaterThan(made / 2);
  });
});
