/**
 * A streamed body that reports, exactly once, how it ended: read to its end, failed (its source
 * threw), or closed by its reader before its end (`ClosedEarly`). An async generator cannot do
 * this: closing one that never started (a response whose client left before its first byte was
 * asked for) skips its `finally`, so the request would never be reported.
 */

/**
 * The failure reported when the reader closed the body before its end: the transport gave up on
 * it (the client left), which is no failure of the body itself. `cause`: the transport's error.
 */
export class ClosedEarly extends Error {
  constructor(cause?: unknown) {
    super('the response body was not sent to its end', cause === undefined ? undefined : { cause });
    this.name = 'Aborted';
  }
}

export function watchBody(
  body: AsyncIterable<Uint8Array>,
  ended: (bytes: number, failure?: unknown) => void,
): AsyncIterableIterator<Uint8Array> {
  return new WatchedBody(body, ended);
}

class WatchedBody implements AsyncIterableIterator<Uint8Array> {
  private source: AsyncIterator<Uint8Array> | undefined;
  private bytes = 0;
  private over = false;

  constructor(
    private readonly body: AsyncIterable<Uint8Array>,
    private readonly ended: (bytes: number, failure?: unknown) => void,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<Uint8Array>> {
    if (this.over) return { done: true, value: undefined };
    this.source ??= this.body[Symbol.asyncIterator]();
    let step: IteratorResult<Uint8Array>;
    try {
      step = await this.source.next();
    } catch (err) {
      this.end(err);
      throw err;
    }
    // Closed by the reader while this chunk was on its way.
    if (this.over) return { done: true, value: undefined };
    if (step.done) {
      this.end(undefined);
      return step;
    }
    this.bytes += step.value.byteLength;
    return step;
  }

  async return(): Promise<IteratorResult<Uint8Array>> {
    await this.close(new ClosedEarly());
    return { done: true, value: undefined };
  }

  async throw(err?: unknown): Promise<IteratorResult<Uint8Array>> {
    await this.close(new ClosedEarly(err));
    return { done: true, value: undefined };
  }

  /** The reader stopped: report it, then stop the source (which releases what it holds). */
  private async close(failure: unknown): Promise<void> {
    if (this.over) return;
    this.end(failure);
    try {
      await (this.source ?? this.body[Symbol.asyncIterator]()).return?.();
    } catch {
      // The body was failing anyway; its reader is gone.
    }
  }

  private end(failure: unknown): void {
    this.over = true;
    try {
      this.ended(this.bytes, failure);
    } catch {
      // A report never breaks the body it reports on.
    }
  }
}
