/**
 * Binary search over a sorted array: the first index in [lo, hi) where `past` holds (it holds for
 * every later index too), else hi.
 */
export function firstIndex<T>(
  items: readonly T[],
  past: (item: T) => boolean,
  lo = 0,
  hi = items.length,
): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (past(items[mid]!)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
