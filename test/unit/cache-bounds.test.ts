/**
 * Every cache the proxy keeps across requests is bounded: a flood of distinct keys (access key
 * ids, regions, principals, generated files, backend regions) leaves each at its bound. The
 * snapshot cache and the histories it holds are bounded in bytes by `snapshotCacheBytes`
 * (test/delta/snapshot-cache.test.ts, history-cache.test.ts, cache-memory.test.ts); the rest:
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AllowedSetCache } from '../../lambda/access/allowed-set-cache';
import { DynamoGrantStore } from '../../lambda/access/dynamodb-grant-store';
import type { Grant, GrantStore } from '../../lambda/access/grant';
import { UnionGrantStore } from '../../lambda/access/grant-sources';
import { DynamoCredentialStore } from '../../lambda/auth/dynamodb-credential-store';
import { SigningKeyCache } from '../../lambda/auth/signing-key-cache';
import { Lru } from '../../lambda/core/lru';
import { GeneratedCache } from '../../lambda/log-view/generated-cache';
import { WindowedDistinct } from '../../lambda/metrics/windows';
import { S3Backend } from '../../lambda/storage/s3-backend';
import { StorageError } from '../../lambda/storage/storage-backend';
import { createDynamoTable } from '../../lambda/store/dynamo-schema';
import { InMemorySnapshot } from '../access/in-memory-snapshot';
import { type DynamoServer, startDynalite, testDynamoClient } from '../helpers/dynamo-servers';
import { type S3Front, startS3Front, wrongRegion } from '../helpers/s3-front';

/** FAULT_SCALE=full floods twenty times harder (about 40 s instead of 5); the bounds stay the same. */
const SCALE = process.env.FAULT_SCALE === 'full' ? 20 : 1;

/** a, b, ..., z, ba, bb, ...: distinct lower-case words (region names take letters only). */
function word(n: number): string {
  let s = '';
  do {
    s = String.fromCharCode(97 + (n % 26)) + s;
    n = Math.floor(n / 26);
  } while (n > 0);
  return s;
}

describe('bounded caches under a flood of distinct keys', () => {
  it('signing keys: one per (key, day, region, service), at most maxEntries', () => {
    const cache = new SigningKeyCache(256);
    // A valid key may sign for any region it likes: 5,000 of them.
    for (let i = 0; i < 5_000 * SCALE; i++) cache.signingKey('AKID', 'secret', '20240615', `r${i}`, 's3');
    expect(cache.size).toBe(256);
  });

  it('allowed sets: at most maxEntriesPerSnapshot per snapshot, whatever the principals', async () => {
    const cache = new AllowedSetCache(128);
    const snap = new InMemorySnapshot(
      [{ logical: 'region', physical: 'region', type: 'string' }],
      [{ path: 'region=EU/a.parquet', values: ['EU'] }],
    );
    for (let i = 0; i < 2_000 * SCALE; i++)
      await cache.get(`principal-${i}`, 'sales', snap, [{ region: 'EU' }]);
    expect(cache.sizeFor(snap)).toBe(128);
  });

  it('generated log files: within the byte budget, least recently used out', async () => {
    const cache = new GeneratedCache<{ bytes: number }>(() => 10_000);
    for (let i = 0; i < 1_000 * SCALE; i++) await cache.get(`file-${i}`, async () => ({ bytes: 1_000 }));
    expect(cache.stats().bytes).toBeLessThanOrEqual(10_000);
    expect(cache.stats().entries).toBeLessThanOrEqual(10);
  });

  it('grant unions: at most maxMemo principals memoized', async () => {
    const none: GrantStore = { grantsFor: async (): Promise<readonly Grant[]> => [] };
    const union = new UnionGrantStore([none, none], 64);
    for (let i = 0; i < 1_000 * SCALE; i++) await union.grantsFor(`principal-${i}`);
    expect(union.memoSize).toBeLessThanOrEqual(64);
  });

  it('fixed-size LRUs (scanned commits): never above their bound', () => {
    const lru = new Lru<string, number>(1024);
    for (let i = 0; i < 10_000 * SCALE; i++) lru.set(`k${i}`, i);
    expect(lru.size).toBe(1024);
  });

  it('byte-bounded LRUs (inline deletion vectors): never above their bytes, one too big is not kept', () => {
    const lru = new Lru<string, number>(Number.POSITIVE_INFINITY, {
      weigh: (n) => n,
      maxWeight: () => 10_000,
    });
    for (let i = 0; i < 10_000 * SCALE; i++) lru.set(`k${i}`, 1 + (i % 1_000));
    expect(lru.weight).toBeLessThanOrEqual(10_000);
    const before = lru.weight;
    lru.set('huge', 20_000);
    expect(lru.get('huge')).toBeUndefined();
    expect(lru.weight).toBe(before);
  });

  it('unique users of the last minute: forgets keys once the window has passed', () => {
    let now = 1_000_000;
    const distinct = new WindowedDistinct({ now: () => now });
    for (let i = 0; i < 10_000; i++) distinct.record(`AKID${i}`);
    expect(distinct.count()).toBe(10_000);
    now += 121_000;
    distinct.record('AKID-late');
    expect(distinct.count()).toBe(1);
  });
});

describe('bounded DynamoDB answer caches (dynalite)', () => {
  let dynalite: DynamoServer;
  const TABLE = 'bounds-grants';
  beforeAll(async () => {
    dynalite = await startDynalite();
    await createDynamoTable(testDynamoClient(dynalite.endpoint), TABLE);
  });
  afterAll(async () => {
    await dynalite?.stop();
  });

  it('key lookups: random key ids (unknown ones cached too) stay at maxUnknownEntries', async () => {
    const store = new DynamoCredentialStore(testDynamoClient(dynalite.endpoint), TABLE, {
      maxUnknownEntries: 20,
    });
    for (let i = 0; i < 120 * SCALE; i++) expect(await store.lookup(`AKIAFLOOD${i}`)).toBeUndefined();
    expect(store.cachedEntries).toBe(20);
    expect(store.reads).toBe(120 * SCALE);
  });

  it('grant lookups: random principals stay at maxEntries', async () => {
    const store = new DynamoGrantStore(testDynamoClient(dynalite.endpoint), TABLE, { maxEntries: 20 });
    for (let i = 0; i < 120 * SCALE; i++) expect(await store.grantsFor(`principal-${i}`)).toEqual([]);
    expect(store.cachedEntries).toBe(20);
  });
});

describe('bucket regions (a backend that names a new region in every redirect)', () => {
  let front: S3Front;
  beforeAll(async () => {
    // Nothing is forwarded: every request is answered with a wrong-region redirect.
    front = await startS3Front('http://127.0.0.1:9');
    let n = 0;
    front.rules.push(() => wrongRegion(`eu-${word(n++)}-1`));
  });
  afterAll(async () => {
    await front?.stop();
  });

  it('keeps at most 16 regional clients', async () => {
    const backend = new S3Backend({
      endpoint: front.endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
    try {
      for (let i = 0; i < 40 * SCALE; i++) {
        const err = await backend.head({ bucket: 'lake', key: `k${i}` }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StorageError);
      }
      expect(backend.regionalClients).toBeLessThanOrEqual(16);
    } finally {
      backend.destroy();
    }
  });
});
