/** A storage backend that answers every call `delayMs` late, on purpose: latency metrics then have a known floor. */
import type { StorageBackend } from '../../lambda/storage/storage-backend';

export function slowStorage(inner: StorageBackend, delayMs: number): StorageBackend {
  const late = <T>(call: () => Promise<T>) => new Promise<void>((r) => setTimeout(r, delayMs)).then(call);
  return {
    get: (ref, options) => late(() => inner.get(ref, options)),
    head: (ref, options) => late(() => inner.head(ref, options)),
    list: (params) => late(() => inner.list(params)),
    presign: (ref, options) => inner.presign(ref, options),
  };
}
