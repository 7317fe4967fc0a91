import { randomBytes } from 'node:crypto';

/** S3-style request ids: 16 upper-case hex characters. */
export function newRequestId(): string {
  return randomBytes(8).toString('hex').toUpperCase();
}
