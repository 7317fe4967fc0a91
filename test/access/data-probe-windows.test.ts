/**
 * Data files across instances over one backend, with one clock that stands still (every request
 * inside one 50 ms probe window): an instance whose last "nothing new" answer predates a commit
 * another instance already served, or whose snapshot a log cleanup left behind, must serve that
 * commit's files at once (a probe begun after the request arrived), in both log views.
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
async function lake(bucket: string, logView: 'filtered' | 'raw', clock: ManualClock) {
  await createBucket(client, bucket);
  const table = await writeTable(client, bucket, 't', 't/');
  const instance = async () => {
    const p = await startAuthzProxy(
      s3,
      {
        logView,
        tableMapping: { t: `s3://${bucket}/t` },
        grants: [{ principal: 'eu', table: 't', partitions: [{ region: 'EU' }] }],
      },
      ['eu'],
      { clock },
    );
    started.push(p);
    return p;
  };
  const get = async (p: AuthzProxy, rel: string) =>
    (await objectRequest(p.url, 'GET', `t/${rel}`, 'eu', 'datalake', clock)).status;
  return { table, instance, get };
}

let n = 0;
describe.each(['filtered', 'raw'] as const)('logView %s', (logView) => {
  it('a data file another instance served is served by one that probed the log just before its commit', async () => {
    const clock = new ManualClock();
    const { table, instance, get } = await lake(`fresh-${logView}-${n++}`, logView, clock);
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
      const { table, instance, get } = await lake(bucket, logView, clock);
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
