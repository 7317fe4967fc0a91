import type { ProxyResponse } from './types';

/**
 * Closes the body of an answer nobody will read (a redirect or refusal decided after the backend
 * answered, a client that left, an invocation that timed out, the transport answered in its
 * place), which releases what it holds: its backend connection, its stream share, its audit event.
 */
export async function closeBody(out: Pick<ProxyResponse, 'body'>): Promise<void> {
  const body = out.body;
  if (body === undefined || typeof body === 'string' || body instanceof Uint8Array) return;
  await body[Symbol.asyncIterator]().return?.();
}
