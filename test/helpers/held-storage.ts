/**
 * A storage backend whose object GETs wait until the test lets them go, so that a client can
 * leave while the proxy waits for the backend. Released with the request's signal, the real
 * backend sees the abort (as S3 does); released without it, the backend answers anyway (a
 * reply that was already on its way when the client left). `stallAfterFirstChunk` holds the
 * body after its first chunk until `resumeBody()` (or `failBody()`), so that a client can leave
 * mid-body (or the backend can break).
 */
import { type ObjectRef, type StorageBackend, StorageError } from '../../lambda/storage/storage-backend';

export interface HeldGet {
  ref: ObjectRef;
  /** The signal the proxy passed with the call. */
  signal: AbortSignal | undefined;
  release(options?: { withoutSignal?: boolean; stallAfterFirstChunk?: boolean }): void;
  resumeBody(): void;
  /** Ends a stalled body with a backend failure instead. */
  failBody(): void;
}

export interface HeldStorage {
  storage: StorageBackend;
  /** The next held GET (waits for it, at most `timeoutMs`). */
  nextHeld(timeoutMs?: number): Promise<HeldGet>;
}

export function holdGets(inner: StorageBackend, held: (ref: ObjectRef) => boolean): HeldStorage {
  const waiting: HeldGet[] = [];
  const storage: StorageBackend = {
    get: (ref, options) => {
      if (!held(ref)) return inner.get(ref, options);
      let resume = () => {};
      let fail = () => {};
      const resumed = new Promise<void>((resolve, reject) => {
        resume = resolve;
        fail = () => reject(new StorageError('Unavailable', 'backend body failed: ECONNRESET'));
      });
      return new Promise((resolve, reject) => {
        waiting.push({
          ref,
          signal: options?.signal,
          release: ({ withoutSignal = false, stallAfterFirstChunk = false } = {}) => {
            const call = withoutSignal ? { ...options, signal: undefined } : options;
            inner
              .get(ref, call)
              .then(
                (got) => resolve(stallAfterFirstChunk ? { ...got, body: stalled(got.body, resumed) } : got),
                reject,
              );
          },
          resumeBody: () => resume(),
          failBody: () => fail(),
        });
      });
    },
    head: (ref, options) => inner.head(ref, options),
    list: (params) => inner.list(params),
    presign: (ref, options) => inner.presign(ref, options),
  };
  return {
    storage,
    async nextHeld(timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (waiting.length === 0) {
        if (Date.now() > deadline) throw new Error('no held GET arrived');
        await new Promise((r) => setTimeout(r, 10));
      }
      return waiting.shift()!;
    },
  };
}

async function* stalled(body: AsyncIterable<Uint8Array>, resumed: Promise<void>): AsyncIterable<Uint8Array> {
  let first = true;
  for await (const chunk of body) {
    yield chunk;
    if (first) await resumed;
    first = false;
  }
}

/** Resolves when `signal` aborts (at most `timeoutMs`). */
export function aborted(signal: AbortSignal | undefined, timeoutMs = 10_000): Promise<void> {
  if (!signal) return Promise.reject(new Error('the call carried no signal'));
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the signal never aborted')), timeoutMs);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
