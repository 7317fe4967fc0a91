import type { ProxyResponse } from './types';

/**
 * Closes the body of an answer nobody will read (its client left, its invocation timed out, the
 * transport answered in its place), which releases what it holds: its backend connection, its
 * stream share, its audit event.
 */
export async function closeBody(out: ProxyResponse): Promise<void> {
  const body = out.body;
  if (body === undefined || typeof body === 'string' || body instanceof Uint8Array) return;
  try {
    await body[Symbol.asyncIterator]().return?.();
  } catch {
    // It was failing anyway; nobody is listening.
  }
}
