/**
 * The observe stage's helpers: the audit line, and the body wrapper that reports a request once
 * its response has been fully sent (or failed).
 */
import type { Observer } from '../core/observer';
import type { ResponseBody } from '../core/types';
import { watchBody } from '../core/watched-body';

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

/**
 * Wraps a streamed body so the event is recorded with the byte count once streaming ends (read to
 * its end, failed, or closed by the adapter, also before its first byte: the client went away).
 */
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
  return watchBody(body, done);
}
