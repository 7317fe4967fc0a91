/**
 * A log cleanup (a newer checkpoint written, older commits and checkpoints expired) that deletes a
 * file the proxy listed before it reads it is a race, not a table without a readable log: a granted
 * file must not be refused with 403 (clients never retry one), and a retry must serve it. Three
 * readers of the log race it here: a snapshot refresh reading the commits after its version, the
 * complete history reading the commits from the oldest checkpoint, and a history load reading a
 * checkpoint. Each holds its read (misbehaving-s3) while the cleanup runs.
 */
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
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

describe('log readers racing a log cleanup', () => {
  let upstream: S3Server;
  let backend: MisbehavingS3;
  let client: S3Client;
  const proxies: AuthzProxy[] = [];

  beforeAll(async () => {
    upstream = await startS3rver();
    backend = await startMisbehavingS3(upstream);
    client = backendClient(upstream.endpoint);
    await createBucket(client, BUCKET);
  });
  /** A proxy granting READER the EU partition of the table at `uri`, on a clock of its own. */
  async function readerOf(uri: string, snapshotTtlMs: number) {
    const clock = new ManualClock();
    const proxy = await startAuthzProxy(
      backend,
      {
        tableMapping: { t: uri },
        grants: [{ principal: READER, table: 't', partitions: [{ region: 'EU' }] }],
        snapshotTtlMs,
      },
      [READER],
      { clock },
    );
    proxies.push(proxy);
    const get = (rel: string) => objectRequest(proxy.url, 'GET', `t/${rel}`, READER, 'datalake', clock);
    return { clock, get };
  }
  afterEach(() => {
    backend.onRequest = () => undefined;
  });
  afterAll(async () => {
    for (const p of proxies) await p.stop();
    client?.destroy();
    await backend?.stop();
    await upstream?.stop();
  });

  it('answers a granted file of a new commit with a retryable error or the file, then serves it', async () => {
    const prefix = 'tables/refresh/';
    const t = await writeTable(client, BUCKET, 't', prefix);
    const [first] = await t.commitFiles('EU'); // 1
    const { clock, get } = await readerOf(t.uri, 1_000);
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

  it('answers a retained change-data file with a retryable error, then serves it', async () => {
    const prefix = 'tables/history/';
    const t = await writeTable(client, BUCKET, 't', prefix);
    await t.commitFiles('EU', 'EU'); // 1, 2
    await t.writer.checkpoint(); // at 2
    await t.commitFiles('EU'); // 3
    const cdc = await t.writer.writeChangeDataFile({ region: 'EU' }, [{ id: 9, region: 'EU' }]);
    await t.writer.commit({ cdc: [cdc] }); // 4
    await t.writer.checkpoint(); // at 4
    await t.commitFiles('EU'); // 5
    const cdcKey = decodeURIComponent(cdc.path);

    const { clock, get: getKey } = await readerOf(t.uri, 600_000);
    const get = () => getKey(cdcKey);

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
    expect(held).toBe(true);
    // Not a refusal: the file is granted and its commit retained.
    expect([first.status, code(first.text)]).not.toEqual([403, 'AccessDenied']);
    expect(first.status === 200 || first.status === 503).toBe(true);

    clock.advance(1_000); // past the failed load's backoff
    const again = await get();
    expect(again.status).toBe(200);
    expect(unhandled).toEqual([]);
  });

  it('answers a removed, retained, granted file with a retryable error or the file, then serves it', async () => {
    const prefix = 'tables/checkpoint/';
    const t = await writeTable(client, BUCKET, 't', prefix);
    const [removed] = await t.commitFiles('EU'); // 1
    await t.writer.commit({ remove: [encodeURI(removed!)] }); // 2
    await t.writer.checkpoint(); // at 2
    const [live] = await t.commitFiles('EU'); // 3
    const { clock, get } = await readerOf(t.uri, 1_000);
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
