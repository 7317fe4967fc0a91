import { describe, expect, it } from 'vitest';
import { CachingCredentialStore } from '../../lambda/auth/caching-credential-store';
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

const OTHER = { accessKeyId: 'AKIDOTHER', secretAccessKey: 'other-secret', principal: 'other' };

function setup(options: { ttlMs?: number; negativeTtlMs?: number; maxEntries?: number } = {}) {
  const clock = fixedClock(1_000_000);
  const counting = new CountingStore(new StaticCredentialStore([KEY, OTHER]));
  const cache = new CachingCredentialStore(counting, {
    ttlMs: 60_000,
    negativeTtlMs: 5_000,
    ...options,
    clock,
  });
  return { clock, counting, cache };
}

describe('CachingCredentialStore', () => {
  it('answers a known key from memory until its TTL passes', async () => {
    const { clock, counting, cache } = setup();
    for (let i = 0; i < 5; i++) expect(await cache.lookup(KEY.accessKeyId)).toEqual(KEY);
    expect(counting.calls).toHaveLength(1);
    clock.set(1_000_000 + 60_001);
    await cache.lookup(KEY.accessKeyId);
    expect(counting.calls).toHaveLength(2);
  });

  it('remembers an unknown key for the shorter negative TTL', async () => {
    const { clock, counting, cache } = setup();
    expect(await cache.lookup('AKIDNOBODY')).toBeUndefined();
    expect(await cache.lookup('AKIDNOBODY')).toBeUndefined();
    expect(counting.calls).toEqual(['AKIDNOBODY']);
    clock.set(1_000_000 + 5_001);
    await cache.lookup('AKIDNOBODY');
    expect(counting.calls).toEqual(['AKIDNOBODY', 'AKIDNOBODY']);
  });

  it('is bounded, evicting the least recently used key id', async () => {
    const { counting, cache } = setup({ maxEntries: 2 });
    await cache.lookup(KEY.accessKeyId);
    await cache.lookup(OTHER.accessKeyId);
    await cache.lookup(KEY.accessKeyId); // KEY is now the most recently used
    await cache.lookup('AKIDNOBODY'); // evicts OTHER
    counting.calls = [];
    await cache.lookup(KEY.accessKeyId);
    await cache.lookup(OTHER.accessKeyId);
    expect(counting.calls).toEqual([OTHER.accessKeyId]);
  });

  it('never caches a failure: the error reaches the caller and the next lookup asks again', async () => {
    const { counting, cache } = setup();
    counting.failing = true;
    await expect(cache.lookup(KEY.accessKeyId)).rejects.toThrow('store unreachable');
    await expect(cache.lookup(KEY.accessKeyId)).rejects.toThrow('store unreachable');
    counting.failing = false;
    expect(await cache.lookup(KEY.accessKeyId)).toEqual(KEY);
    expect(counting.calls).toHaveLength(3);
  });

  it('shares one store lookup between concurrent requests for the same key id', async () => {
    const { counting, cache } = setup();
    const all = await Promise.all(Array.from({ length: 10 }, () => cache.lookup(KEY.accessKeyId)));
    expect(all.every((k) => k?.principal === 'analyst-eu')).toBe(true);
    expect(counting.calls).toHaveLength(1);
  });

  it('treats a revoked key as unknown', async () => {
    const revoked: CredentialStore = { lookup: async () => ({ ...KEY, status: 'revoked' }) };
    const cache = new CachingCredentialStore(revoked);
    expect(await cache.lookup(KEY.accessKeyId)).toBeUndefined();
  });

  it('behind the authenticator: 503 while the store is down, the principal once it is back', async () => {
    const date = new Date('2024-06-15T12:00:00Z');
    const counting = new CountingStore(new StaticCredentialStore([KEY]));
    const auth = new SigV4Authenticator({
      credentials: new CachingCredentialStore(counting),
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
