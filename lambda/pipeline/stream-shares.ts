/**
 * A bounded share of backend streams per principal. A proxied GET holds a backend connection
 * until its client has read the whole body, so one principal's slow or stalled readers could
 * otherwise hold the entire pool and starve everyone else. Beyond its share a principal gets
 * 503 SlowDown, S3's own answer to too much at once, which every SDK retries with backoff.
 *
 * The bound is work-conserving: a principal may go beyond its share while the pool stays at least
 * one share short of full, so a lone principal (one key behind a Spark cluster) can use most of an
 * idle pool, and a principal arriving later still finds a whole share free. Streams already
 * beyond a share are not taken back, so while they last the third principal on a busy pool may
 * wait for a socket (never for a 503 within its own share).
 */
import { S3Error } from '../core/s3-error';
import type { ProxyResponse, ResponseBody } from '../core/types';

/** What the shares hold now and have refused (Prometheus, at scrape time). */
export interface StreamShareStats {
  /** Backend streams held by proxied bodies. */
  held: number;
  /** Principals holding at least one. */
  principals: number;
  /** GETs refused with SlowDown for their principal's share, since start. */
  refused: number;
}

export class StreamShares {
  private readonly held = new Map<string, number>();
  private total = 0;
  private refused = 0;

  /**
   * @param perPrincipal streams any principal may always hold
   * @param pool the backend connections the streams draw on (not given: no stream beyond a share)
   */
  constructor(
    private readonly perPrincipal: number,
    private readonly pool = 0,
  ) {}

  /** Takes one of the principal's slots, or refuses with SlowDown; the release is idempotent. */
  acquire(principal: string): () => void {
    const count = this.held.get(principal) ?? 0;
    if (count >= this.perPrincipal && !this.spare()) {
      this.refused++;
      throw new S3Error(
        'SlowDown',
        undefined,
        {},
        `principal already holds ${count} backend streams (streamsPerPrincipal; ${this.total} held in all)`,
      );
    }
    this.held.set(principal, count + 1);
    this.total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const left = (this.held.get(principal) ?? 1) - 1;
      if (left > 0) this.held.set(principal, left);
      else this.held.delete(principal);
    };
  }

  stats(): StreamShareStats {
    return { held: this.total, principals: this.held.size, refused: this.refused };
  }

  /** One more stream beyond a share still leaves a whole share of the pool free. */
  private spare(): boolean {
    return this.total + 1 + this.perPrincipal <= this.pool;
  }
}

/**
 * Runs `serve` holding a slot until its body has been read to the end, failed, or been
 * abandoned (`return()`), or the request is aborted: the one signal that still fires when a
 * client leaves before the body was ever read.
 */
export async function withShare(
  shares: StreamShares,
  principal: string,
  signal: AbortSignal | undefined,
  serve: () => Promise<ProxyResponse>,
): Promise<ProxyResponse> {
  const release = shares.acquire(principal);
  let res: ProxyResponse;
  try {
    res = await serve();
  } catch (err) {
    release();
    throw err;
  }
  const body = res.body;
  if (body === undefined || typeof body === 'string' || body instanceof Uint8Array || signal?.aborted) {
    release();
    return res;
  }
  const onAbort = () => done();
  const done = () => {
    signal?.removeEventListener('abort', onAbort);
    release();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  return { ...res, body: releasing(body, done) };
}

function releasing(body: AsyncIterable<Uint8Array>, done: () => void): ResponseBody {
  return {
    [Symbol.asyncIterator]() {
      const inner = body[Symbol.asyncIterator]();
      return {
        async next() {
          try {
            const step = await inner.next();
            if (step.done) done();
            return step;
          } catch (err) {
            done();
            throw err;
          }
        },
        async return(value?: unknown) {
          done();
          await inner.return?.(value);
          return { done: true, value: undefined };
        },
      };
    },
  };
}
