/**
 * A remove written without partitionValues (old writers) is placed by the add of its file, which
 * the view looks up in the table's newest listed log. A listing that meets a commit a log cleanup
 * removed forgets that log (the next request lists anew); a commit being generated meanwhile must
 * not take "no log" for "no add": it dropped the remove, and the reader's replay kept the deleted
 * file active, its rows visible, in a commit cached as generated.
 */

import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DeltaTableWriter, directoryTarget } from '../../lambda/local/delta-writer';
import { S3Backend } from '../../lambda/storage/s3-backend';
import { type AuthzProxy, listAllPages, objectRequest, startAuthzProxy } from '../helpers/authz-harness';
import { uploadTable } from '../helpers/fixture-tables';
import { holdGets } from '../helpers/held-storage';
import { commitKey } from '../helpers/log-text';
import { BACKEND_CREDENTIALS, backendClient, type S3Server, startS3rver } from '../helpers/s3-servers';
import { tempDir } from '../helpers/temp-dir';

let s3: S3Server;
let proxy: AuthzProxy;
let holding = false;
let removed = '';
const held = { storage: undefined as unknown as ReturnType<typeof holdGets> };

beforeAll(async () => {
  const dir = tempDir('lookup-race-');
  const w = new DeltaTableWriter(directoryTarget(dir), {
    schema: [
      { name: 'id', type: 'long' },
      { name: 'region', type: 'string' },
    ],
    partitionColumns: ['region'],
  });
  await w.create();
  const eu = await w.writeDataFile({ region: 'EU' }, [{ id: 1, region: 'EU' }]);
  await w.commit({ add: [eu, await w.writeDataFile({ region: 'EU' }, [{ id: 2, region: 'EU' }])] });
  await w.commit({ remove: [eu.path], removesWithoutPartitionValues: true, operation: 'DELETE' });
  removed = eu.path;
  s3 = await startS3rver();
  await uploadTable(s3.endpoint, 'lake', 't/', dir);
  const backend = new S3Backend({
    endpoint: s3.endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: BACKEND_CREDENTIALS,
  });
  // Only the first GET of commit 2 once `holding` is set.
  held.storage = holdGets(backend, (ref) => {
    if (!holding || !ref.key.endsWith(commitKey(2))) return false;
    holding = false;
    return true;
  });
  proxy = await startAuthzProxy(
    s3,
    {
      logView: 'filtered',
      tableMapping: { t: 's3://lake/t' },
      grants: [{ principal: 'eu', table: 't', partitions: [{ region: 'EU' }] }],
      snapshotTtlMs: 600_000,
    },
    ['eu'],
    { storage: held.storage.storage },
  );
});

afterAll(async () => {
  await proxy?.stop();
  await s3?.stop();
});

it('a commit generated while a listing finds the log cleaned up keeps its remove', async () => {
  // The snapshot and the log's listing are taken (and held for the snapshot's lifetime).
  expect((await objectRequest(proxy.url, 'GET', commitKey(1, 't/'), 'eu')).status).toBe(200);
  holding = true;
  const generating = objectRequest(proxy.url, 'GET', commitKey(2, 't/'), 'eu');
  const read = await held.storage.nextHeld();
  // Meanwhile a log cleanup removes commit 0, and a listing meets it.
  const client = backendClient(s3.endpoint);
  await client.send(new DeleteObjectCommand({ Bucket: 'lake', Key: commitKey(0, 't/') }));
  client.destroy();
  const pages = await listAllPages(proxy.url, 'eu', 2, { prefix: 't/_delta_log/' });
  expect(pages[0]!.status).not.toBe(200);
  read.release();
  const r = await generating;
  // Either a retryable failure, or the commit with its remove: never the commit without it.
  if (r.status === 200) expect(r.text).toContain(`"remove":{"path":"${removed}"`);
  else expect(r.status).toBe(503);
  const again = await objectRequest(proxy.url, 'GET', commitKey(2, 't/'), 'eu');
  expect(again.status).toBe(200);
  expect(again.text).toContain(`"remove":{"path":"${removed}"`);
});
