/**
 * A StorageBackend decorator that times every call that goes to the backend: from the call until
 * the backend's reply (for `get`, the reply headers: the body streams afterwards and is not
 * backend latency). Each call is reported to the metrics; calls made through `forRequest(tally)`
 * are also added to that request's tally (the audit line's `backendMs`).
 */
import type { BackendTally } from '../core/observer';
import {
  type Conditions,
  type GetOptions,
  type GetResult,
  type ListPage,
  type ListParams,
  type ObjectMeta,
  type ObjectRef,
  type StorageBackend,
  StorageError,
} from '../storage/storage-backend';
import type { BackendCall, BackendOperation } from './recorder';

export class TimedStorage implements StorageBackend {
  constructor(
    private readonly inner: StorageBackend,
    private readonly report: (call: BackendCall) => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get(ref: ObjectRef, options?: GetOptions): Promise<GetResult> {
    return this.time('get', () => this.inner.get(ref, options));
  }

  head(ref: ObjectRef, options?: Conditions & { signal?: AbortSignal }): Promise<ObjectMeta> {
    return this.time('head', () => this.inner.head(ref, options));
  }

  list(params: ListParams): Promise<ListPage> {
    return this.time('list', () => this.inner.list(params));
  }

  presign(ref: ObjectRef, options: { expiresInSeconds: number; range?: string }): Promise<string> {
    return this.inner.presign(ref, options);
  }

  /** The same backend, adding each call's time to one request's tally as well. */
  forRequest(tally: BackendTally): StorageBackend {
    return {
      get: (ref, options) => this.time('get', () => this.inner.get(ref, options), tally),
      head: (ref, options) => this.time('head', () => this.inner.head(ref, options), tally),
      list: (params) => this.time('list', () => this.inner.list(params), tally),
      presign: (ref, options) => this.inner.presign(ref, options),
    };
  }

  private async time<T>(
    operation: BackendOperation,
    call: () => Promise<T>,
    tally?: BackendTally,
  ): Promise<T> {
    const started = this.now();
    let result = 'ok';
    try {
      return await call();
    } catch (err) {
      result = err instanceof StorageError ? err.kind : 'Internal';
      throw err;
    } finally {
      const ms = this.now() - started;
      if (tally) {
        tally.ms += ms;
        tally.calls++;
      }
      try {
        this.report({ operation, result, ms });
      } catch {
        // Metrics never break a request.
      }
    }
  }
}
