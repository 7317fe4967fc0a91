/**
 * A caller's decision over a snapshot (which partition tuples its grants allow) is computed once per
 * (caller, snapshot), over every tuple of the snapshot, and its readable folders once per listing
 * caller over the snapshot's folder index (once per snapshot). On an over-partitioned table that is
 * hundreds of thousands of tuples and folders: none of it may hold the event loop while it runs.
 * Each block is held against the CPU the request cost (as in cdc-listing-loop), not a wall clock.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthzProxy, keyFor, objectRequest, startAuthzProxy } from '../helpers/authz-harness';
import { uploadTable } from '../helpers/fixture-tables';
import { addAction, commitKey, commitText, field, metaData, protocolV1 } from '../helpers/log-text';
import { longestLoopBlock } from '../helpers/loop-watch';
import { type S3Server, startS3rver } from '../helpers/s3-servers';
import { signedFetch } from '../helpers/signed-fetch';
import { tempDir } from '../helpers/temp-dir';

/** Files, each in its own partition tuple. */
const TUPLES = 200_000;
const region = (i: number) => (i % 2 ? 'EU' : 'US');
const path = (i: number) => `region=${region(i)}/n=${i}/part-${i}.parquet`;

function writeTable(dir: string): void {
  mkdirSync(join(dir, '_delta_log'), { recursive: true });
  const actions = [
    { commitInfo: { timestamp: Date.now(), operation: 'WRITE' } },
    protocolV1,
    metaData(['region', 'n'], {
      id: 'allowed-set-loop',
      fields: [field('id', 'long'), field('region', 'string'), field('n', 'long')],
      createdTime: 1,
    }),
    ...Array.from({ length: TUPLES }, (_, i) =>
      addAction(path(i), { region: region(i), n: String(i) }, { size: 4, modificationTime: 1 }),
    ),
  ];
  writeFileSync(join(dir, commitKey(0)), commitText(actions));
  mkdirSync(join(dir, 'region=EU', 'n=1'), { recursive: true });
  writeFileSync(join(dir, path(1)), 'PAR1');
}

let s3: S3Server;
let proxy: AuthzProxy;
beforeAll(async () => {
  s3 = await startS3rver();
  const dir = tempDir('allowed-set-loop-');
  writeTable(dir);
  await uploadTable(s3.endpoint, 'lake', 'gold/t/', dir);
  proxy = await startAuthzProxy(
    s3,
    {
      tableMapping: { t: 's3://lake/gold/t' },
      grants: [
        { principal: 'eu', table: 't', partitions: [{ region: 'EU' }] },
        { principal: 'us', table: 't', partitions: [{ region: 'US' }] },
        { principal: 'eu-lister', table: 't', partitions: [{ region: 'EU' }] },
      ],
    },
    ['eu', 'us', 'eu-lister'],
  );
}, 300_000);
afterAll(async () => {
  await proxy?.stop();
  await s3?.stop();
});

describe("a caller's first request on a table of many partition tuples", () => {
  it('decides which tuples its grants allow without holding the event loop', async () => {
    // Another caller loads the snapshot: what is measured is the first caller's decision.
    expect((await objectRequest(proxy.url, 'HEAD', `t/${path(0)}`, 'us')).status).toBe(404);
    const { result, longestBlockMs, cpuMs } = await longestLoopBlock(() =>
      objectRequest(proxy.url, 'GET', `t/${path(1)}`, 'eu'),
    );
    expect(result.status).toBe(200);
    expect(result.text).toBe('PAR1');
    expect(longestBlockMs).toBeLessThan(cpuMs / 4);
  }, 300_000);

  it("lists the caller's readable folders without holding the event loop", async () => {
    // The folder index (once per snapshot) and the caller's folders over it: one per tuple here.
    const { result, longestBlockMs, cpuMs } = await longestLoopBlock(() =>
      signedFetch(
        proxy.url,
        'GET',
        '/datalake',
        'list-type=2&prefix=t%2Fregion%3DEU%2F&delimiter=%2F&max-keys=5',
        {},
        keyFor('eu-lister'),
      ),
    );
    expect(result.status).toBe(200);
    expect(result.text).toContain('<Prefix>t/region=EU/n=1/</Prefix>');
    expect(longestBlockMs).toBeLessThan(cpuMs / 4);
  }, 300_000);
});
