/** S3 XML error documents: the only way a refusal leaves the proxy. */

import { S3Error } from '../core/s3-error';
import type { Headers, ProxyResponse } from '../core/types';
import { toS3Error } from '../s3/storage-errors';
import { el, toXml, type XmlNode } from '../s3/xml';

/**
 * Error documents echo what the client sent (a bucket name, a credential, a date). XML 1.0 cannot
 * carry most C0 controls even as character references, so they become U+FFFD: an error
 * document is always well-formed, whatever the request held.
 */
function printable(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '\ufffd');
}

export function errorResponse(
  err: S3Error,
  requestId: string,
  base: Headers,
  resource?: string,
  head = false,
): ProxyResponse {
  const extras: XmlNode[] = Object.entries(err.extra).map(([k, v]) => el(k, printable(v)));
  const doc = el(
    'Error',
    el('Code', err.code),
    el('Message', printable(err.message)),
    ...extras,
    resource !== undefined ? el('Resource', printable(resource)) : undefined,
    el('RequestId', requestId),
  );
  const headers: Headers = { ...base, 'content-type': 'application/xml' };
  if (err.code === 'MethodNotAllowed') headers.allow = 'GET, HEAD';
  // S3 answers HEAD errors with the status alone: a HEAD response has no body.
  if (head || err.status === 304) return { status: err.status, headers };
  return { status: err.status, headers, body: toXml(doc) };
}

/**
 * Storage failures that no stage mapped get the S3 error a client can act on (SlowDown,
 * ServiceUnavailable, ...); anything else is a bug or an outage: the client sees InternalError only.
 */
export function asS3Error(err: unknown): S3Error {
  if (err instanceof S3Error) return err;
  const mapped = toS3Error(err);
  return mapped instanceof S3Error ? mapped : new S3Error('InternalError', undefined, {}, describe(err));
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
