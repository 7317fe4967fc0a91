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
  const signedSet = new Set(signed);
  const missing: string[] = [];
  if (!signedSet.has('host')) missing.push('host');
  for (const name of Object.keys(headers)) {
    if (name.startsWith('x-amz-') && !signedSet.has(name)) missing.push(name);
  }
  if (missing.length > 0) {
    throw new S3Error('AccessDenied', 'There were headers present in the request which were not signed', {
      HeadersNotSigned: missing.sort().join(', '),
    });
  }
}
