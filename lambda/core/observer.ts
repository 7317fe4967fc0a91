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
