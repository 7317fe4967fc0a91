/**
 * The observe stage: one event per request, emitted when the response body has been fully
 * sent (or failed). Observers turn it into an audit line, Prometheus counters or EMF metrics.
 * Events never carry secrets: no secret keys, no signatures, no presigned URLs.
 */
import type { ResponseBody } from './types';

export interface RequestEvent {
  time: string;
  requestId: string;
  principal: string;
  accessKeyId?: string;
  method: string;
  /** The client's User-Agent (truncated): which client sent it. */
  userAgent?: string;
  op: string;
  table?: string;
  key?: string;
  status: number;
  /** S3 error code for refusals. */
  code?: string;
  /** Why a request was refused or failed (server-side only, never sent to the client). */
  reason?: string;
  decision: 'allow' | 'deny' | 'error';
  bytes: number;
  durationMs: number;
  /** True when the object body was streamed through the proxy. */
  proxied: boolean;
  redirected: boolean;
}

export interface Observer {
  record(event: RequestEvent): void;
}

/** The audit line: one JSON object per request on stdout. */
export function auditLogObserver(
  write: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): Observer {
  return { record: (event) => write(JSON.stringify({ type: 'audit', ...event })) };
}

export function combineObservers(observers: readonly Observer[]): Observer {
  return {
    record(event) {
      for (const o of observers) {
        try {
          o.record(event);
        } catch {
          // An observer must never break a response.
        }
      }
    },
  };
}

/** Wraps a streamed body so the event is recorded with the byte count once streaming ends. */
export function observeBody(
  body: ResponseBody | undefined,
  done: (bytes: number, failure?: unknown) => void,
): ResponseBody | undefined {
  if (body === undefined) {
    done(0);
    return undefined;
  }
  if (typeof body === 'string' || body instanceof Uint8Array) {
    done(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength);
    return body;
  }
  return (async function* counted() {
    let bytes = 0;
    let failure: unknown;
    try {
      for await (const chunk of body) {
        bytes += chunk.byteLength;
        yield chunk;
      }
    } catch (err) {
      failure = err;
      throw err;
    } finally {
      done(bytes, failure);
    }
  })();
}
