import { randomBytes } from 'node:crypto';

// One call into the system RNG per 512 ids: a randomBytes(8) per request costs more than the
// whole 307 answer around it.
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let offset = 0;

/** S3-style request ids: 16 upper-case hex characters. */
export function newRequestId(): string {
  if (offset + 8 > pool.length) {
    pool = randomBytes(POOL_BYTES);
    offset = 0;
  }
  const id = pool.toString('hex', offset, offset + 8).toUpperCase();
  offset += 8;
  return id;
}
