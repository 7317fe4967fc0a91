/**
 * Bounds measured on a shared machine: how long the event loop was held against the CPU the work
 * cost (loop-watch.ts), what the heap kept (heap.ts). Something outside the code under test can
 * make one reading high: ci43 met a young-generation collection stretched by CI's load (184 ms
 * against a bound of 173), a Node 22 run a background compile job still holding a closure's
 * 1.5 MB map (heap.ts now waits for those). Such a bound is asserted with `measured()`, and its test runs
 * again once when that assertion, and only that one, fails (`retryMeasured`): a real regression
 * fails both runs, and a functional assertion is never retried. vitest prints "(retry x1)".
 */
import { expect } from 'vitest';

const LABEL = 'measured bound';

/** expect() for a measured figure; `what` names it in the failure. */
export function measured(actual: number, what: string) {
  return expect(actual, `${LABEL} (${what})`);
}

/** Test (or describe) options: one more run when a measured bound failed. */
export const retryMeasured = { retry: { count: 1, condition: new RegExp(LABEL) } };
