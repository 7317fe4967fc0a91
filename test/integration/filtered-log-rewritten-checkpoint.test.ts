/**
 * A checkpoint written again in place (a second writer checkpointing the same version) while the
 * proxy holds the table's snapshot and the log listing it took with it: the filtered view reads
 * the checkpoint in ranges pinned to one version, so the first request after the rewrite that
 * has to read it answers 503 (the size it listed is gone), and the next one lists the log again
 * and serves the new version. Before, the old listed size was pinned for as long as the table
 * saw no commit: 503 on every request.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type AddFile, type MetaData, type Protocol, writeCheckpoint } from '../../lambda/local/delta-writer';
import { type AuthzProxy, objectRequest, startAuthzProxy } from '../helpers/authz-harness';
import { uploadTable, writeRegionTable } from '../helpers/fixture-tables';
import { backendClient, type S3Server, startS3rver } from '../helpers/s3-servers';

const CHECKPOINT = '_delta_log/00000000000000000002.checkpoint.parquet';
let s3: S3Server;
let proxy: AuthzProxy;
let dir: string;
let adds: AddFile[] = [];

beforeAll(async () => {
  const table = await writeRegionTable(2, [2]);
  dir = table.dir;
  adds = table.adds;
  s3 = await startS3rver();
  await uploadTable(s3.endpoint, 'lake', 'rewritten/', dir);
  proxy = await startAuthzProxy(
    s3,
    {
      logView: 'filtered',
      tableMapping: { t: 's3://lake/rewritten' },
      grants: [
        { principal: 'eu', table: 't', partitions: [{ region: 'EU' }] },
        { principal: 'us', table: 't', partitions: [{ region: 'US' }] },
      ],
      snapshotTtlMs: 600_000,
    },
    ['eu', 'us'],
  );
});

afterAll(async () => {
  await proxy?.stop();
  await s3?.stop();
});

/** The same checkpoint as another writer would write it: rows reversed, one per row group. */
async function rewrittenCheckpoint(): Promise<Uint8Array> {
  const head = readFileSync(join(dir, '_delta_log/00000000000000000000.json'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { protocol?: Protocol; metaData?: MetaData });
  const protocol = head.find((a) => a.protocol)!.protocol!;
  const metaData = head.find((a) => a.metaData)!.metaData!;
  let bytes: Uint8Array | undefined;
  await writeCheckpoint(
    {
      put: async (_rel, b) => {
        bytes = b;
      },
    },
    2,
    protocol,
    metaData,
    [...adds].reverse(),
    { rowGroupSize: 1 },
  );
  return bytes!;
}

it('answers 503 once after a checkpoint is rewritten under a held listing, then serves the new one', async () => {
  const key = `t/${CHECKPOINT}`;
  expect((await objectRequest(proxy.url, 'GET', key, 'eu')).status).toBe(200);
  const next = await rewrittenCheckpoint();
  expect(next.byteLength).not.toBe(readFileSync(join(dir, CHECKPOINT)).byteLength);
  const client = backendClient(s3.endpoint);
  await client.send(new PutObjectCommand({ Bucket: 'lake', Key: `rewritten/${CHECKPOINT}`, Body: next }));
  client.destroy();
  // Another grant: its filtered checkpoint is generated now, from the listing held since.
  const first = await objectRequest(proxy.url, 'GET', key, 'us');
  expect([first.status, /<Code>([^<]*)</.exec(first.text)?.[1]]).toEqual([503, 'ServiceUnavailable']);
  const again = await objectRequest(proxy.url, 'GET', key, 'us');
  expect(again.status).toBe(200);
  expect(again.body.subarray(0, 4).toString()).toBe('PAR1');
});
