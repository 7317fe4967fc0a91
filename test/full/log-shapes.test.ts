/**
 * Log shapes and cache pressure, through the real proxy in front of s3rver:
 * - a table of 1,000 commits and no checkpoint (as delta-rs writes small tables; the bench loads
 *   3,000) is loaded by reading every commit exactly once, several at a time but never more than
 *   the read-ahead bound (64: the table has 15 times as many commits);
 * - two granted tables that do not fit in `snapshotCacheBytes` together, read in turn, do not
 *   each load on every request (plain LRU did), and the cache stays within its budget.
 * (bench/logshapes.ts measures the time and request figures.)
 */
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deltaStorageFromBackend } from '../../lambda/delta/delta-storage';
import { loadSnapshot } from '../../lambda/delta/load-snapshot';
import { DEFAULT_READ_AHEAD } from '../../lambda/delta/log-read-ahead';
import {
  type AddFile,
  DeltaTableWriter,
  writeCheckpoint,
  writeLastCheckpoint,
} from '../../lambda/local/delta-writer';
import { S3Backend } from '../../lambda/storage/s3-backend';
import type { StorageBackend } from '../../lambda/storage/storage-backend';
import { type AuthzProxy, keyFor, objectRequest, startAuthzProxy } from '../helpers/authz-harness';
import {
  BACKEND_CREDENTIALS,
  backendClient,
  createBucket,
  type S3Server,
  startS3rver,
} from '../helpers/s3-servers';

const BUCKET = 'lake';
const COMMITS = 1000;
const WIDE_FILES = 20_000;

let s3: S3Server;
let client: S3Client;
const proxies: AuthzProxy[] = [];
const backends: S3Backend[] = [];

/** The real S3Backend, counting what reaches s3rver: log reads, and commit reads in flight. */
function countingBackend() {
  const real = new S3Backend({
    endpoint: s3.endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: BACKEND_CREDENTIALS,
  });
  backends.push(real);
  const seen = { logGets: [] as string[], commitsInFlight: 0, worstInFlight: 0 };
  const isCommit = (key: string) => /\/_delta_log\/\d{20}\.json$/.test(key);
  const backend: StorageBackend = {
    async get(ref, o) {
      if (!ref.key.includes('/_delta_log/')) return real.get(ref, o);
      seen.logGets.push(ref.key);
      if (!isCommit(ref.key)) return real.get(ref, o);
      seen.worstInFlight = Math.max(seen.worstInFlight, ++seen.commitsInFlight);
      let done = false;
      const finish = () => {
        if (!done) seen.commitsInFlight--;
        done = true;
      };
      try {
        const r = await real.get(ref, o);
        const body = r.body;
        return {
          ...r,
          body: (async function* () {
            try {
              yield* body;
            } finally {
              finish();
            }
          })(),
        };
      } catch (e) {
        finish();
        throw e;
      }
    },
    head: (ref, o) => real.head(ref, o),
    list: (p) => real.list(p),
    presign: (ref, o) => real.presign(ref, o),
  };
  return { backend, seen, real };
}

/** PutObject a bounded number at a time (the writer awaits each put: queue, then drain). */
function boundedPuts(prefix: string, limit = 32) {
  const queue: (() => Promise<unknown>)[] = [];
  let running = 0;
  let failure: unknown;
  const waiters: (() => void)[] = [];
  const pump = () => {
    while (running < limit && queue.length) {
      running++;
      queue.shift()!()
        .catch((e: unknown) => {
          failure ??= e;
        })
        .finally(() => {
          running--;
          pump();
          if (!running && !queue.length) for (const w of waiters.splice(0)) w();
        });
    }
  };
  return {
    put: async (rel: string, bytes: Uint8Array) => {
      queue.push(() =>
        client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}/${rel}`, Body: bytes })),
      );
      pump();
    },
    drained: async () => {
      if (running || queue.length) await new Promise<void>((r) => waiters.push(r));
      if (failure) throw failure;
    },
  };
}

const file = (p: number, name: string): AddFile => ({
  path: `p=${p}/${name}.parquet`,
  partitionValues: { p: String(p) },
  size: 1,
  modificationTime: 0,
  dataChange: true,
});

let lastAdded: AddFile;

/** 1,000 commits, no checkpoint: one file added per commit, every third commit removes one. */
async function writeLongTable(): Promise<void> {
  const target = boundedPuts('long');
  const w = new DeltaTableWriter(target, {
    schema: [
      { name: 'id', type: 'long' },
      { name: 'p', type: 'string' },
    ],
    partitionColumns: ['p'],
  });
  await w.create();
  for (let v = 1; v < COMMITS; v++) {
    const add = file(v % 10, `f${v}`);
    const remove = v % 3 === 0 ? [file((v - 1) % 10, `f${v - 1}`).path] : [];
    await w.commit({ add: [add], remove });
    lastAdded = add;
  }
  await target.drained();
  await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `long/${lastAdded.path}`, Body: 'x' }));
}

/** A checkpoint of WIDE_FILES files (about 0.9 MB as a snapshot) and its hint. */
async function writeWideTable(name: string): Promise<void> {
  const target = boundedPuts(name);
  const adds = Array.from({ length: WIDE_FILES }, (_, i) => file(i % 50, `${name}-${i}`));
  const meta = {
    id: name,
    format: { provider: 'parquet', options: {} },
    schemaString: JSON.stringify({
      type: 'struct',
      fields: [{ name: 'p', type: 'string', nullable: true, metadata: {} }],
    }),
    partitionColumns: ['p'],
    configuration: {},
    createdTime: 0,
  };
  const info = await writeCheckpoint(target, 0, { minReaderVersion: 1, minWriterVersion: 2 }, meta, adds);
  await writeLastCheckpoint(target, info);
  await target.drained();
  await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${name}/${adds[0]!.path}`, Body: 'x' }));
}

beforeAll(async () => {
  s3 = await startS3rver();
  client = backendClient(s3.endpoint);
  await createBucket(client, BUCKET);
  await Promise.all([writeLongTable(), writeWideTable('left'), writeWideTable('right')]);
}, 120_000);

afterAll(async () => {
  for (const p of proxies) await p.stop();
  for (const b of backends) b.destroy();
  client?.destroy();
  await s3?.stop();
});

describe('a table of 1,000 commits and no checkpoint', () => {
  it('is loaded reading each commit once, several at a time but never more than the bound', async () => {
    const { backend, seen } = countingBackend();
    const proxy = await startAuthzProxy(
      s3,
      {
        tableMapping: { long: `s3://${BUCKET}/long` },
        grants: [{ principal: 'reader', table: 'long', partitions: [{}] }],
      },
      ['reader'],
      { storage: backend },
    );
    proxies.push(proxy);

    // The SDK client sets no deadline of its own: on a loaded machine the cold load may be slow.
    const reader = keyFor('reader');
    const sdk = new S3Client({
      endpoint: proxy.url,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: reader.accessKeyId, secretAccessKey: reader.secretAccessKey },
      maxAttempts: 1,
    });
    try {
      const got = await sdk.send(new GetObjectCommand({ Bucket: 'datalake', Key: `long/${lastAdded.path}` }));
      expect(await got.Body!.transformToString()).toBe('x');
    } finally {
      sdk.destroy();
    }
    const commits = seen.logGets.filter((k) => k.endsWith('.json'));
    expect(commits).toHaveLength(COMMITS);
    expect(new Set(commits).size).toBe(COMMITS); // none read twice
    expect(seen.worstInFlight).toBeGreaterThan(1);
    expect(seen.worstInFlight).toBeLessThanOrEqual(DEFAULT_READ_AHEAD.files);
  }, 120_000);
});

describe('two granted tables over the snapshot cache budget', () => {
  it('read in turn, do not load a snapshot per request, and the cache stays within its budget', async () => {
    // Each table alone fits the budget; the two together do not.
    const sizes: number[] = [];
    for (const name of ['left', 'right']) {
      const { real } = countingBackend();
      const snap = await loadSnapshot(deltaStorageFromBackend(real, BUCKET, name), {
        tableUri: `s3://${BUCKET}/${name}`,
      });
      sizes.push(snap.estimatedBytes);
    }
    const budget = Math.max(1024 * 1024, Math.round(Math.max(...sizes) * 1.4));
    expect(sizes[0]! + sizes[1]!).toBeGreaterThan(budget);

    const { backend, seen } = countingBackend();
    const proxy = await startAuthzProxy(
      s3,
      {
        tableMapping: { left: `s3://${BUCKET}/left`, right: `s3://${BUCKET}/right` },
        grants: [
          { principal: 'reader', table: 'left', partitions: [{}] },
          { principal: 'reader', table: 'right', partitions: [{}] },
        ],
        snapshotCacheBytes: budget,
        snapshotTtlMs: 600_000,
      },
      ['reader'],
      { storage: backend },
    );
    proxies.push(proxy);
    const key = (name: string) => `${name}/${file(0, `${name}-0`).path}`;

    const first = await objectRequest(proxy.url, 'GET', key('left'), 'reader');
    expect(first.status).toBe(200);
    const readsPerLoad = seen.logGets.length;
    expect(readsPerLoad).toBeGreaterThan(0);

    const REQUESTS = 12;
    let worstBytes = 0;
    for (let i = 0; i < REQUESTS; i++) {
      const r = await objectRequest(proxy.url, 'GET', key(i % 2 ? 'left' : 'right'), 'reader');
      expect(r.status).toBe(200);
      worstBytes = Math.max(worstBytes, proxy.proxy.snapshots.stats().bytes);
    }
    const loads = (seen.logGets.length - readsPerLoad) / readsPerLoad;
    // Plain LRU: 12 (each request evicted the table read next). Here only one table reloads.
    expect(loads).toBeLessThanOrEqual(REQUESTS / 2);
    expect(worstBytes).toBeLessThanOrEqual(budget);
  }, 120_000);
});
