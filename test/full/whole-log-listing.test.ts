/**
 * The whole `_delta_log/` listed in key ranges side by side (lambda/delta/whole-log-listing.ts),
 * through deltaStorageFromBackend and S3Backend over s3rver whose pages hold at most PAGE_KEYS keys
 * (standing for S3's 1,000): the same files as one listing page after page, in far fewer rounds of
 * requests one after the other (each page of a listing names the next; what a cold instance waits
 * for), and not many more requests.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type DeltaStorage, deltaStorageFromBackend } from '../../lambda/delta/delta-storage';
import { versionPrefix } from '../../lambda/delta/log-path';
import { listWholeLog } from '../../lambda/delta/whole-log-listing';
import { S3Backend } from '../../lambda/storage/s3-backend';
import type { ListPage, ListParams, StorageBackend } from '../../lambda/storage/storage-backend';
import {
  BACKEND_CREDENTIALS,
  backendClient,
  createBucket,
  type S3Server,
  startS3rver,
} from '../helpers/s3-servers';

const PAGE_KEYS = 4;
const OPTIONS = { firstKeys: PAGE_KEYS, versionsPerRange: 5, maxRanges: 8 };
/** The versions a cleanup left: 20..59, a checkpoint every 10. */
const OLDEST = 20;
const NEWEST = 59;

let s3: S3Server;
let client: S3Client;
let backend: RoundsBackend;

/**
 * Pages of PAGE_KEYS keys at most, and the round of each LIST: a continuation is one round after
 * the page that named it; a new listing one round after the newest answer received before it.
 */
class RoundsBackend {
  readonly inner: StorageBackend;
  requests = 0;
  rounds = 0;
  private answered = 0;
  private readonly tokens = new Map<string, number>();

  constructor(endpoint: string) {
    this.inner = new S3Backend({
      endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: BACKEND_CREDENTIALS,
    });
  }

  /** A bucket per log: s3rver reads a bucket's every key for each LIST. */
  storage(bucket: string): DeltaStorage {
    const backend: StorageBackend = {
      get: (ref, o) => this.inner.get(ref, o),
      head: (ref, o) => this.inner.head(ref, o),
      presign: (ref, o) => this.inner.presign(ref, o),
      list: (p) => this.list(p),
    };
    return deltaStorageFromBackend(backend, bucket, '');
  }

  reset(): void {
    this.requests = this.rounds = this.answered = 0;
    this.tokens.clear();
  }

  private async list(p: ListParams): Promise<ListPage> {
    this.requests++;
    const round =
      p.continuationToken !== undefined ? this.tokens.get(p.continuationToken)! + 1 : this.answered + 1;
    const page = await this.inner.list({ ...p, maxKeys: Math.min(p.maxKeys ?? PAGE_KEYS, PAGE_KEYS) });
    if (page.nextContinuationToken) this.tokens.set(page.nextContinuationToken, round);
    this.answered = Math.max(this.answered, round);
    this.rounds = Math.max(this.rounds, round);
    return page;
  }
}

/** A log as writers and cleanups leave it; `hidden`: a `.N.json.crc` per commit (Hadoop's). */
function logKeys(hidden: boolean, root = ''): string[] {
  const keys = [`${root}_delta_log/_last_checkpoint`, `${root}_delta_log/_commits/x.uuid.json`];
  for (let v = OLDEST; v <= NEWEST; v++) {
    const name = `${root}_delta_log/${versionPrefix(v)}`;
    keys.push(`${name}.json`, `${name}.crc`);
    if (v % 10 === 0) keys.push(`${name}.checkpoint.parquet`);
    // A name that is a range's bound itself, and one just after it.
    if (v % 7 === 0) keys.push(name, `${name}-`);
    if (hidden) keys.push(`${root}_delta_log/.${versionPrefix(v)}.json.crc`);
  }
  if (hidden) keys.push(`${root}_delta_log/.tmp/partial`);
  return keys;
}

beforeAll(async () => {
  s3 = await startS3rver();
  client = backendClient(s3.endpoint);
  const logs = { plain: logKeys(false), hadoop: logKeys(true), short: logKeys(false).slice(0, 3) };
  for (const [Bucket, keys] of Object.entries(logs)) {
    await createBucket(client, Bucket);
    for (let i = 0; i < keys.length; i += 25)
      await Promise.all(
        keys
          .slice(i, i + 25)
          .map((Key) => client.send(new PutObjectCommand({ Bucket, Key, Body: Key.slice(-3) }))),
      );
  }
  backend = new RoundsBackend(s3.endpoint);
});

afterAll(async () => {
  client?.destroy();
  await s3?.stop();
});

/** The listing page after page, and its rounds and requests. */
async function sequential(storage: DeltaStorage) {
  backend.reset();
  const files = await storage.list('_delta_log/');
  return { files, rounds: backend.rounds, requests: backend.requests };
}

async function ranged(storage: DeltaStorage, newest = NEWEST) {
  backend.reset();
  const files = await listWholeLog(storage, newest, OPTIONS);
  return { files, rounds: backend.rounds, requests: backend.requests };
}

it.each(['plain', 'hadoop'])('a long %s log: the same files in a fraction of the rounds', async (table) => {
  const storage = backend.storage(table);
  const one = await sequential(storage);
  const many = await ranged(storage);
  expect(many.files).toEqual(one.files);
  expect(one.files.length).toBe(logKeys(table === 'hadoop').length);
  // Eight ranges per key family, each a few pages: rounds fall from one per page to a few.
  expect(many.rounds).toBeLessThanOrEqual(Math.ceil(one.rounds / 4));
  // Ranges stop paging at their end: a page or two more per range, not the rest of the log each.
  expect(many.requests).toBeLessThanOrEqual(one.requests + 2 * 2 * OPTIONS.maxRanges);
});

it('versions after the newest known are listed too (the last range is open)', async () => {
  const storage = backend.storage('plain');
  const one = await sequential(storage);
  const stale = await ranged(storage, OLDEST + 10);
  expect(stale.files).toEqual(one.files);
});

it('a short log is one request, as a plain listing', async () => {
  const storage = backend.storage('short');
  const many = await ranged(storage);
  expect(many.files.map((f) => f.path)).toEqual([
    '_delta_log/00000000000000000020.json',
    '_delta_log/_commits/x.uuid.json',
    '_delta_log/_last_checkpoint',
  ]);
  expect(many.requests).toBe(1);
});
