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
  type PresignOptions,
  type StorageBackend,
  StorageError,
} from '../storage/storage-backend';
import type { BackendCall, BackendOperation } from './recorder';

type HeadOptions = Conditions & { signal?: AbortSignal };

export class TimedStorage implements StorageBackend {
  constructor(
    private readonly inner: StorageBackend,
    private readonly report: (call: BackendCall) => void,
    readonly now: () => number = () => performance.now(),
  ) {}

  get(ref: ObjectRef, options?: GetOptions): Promise<GetResult> {
    return this.time('get', this.now(), this.inner.get(ref, options));
  }

  head(ref: ObjectRef, options?: HeadOptions): Promise<ObjectMeta> {
    return this.time('head', this.now(), this.inner.head(ref, options));
  }

  list(params: ListParams): Promise<ListPage> {
    return this.time('list', this.now(), this.inner.list(params));
  }

  presign(ref: ObjectRef, options: PresignOptions): Promise<string> {
    return this.inner.presign(ref, options);
  }

  /** The same backend, adding each call's time to one request's tally as well. */
  forRequest(tally: BackendTally): StorageBackend {
    return new TalliedStorage(this, this.inner, tally);
  }

  /** Reports the call when it settles; the caller gets the backend's own answer. */
  time<T>(operation: BackendOperation, started: number, call: Promise<T>, tally?: BackendTally): Promise<T> {
    const settle = (result: string) => {
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
    };
    return call.then(
      (value) => {
        settle('ok');
        return value;
      },
      (err: unknown) => {
        settle(err instanceof StorageError ? err.kind : 'Internal');
        throw err;
      },
    );
  }
}

/** One request's view of a TimedStorage (one small object per request). */
class TalliedStorage implements StorageBackend {
  constructor(
    private readonly timed: TimedStorage,
    private readonly inner: StorageBackend,
    private readonly tally: BackendTally,
  ) {}

  get(ref: ObjectRef, options?: GetOptions): Promise<GetResult> {
    return this.timed.time('get', this.timed.now(), this.inner.get(ref, options), this.tally);
  }

  head(ref: ObjectRef, options?: HeadOptions): Promise<ObjectMeta> {
    return this.timed.time('head', this.timed.now(), this.inner.head(ref, options), this.tally);
  }

  list(params: ListParams): Promise<ListPage> {
    return this.timed.time('list', this.timed.now(), this.inner.list(params), this.tally);
  }

  presign(ref: ObjectRef, options: PresignOptions): Promise<string> {
    return this.inner.presign(ref, options);
  }
}
