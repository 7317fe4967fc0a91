/**
 * The filtered view places a remove that names no partition values (old writers; Spark 3.3 leaves
 * null values out) by the add that introduced its file. Generating one filtered commit must cost
 * about what that commit is worth: not a walk back through the whole log for each such remove
 * (with more commits than the parsed-file cache holds, every walk read the log again).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
import { BACKEND_CREDENTIALS, type S3Server, startS3rver } from '../helpers/s3-servers';

/** Commits after the one that adds the removed files (more than the 256 parsed files kept). */
const LATER_COMMITS = 300;
/** Removes without partition values in the last commit. */
const REMOVES = 3;
const version = (v: number) => String(v).padStart(20, '0');

function writeLog(dir: string): number {
  const log = join(dir, '_delta_log');
  mkdirSync(log, { recursive: true });
  const schema = JSON.stringify({
    type: 'struct',
    fields: [
      { name: 'id', type: 'long', nullable: true, metadata: {} },
      { name: 'region', type: 'string', nullable: true, metadata: {} },
    ],
  });
  const add = (path: string, region: string) => ({
    add: { path, partitionValues: { region }, size: 10, modificationTime: 1, dataChange: true },
  });
  const lines = (actions: object[], ts: number) =>
    [{ commitInfo: { timestamp: ts, operation: 'WRITE' } }, ...actions]
      .map((a) => JSON.stringify(a))
      .join('\n') + '\n';
  const removed = Array.from({ length: REMOVES }, (_, i) => `region=EU/old-${i}.parquet`);
  writeFileSync(
    join(log, `${version(0)}.json`),
    lines(
      [
        { protocol: { minReaderVersion: 1, minWriterVersion: 2 } },
        {
          metaData: {
            id: 'remove-lookup-cost',
            format: { provider: 'parquet', options: {} },
            schemaString: schema,
            partitionColumns: ['region'],
            configuration: {},
            createdTime: 1,
          },
        },
        ...removed.map((p) => add(p, 'EU')),
      ],
      1,
    ),
  );
  for (let v = 1; v <= LATER_COMMITS; v++)
    writeFileSync(join(log, `${version(v)}.json`), lines([add(`region=US/new-${v}.parquet`, 'US')], v + 1));
  const last = LATER_COMMITS + 1;
  const now = Date.now();
  writeFileSync(
    join(log, `${version(last)}.json`),
    lines(
      removed.map((path) => ({ remove: { path, deletionTimestamp: now, dataChange: true } })),
      now,
    ),
  );
  return last;
}

let s3: S3Server;
let last: number;
beforeAll(async () => {
  s3 = await startS3rver();
  const dir = mkdtempSync(join(tmpdir(), 'remove-lookup-'));
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
      expect((await objectRequest(server.url, 'GET', `t/_delta_log/${version(0)}.json`, 'eu')).status).toBe(
        200,
      );
      const before = calls.length;
      const r = await objectRequest(server.url, 'GET', `t/_delta_log/${version(last)}.json`, 'eu');
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
