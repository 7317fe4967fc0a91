/**
 * The filtered view places a remove that names no partition values (old writers; Spark 3.3 leaves
 * null values out) by the add that introduced its file. Generating one filtered commit must cost
 * about what that commit is worth: not a walk back through the whole log for each such remove
 * (with more commits than the parsed-file cache holds, every walk read the log again).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNodeServer } from '../../lambda/adapters/node-server';
import { createProxy } from '../../lambda/bootstrap';
import { parseConfig } from '../../lambda/config';
import { silentLogger } from '../../lambda/core/logger';
import { S3Backend } from '../../lambda/storage/s3-backend';
import { keyFor, ManualClock, objectRequest } from '../helpers/authz-harness';
import { countingBackend } from '../helpers/counting-backend';
import { uploadTable } from '../helpers/fixture-tables';
import {
  addAction,
  commitKey,
  commitText,
  field,
  metaData,
  protocolV1,
  removeAction,
} from '../helpers/log-text';
import { BACKEND_CREDENTIALS, type S3Server, startS3rver } from '../helpers/s3-servers';
import { tempDir } from '../helpers/temp-dir';

/** Commits after the one that adds the removed files (more than the 256 parsed files kept). */
const LATER_COMMITS = 300;
/** Removes without partition values in the last commit. */
const REMOVES = 3;

function writeLog(dir: string): number {
  mkdirSync(join(dir, '_delta_log'), { recursive: true });
  const add = (path: string, region: string) =>
    addAction(path, { region }, { size: 10, modificationTime: 1 });
  const write = (v: number, actions: object[], ts: number) =>
    writeFileSync(
      join(dir, commitKey(v)),
      commitText([{ commitInfo: { timestamp: ts, operation: 'WRITE' } }, ...actions]),
    );
  const removed = Array.from({ length: REMOVES }, (_, i) => `region=EU/old-${i}.parquet`);
  write(
    0,
    [
      protocolV1,
      metaData(['region'], {
        id: 'remove-lookup-cost',
        fields: [field('id', 'long'), field('region', 'string')],
        createdTime: 1,
      }),
      ...removed.map((p) => add(p, 'EU')),
    ],
    1,
  );
  for (let v = 1; v <= LATER_COMMITS; v++) write(v, [add(`region=US/new-${v}.parquet`, 'US')], v + 1);
  const last = LATER_COMMITS + 1;
  const now = Date.now();
  write(
    last,
    removed.map((path) => removeAction(path, { deletionTimestamp: now })),
    now,
  );
  return last;
}

let s3: S3Server;
let last: number;
beforeAll(async () => {
  s3 = await startS3rver();
  const dir = tempDir('remove-lookup-');
  last = writeLog(dir);
  await uploadTable(s3.endpoint, 'lake', 'gold/t/', dir);
}, 120_000);
afterAll(async () => {
  await s3?.stop();
});

describe('a filtered commit whose removes name no partition values', () => {
  it('is generated with a bounded number of backend reads, and shows the granted removes', async () => {
    const { backend, calls } = countingBackend(
      new S3Backend({
        endpoint: s3.endpoint,
        forcePathStyle: true,
        region: 'us-east-1',
        credentials: BACKEND_CREDENTIALS,
      }),
    );
    const config = parseConfig({
      logView: 'filtered',
      getMode: 'proxy',
      tableMapping: { t: 's3://lake/gold/t' },
      s3: { endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1' },
      auth: { keys: [keyFor('eu')] },
      grants: [{ principal: 'eu', table: 't', partitions: [{ region: 'EU' }] }],
      snapshotTtlMs: 3_600_000,
    });
    const proxy = createProxy(config, {
      storage: backend,
      clock: new ManualClock(),
      audit: false,
      logger: silentLogger,
    });
    const server = await startNodeServer(proxy.handler, '127.0.0.1', 0);
    try {
      // Warm the snapshot (it reads every commit once: the log has no checkpoint).
      expect((await objectRequest(server.url, 'GET', commitKey(0, 't/'), 'eu')).status).toBe(200);
      const before = calls.length;
      const r = await objectRequest(server.url, 'GET', commitKey(last, 't/'), 'eu');
      const reads = calls.length - before;
      expect(r.status).toBe(200);
      const removes = r.text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { remove?: { path: string } })
        .filter((a) => a.remove);
      expect(removes).toHaveLength(REMOVES);
      // Every earlier commit read at most once for the whole commit, not once per remove.
      expect(reads).toBeLessThanOrEqual(LATER_COMMITS + 10);
    } finally {
      await server.close();
    }
  }, 120_000);
});
