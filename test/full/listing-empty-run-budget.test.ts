/**
 * S3 may answer listing pages with no key and IsTruncated (a run of delete markers). One client
 * request must still read at most the listing's page budget (50 backend pages), however long the
 * run: it hands the client a token that resumes where it stopped, and the v1 and v2 paginators
 * still reach every visible key and end.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { keyFor, parseListPage } from '../helpers/authz-harness';
import { type EmptyRunLake, isRegionListing, READER, startEmptyRunLake } from '../helpers/empty-run-lake';
import { signedFetch } from '../helpers/signed-fetch';

let lake: EmptyRunLake;
beforeAll(async () => {
  lake = await startEmptyRunLake('empty-run-lake', 180);
}, 120_000);
afterAll(() => lake?.stop());

/** Pages through as the SDK paginators do; per client request, the backend listing pages it read. */
async function paginate(version: 1 | 2, delimiter?: string) {
  const keys: string[] = [];
  const backendPages: number[] = [];
  let token: string | undefined;
  let marker: string | undefined;
  for (let i = 0; i < 40; i++) {
    const q = new URLSearchParams({ prefix: 'sales/region=' });
    if (delimiter) q.set('delimiter', delimiter);
    if (version === 2) {
      q.set('list-type', '2');
      if (token) q.set('continuation-token', token);
    } else if (marker !== undefined) q.set('marker', marker);
    const before = lake.front.seen.filter(isRegionListing).length;
    const r = await signedFetch(lake.proxy.url, 'GET', '/datalake', q.toString(), {}, keyFor(READER));
    backendPages.push(lake.front.seen.filter(isRegionListing).length - before);
    expect(r.status).toBe(200);
    const page = parseListPage(r, false);
    keys.push(...page.keys, ...page.prefixes);
    if (!page.truncated) return { keys, backendPages };
    if (version === 2) token = /<NextContinuationToken>([^<]*)<\/NextContinuationToken>/.exec(r.text)?.[1];
    else marker = page.nextMarker ?? page.keys.at(-1);
    expect(version === 2 ? token : marker).toBeDefined();
  }
  throw new Error(`listing did not end: ${backendPages.length} requests`);
}

it.each([
  [2, undefined],
  [1, undefined],
  [2, '/'],
  [1, '/'],
] as const)(
  'v%i (delimiter %s): a run of key-less pages costs each request at most the page budget, and the listing ends',
  async (v, delimiter) => {
    const { keys, backendPages } = await paginate(v, delimiter);
    expect(keys.map((k) => k.slice(0, 'sales/region=EU'.length))).toEqual([
      'sales/region=EU',
      'sales/region=ZZ',
    ]);
    expect(Math.max(...backendPages)).toBeLessThanOrEqual(50);
  },
  120_000,
);
