/**
 * Admission for a byte-budgeted cache, after TinyLFU (Caffeine, Ristretto): a newcomer that can
 * only fit by evicting others is admitted only when it is used more often than every entry it
 * would evict; otherwise it is served once and not kept. Plain LRU admits everything, so two
 * tables whose sum exceeds the budget, read in turn, evict each other and reload on every request;
 * with admission one stays cached and only the other reloads (and a table larger than the whole
 * budget never flushes the rest).
 *
 * Counts are per key, capped at 15 and halved every `10 × keys` touches (at least 16), as
 * Caffeine's 4-bit sketch ages: frequency is recent, so when the reads move to the other table it
 * wins within one such period. Exact counters instead of a count-min sketch: these caches hold tens
 * of tables, not millions of keys. Ties keep the resident: that is what stops the thrash.
 */
const MAX_COUNT = 15;

export class FrequencyAdmission {
  private readonly counts = new Map<string, number>();
  private touches = 0;

  constructor(private readonly maxKeys = 4096) {}

  /** One use of `key` (a request for it, hit or miss). */
  touch(key: string): void {
    this.counts.set(key, Math.min(MAX_COUNT, (this.counts.get(key) ?? 0) + 1));
    if (++this.touches >= Math.max(16, 10 * this.counts.size)) this.age();
    while (this.counts.size > this.maxKeys) this.age();
  }

  frequency(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  /** Whether `candidate` may displace all of `victims` (strictly more frequent than each). */
  admits(candidate: string, victims: Iterable<string>): boolean {
    const f = this.frequency(candidate);
    for (const v of victims) if (this.frequency(v) >= f) return false;
    return true;
  }

  private age(): void {
    this.touches = 0;
    for (const [k, n] of this.counts) {
      if (n >> 1 === 0) this.counts.delete(k);
      else this.counts.set(k, n >> 1);
    }
  }
}
