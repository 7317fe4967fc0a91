/**
 * A v2 checkpoint whose sidecar is missing cannot be read, by any reader: the filtered view hides
 * it and `_last_checkpoint` names the older checkpoint, as for any broken checkpoint. (A sidecar is
 * not what the view listed: its absence does not mean the listing is stale.)
 */
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type MetaData, type Protocol, writeCheckpoint } from '../../lambda/local/delta-writer';
import { type AuthzProxy, listAllPages, objectRequest, startAuthzProxy } from '../helpers/authz-harness';
import { corpusTable } from '../helpers/delta-corpus';
import { uploadTable } from '../helpers/fixture-tables';
import { type S3Server, startS3rver } from '../helpers/s3-servers';
import { withReason } from '../helpers/skips';
import { tempDir } from '../helpers/temp-dir';

const { dir: V2, missing } = corpusTable('delta-v2-checkpoint-parquet');
const SIDECAR =
  '_delta_log/_sidecars/00000000000000000002.checkpoint.0000000001.0000000002.055454d8-329c-4e0e-864d-7f867075af33.parquet';
let s3: S3Server | undefined;
let proxy: AuthzProxy | undefined;

beforeAll(async () => {
  if (missing) return;
  const dir = tempDir('missing-sidecar-');
  cpSync(V2, dir, { recursive: true });
  rmSync(join(dir, SIDECAR));
  // An older, classic checkpoint at version 1 (no file added yet), valid for a v2Checkpoint table.
  const actions = readFileSync(join(dir, '_delta_log/00000000000000000001.json'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { protocol?: Protocol; metaData?: MetaData });
  await writeCheckpoint(
    { put: async (rel, bytes) => writeFileSync(join(dir, rel), bytes) },
    1,
    actions.find((a) => a.protocol)!.protocol!,
    actions.find((a) => a.metaData)!.metaData!,
    [],
  );
  s3 = await startS3rver();
  await uploadTable(s3.endpoint, 'lake', 't/', dir);
  proxy = await startAuthzProxy(
    s3,
    {
      logView: 'filtered',
      tableMapping: { t: 's3://lake/t' },
      grants: [{ principal: 'all', table: 't', partitions: [{}] }],
    },
    ['all'],
  );
});

afterAll(async () => {
  await proxy?.stop();
  await s3?.stop();
});

it.skipIf(missing)(
  withReason('skips a checkpoint whose sidecar is missing for the older one', missing),
  async () => {
    const hint = await objectRequest(proxy!.url, 'GET', 't/_delta_log/_last_checkpoint', 'all');
    expect(hint.status).toBe(200);
    expect(JSON.parse(hint.text).version).toBe(1);
    const keys = (await listAllPages(proxy!.url, 'all', 2, { prefix: 't/_delta_log/' })).flatMap(
      (p) => p.keys,
    );
    expect(keys.filter((k) => k.includes('checkpoint'))).toEqual([
      't/_delta_log/00000000000000000001.checkpoint.parquet',
      't/_delta_log/_last_checkpoint',
    ]);
  },
);
