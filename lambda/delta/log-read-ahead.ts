/**
 * Reads log files for a replay that must apply them strictly in order, with bounded concurrency
 * (as delta-kernel-rs and delta-rs do: an ordered `buffered(n)` stream of commit reads). A table
 * without a checkpoint (delta-rs writes small tables this way) has one JSON file per commit: read
 * one at a time, 3,000 commits cost 3,000 round trips in a row.
 *
 * The bound: at most `files` reads started and not yet applied, and at most `bytes` of them by
 * their listed sizes (always at least one, however large). Reads are started as earlier files are
 * applied, so memory holds at most that window, never the whole log. Why 64 files: a small GET to
 * S3 takes ~10-30 ms and costs the reader about half a millisecond of CPU (bench/logshapes.ts
 * measures 0.75-0.9 ms on a loaded machine), so by Little's law ~40 in flight keep one core busy
 * at 20 ms; 64 also rides over the odd slow GET at the head of the window, and beyond it the CPU
 * is the limit (the bench's sweep of 8 → 128 reads ahead: 64 fastest, 128 no better). 64 leaves three quarters of the backend's socket pool (`s3.maxSockets`,
 * 256 by default) to other requests' data reads. delta-rs reads 4 × cores ahead (8 on a 2-vCPU
 * Lambda), delta-kernel-rs's default engine up to 1,000. Why 8 MiB: a rewrite of a large table
 * can leave one commit of tens of MB; 64 of those ahead would be a memory spike.
 */
import { prefetch } from '../core/prefetch';

export interface ReadAhead {
  /** Reads started and not yet applied (the one being applied included), at most. */
  files: number;
  /** Listed bytes of those reads, at most (the next file is always read, however large). */
  bytes: number;
}

export const DEFAULT_READ_AHEAD: ReadAhead = { files: 64, bytes: 8 * 1024 * 1024 };

/** Parsed text or files applied between two yields to the event loop. */
const YIELD_BYTES = 512 * 1024;
const YIELD_FILES = 64;
/**
 * Reads started in one turn of the event loop. Starting one is a backend request's worth of CPU
 * (the SDK's middleware and signing, ~0.5 ms) run before its first wait: 64 started in one go held
 * the loop for 30-70 ms, and a burst of applied files started as many again (a cold load of 3,000
 * commits: 67-87 stretches over 10 ms before, 2-11 with four per turn, no slower). So the window
 * fills a few reads per turn.
 */
const STARTS_PER_TURN = 4;

/**
 * Reads `files` a window ahead and calls `apply` on each, in order. `apply` returns false to stop
 * (nothing after it is applied); then readInOrder returns false. Every read started ahead is
 * observed at once (prefetch): a failure ahead of the one awaited, or after the replay gave up, is
 * never an unhandled rejection. A failure is reported as soon as the replay reaches it, without
 * waiting for the reads still in flight (one may hang until the backend's timeout).
 */
export async function readInOrder<F extends { size: number }, T>(
  files: readonly F[],
  read: (f: F) => Promise<T>,
  /** Applies one file's value in order (a big one may take its time: it can yield). */
  apply: (value: T, f: F) => boolean | undefined | Promise<boolean | undefined>,
  bound: ReadAhead = DEFAULT_READ_AHEAD,
): Promise<boolean> {
  const pending: (Promise<T> | undefined)[] = new Array(files.length);
  let next = 0;
  let applied = 0;
  let bytesAhead = 0;
  let startedThisTurn = 0;
  let refillScheduled = false;
  let over = false;
  const start = () => {
    bytesAhead += files[next]!.size;
    pending[next] = prefetch(read(files[next]!));
    next++;
    startedThisTurn++;
  };
  const room = () =>
    next < files.length && next - applied < bound.files && bytesAhead + files[next]!.size <= bound.bytes;
  const topUp = () => {
    if (over) return;
    // The file applied next is always read at once, however large; the window a few per turn.
    if (next === applied && next < files.length) start();
    while (startedThisTurn < STARTS_PER_TURN && room()) start();
    if (refillScheduled || !room()) return;
    refillScheduled = true;
    setImmediate(() => {
      refillScheduled = false;
      startedThisTurn = 0;
      topUp();
    });
  };
  let sinceYield = 0;
  let filesSinceYield = 0;
  try {
    for (let i = 0; i < files.length; i++) {
      applied = i;
      topUp();
      const value = await pending[i]!;
      pending[i] = undefined; // the text goes as soon as it is applied
      if ((await apply(value, files[i]!)) === false) return false;
      bytesAhead -= files[i]!.size; // only now: the bound counts the text being applied too
      // Parsing is CPU work: with many reads done at once, let other requests in between.
      sinceYield += files[i]!.size;
      if (sinceYield >= YIELD_BYTES || ++filesSinceYield >= YIELD_FILES) {
        sinceYield = 0;
        filesSinceYield = 0;
        await new Promise((r) => setImmediate(r));
        startedThisTurn = 0;
      }
    }
    return true;
  } finally {
    over = true; // a refill still scheduled starts nothing once the replay is over
  }
}
