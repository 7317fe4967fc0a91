/**
 * A history load that listed a checkpoint which a log cleanup deletes before it is read (a newer
 * checkpoint was written first) is a race, not an unreadable log: a granted file removed within
 * its retention must not be refused with 403, and a retry must serve it.
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

describe('history load racing a checkpoint cleanup', () => {
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

  it('answers a removed, retained, granted file with a retryable error or the file, then serves it', async () => {
    const prefix = 'tables/t/';
    const t = await writeTable(client, BUCKET, 't', prefix);
    const [removed] = await t.commitFiles('EU'); // 1
    await t.writer.commit({ remove: [encodeURI(removed!)] }); // 2
    await t.writer.checkpoint(); // at 2
    const [live] = await t.commitFiles('EU'); // 3
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
    expect((await get(live!)).status).toBe(200);

    let held = false;
    backend.onRequest = (r) => {
      if (r.method !== 'GET' || r.key !== checkpointKey(2, prefix) || held) return undefined;
      held = true;
      const cleanup = (async () => {
        await t.commitFiles('EU'); // 4
        await t.writer.checkpoint(); // at 4
        for (const k of [0, 1, 2, 3].map((v) => commitKey(v, prefix)).concat(checkpointKey(2, prefix)))
          await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: k }));
      })();
      return { after: cleanup };
    };

    const first = await get(removed!);
    expect(held).toBe(true);
    expect([first.status, code(first.text)]).not.toEqual([403, 'AccessDenied']);
    expect(first.status === 200 || first.status === 503).toBe(true);

    clock.advance(1_500);
    const again = await get(removed!);
    expect(again.status).toBe(200);
    expect(unhandled).toEqual([]);
  });
});
