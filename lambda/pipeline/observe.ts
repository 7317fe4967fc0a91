/**
 * The observe stage's helpers: the audit line, and the body wrapper that reports a request once
 * its response has been fully sent (or failed).
 */
import type { Observer } from '../core/observer';
import type { ResponseBody } from '../core/types';

/** The audit line: one JSON object per request on stdout. */
export function auditLogObserver(write: (line: string) => void = stdoutLines): Observer {
  // The event's own JSON with the type in front: no copy of the event per request.
  return { record: (event) => write(`{"type":"audit",${JSON.stringify(event).slice(1)}`) };
}

/**
 * Lines for stdout, written once per turn of the event loop: a write to a pipe is synchronous in
 * Node, and one per request cost more than a whole 307 answer under load (bench getmodes).
 */
let pending: string[] = [];
let flushScheduled = false;

function flushLines(): void {
  flushScheduled = false;
  if (pending.length === 0) return;
  const chunk = pending.join('');
  pending = [];
  process.stdout.write(chunk);
}

function stdoutLines(line: string): void {
  pending.push(`${line}\n`);
  if (flushScheduled) return;
  flushScheduled = true;
  setImmediate(flushLines);
}

process.once('exit', flushLines);

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
    let complete = false;
    try {
      for await (const chunk of body) {
        bytes += chunk.byteLength;
        yield chunk;
      }
      complete = true;
    } catch (err) {
      failure = err;
      throw err;
    } finally {
      // A consumer that stops early (the client went away) ends this generator without an error
      // reaching it (the Lambda adapter's stream teardown does so): still a failed response.
      done(bytes, complete ? undefined : (failure ?? stoppedEarly()));
    }
  })();
}

function stoppedEarly(): Error {
  const error = new Error('the response body was not sent to its end');
  error.name = 'Aborted';
  return error;
}
