/**
 * Lets other requests run: long loops (a checkpoint decoded row by row, an index built over every
 * file of a snapshot) call this every few thousand steps so no request holds the event loop for
 * more than a few milliseconds.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    if (typeof setImmediate === 'function') setImmediate(resolve);
    else setTimeout(resolve, 0);
  });
}

/**
 * Counts work (bytes parsed, rows decoded) and says when a slice of it is done, so a loop over
 * one big input yields by its size rather than by a count of items of any length.
 */
export class WorkSlices {
  private spent = 0;
  private slice: number;

  /**
   * `first`: a smaller first slice, each next one twice as big up to `perSlice`. For a loop whose
   * code may still be cold: until the JIT has compiled it, a step costs several times as much.
   */
  constructor(
    private readonly perSlice: number,
    first = perSlice,
  ) {
    this.slice = first;
  }

  /** True when `n` more brings the slice to its end (the next one starts): time to yield. */
  spend(n: number): boolean {
    this.spent += n;
    if (this.spent < this.slice) return false;
    this.spent = 0;
    this.slice = Math.min(this.perSlice, this.slice * 2);
    return true;
  }
}

/**
 * Runs `work` (a generator that yields between slices of its work, and returns its result) to its
 * end in one pass: for inputs known to be small.
 */
export function runToEnd<T>(work: Generator<void, T>): T {
  for (;;) {
    const step = work.next();
    if (step.done) return step.value;
  }
}

/** runToEnd, letting other requests run between the slices. */
export async function runInSlices<T>(work: Generator<void, T>): Promise<T> {
  for (;;) {
    const step = work.next();
    if (step.done) return step.value;
    await yieldToEventLoop();
  }
}
