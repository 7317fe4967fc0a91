/**
 * S3's LIST over keys held sorted in memory: at most 1,000 a page (or MaxKeys), StartAfter and
 * continuation tokens as S3 has them, every answer `latencyMs` late (a timer, also at 0: each page
 * is its own turn of the event loop). A model for listings too long to write to a local server
 * (s3rver reads a bucket's every key for each LIST); nothing else is served. `keys` may grow in
 * order between listings. `sizeOf`: a key's listed size (100 unless given).
 */
import type { ListPage, ListParams, StorageBackend } from '../../lambda/storage/storage-backend';

export function sortedListingBackend(
  keys: readonly string[],
  latencyMs = 0,
  sizeOf: (key: string) => number = () => 100,
): { backend: StorageBackend; stats: { requests: number } } {
  const stats = { requests: 0 };
  const fail = () => Promise.reject(new Error('only LIST is modelled'));
  const lastModified = new Date(0);
  const backend: StorageBackend = {
    get: fail,
    head: fail,
    presign: fail,
    async list(p: ListParams): Promise<ListPage> {
      stats.requests++;
      await new Promise((r) => setTimeout(r, latencyMs));
      const after = p.continuationToken ?? p.startAfter ?? '';
      // The first key after `after` (binary search), then up to maxKeys under the prefix.
      let lo = 0;
      let hi = keys.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (keys[mid]! <= after) lo = mid + 1;
        else hi = mid;
      }
      const max = Math.min(1000, p.maxKeys);
      const page = keys.slice(lo, lo + max).filter((k) => k.startsWith(p.prefix));
      const truncated = lo + page.length < keys.length && page.length === max;
      return {
        objects: page.map((key) => ({ key, size: sizeOf(key), etag: '"e"', lastModified })),
        commonPrefixes: [],
        isTruncated: truncated,
        ...(truncated ? { nextContinuationToken: page.at(-1)! } : {}),
      };
    },
  };
  return { backend, stats };
}
