/**
 * The Delta authorizer over an in-memory bucket (no server): for tests that ask what it
 * decides for one object key of a synthetic table.
 */

import { AllowedSetCache } from '../../lambda/access/allowed-set-cache';
import { DeltaAuthorizer } from '../../lambda/access/delta-authorizer';
import type { Grant } from '../../lambda/access/grant';
import { silentLogger } from '../../lambda/core/logger';
import { parseTableUri, type TableMount } from '../../lambda/core/table-mount';
import type { Clock } from '../../lambda/core/types';
import { SnapshotCache } from '../../lambda/delta/snapshot-cache';
import { type StorageBackend, StorageError } from '../../lambda/storage/storage-backend';
import type { MemoryDeltaStorage } from './delta-memory-storage';

/** A StorageBackend over the files of a MemoryDeltaStorage, under `prefix` of any bucket. */
export function memoryBackend(s: MemoryDeltaStorage, prefix: string): StorageBackend {
  const file = (key: string) => (key.startsWith(prefix) ? s.files.get(key.slice(prefix.length)) : undefined);
  const meta = (key: string) => {
    const b = file(key);
    if (!b) throw new StorageError('NotFound', `${key} not found`);
    return { size: b.byteLength, etag: `"${b.byteLength}"`, lastModified: s.lastModified ?? new Date(0) };
  };
  return {
    async get(ref, o) {
      const m = meta(ref.key);
      const b = file(ref.key)!;
      const r = o?.range && 'start' in o.range ? o.range : undefined;
      const part = r ? b.subarray(r.start, r.end === undefined ? undefined : r.end + 1) : b;
      return {
        meta: m,
        contentLength: part.byteLength,
        ...(r ? { range: { start: r.start, end: r.start + part.byteLength - 1, total: b.byteLength } } : {}),
        body: (async function* () {
          yield part;
        })(),
      };
    },
    async head(ref) {
      return meta(ref.key);
    },
    async list(p) {
      const keys = [...s.files.keys()]
        .map((k) => prefix + k)
        .filter((k) => k.startsWith(p.prefix) && (p.startAfter === undefined || k > p.startAfter))
        .sort();
      return {
        objects: keys.slice(0, p.maxKeys).map((key) => ({ key, ...meta(key) })),
        commonPrefixes: [],
        isTruncated: keys.length > p.maxKeys,
      };
    },
    async presign() {
      throw new Error('not used');
    },
  };
}

/** `backend`: the storage the authorizer reads (default: `s` under `t/`; a test may wrap it). */
export function memoryAuthorizer(
  s: MemoryDeltaStorage,
  grants: Grant[],
  clock: Clock,
  backend: StorageBackend = memoryBackend(s, 't/'),
) {
  const uri = 's3://bkt/t';
  const mount: TableMount = { alias: 't', uri, ...parseTableUri(uri) };
  const authorizer = new DeltaAuthorizer({
    grants: { grantsFor: async (p) => grants.filter((g) => g.principal === p) },
    snapshots: new SnapshotCache({ ttlMs: 60_000, maxBytes: 64 * 1024 * 1024, clock }),
    allowedSets: new AllowedSetCache(),
    storage: backend,
    logger: silentLogger,
    clock,
  });
  /** Whether `principal` may GET `relKey` (raw view). */
  const allows = async (principal: string, relKey: string) =>
    (await authorizer.authorizeObject({ name: principal, anonymous: false }, mount, relKey)).allow;
  return { authorizer, mount, allows };
}
