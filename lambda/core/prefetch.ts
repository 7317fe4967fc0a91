/**
 * A promise started ahead of its use (a prefetched read) may reject before anyone awaits it, or
 * never be awaited when an earlier step fails. Node treats such a rejection as unhandled and ends
 * the process (in Lambda: every in-flight request and every cache with it). `prefetch` marks the
 * promise as observed; awaiting it later still throws the error.
 */
export function prefetch<T>(p: Promise<T>): Promise<T> {
  p.catch(ignore);
  return p;
}

function ignore(): void {}
