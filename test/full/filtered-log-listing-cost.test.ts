/**
 * What the filtered `_delta_log/` costs in backend LIST requests while a table is read across new
 * versions: the view lists what can have changed since its last listing (the newest versions, the
 * log's first keys), not the whole log again for every version and every `snapshotTtlMs`. A store
 * answering LIST with pages of 5 keys stands for a long log's 1,000-key pages (a 30-day log of a
 * table committing every minute is ~90 of them).
 */
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { versionPrefix } from '../../lambda/delta/log-path';
import { S3Backend } from '../../lambda/storage/s3-backend';
import type { StorageBackend } from '../../lambda/storage/storage-backend';
import {
  type AuthzProxy,
  type ListParams,
  listAllPages,
  ManualClock,
  objectRequest,
  startAuthzProxy,
} from '../helpers/authz-harness';
import { type BackendCall, countingBackend } from '../helpers/counting-backend';
import { type TestTable, writeTable } from '../helpers/fault-tables';
import {
  BACKEND_CREDENTIALS,
  backendClient,
  createBucket,
  type S3Server,
  startS3rver,
} from '../helpers/s3-servers';

const PAGE_KEYS = 5;
/** Commits before the test reads (the log's keys: these, one checkpoint, `_last_checkpoint`). */
const VERSIONS = 120;
const TTL_MS = 60_000;
/** Hidden files at the log's start. */
const HIDDEN = 12;
/** The version of the log's checkpoint. */
const CHECKPOINT = VERSIONS - 11;
const LOG = 't/_delta_log/';
const commit = (v: number) => `${LOG}${versionPrefix(v)}.json`;

let s3: S3Server;
let client: S3Client;
let table: TestTable;
let proxy: AuthzProxy;
let calls: BackendCall[];
const clock = new ManualClock();

/** The store's pages hold at most PAGE_KEYS keys (S3 answers at most MaxKeys). */
function smallPages(inner: StorageBackend): StorageBackend {
  return {
    get: (ref, o) => inner.get(ref, o),
    head: (ref, o) => inner.head(ref, o),
    list: (p) => inner.list({ ...p, maxKeys: Math.min(p.maxKeys ?? PAGE_KEYS, PAGE_KEYS) }),
    presign: (ref, o) => inner.presign(ref, o),
  };
}

beforeAll(async () => {
  s3 = await startS3rver();
  client = backendClient(s3.endpoint);
  await createBucket(client, 'lake');
  table = await writeTable(client, 'lake', 't', 't/');
  for (let v = 1; v <= CHECKPOINT; v++) await table.commitFiles(v % 2 ? 'EU' : 'US');
  await table.writer.checkpoint();
  for (let v = CHECKPOINT + 1; v < VERSIONS; v++) await table.commitFiles(v % 2 ? 'EU' : 'US');
  // Hidden files sort before the versions: a log copied from a Hadoop file system has one a commit.
  for (let v = 0; v < HIDDEN; v++)
    await client.send(
      new PutObjectCommand({ Bucket: 'lake', Key: `${LOG}.${versionPrefix(v)}.json.crc`, Body: 'crc' }),
    );
  const counting = countingBackend(
    smallPages(
      new S3Backend({
        endpoint: s3.endpoint,
        forcePathStyle: true,
        region: 'us-east-1',
        credentials: BACKEND_CREDENTIALS,
      }),
    ),
  );
  calls = counting.calls;
  proxy = await startAuthzProxy(
    s3,
    {
      logView: 'filtered',
      tableMapping: { t: 's3://lake/t' },
      grants: [{ principal: 'eu', table: 't', partitions: [{ region: 'EU' }] }],
      snapshotTtlMs: TTL_MS,
    },
    ['eu'],
    { storage: counting.backend, clock },
  );
}, 120_000);

afterAll(async () => {
  await proxy?.stop();
  client?.destroy();
  await s3?.stop();
});

/** Requests signed as of the proxy's clock, which the tests move on. */
const get = (key: string) => objectRequest(proxy.url, 'GET', key, 'eu', 'datalake', clock);
const list = (p: ListParams) => listAllPages(proxy.url, 'eu', 2, p, 'datalake', 500, clock);

/** LIST requests of `_delta_log/` a whole listing of the log takes. */
const wholeLogPages = () => Math.ceil((HIDDEN + table.writer.version + 3) / PAGE_KEYS);
const logLists = () => calls.filter((c) => c.op === 'list' && c.key === LOG).length;

/** A reader as delta-kernel-rs reads: `_last_checkpoint`, the log from its version, the newest commit. */
async function read(version: number): Promise<void> {
  const hint = await get(`${LOG}_last_checkpoint`);
  expect(hint.status).toBe(200);
  const from = JSON.parse(hint.text).version as number;
  const pages = await list({
    prefix: LOG,
    startAfter: `${LOG}${versionPrefix(from)}`,
  });
  expect(pages.map((p) => p.status)).toEqual([200]);
  const keys = pages.flatMap((p) => p.keys);
  expect(keys.at(-2)).toBe(commit(version));
  expect(keys[0]).toBe(`${LOG}${versionPrefix(from)}.checkpoint.parquet`);
  expect((await get(commit(version))).status).toBe(200);
}

it('a new version costs a few LIST requests, not a listing of the whole log', async () => {
  await read(table.writer.version);
  for (let i = 0; i < 3; i++) {
    await table.commitFiles('EU');
    clock.advance(1_000);
    const before = logLists();
    await read(table.writer.version);
    expect(logLists() - before).toBeLessThan(wholeLogPages() / 2);
  }
});

it('the same version read past snapshotTtlMs costs a few LIST requests too', async () => {
  clock.advance(TTL_MS + 1);
  const before = logLists();
  await read(table.writer.version);
  expect(logLists() - before).toBeLessThan(wholeLogPages() / 2);
});

it('a log cleanup still shows at the next version: deleted commits are no longer listed', async () => {
  // A cleanup under way: the oldest commits deleted, the checkpoint after them kept.
  for (let v = 0; v < 5; v++) await client.send(new DeleteObjectCommand({ Bucket: 'lake', Key: commit(v) }));
  await table.commitFiles('EU');
  clock.advance(1_000);
  const before = logLists();
  await read(table.writer.version);
  // Spark cleans the log up after every checkpoint: that costs no listing of the whole log either.
  expect(logLists() - before).toBeLessThan(wholeLogPages() / 2);
  const keys = (await list({ prefix: LOG })).flatMap((p) => p.keys);
  // The oldest version the log can rebuild is the checkpoint's: nothing before it is listed.
  expect(keys[0]).toBe(`${LOG}${versionPrefix(CHECKPOINT)}.checkpoint.parquet`);
  expect((await get(commit(6))).status).toBe(404);
});

it('a checkpoint written after a concurrent commit shows at the next version', async () => {
  // Writer A commits and checkpoints version v; writer B's commit v + 1 lands before A's checkpoint.
  await table.commitFiles('EU');
  const late = table.writer.version;
  await table.writer.checkpoint();
  const key = `${LOG}${versionPrefix(late)}.checkpoint.parquet`;
  const body = await (
    await client.send(new GetObjectCommand({ Bucket: 'lake', Key: key }))
  ).Body!.transformToByteArray();
  await client.send(new DeleteObjectCommand({ Bucket: 'lake', Key: key }));
  await table.commitFiles('US');
  clock.advance(1_000);
  await read(table.writer.version);
  await client.send(new PutObjectCommand({ Bucket: 'lake', Key: key, Body: body }));
  await table.commitFiles('EU');
  clock.advance(1_000);
  await read(table.writer.version);
  const hint = await get(`${LOG}_last_checkpoint`);
  expect(JSON.parse(hint.text).version).toBe(late);
});

it('a commit deleted out of order, and never met gone, shows within the hour', async () => {
  // Between the two checkpoints, out of the newest versions: no look but the whole listing sees it.
  const hint = await get(`${LOG}_last_checkpoint`);
  const newest = JSON.parse(hint.text).version as number;
  await client.send(new DeleteObjectCommand({ Bucket: 'lake', Key: commit(CHECKPOINT + 3) }));
  clock.advance(60 * 60 * 1000);
  await table.commitFiles('EU');
  await read(table.writer.version);
  const keys = (await list({ prefix: LOG })).flatMap((p) => p.keys);
  // The log now rebuilds from the checkpoint after the gap only.
  expect(keys[0]).toBe(`${LOG}${versionPrefix(newest)}.checkpoint.parquet`);
});
