/**
 * The sliding windows behind the "last minute" figures. Both work in whole seconds of the clock:
 * at time t the window holds what was recorded during the current second (floor(t / 1 s)) and
 * the 59 seconds before it, i.e. the last 59-60 seconds. Recording is O(1) and memory is fixed
 * (the mean) or bounded by what was seen in the last minute (the distinct count).
 */
import type { Clock } from '../core/types';

export const WINDOW_SECONDS = 60;

const secondOf = (ms: number) => Math.floor(ms / 1000);

/** Mean of the values recorded in the window; NaN when nothing was recorded in it. */
export class WindowedMean {
  private readonly sums = new Float64Array(WINDOW_SECONDS);
  private readonly counts = new Float64Array(WINDOW_SECONDS);
  /** The second each slot currently holds (a slot is reused 60 s later). */
  private readonly seconds = new Float64Array(WINDOW_SECONDS).fill(Number.NEGATIVE_INFINITY);

  constructor(private readonly clock: Clock) {}

  record(value: number): void {
    const second = secondOf(this.clock.now());
    const slot = second % WINDOW_SECONDS;
    if (this.seconds[slot] !== second) {
      this.seconds[slot] = second;
      this.sums[slot] = 0;
      this.counts[slot] = 0;
    }
    this.sums[slot]! += value;
    this.counts[slot]! += 1;
  }

  mean(): number {
    const oldest = secondOf(this.clock.now()) - WINDOW_SECONDS + 1;
    let sum = 0;
    let count = 0;
    for (let i = 0; i < WINDOW_SECONDS; i++) {
      if (this.seconds[i]! >= oldest) {
        sum += this.sums[i]!;
        count += this.counts[i]!;
      }
    }
    return count === 0 ? Number.NaN : sum / count;
  }
}

/** How many distinct keys were recorded in the window. */
export class WindowedDistinct {
  /** key → the last second it was seen. */
  private readonly lastSeen = new Map<string, number>();
  private sweptAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly clock: Clock) {}

  record(key: string): void {
    const second = secondOf(this.clock.now());
    // Re-insert so that the Map's order is oldest-seen first, which lets the sweep stop early.
    this.lastSeen.delete(key);
    this.lastSeen.set(key, second);
    // Forget keys older than the window about once per window, so memory stays bounded by the
    // keys of the last two minutes even when nobody asks for the count.
    if (second - this.sweptAt >= WINDOW_SECONDS) this.sweep(second);
  }

  count(): number {
    this.sweep(secondOf(this.clock.now()));
    return this.lastSeen.size;
  }

  private sweep(now: number): void {
    this.sweptAt = now;
    const oldest = now - WINDOW_SECONDS + 1;
    for (const [key, second] of this.lastSeen) {
      if (second >= oldest) break;
      this.lastSeen.delete(key);
    }
  }
}
