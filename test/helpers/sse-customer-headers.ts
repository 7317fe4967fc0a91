/** SSE-C request headers as S3 clients send them: the algorithm, the key and its MD5, base64. */
import { createHash } from 'node:crypto';

/** A customer key's MD5, base64, as `x-amz-server-side-encryption-customer-key-md5` carries it. */
export const keyMd5 = (key: Buffer): string => createHash('md5').update(key).digest('base64');

export function sseCustomerHeaders(key: Buffer) {
  return {
    'x-amz-server-side-encryption-customer-algorithm': 'AES256',
    'x-amz-server-side-encryption-customer-key': key.toString('base64'),
    'x-amz-server-side-encryption-customer-key-md5': keyMd5(key),
  };
}
