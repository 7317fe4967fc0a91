/**
 * A checkpoint that cannot be read (a failed write) is skipped by Delta readers for an older one.
 * The filtered view does the same: `_last_checkpoint` names the newest checkpoint that generates,
 * the broken one disappears from the listing, and the table still replays at every version.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deltaStorageFromBackend } from '../../lambda/delta/delta-storage';
import { loadSnapshot } from '../../lambda/delta/load-snapshot';
import {
  type AuthzProxy,
  keyFor,
  listAllPages,
  objectRequest,
  startAuthzProxy,
} from '../helpers/authz-harness';
import { s3Backend } from '../helpers/delta-s3';
import { uploadTable, writeRegionTable } from '../helpers/fixture-tables';
import { backendClient, type S3Server, startS3rver } from '../helpers/s3-servers';

let s3: S3Server;
let proxy: AuthzProxy;
const euFiles: string[] = [];

beforeAll(async () => {
  const { dir, adds } = await writeRegionTable(4, [2, 4]);
  for (const a of adds) if (a.partitionValues.region === 'EU') euFiles.push(decodeURIComponent(a.path));
  // The newest checkpoint is garbage (a writer died mid-write); _last_checkpoint still names it.
  writeFileSync(join(dir, '_delta_log/00000000000000000004.checkpoint.parquet'), 'PAR1 not really');
  s3 = await startS3rver();
  await uploadTable(s3.endpoint, 'lake', 'broken/', dir);
  proxy = await startAuthzProxy(
    s3,
    {
      logView: 'filtered',
      tableMapping: { t: 's3://lake/broken' },
      grants: [{ principal: 'eu', table: 't', partitions: [{ region: 'EU' }] }],
    },
    ['eu'],
  );
});

afterAll(async () => {
  await proxy?.stop();
  await s3?.stop();
});

it('skips a broken checkpoint: the hint names the older one, the listing hides it, every version replays', async () => {
  const hint = await objectRequest(proxy.url, 'GET', 't/_delta_log/_last_checkpoint', 'eu');
  expect(hint.status).toBe(200);
  expect(JSON.parse(hint.text)).toMatchObject({ version: 2, numOfAddFiles: 2 });
  const keys = (await listAllPages(proxy.url, 'eu', 2, { prefix: 't/_delta_log/' })).flatMap((p) => p.keys);
  expect(keys.filter((k) => k.includes('checkpoint'))).toEqual([
    't/_delta_log/00000000000000000002.checkpoint.parquet',
    't/_delta_log/_last_checkpoint',
  ]);
  expect(
    (await objectRequest(proxy.url, 'GET', 't/_delta_log/00000000000000000004.checkpoint.parquet', 'eu'))
      .status,
  ).toBe(404);
  const client = backendClient(proxy.url);
  client.config.credentials = async () => keyFor('eu');
  const storage = deltaStorageFromBackend(s3Backend(client, { requests: 0, bytes: 0 }), 'datalake', 't/');
  for (let v = 0; v <= 4; v++) {
    const snap = await loadSnapshot(storage, { tableUri: 's3://datalake/t', version: v });
    const files: string[] = [];
    snap.forEachFile((p) => files.push(p));
    expect(files.sort()).toEqual(euFiles.slice(0, v).sort());
  }
  client.destroy();
});
