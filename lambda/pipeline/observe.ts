/**
 * The observe stage's helpers: the audit line, and the body wrapper that reports a request once
 * its response has been fully sent (or failed).
 */
import type { Observer } from '../core/observer';
import { oneLine } from '../core/one-line';
import type { ProxyResponse, ResponseBody } from '../core/types';
import { watchBody } from '../core/watched-body';

/** The audit line: one JSON object per request on stdout. */
export function auditLogObserver(write: (line: string) => void = stdoutLines): Observer {
  // The event's own JSON with the type in front: no copy of the event per request.
  return { record: (event) => write(oneLine(`{"type":"audit",${JSON.stringify(event).slice(1)}`)) };
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

/** A buffered body larger than this is handed to the adapter a slice at a time (sentInSlices). */
const SLICE_BYTES = 64 * 1024;

/**
 * A big buffered body (a generated log file, a long listing) as slices of a stream, framed by its
 * Content-Length: handed to the adapter whole, it would be recorded as sent in full the moment
 * the handler returned, also to a client that left after a few bytes. As slices it is recorded
 * as a stream is: with the bytes the adapter took, and as client-gone when it stopped early.
 */
export function sentInSlices(res: ProxyResponse): ProxyResponse {
  const body = res.body;
  if (typeof body !== 'string' && !(body instanceof Uint8Array)) return res;
  // A string of at most a third of a slice in UTF-16 units is within one slice as UTF-8: every
  // 307 and error document returns here, unencoded.
  if (typeof body === 'string' ? body.length * 3 <= SLICE_BYTES : body.byteLength <= SLICE_BYTES) return res;
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  if (bytes.byteLength <= SLICE_BYTES) return res;
  return {
    ...res,
    headers: { ...res.headers, 'content-length': res.headers['content-length'] ?? String(bytes.byteLength) },
    body: slicesOf(bytes),
  };
}

async function* slicesOf(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  for (let at = 0; at < bytes.byteLength; at += SLICE_BYTES) yield bytes.subarray(at, at + SLICE_BYTES);
}
