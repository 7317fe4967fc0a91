/**
 * A broken checkpoint (a failed write) that a listing of the filtered `_delta_log/` meets before any
 * GET of `_last_checkpoint` has skipped it (delta-rs and the kernel list the log first): the
 * listing answered 500 InternalError. And with no other checkpoint, `_last_checkpoint` answered
 * 500 instead of 404 (readers then list from version 0).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthzProxy, listAllPages, objectRequest, startAuthzProxy } from '../helpers/authz-harness';
import { uploadTable, writeRegionTable } from '../helpers/fixture-tables';
import { type S3Server, startS3rver } from '../helpers/s3-servers';

let s3: S3Server;
let proxy: AuthzProxy;

beforeAll(async () => {
  s3 = await startS3rver();
  // Two tables whose newest checkpoint is garbage: one with an older good checkpoint, one without.
  for (const [name, at] of [
    ['older', [2, 4]],
    ['only', [4]],
    ['direct', [4]],
  ] as const) {
    const { dir } = await writeRegionTable(4, at);
    writeFileSync(join(dir, '_delta_log/00000000000000000004.checkpoint.parquet'), 'PAR1 not really');
    await uploadTable(s3.endpoint, name, 't/', dir);
  }
  proxy = await startAuthzProxy(
    s3,
    {
      logView: 'filtered',
      tableMapping: { older: 's3://older/t', only: 's3://only/t', direct: 's3://direct/t' },
      grants: [
        { principal: 'eu', table: 'older', partitions: [{ region: 'EU' }] },
        { principal: 'eu', table: 'only', partitions: [{ region: 'EU' }] },
        { principal: 'eu', table: 'direct', partitions: [{ region: 'EU' }] },
      ],
    },
    ['eu'],
  );
});

afterAll(async () => {
  await proxy?.stop();
  await s3?.stop();
});

describe('a broken checkpoint met first by a listing', () => {
  it('the first listing of _delta_log/ succeeds and hides it', async () => {
    const pages = await listAllPages(proxy.url, 'eu', 2, { prefix: 'older/_delta_log/' });
    expect(pages.map((p) => p.status)).toEqual(pages.map(() => 200));
    expect(pages.flatMap((p) => p.keys).filter((k) => k.includes('checkpoint'))).toEqual([
      'older/_delta_log/00000000000000000002.checkpoint.parquet',
      'older/_delta_log/_last_checkpoint',
    ]);
  });

  it('with no other checkpoint: no _last_checkpoint (404), and the listing shows neither', async () => {
    const hint = await objectRequest(proxy.url, 'GET', 'only/_delta_log/_last_checkpoint', 'eu');
    expect([hint.status, /<Code>(\w+)</.exec(hint.text)?.[1]]).toEqual([404, 'NoSuchKey']);
    const pages = await listAllPages(proxy.url, 'eu', 2, { prefix: 'only/_delta_log/' });
    expect(pages.map((p) => p.status)).toEqual(pages.map(() => 200));
    expect(pages.flatMap((p) => p.keys).filter((k) => k.includes('checkpoint'))).toEqual([]);
  });

  it('a GET of it before anything else is 404 NoSuchKey, as after it was found broken', async () => {
    const key = 'direct/_delta_log/00000000000000000004.checkpoint.parquet';
    for (let i = 0; i < 2; i++) {
      const r = await objectRequest(proxy.url, 'GET', key, 'eu');
      expect([r.status, /<Code>(\w+)</.exec(r.text)?.[1]]).toEqual([404, 'NoSuchKey']);
    }
  });
});
