/**
 * In Lambda several proxy instances run at once, each with its own snapshot cache. A reader that
 * got `_last_checkpoint` from an instance with a newer snapshot lists `_delta_log/` from the
 * hint's version (delta-kernel-rs, delta-rs, Spark), and that listing may land on an instance whose
 * snapshot is older: it must still hold the hinted version ("Had a _last_checkpoint hint but
 * didn't find any checkpoints" otherwise), and a GET of a commit newer than that instance's
 * snapshot must not be a 404 for up to `snapshotTtlMs`. Two proxies here, separate caches, one
 * backend, a snapshot ttl far longer than the test.
 */

import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { versionPrefix } from '../../lambda/delta/log-path';
import { S3Backend } from '../../lambda/storage/s3-backend';
import {
  type AuthzProxy,
  listAllPages,
  ManualClock,
  objectRequest,
  startAuthzProxy,
} from '../helpers/authz-harness';
import { type BackendCall, countingBackend } from '../helpers/counting-backend';
import { writeTable } from '../helpers/fault-tables';
import {
  BACKEND_CREDENTIALS,
  backendClient,
  createBucket,
  type S3Server,
  startS3rver,
} from '../helpers/s3-servers';

const commit = (v: number) => `_delta_log/${versionPrefix(v)}.json`;
let s3: S3Server;
let client: S3Client;
const started: AuthzProxy[] = [];
let tables = 0;

beforeAll(async () => {
  s3 = await startS3rver();
  client = backendClient(s3.endpoint);
  await createBucket(client, 'lake');
});

afterAll(async () => {
  for (const p of started) await p.stop();
  client?.destroy();
  await s3?.stop();
});

/** One proxy instance over the shared backend; `calls` records what it asks of the backend. */
async function instance(
  alias: string,
  prefix: string,
  clock?: ManualClock,
): Promise<{ proxy: AuthzProxy; calls: BackendCall[] }> {
  const backend = new S3Backend({
    endpoint: s3.endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: BACKEND_CREDENTIALS,
  });
  const counting = countingBackend(backend);
  const proxy = await startAuthzProxy(
    s3,
    {
      logView: 'filtered',
      tableMapping: { [alias]: `s3://lake/${prefix.replace(/\/$/, '')}` },
      grants: [{ principal: 'eu', table: alias, partitions: [{ region: 'EU' }] }],
      snapshotTtlMs: 600_000,
    },
    ['eu'],
    { storage: counting.backend, ...(clock ? { clock } : {}) },
  );
  started.push(proxy);
  return { proxy, calls: counting.calls };
}

/** A fresh table (commits 0..2) and two instances; B has read the table at version 2. */
async function twoInstances(clock?: ManualClock) {
  const alias = `t${tables++}`;
  const prefix = `${alias}/`;
  const table = await writeTable(client, 'lake', alias, prefix);
  await table.commitFiles('EU', 'US');
  const a = await instance(alias, prefix);
  const b = await instance(alias, prefix, clock);
  expect((await objectRequest(b.proxy.url, 'GET', `${alias}/${commit(2)}`, 'eu')).status).toBe(200);
  return { alias, table, a, b };
}

it('a listing from the hint another instance handed out holds that version', async () => {
  const { alias, table, a, b } = await twoInstances();
  await table.commitFiles('EU'); // 3
  await table.commitFiles('US'); // 4
  await table.writer.checkpoint(); // at 4, with _last_checkpoint
  const hint = await objectRequest(a.proxy.url, 'GET', `${alias}/_delta_log/_last_checkpoint`, 'eu');
  expect(hint.status).toBe(200);
  const version = JSON.parse(hint.text).version as number;
  expect(version).toBe(4);

  // As delta-kernel-rs lists: from the hint's version.
  const pages = await listAllPages(b.proxy.url, 'eu', 2, {
    prefix: `${alias}/_delta_log/`,
    startAfter: `${alias}/_delta_log/${versionPrefix(version)}`,
  });
  expect(pages.map((p) => p.status)).toEqual([200]);
  expect(pages[0]!.keys).toEqual([
    `${alias}/_delta_log/${versionPrefix(4)}.checkpoint.parquet`,
    `${alias}/${commit(4)}`,
    `${alias}/_delta_log/_last_checkpoint`,
  ]);
  const cp = await objectRequest(
    b.proxy.url,
    'GET',
    `${alias}/_delta_log/${versionPrefix(4)}.checkpoint.parquet`,
    'eu',
  );
  expect(cp.status).toBe(200);
});

it('a listing from a hint whose checkpoint was written after this instance listed that version holds it', async () => {
  // Writers checkpoint right after their commit: B listed version 3 before the checkpoint at 3
  // was written, A after. Same version, so B's snapshot has not moved.
  const { alias, table, a, b } = await twoInstances();
  await table.commitFiles('EU'); // 3
  expect((await objectRequest(b.proxy.url, 'GET', `${alias}/${commit(3)}`, 'eu')).status).toBe(200);
  await table.writer.checkpoint(); // at 3
  const hint = await objectRequest(a.proxy.url, 'GET', `${alias}/_delta_log/_last_checkpoint`, 'eu');
  expect(JSON.parse(hint.text).version).toBe(3);
  const checkpoint = `${alias}/_delta_log/${versionPrefix(3)}.checkpoint.parquet`;
  // A reader whose listing landed elsewhere GETs the checkpoint from B.
  expect((await objectRequest(b.proxy.url, 'GET', checkpoint, 'eu')).status).toBe(200);
  const pages = await listAllPages(b.proxy.url, 'eu', 2, {
    prefix: `${alias}/_delta_log/`,
    startAfter: `${alias}/_delta_log/${versionPrefix(3)}`,
  });
  expect(pages.map((p) => p.status)).toEqual([200]);
  expect(pages[0]!.keys).toEqual([
    checkpoint,
    `${alias}/${commit(3)}`,
    `${alias}/_delta_log/_last_checkpoint`,
  ]);
});

it('the listing alone (no GET of the checkpoint first) holds it too', async () => {
  const { alias, table, b } = await twoInstances();
  await table.commitFiles('EU'); // 3
  expect((await objectRequest(b.proxy.url, 'GET', `${alias}/${commit(3)}`, 'eu')).status).toBe(200);
  await table.writer.checkpoint(); // at 3
  const pages = await listAllPages(b.proxy.url, 'eu', 2, {
    prefix: `${alias}/_delta_log/`,
    startAfter: `${alias}/_delta_log/${versionPrefix(3)}`,
  });
  expect(pages[0]!.keys[0]).toBe(`${alias}/_delta_log/${versionPrefix(3)}.checkpoint.parquet`);
});

it('a GET or HEAD of a commit newer than the instance snapshot answers from the moved log', async () => {
  const { alias, table, b } = await twoInstances();
  const [eu] = await table.commitFiles('EU'); // 3
  const [us] = await table.commitFiles('US'); // 4
  const head = await objectRequest(b.proxy.url, 'HEAD', `${alias}/${commit(3)}`, 'eu');
  expect(head.status).toBe(200);
  const r3 = await objectRequest(b.proxy.url, 'GET', `${alias}/${commit(3)}`, 'eu');
  expect(r3.status).toBe(200);
  expect(r3.text).toContain(encodeURI(eu!));
  // Filtered: the caller's grant does not reach the US file of commit 4.
  const r4 = await objectRequest(b.proxy.url, 'GET', `${alias}/${commit(4)}`, 'eu');
  expect(r4.status).toBe(200);
  expect(r4.text).not.toContain('region=US');
  expect(r4.text).not.toContain(encodeURI(us!));
  // A version nobody wrote stays missing.
  expect((await objectRequest(b.proxy.url, 'GET', `${alias}/${commit(9)}`, 'eu')).status).toBe(404);
});

it('a listing of the table root does not read the log', async () => {
  const { alias, table, b } = await twoInstances();
  await table.commitFiles('EU');
  const before = b.calls.length;
  const pages = await listAllPages(b.proxy.url, 'eu', 2, { prefix: `${alias}/`, delimiter: '/' });
  expect(pages.map((p) => p.status)).toEqual([200]);
  expect(pages[0]!.prefixes).toContain(`${alias}/_delta_log/`);
  // The table root's own listing, nothing of the log.
  expect(b.calls.slice(before)).toEqual([{ op: 'list', key: `${alias}/` }]);
});

it('listings of the log check it no more often than refusals do', async () => {
  // The clock stands still: the probe's answer ("nothing new") is reused, never asked again.
  const { alias, b } = await twoInstances(new ManualClock());
  const logListings = () => b.calls.filter((c) => c.op === 'list' && c.key === `${alias}/_delta_log/`).length;
  const before = logListings();
  for (let i = 0; i < 3; i++) {
    const pages = await listAllPages(b.proxy.url, 'eu', 2, { prefix: `${alias}/_delta_log/` });
    expect(pages[0]!.keys).toContain(`${alias}/${commit(2)}`);
  }
  expect(logListings() - before).toBe(1);
});

it('a listing from version 0 (kernel without a hint) of a table without checkpoints looks for none', async () => {
  const { alias, b } = await twoInstances(new ManualClock());
  const logListings = () => b.calls.filter((c) => c.op === 'list' && c.key === `${alias}/_delta_log/`).length;
  const before = logListings();
  for (let i = 0; i < 3; i++) {
    const pages = await listAllPages(b.proxy.url, 'eu', 2, {
      prefix: `${alias}/_delta_log/`,
      startAfter: `${alias}/_delta_log/${versionPrefix(0)}`,
    });
    expect(pages[0]!.keys).toContain(`${alias}/${commit(2)}`);
  }
  expect(logListings() - before).toBe(1);
});

it('a GET of a checkpoint written long after its commit, older than the newest the instance listed, is served', async () => {
  // A checkpoint at 3 written only after the one at 5 (a slow writer): B listed the log before it
  // was, A after. A reader time-travelling to version 4 picks it from A's listing and GETs it from B.
  const clock = new ManualClock();
  const { alias, table, a, b } = await twoInstances(clock);
  await table.commitFiles('EU'); // 3
  await table.writer.checkpoint(); // at 3, written late (below)
  const key = `${alias}/_delta_log/${versionPrefix(3)}.checkpoint.parquet`;
  const got = await client.send(new GetObjectCommand({ Bucket: 'lake', Key: key }));
  const body = await got.Body!.transformToByteArray();
  await client.send(new DeleteObjectCommand({ Bucket: 'lake', Key: key }));
  await table.commitFiles('US'); // 4
  await table.commitFiles('EU'); // 5
  await table.writer.checkpoint(); // at 5
  clock.advance(1_000);
  expect((await objectRequest(b.proxy.url, 'GET', `${alias}/${commit(5)}`, 'eu')).status).toBe(200);
  await client.send(new PutObjectCommand({ Bucket: 'lake', Key: key, Body: body }));
  const listed = (await listAllPages(a.proxy.url, 'eu', 2, { prefix: `${alias}/_delta_log/` })).flatMap(
    (p) => p.keys,
  );
  expect(listed).toContain(key);
  const fromA = await objectRequest(a.proxy.url, 'GET', key, 'eu');
  clock.advance(1_000);
  const fromB = await objectRequest(b.proxy.url, 'GET', key, 'eu');
  expect([fromB.status, fromB.headers.etag]).toEqual([200, fromA.headers.etag]);
});

it('a commit deleted out of order (a cleanup deleting concurrently) is a 404 once met, not a 503 on every read', async () => {
  const clock = new ManualClock();
  const { alias, table, b } = await twoInstances(clock);
  for (let v = 3; v <= 14; v++) await table.commitFiles('EU');
  clock.advance(1_000);
  expect((await objectRequest(b.proxy.url, 'GET', `${alias}/${commit(14)}`, 'eu')).status).toBe(200);
  // Neither the oldest file nor one of the newest versions: B's next listings of what changed miss it.
  await client.send(new DeleteObjectCommand({ Bucket: 'lake', Key: `${alias}/${commit(1)}` }));
  const gone = await objectRequest(b.proxy.url, 'GET', `${alias}/${commit(1)}`, 'eu');
  expect([gone.status, /<Code>(\w+)</.exec(gone.text)?.[1]]).toEqual([404, 'NoSuchKey']);
  const keys = (await listAllPages(b.proxy.url, 'eu', 2, { prefix: `${alias}/_delta_log/` })).flatMap(
    (p) => p.keys,
  );
  expect(keys).not.toContain(`${alias}/${commit(1)}`);
  expect(keys).toContain(`${alias}/${commit(14)}`);
});
