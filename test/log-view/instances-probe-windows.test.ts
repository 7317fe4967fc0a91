/**
 * Instances over one backend with one clock that stands still (every request inside one 50 ms
 * probe window), where an instance's recent "nothing new" answer meets another instance's fresher
 * view of the log. Readers list on one instance and GET from another (README "The filtered Delta
 * log": a new commit is never a 404, a listed checkpoint is served everywhere, a log is never
 * listed empty), and a data file another instance served, or one committed after a log cleanup,
 * is served on every instance (in both log views). Found by test/full/instances-property.test.ts.
 */
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { versionPrefix } from '../../lambda/delta/log-path';
import {
  type AuthzProxy,
  listAllPages,
  ManualClock,
  objectRequest,
  startAuthzProxy,
} from '../helpers/authz-harness';
import { writeTable } from '../helpers/fault-tables';
import { backendClient, createBucket, type S3Server, startS3rver } from '../helpers/s3-servers';

let s3: S3Server;
let client: S3Client;
const started: AuthzProxy[] = [];

beforeAll(async () => {
  s3 = await startS3rver();
  client = backendClient(s3.endpoint);
});

afterAll(async () => {
  for (const p of started) await p.stop();
  client?.destroy();
  await s3?.stop();
});

/** A table in a bucket of its own, and instances of the proxy over it sharing `clock`. */
async function lake(bucket: string, clock: ManualClock, logView: 'filtered' | 'raw' = 'filtered') {
  await createBucket(client, bucket);
  const table = await writeTable(client, bucket, 't', 't/');
  const instance = async () => {
    const p = await startAuthzProxy(
      s3,
      {
        logView,
        tableMapping: { t: `s3://${bucket}/t` },
        grants: [
          { principal: 'eu', table: 't', partitions: [{ region: 'EU' }] },
          { principal: 'all', table: 't', partitions: [{}] },
        ],
      },
      ['eu', 'all'],
      { clock },
    );
    started.push(p);
    return p;
  };
  const list = async (p: AuthzProxy, who = 'eu') => {
    const pages = await listAllPages(p.url, who, 2, { prefix: 't/_delta_log/' }, 'datalake', 10, clock);
    return { status: pages.at(-1)!.status, keys: pages.flatMap((x) => x.keys) };
  };
  const get = async (p: AuthzProxy, rel: string) =>
    (await objectRequest(p.url, 'GET', `t/${rel}`, 'eu', 'datalake', clock)).status;
  return { table, instance, list, get };
}

it('a commit another instance listed is served by one that probed the log just before it was written', async () => {
  const clock = new ManualClock();
  const { table, instance, list } = await lake('commits', clock);
  await table.commitFiles('EU', 'US'); // 1, 2
  const a = await instance();
  const b = await instance();
  const commit3 = `t/_delta_log/${versionPrefix(3)}.json`;
  expect((await list(b)).keys).not.toContain(commit3);
  await table.commitFiles('EU'); // 3
  expect((await list(a)).keys).toContain(commit3);
  const head = await objectRequest(b.url, 'HEAD', commit3, 'eu', 'datalake', clock);
  const get = await objectRequest(b.url, 'GET', commit3, 'eu', 'datalake', clock);
  expect([head.status, get.status]).toEqual([200, 200]);
});

// The look for the checkpoint finds it; the listing held from the same tick began before it was
// written and must not answer for it.
it('a checkpoint written in the tick an instance listed its version is served once another instance lists it', async () => {
  const clock = new ManualClock();
  const { table, instance, list } = await lake('checkpoints', clock);
  await table.commitFiles('EU', 'US'); // 1, 2
  const a = await instance();
  const b = await instance();
  const checkpoint = `t/_delta_log/${versionPrefix(2)}.checkpoint.parquet`;
  expect((await list(b)).keys).not.toContain(checkpoint);
  await table.writer.checkpoint(); // at 2
  expect((await list(a)).keys).toContain(checkpoint);
  const got = await objectRequest(b.url, 'GET', checkpoint, 'eu', 'datalake', clock);
  expect(got.status).toBe(200);
});

// Readers take an empty log for a missing table ("not a Delta table"); a retryable 503 is fine.
it('a listing of the log on an instance whose snapshot a log cleanup left behind is never empty', async () => {
  const clock = new ManualClock();
  const { table, instance, list } = await lake('cleanups', clock);
  const proxy = await instance();
  // Another caller's grant: this one's commit 0 is not generated yet when the cleanup comes.
  expect(await list(proxy)).toEqual({ status: 200, keys: [`t/_delta_log/${versionPrefix(0)}.json`] });
  await table.commitFiles('EU'); // 1
  await table.writer.checkpoint(); // at 1, with _last_checkpoint
  await client.send(
    new DeleteObjectCommand({ Bucket: 'cleanups', Key: `t/_delta_log/${versionPrefix(0)}.json` }),
  );
  await table.commitFiles('EU'); // 2
  for (let i = 0; i < 3; i++) {
    const got = await list(proxy, 'all');
    if (got.status === 200) expect(got.keys).not.toEqual([]);
    else expect(got.status).toBe(503);
  }
  clock.advance(60);
  expect(await list(proxy, 'all')).toEqual({
    status: 200,
    keys: [
      `t/_delta_log/${versionPrefix(1)}.checkpoint.parquet`,
      `t/_delta_log/${versionPrefix(1)}.json`,
      `t/_delta_log/${versionPrefix(2)}.json`,
      't/_delta_log/_last_checkpoint',
    ],
  });
});

let n = 0;
// Data files, in both log views: a refusal takes a probe begun after the request arrived.
describe.each(['filtered', 'raw'] as const)('data files, logView %s', (logView) => {
  it('a data file another instance served is served by one that probed the log just before its commit', async () => {
    const clock = new ManualClock();
    const { table, instance, get } = await lake(`fresh-${logView}-${n++}`, clock, logView);
    await table.commitFiles('EU', 'US'); // 1, 2
    const a = await instance();
    const b = await instance();
    expect(await get(b, 'region=EU/missing.parquet')).toBe(404); // b probes: nothing new
    const [eu3] = await table.commitFiles('EU'); // 3
    expect(await get(a, eu3!)).toBe(200);
    expect(await get(b, eu3!)).toBe(200);
  });

  // Probed by a refusal (the history at version 0 loaded) or, in the filtered view, by a listing
  // of the log (no history loaded: its load finds version 0 gone, which answered 503).
  it.each(logView === 'filtered' ? (['refusal', 'listing'] as const) : (['refusal'] as const))(
    'a data file committed after a log cleanup is served by an instance the cleanup left behind (%s)',
    async (probedBy) => {
      const clock = new ManualClock();
      const bucket = `cleanup-${logView}-${n++}`;
      const { table, instance, get } = await lake(bucket, clock, logView);
      const b = await instance();
      // b holds version 0 and probed the log
      if (probedBy === 'refusal') expect(await get(b, 'region=EU/missing.parquet')).toBe(404);
      else {
        const pages = await listAllPages(b.url, 'eu', 2, { prefix: 't/_delta_log/' }, 'datalake', 10, clock);
        expect(pages.at(-1)!.status).toBe(200);
      }
      await table.commitFiles('EU'); // 1
      await table.writer.checkpoint(); // at 1, with _last_checkpoint
      await client.send(
        new DeleteObjectCommand({ Bucket: bucket, Key: `t/_delta_log/${versionPrefix(0)}.json` }),
      );
      const [eu2] = await table.commitFiles('EU'); // 2
      expect(await get(b, eu2!)).toBe(200);
    },
  );
});
