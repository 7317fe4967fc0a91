/**
 * SSE-C: an object stored with a customer-provided key is read only with the
 * x-amz-server-side-encryption-customer-{algorithm,key,key-MD5} headers. The proxy checks them
 * as S3 does, before any backend call or redirect, then passes them on: to its own GET or HEAD,
 * or signed into the presigned URL, whose follower must send the same three headers (the client
 * helper does; S3 refuses a presigned request with unsigned x-amz-* headers). The key is a
 * secret: it never reaches a log line or an error message.
 */
import { createHash } from 'node:crypto';
import { S3Error } from '../core/s3-error';
import type { Headers } from '../core/types';
import type { SseCustomer } from '../storage/storage-backend';

export const SSE_CUSTOMER_HEADERS = [
  'x-amz-server-side-encryption-customer-algorithm',
  'x-amz-server-side-encryption-customer-key',
  'x-amz-server-side-encryption-customer-key-md5',
] as const;

const [ALGORITHM, KEY, KEY_MD5] = SSE_CUSTOMER_HEADERS;

/** A base64 AES-256 key: 32 bytes, 44 characters with its padding. */
const BASE64_256 = /^[A-Za-z0-9+/]{43}=$/;

const invalid = (message: string, reason: string) => new S3Error('InvalidArgument', message, {}, reason);

/** The request's SSE-C parameters, checked as S3 checks them; undefined when it sends none. */
export function sseCustomerOf(headers: Headers): SseCustomer | undefined {
  const algorithm = headers[ALGORITHM] || undefined;
  const key = headers[KEY] || undefined;
  const keyMd5 = headers[KEY_MD5] || undefined;
  if (algorithm === undefined && key === undefined && keyMd5 === undefined) return undefined;
  if (algorithm === undefined)
    throw invalid(
      'Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.',
      'SSE-C without an algorithm',
    );
  if (algorithm !== 'AES256')
    throw new S3Error(
      'InvalidEncryptionAlgorithmError',
      'The encryption request you specified is not valid. The valid value is AES256.',
      {},
      'SSE-C algorithm not AES256',
    );
  if (key === undefined)
    throw invalid(
      'Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.',
      'SSE-C without a key',
    );
  if (!BASE64_256.test(key))
    throw invalid('The secret key was invalid for the specified algorithm.', 'SSE-C key not 256 bits');
  if (keyMd5 === undefined)
    throw invalid(
      'Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.',
      'SSE-C without the key MD5',
    );
  if (createHash('md5').update(Buffer.from(key, 'base64')).digest('base64') !== keyMd5)
    throw invalid(
      'The calculated MD5 hash of the key did not match the hash that was provided.',
      'SSE-C key MD5 mismatch',
    );
  return { algorithm, key, keyMd5 };
}
