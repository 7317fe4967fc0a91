/**
 * A checkpoint written at the snapshot's version and a log cleanup behind it (the older
 * checkpoint and the commits before the new one deleted) while the proxy holds the listing it took
 * with the snapshot: `_last_checkpoint` must name a checkpoint the table has, or be a retryable
 * 503, never 404 (readers then list from 0) while the table has one.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { S3Backend } from '../../lambda/storage/s3-backend';
import { StorageError } from '../../lambda/storage/storage-backend';
import { type AuthzProxy, listAllPages, objectRequest, startAuthzProxy } from '../helpers/authz-harness';
import { uploadTable, writeRegionTable } from '../helpers/fixture-tables';
import { checkpointKey, commitKey } from '../helpers/log-text';
import { BACKEND_CREDENTIALS, backendClient, type S3Server, startS3rver } from '../helpers/s3-servers';

let s3: S3Server;
let proxy: AuthzProxy;
/** Its storage lists commit 1 of table `ghost` but answers its GET NotFound (a lagging store). */
let ghostly: AuthzProxy;
let dir: string;

async function backend(send: (client: ReturnType<typeof backendClient>) => Promise<unknown>): Promise<void> {
  const client = backendClient(s3.endpoint);
  try {
    await send(client);
  } finally {
    client.destroy();
  }
}

beforeAll(async () => {
  dir = (await writeRegionTable(4, [2, 4])).dir;
  s3 = await startS3rver();
  await uploadTable(s3.endpoint, 'lake', 't/', dir);
  // Checkpoint 4 is written later.
  await backend((c) => c.send(new DeleteObjectCommand({ Bucket: 'lake', Key: checkpointKey(4, 't/') })));
  proxy = await startAuthzProxy(
    s3,
    {
      logView: 'filtered',
      tableMapping: { t: 's3://lake/t' },
      grants: [{ principal: 'eu', table: 't', partitions: [{ region: 'EU' }] }],
      snapshotTtlMs: 600_000,
    },
    ['eu'],
  );
  // Checkpoint 2: the snapshot never reads commit 1.
  await uploadTable(s3.endpoint, 'ghost', 't/', (await writeRegionTable(3, [2])).dir);
  const real = new S3Backend({
    endpoint: s3.endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: BACKEND_CREDENTIALS,
  });
  ghostly = await startAuthzProxy(
    s3,
    {
      logView: 'filtered',
      tableMapping: { g: 's3://ghost/t' },
      grants: [{ principal: 'eu', table: 'g', partitions: [{ region: 'EU' }] }],
      snapshotTtlMs: 600_000,
    },
    ['eu'],
    {
      storage: {
        get: (ref, o) =>
          ref.key === commitKey(1, 't/')
            ? Promise.reject(new StorageError('NotFound', 'The specified key does not exist.'))
            : real.get(ref, o),
        head: (ref, o) => real.head(ref, o),
        list: (params) => real.list(params),
        presign: (ref, o) => real.presign(ref, o),
      },
    },
  );
});

afterAll(async () => {
  await ghostly?.stop();
  await proxy?.stop();
  await s3?.stop();
});

it('_last_checkpoint names the new checkpoint, from a new listing, not 404', async () => {
  expect((await objectRequest(proxy.url, 'GET', commitKey(4, 't/'), 'eu')).status).toBe(200);
  await backend((c) =>
    c.send(
      new PutObjectCommand({
        Bucket: 'lake',
        Key: checkpointKey(4, 't/'),
        Body: readFileSync(join(dir, checkpointKey(4))),
      }),
    ),
  );
  for (const key of [checkpointKey(2), commitKey(0), commitKey(1), commitKey(2), commitKey(3)])
    await backend((c) => c.send(new DeleteObjectCommand({ Bucket: 'lake', Key: `t/${key}` })));
  const hint = await objectRequest(proxy.url, 'GET', 't/_delta_log/_last_checkpoint', 'eu');
  expect(hint.status).toBe(200);
  expect(JSON.parse(hint.text).version).toBe(4);
  const pages = await listAllPages(proxy.url, 'eu', 2, { prefix: 't/_delta_log/' });
  expect(pages.flatMap((p) => p.keys)).toEqual([
    checkpointKey(4, 't/'),
    commitKey(4, 't/'),
    't/_delta_log/_last_checkpoint',
  ]);
  const gone = await objectRequest(proxy.url, 'GET', checkpointKey(2, 't/'), 'eu');
  expect(gone.status).toBe(404);
});

it('a commit listed again and still not readable is a retryable 503, not 500', async () => {
  const r = await objectRequest(ghostly.url, 'GET', commitKey(1, 'g/'), 'eu');
  expect([r.status, /<Code>(\w+)</.exec(r.text)?.[1]]).toEqual([503, 'ServiceUnavailable']);
});
