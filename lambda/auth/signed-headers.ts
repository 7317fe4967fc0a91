import { S3Error } from '../core/s3-error';
import type { Headers } from '../core/types';
import { type AuthForm, malformed } from './credential-scope';

const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;

/** "host;range;x-amz-date" to its names; they must be lower-case header names. */
export function parseSignedHeaders(text: string, form: AuthForm): string[] {
  const names = text.split(';');
  if (!names.every((n) => HEADER_NAME.test(n))) {
    throw malformed(form, `the SignedHeaders "${text}" are not lower-case header names separated by ";".`);
  }
  return names;
}

/**
 * S3 insists that `host` and every `x-amz-*` header present is signed: otherwise a third party
 * could add one (a checksum mode, a requester-pays flag...) to a request it did not sign.
 */
export function requireSigned(headers: Headers, signed: readonly string[]): void {
  let missing: string[] | undefined;
  if (!signed.includes('host')) missing = ['host'];
  for (const name in headers) {
    if (!name.startsWith('x-amz-') || signed.includes(name)) continue;
    missing ??= [];
    missing.push(name);
  }
  if (missing !== undefined) {
    throw new S3Error('AccessDenied', 'There were headers present in the request which were not signed', {
      HeadersNotSigned: missing.sort().join(', '),
    });
  }
}
