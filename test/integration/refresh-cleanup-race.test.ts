/**
 * A snapshot refresh reads the commits listed after the cached version. A log cleanup (a newer
 * checkpoint written, older commits expired) that deletes one of them after the listing is a race,
 * not a table without a readable log: a granted file must not be refused with 403 (never retried),
 * and a retry must serve it.
 */
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthzProxy, ManualClock, objectRequest, startAuthzProxy } from '../helpers/authz-harness';
import { writeTable } from '../helpers/fault-tables';
import { commitKey } from '../helpers/log-text';
import { type MisbehavingS3, startMisbehavingS3 } from '../helpers/misbehaving-s3';
import { backendClient, createBucket, type S3Server, startS3rver } from '../helpers/s3-servers';
import { unhandledRejectionsPerTest } from '../helpers/unhandled-rejections';

const READER = 'reader';
const BUCKET = 'lake';
const code = (text: string) => /<Code>([^<]*)<\/Code>/.exec(text)?.[1];

const unhandled = unhandledRejectionsPerTest();

describe('snapshot refresh racing a log cleanup', () => {
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

  it('answers a granted file of a new commit with a retryable error or the file, then serves it', async () => {
    const prefix = 'tables/t/';
    const t = await writeTable(client, BUCKET, 't', prefix);
    const [first] = await t.commitFiles('EU'); // 1
    const clock = new ManualClock();
    proxy = await startAuthzProxy(
      backend,
      {
        tableMapping: { t: t.uri },
        grants: [{ principal: READER, table: 't', partitions: [{ region: 'EU' }] }],
        snapshotTtlMs: 1_000,
      },
      [READER],
      { clock },
    );
    const get = (rel: string) => objectRequest(proxy!.url, 'GET', `t/${rel}`, READER, 'datalake', clock);
    expect((await get(first!)).status).toBe(200); // snapshot at version 1 cached

    const added = await t.commitFiles('EU', 'EU'); // 2, 3
    await t.writer.checkpoint(); // at 3
    const newest = added[1]!;
    clock.advance(2_000); // the cached snapshot is refreshed: it reads commits 2 and 3

    // The refresh listed the log; a cleanup keeping checkpoint 3 and commit 3 deletes the older
    // commits before the refresh's GET of commit 2 reaches the store.
    let held = false;
    backend.onRequest = (r) => {
      if (r.method !== 'GET' || r.key !== commitKey(2, prefix) || held) return undefined;
      held = true;
      const cleanup = (async () => {
        for (const v of [0, 1, 2])
          await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: commitKey(v, prefix) }));
      })();
      return { after: cleanup };
    };

    const r = await get(newest);
    expect(held).toBe(true);
    // Not a refusal: the file is granted and in the log.
    expect([r.status, code(r.text)]).not.toEqual([403, 'AccessDenied']);
    expect(r.status === 200 || r.status === 503).toBe(true);

    const again = await get(newest);
    expect(again.status).toBe(200);
    expect(unhandled).toEqual([]);
  });
});
