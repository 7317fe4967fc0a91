/**
 * The filtered `_delta_log` view keeps its generated files in what the snapshot cache leaves of
 * `snapshotCacheBytes`, and reads that budget on every lookup, once per key of a `_delta_log/`
 * listing. Reading it must not walk what is cached: it summed every table's snapshot, and each
 * snapshot's meters walked its allowed sets (up to 1,024, one per caller), so a listing's CPU grew
 * with tables × callers cached, not with what it returned. Counted here: the sizes of cached sets
 * read while one caller lists the log (none: the total is kept as sets are added, grow and go).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AllowedSet } from '../../lambda/access/allowed-set';
import { type AuthzProxy, listAllPages, objectRequest, startAuthzProxy } from '../helpers/authz-harness';
import { uploadTable, writeRegionTable } from '../helpers/fixture-tables';
import { type S3Server, startS3rver } from '../helpers/s3-servers';

const CALLERS = 64;
const COMMITS = 20;
const callers = Array.from({ length: CALLERS }, (_, i) => `caller-${i}`);

let s3: S3Server;
let proxy: AuthzProxy;
let euFile = '';
beforeAll(async () => {
  const { dir, adds } = await writeRegionTable(COMMITS, []);
  euFile = adds[0]!.path;
  s3 = await startS3rver();
  await uploadTable(s3.endpoint, 'lake', 't/', dir);
  proxy = await startAuthzProxy(
    s3,
    {
      logView: 'filtered',
      tableMapping: { t: 's3://lake/t' },
      grants: callers.map((principal) => ({ principal, table: 't', partitions: [{ region: 'EU' }] })),
      snapshotTtlMs: 600_000,
    },
    callers,
  );
}, 120_000);
afterAll(async () => {
  vi.restoreAllMocks();
  await proxy?.stop();
  await s3?.stop();
});

describe('reading the generated files’ budget', () => {
  it('does not walk the allowed sets of every caller cached', async () => {
    // Every caller's allowed set on the table is built and cached.
    for (const c of callers)
      expect((await objectRequest(proxy.url, 'HEAD', `t/${euFile}`, c)).status).toBe(200);
    const sizes = vi.spyOn(AllowedSet.prototype, 'residentBytes', 'get');
    const pages = await listAllPages(proxy.url, callers[0]!, 2, { prefix: 't/_delta_log/' });
    const keys = pages.flatMap((p) => p.keys);
    expect(keys.filter((k) => k.endsWith('.json'))).toHaveLength(COMMITS + 1);
    expect(sizes).not.toHaveBeenCalled();
  }, 120_000);
});
