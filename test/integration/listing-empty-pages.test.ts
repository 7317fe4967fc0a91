/**
 * S3 may answer a listing page with no key at all and IsTruncated (a run of delete markers in a
 * versioned bucket, e.g. after VACUUM). A run of such pages longer than the proxy's page budget
 * must not make the client's listing start over from the same place forever.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { listAllPages } from '../helpers/authz-harness';
import { type EmptyRunLake, READER, startEmptyRunLake } from '../helpers/empty-run-lake';

let lake: EmptyRunLake;
beforeAll(async () => {
  lake = await startEmptyRunLake('empty-pages-lake', 60);
}, 60_000);
afterAll(() => lake?.stop());

it.each([1, 2] as const)(
  'v%i: a run of empty truncated backend pages longer than the budget ends',
  async (v) => {
    const pages = await listAllPages(lake.proxy.url, READER, v, { prefix: 'sales/region=' }, 'datalake', 20);
    expect(pages.flatMap((p) => p.keys).map((k) => k.slice(0, 'sales/region=EU'.length))).toEqual([
      'sales/region=EU',
      'sales/region=ZZ',
    ]);
  },
  60_000,
);
