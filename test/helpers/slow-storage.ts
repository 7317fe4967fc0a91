/**
 * A storage backend whose every answer arrives `delayMs` late, on purpose: latency metrics then
 * have a known floor. The call is made at once and its answer (or failure) held back, as with S3:
 * the client's CPU is spent when a request is sent, the wait comes after.
 */
import type { StorageBackend } from '../../lambda/storage/storage-backend';

export function slowStorage(inner: StorageBackend, delayMs: number): StorageBackend {
  const wait = () => new Promise<void>((r) => setTimeout(r, delayMs));
  const late = <T>(call: Promise<T>): Promise<T> =>
    call.then(
      (answer) => wait().then(() => answer),
      (err: unknown) =>
        wait().then(() => {
          throw err;
        }),
    );
  return {
    get: (ref, options) => late(inner.get(ref, options)),
    head: (ref, options) => late(inner.head(ref, options)),
    list: (params) => late(inner.list(params)),
    presign: (ref, options) => inner.presign(ref, options),
  };
}
