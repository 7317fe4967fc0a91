/**
 * Says whether a warning's key is seen for the first time, so that each thing is reported once.
 * Bounded: past `max` keys the memory starts over (a key may then be reported again), so keys
 * drawn from many distinct values cannot grow it without end.
 */
export class FirstTimes {
  private readonly seen = new Set<string>();
  constructor(private readonly max = 1024) {}

  /** True the first time `key` is seen (since the memory last started over). */
  first(key: string): boolean {
    if (this.seen.has(key)) return false;
    if (this.seen.size >= this.max) this.seen.clear();
    this.seen.add(key);
    return true;
  }
}
