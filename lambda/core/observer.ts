/**
 * What the observe stage reports: one event per request, emitted when the response body has been
 * fully sent (or failed). Observers turn it into an audit line, Prometheus counters or EMF
 * metrics. Events never carry secrets: no secret keys, no signatures, no presigned URLs.
 */

export interface RequestEvent {
  time: string;
  requestId: string;
  principal: string;
  accessKeyId?: string;
  method: string;
  /** The client's User-Agent (truncated): which client sent it. */
  userAgent?: string;
  /** The client's address as the transport saw it (the socket's peer; in Lambda, the Function URL's sourceIp). */
  sourceIp?: string;
  op: string;
  table?: string;
  key?: string;
  /** A listing's prefix (truncated). */
  prefix?: string;
  status: number;
  /** S3 error code for refusals. */
  code?: string;
  /** Why a request was refused or failed (server-side only, never sent to the client). */
  reason?: string;
  decision: 'allow' | 'deny' | 'error';
  /** The reason in a small fixed set: safe as a metric label. */
  reasonClass: ReasonClass;
  /**
   * Milliseconds this request waited for the storage backend on its own calls (object
   * GET/HEAD until the reply headers, listing pages); shared Delta log loads are not included.
   */
  backendMs: number;
  /** How many backend calls those were. */
  backendCalls: number;
  bytes: number;
  durationMs: number;
  /** True when the object body was streamed through the proxy. */
  proxied: boolean;
  redirected: boolean;
}

/**
 * Why a request ended as it did:
 * - `granted`: served (including 304 Not Modified);
 * - `authentication`: refused before the caller was known (signature, key id, clock skew, malformed
 *   authorization);
 * - `grant`: refused by authorization (403 AccessDenied: a partition not granted, a file that is
 *   not an active file of the table);
 * - `not-found`: no such key or bucket (a table the caller has no grant on answers, and counts,
 *   as not found);
 * - `request`: the request itself is refused (read-only, bad argument, unsafe key, method);
 * - `condition`: a precondition or range that does not hold (412, 416);
 * - `unavailable`: a store or the backend failed or throttled (503);
 * - `client-gone`: the client went away before the response was complete (status 499 when it
 *   left before the proxy had an answer: the failure its leaving caused is not a server error);
 * - `internal`: anything else (500, a body that broke after the status was sent).
 */
export type ReasonClass =
  | 'granted'
  | 'authentication'
  | 'grant'
  | 'not-found'
  | 'request'
  | 'condition'
  | 'unavailable'
  | 'client-gone'
  | 'internal';

/** Backend time spent on behalf of one request, added to by a timing storage decorator. */
export interface BackendTally {
  ms: number;
  calls: number;
}

export interface Observer {
  record(event: RequestEvent): void;
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
