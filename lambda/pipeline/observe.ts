/**
 * The observe stage's helpers: the audit line, and the body wrapper that reports a request once
 * its response has been fully sent (or failed).
 */
import type { Observer } from '../core/observer';
import type { ResponseBody } from '../core/types';

/** The audit line: one JSON object per request on stdout. */
export function auditLogObserver(
  write: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): Observer {
  // The event's own JSON with the type in front: no copy of the event per request.
  return { record: (event) => write(`{"type":"audit",${JSON.stringify(event).slice(1)}`) };
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
