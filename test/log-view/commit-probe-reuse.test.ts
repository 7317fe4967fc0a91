/**
 * Two instances, one backend, one clock that stands still (every request inside one 50 ms probe
 * window). B listed the log a moment before a writer committed; A lists the new commit; a reader
 * GETs it from B. B's "nothing new" probe answer, reused for its window, must not make that
 * commit a 404: README "a new commit is never a 404".
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, it } from 'vitest';
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
  await createBucket(client, 'lake');
});

afterAll(async () => {
  for (const p of started) await p.stop();
  client?.destroy();
  await s3?.stop();
});

it('a commit another instance listed is served by one that probed the log just before it was written', async () => {
  const clock = new ManualClock();
  const table = await writeTable(client, 'lake', 't', 't/');
  await table.commitFiles('EU', 'US'); // 1, 2
  const instance = async () => {
    const p = await startAuthzProxy(
      s3,
      {
        logView: 'filtered',
        tableMapping: { t: 's3://lake/t' },
        grants: [{ principal: 'eu', table: 't', partitions: [{ region: 'EU' }] }],
      },
      ['eu'],
      { clock },
    );
    started.push(p);
    return p;
  };
  const a = await instance();
  const b = await instance();
  const logKeys = async (p: AuthzProxy) =>
    (await listAllPages(p.url, 'eu', 2, { prefix: 't/_delta_log/' }, 'datalake', 10, clock)).flatMap(
      (x) => x.keys,
    );
  const commit3 = `t/_delta_log/${versionPrefix(3)}.json`;
  expect(await logKeys(b)).not.toContain(commit3);
  await table.commitFiles('EU'); // 3
  expect(await logKeys(a)).toContain(commit3);
  const head = await objectRequest(b.url, 'HEAD', commit3, 'eu', 'datalake', clock);
  const get = await objectRequest(b.url, 'GET', commit3, 'eu', 'datalake', clock);
  expect([head.status, get.status]).toEqual([200, 200]);
});
