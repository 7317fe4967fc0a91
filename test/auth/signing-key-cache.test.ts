import { describe, expect, it } from 'vitest';
import {
  type AccessKey,
  type CredentialStore,
  StaticCredentialStore,
} from '../../lambda/auth/credential-store';
import { deriveSigningKey, SigningKeyCache } from '../../lambda/auth/signing-key-cache';
import { SigV4Authenticator } from '../../lambda/auth/sigv4-authenticator';
import { fixedClock, KEY, signHeader } from './helpers/sign';

/** A real store that counts how often it is asked, and can be made to fail. */
class CountingStore implements CredentialStore {
  calls: string[] = [];
  failing = false;
  constructor(private readonly inner: CredentialStore) {}
  async lookup(accessKeyId: string): Promise<AccessKey | undefined> {
    this.calls.push(accessKeyId);
    await new Promise((r) => setTimeout(r, 5));
    if (this.failing) throw new Error('store unreachable');
    return this.inner.lookup(accessKeyId);
  }
}

describe('SigV4Authenticator over a failing key store', () => {
  it('answers 503 while the store is down, the principal once it is back', async () => {
    const date = new Date('2024-06-15T12:00:00Z');
    const counting = new CountingStore(new StaticCredentialStore([KEY]));
    const auth = new SigV4Authenticator({
      credentials: counting,
      clock: fixedClock(date.getTime()),
      allowAnonymous: false,
    });
    const req = await signHeader({ path: '/datalake', date });
    counting.failing = true;
    await expect(auth.authenticate(req)).rejects.toMatchObject({ status: 503, code: 'ServiceUnavailable' });
    counting.failing = false;
    await expect(auth.authenticate(req)).resolves.toMatchObject({ name: 'analyst-eu' });
  });
});

describe('SigningKeyCache', () => {
  it('returns the derived key, from memory on the second call', () => {
    const cache = new SigningKeyCache(4);
    const first = cache.signingKey('AKID', 'secret', '20240615', 'eu-west-3', 's3');
    expect(first.equals(deriveSigningKey('secret', '20240615', 'eu-west-3', 's3'))).toBe(true);
    expect(cache.signingKey('AKID', 'secret', '20240615', 'eu-west-3', 's3')).toBe(first);
  });

  it('a rotated secret is never served the old key', () => {
    const cache = new SigningKeyCache(4);
    const before = cache.signingKey('AKID', 'old-secret', '20240615', 'auto', 's3');
    const after = cache.signingKey('AKID', 'new-secret', '20240615', 'auto', 's3');
    expect(after.equals(before)).toBe(false);
    expect(after.equals(deriveSigningKey('new-secret', '20240615', 'auto', 's3'))).toBe(true);
  });

  it('stays within its bound', () => {
    const cache = new SigningKeyCache(3);
    for (let day = 10; day < 30; day++) cache.signingKey('AKID', 'secret', `202406${day}`, 'us-east-1', 's3');
    expect(cache.size).toBe(3);
  });
});
