/**
 * A log cleanup that deletes a commit while the complete history is being read (it was listed, then
 * answers 404) is a race, not an unreadable log: the proxy must not answer a granted, retained
 * change-data file with a refusal (403 is never retried by clients), and must serve it once the
 * failed load may be retried.
 */
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthzProxy, ManualClock, objectRequest, startAuthzProxy } from '../helpers/authz-harness';
import { writeTable } from '../helpers/fault-tables';
import { checkpointKey, commitKey } from '../helpers/log-text';
import { type MisbehavingS3, startMisbehavingS3 } from '../helpers/misbehaving-s3';
import { backendClient, createBucket, type S3Server, startS3rver } from '../helpers/s3-servers';
import { unhandledRejectionsPerTest } from '../helpers/unhandled-rejections';

const READER = 'reader';
const BUCKET = 'lake';
const code = (text: string) => /<Code>([^<]*)<\/Code>/.exec(text)?.[1];

const unhandled = unhandledRejectionsPerTest();

describe('history load racing a log cleanup', () => {
  let upstream: S3Server;
  let backend: MisbehavingS3;
  let client: S3Client;
  let proxy: AuthzProxy | undefined;

  beforeAll(async () => {
    upstream = await startS3rver();
    backend = await startMisbehavingS3(upstream);
    client = backendClient(upstream.endpoint);
    await createBucket(client, BUCKET);
  });
  afterAll(async () => {
    await proxy?.stop();
    client?.destroy();
    await backend?.stop();
    await upstream?.stop();
  });

  it('answers a retained change-data file with a retryable error, then serves it', async () => {
    const prefix = 'tables/t/';
    const t = await writeTable(client, BUCKET, 't', prefix);
    await t.commitFiles('EU', 'EU'); // 1, 2
    await t.writer.checkpoint(); // at 2
    await t.commitFiles('EU'); // 3
    const cdc = await t.writer.writeChangeDataFile({ region: 'EU' }, [{ id: 9, region: 'EU' }]);
    await t.writer.commit({ cdc: [cdc] }); // 4
    await t.writer.checkpoint(); // at 4
    await t.commitFiles('EU'); // 5
    const cdcKey = decodeURIComponent(cdc.path);

    const clock = new ManualClock();
    proxy = await startAuthzProxy(
      backend,
      {
        tableMapping: { t: t.uri },
        grants: [{ principal: READER, table: 't', partitions: [{ region: 'EU' }] }],
        snapshotTtlMs: 600_000,
      },
      [READER],
      { clock },
    );
    const get = () => objectRequest(proxy!.url, 'GET', `t/${cdcKey}`, READER, 'datalake', clock);

    // Commit 4's change data: the recent history (checkpoint 4, then commit 5) does not hold it, the
    // complete one does. It reads the commits from the oldest checkpoint on; a cleanup keeping
    // checkpoint 4 and what follows (commit 4 stays) deletes them right after it listed the log.
    let held = false;
    backend.onRequest = (r) => {
      if (r.method !== 'GET' || r.key !== commitKey(2, prefix) || held) return undefined;
      held = true;
      const cleanup = (async () => {
        for (const k of [0, 1, 2, 3].map((v) => commitKey(v, prefix)).concat(checkpointKey(2, prefix)))
          await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: k }));
      })();
      return { after: cleanup };
    };

    const first = await get();
    console.log(
      first.status,
      first.text.slice(0, 300),
      backend.seen.map((r) => `${r.method} ${r.key} ${r.query}`),
    );
    expect(held).toBe(true);
    // Not a refusal: the file is granted and its commit retained.
    expect([first.status, code(first.text)]).not.toEqual([403, 'AccessDenied']);
    expect(first.status === 200 || first.status === 503).toBe(true);

    clock.advance(1_000); // past the failed load's backoff
    const again = await get();
    expect(again.status).toBe(200);
    expect(unhandled).toEqual([]);
  });
});
