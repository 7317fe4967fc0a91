/**
 * A listing of a table with change data shows the readable change-data files of every retained
 * commit; the folders holding one are found once per caller's grants and history, over every path
 * the history knows. That walk must not hold the event loop: a history of a table with many
 * removed files (every OPTIMIZE or overwrite within the retention) has hundreds of thousands.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthzProxy, keyFor, objectRequest, startAuthzProxy } from '../helpers/authz-harness';
import { uploadTable } from '../helpers/fixture-tables';
import {
  addAction,
  commitKey,
  commitText,
  field,
  metaData,
  protocol,
  removeAction,
} from '../helpers/log-text';
import { longestLoopBlock } from '../helpers/loop-watch';
import { type S3Server, startS3rver } from '../helpers/s3-servers';
import { signedFetch } from '../helpers/signed-fetch';
import { tempDir } from '../helpers/temp-dir';

/** Files written, then all but KEPT removed: the history knows every one of them. */
const FILES = 200_000;
const KEPT = 10;

function writeLog(dir: string): void {
  mkdirSync(join(dir, '_delta_log'), { recursive: true });
  const path = (i: number) => `region=${i % 2 ? 'EU' : 'US'}/day=${i % 50}/part-${i}.parquet`;
  const region = (i: number) => (i % 2 ? 'EU' : 'US');
  const now = Date.now();
  writeFileSync(
    join(dir, commitKey(0)),
    commitText([
      { commitInfo: { timestamp: now - 1000, operation: 'WRITE' } },
      protocol(1, 4),
      metaData(['region'], {
        id: 'cdc-listing-loop',
        fields: [field('id', 'long'), field('region', 'string')],
        configuration: { 'delta.enableChangeDataFeed': 'true' },
        createdTime: 1,
      }),
      ...Array.from({ length: FILES }, (_, i) =>
        addAction(path(i), { region: region(i) }, { modificationTime: 1 }),
      ),
    ]),
  );
  mkdirSync(join(dir, '_change_data'));
  writeFileSync(join(dir, '_change_data', 'cdc-00000.c000.snappy.parquet'), 'PAR1');
  writeFileSync(
    join(dir, commitKey(1)),
    commitText([
      { commitInfo: { timestamp: now, operation: 'DELETE' } },
      ...Array.from({ length: FILES - KEPT }, (_, i) =>
        removeAction(path(i), { partitionValues: { region: region(i) }, deletionTimestamp: now }),
      ),
      {
        cdc: {
          path: '_change_data/cdc-00000.c000.snappy.parquet',
          partitionValues: { region: 'EU' },
          size: 1,
          dataChange: false,
        },
      },
    ]),
  );
}

let s3: S3Server;
let proxy: AuthzProxy;
beforeAll(async () => {
  s3 = await startS3rver();
  const dir = tempDir('cdc-loop-');
  writeLog(dir);
  await uploadTable(s3.endpoint, 'lake', 'gold/t/', dir);
  proxy = await startAuthzProxy(
    s3,
    {
      logView: 'filtered',
      // The first request loads a big snapshot and history: on a loaded machine it outlasted the
      // default 30 s budget (a 503). What this test measures is the event loop, not that time.
      requestTimeoutMs: 120_000,
      tableMapping: { t: 's3://lake/gold/t' },
      grants: [{ principal: 'eu', table: 't', partitions: [{ region: 'EU' }] }],
    },
    ['eu'],
  );
}, 300_000);
afterAll(async () => {
  await proxy?.stop();
  await s3?.stop();
});

describe('a listing of a table with change data', () => {
  it('finds the folders of readable change data without holding the event loop', async () => {
    // Loads the snapshot and the complete history (a change-data path asks for it).
    expect((await objectRequest(proxy.url, 'GET', 't/_change_data/missing.parquet', 'eu')).status).toBe(404);
    const { result, longestBlockMs, cpuMs } = await longestLoopBlock(() =>
      signedFetch(proxy.url, 'GET', '/datalake', 'list-type=2&prefix=t%2F&delimiter=%2F', {}, keyFor('eu')),
    );
    expect(result.status).toBe(200);
    expect(result.text).toContain('<Prefix>t/_change_data/</Prefix>');
    expect(longestBlockMs).toBeLessThan(cpuMs / 4);
  }, 300_000);
});
