import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { Lru } from '../core/lru';

/** The SigV4 signing key: HMAC chain over date, region, service and "aws4_request". */
export function deriveSigningKey(secret: string, shortDate: string, region: string, service: string): Buffer {
  const kDate = createHmac('sha256', `AWS4${secret}`).update(shortDate, 'utf8').digest();
  const kRegion = createHmac('sha256', kDate).update(region, 'utf8').digest();
  const kService = createHmac('sha256', kRegion).update(service, 'utf8').digest();
  return createHmac('sha256', kService).update('aws4_request', 'utf8').digest();
}

interface CachedKey {
  secret: string;
  key: Buffer;
  /** The same key imported once: createHmac would import a raw key on every verification. */
  hmacKey: KeyObject;
}

/**
 * Derived signing keys per (access key, date, region, service). A key changes once a day per
 * region, so a warm cache saves four of the five HMACs of a verification. The entry remembers
 * the secret it was derived from: a rotated secret misses instead of reusing a stale key.
 */
export class SigningKeyCache {
  private readonly keys: Lru<string, CachedKey>;

  constructor(maxEntries = 1024) {
    this.keys = new Lru(maxEntries);
  }

  get size(): number {
    return this.keys.size;
  }

  signingKey(
    accessKeyId: string,
    secret: string,
    shortDate: string,
    region: string,
    service: string,
  ): Buffer {
    return this.entry(accessKeyId, secret, shortDate, region, service).key;
  }

  /** The signing key as a KeyObject, for the HMAC of the string to sign. */
  hmacKey(
    accessKeyId: string,
    secret: string,
    shortDate: string,
    region: string,
    service: string,
  ): KeyObject {
    return this.entry(accessKeyId, secret, shortDate, region, service).hmacKey;
  }

  private entry(
    accessKeyId: string,
    secret: string,
    shortDate: string,
    region: string,
    service: string,
  ): CachedKey {
    // Unambiguous: a presigned X-Amz-Credential is decoded, so its region may hold "\n", but a key id
    // with one is never found (no lookup succeeds), the date is 8 digits and the service is s3.
    const id = `${accessKeyId}\n${shortDate}\n${region}\n${service}`;
    const hit = this.keys.get(id);
    if (hit && hit.secret === secret) return hit;
    const key = deriveSigningKey(secret, shortDate, region, service);
    const entry = { secret, key, hmacKey: createSecretKey(key) };
    this.keys.set(id, entry);
    return entry;
  }
}
