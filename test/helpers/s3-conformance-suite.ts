/**
 * The proxy answers like S3 for the same request: every listing and object request below is
 * sent to moto directly (a bucket holding the virtual keys as they are) and to the proxy
 * (whose backend is a second moto bucket with the same objects under table prefixes), and the
 * status, XML elements and client-read headers are compared. Skips where moto is absent.
 *
 * One suite, two tiers: `npm test` (test/integration/s3-conformance.test.ts) runs the max-keys
 * 1000 points without encoding-type through node:http and the max-keys 3 ones with
 * encoding-type=url through the Lambda front end, which shares all of the listing logic; `npm run test:full` (test/full/) runs every
 * other point (max-keys 1 and 2 page the most).
 * (authz-listing does the same: max-keys=3 already pages every listing several times.)
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSpecialTable } from './fixture-tables';
import { TRANSPORTS, type TransportName } from './lambda-transports';
import { entriesOf, type ListingPage, listingPages, listingParser as parser } from './listing-compare';
import { ANALYST, type RunningProxy, startProxy } from './proxy-harness';
import {
  backendClient,
  createBucket,
  motoUnavailableReason,
  type S3Server,
  startMoto,
  uploadDir,
} from './s3-servers';
import { encodeKeyPath, encodeQuery, signedFetch } from './signed-fetch';
import { withReason } from './skips';

type Case = [
  prefix: string,
  delimiter: string | undefined,
  maxKeys: string,
  start: string | undefined,
  url: boolean,
];

/**
 * The points `npm test` runs; `npm run test:full` runs the rest. max-keys 3 pages every listing
 * several times: the Lambda adapter runs it with encoding-type=url; node:http runs max-keys 1000
 * without it.
 */
function isCore(transport: TransportName, c: Case): boolean {
  return transport === 'node:http' ? c[2] === '1000' && !c[4] : c[2] === '3' && c[4];
}

const TABLES = {
  sales: 's3://lake/warehouse/sales',
  'sales-eu': 's3://lake/warehouse/eu',
  zeta: 's3://other/z',
};

const prefixes = ['', 'sales/', 'sales/region=', 'sales/region=EU/', 's', 'sales-eu/', 'zz'];
const delimiters = [undefined, '/', '='];
const maxKeys = ['1', '2', '3', '1000'];
const starts = [
  undefined,
  'sales/region=EU/',
  'sales/region=EU/date=2024-01-02/',
  'sales/_delta_log/00000000000000000001.json',
];
const cases: Case[] = [];
for (const p of prefixes)
  for (const d of delimiters)
    for (const m of maxKeys)
      for (const s of starts)
        for (const e of [false, true])
          if (!(s && (p === 'zz' || p === 'sales-eu/' || p === 's'))) cases.push([p, d, m, s, e]);

export function s3ConformanceSuite(tier: 'core' | 'full'): void {
  const reason = motoUnavailableReason();
  const inTier = (transport: TransportName, c: Case) => isCore(transport, c) === (tier === 'core');
  let moto: S3Server;
  let keys: string[] = [];
  /** moto's answer to one listing: the same for both front ends and for v1 held to v2. */
  const reference = new Map<string, Promise<ListingPage[]>>();
  const referencePages = (params: Record<string, string | undefined>) => {
    const key = JSON.stringify(params);
    let pages = reference.get(key);
    if (!pages) {
      pages = listingPages(moto.endpoint, 'ref', params, 2, {
        credentials: { ...ANALYST },
        echoesRaw: true,
        maxPages: 40,
      });
      reference.set(key, pages);
    }
    return pages;
  };

  describe.skipIf(reason !== undefined)(withReason('S3 conformance', reason), () => {
    beforeAll(async () => {
      moto = await startMoto();
      const client = backendClient(moto.endpoint);
      for (const b of ['ref', 'lake', 'other']) await createBucket(client, b);
      // Three real Delta tables; the reference bucket holds them under their aliases, the proxy's
      // backend under the mapped prefixes. Every file is active, so a whole-table grant shows all.
      const tables: [string, string, string, string][] = [
        ['sales', await writeSpecialTable(), 'lake', 'warehouse/sales/'],
        ['sales-eu', await writeSpecialTable(['EU'], ['2024-02-01']), 'lake', 'warehouse/eu/'],
        ['zeta', await writeSpecialTable(['Z'], ['2024-03-01']), 'other', 'z/'],
      ];
      for (const [alias, dir, bucket, prefix] of tables) {
        keys.push(...(await uploadDir(client, 'ref', `${alias}/`, dir)));
        await uploadDir(client, bucket, prefix, dir);
      }
      keys = keys.sort();
      // A key outside every mapped prefix must never show up.
      await client.send(
        new PutObjectCommand({ Bucket: 'lake', Key: 'warehouse/salesX/leak.parquet', Body: 'no' }),
      );
      client.destroy();
    });
    afterAll(async () => {
      await moto?.stop();
    });

    // Once per front end: node:http and the Lambda adapter behind a Function URL must answer alike.
    const transports = TRANSPORTS.filter(([t]) => tier === 'core' || cases.some((c) => inTier(t, c)));
    describe.each(transports)('via %s: proxy vs moto', (transport, serve) => {
      let proxy: RunningProxy;
      beforeAll(async () => {
        const grants = Object.keys(TABLES).map((table) => ({
          principal: ANALYST.principal,
          table,
          partitions: [{}],
        }));
        proxy = await startProxy(moto, { tableMapping: TABLES, grants }, serve);
      });
      afterAll(async () => {
        await proxy?.stop();
      });

      /** Every normalized page of a listing through the proxy. */
      const proxyPages = (params: Record<string, string | undefined>, v: 1 | 2) =>
        listingPages(proxy.url, 'datalake', params, v, {
          credentials: { ...ANALYST },
          echoesRaw: false,
          maxPages: 40,
        });

      const listings = cases.filter((c) => inTier(transport, c));

      it.concurrent.for(listings)(
        'ListObjectsV2 prefix=%j delimiter=%j max-keys=%s start-after=%j url=%s pages like S3',
        { timeout: 120_000 },
        async ([p, d, m, s, e], { expect }) => {
          const params = {
            prefix: p || undefined,
            delimiter: d,
            'max-keys': m,
            'start-after': s,
            'encoding-type': e ? 'url' : undefined,
          };
          expect(await proxyPages(params, 2)).toEqual(await referencePages(params));
        },
      );

      // moto's v1 paging is not S3's (it repeats common prefixes on every page and hands out a
      // token as NextMarker), so v1 is held to S3's own rule: v1 pages equal v2 pages.
      it.concurrent.for(listings.filter((c) => c[2] !== '1000'))(
        'ListObjects v1 prefix=%j delimiter=%j max-keys=%s marker=%j url=%s pages like S3',
        { timeout: 120_000 },
        async ([p, d, m, s, e], { expect }) => {
          const v1 = {
            prefix: p || undefined,
            delimiter: d,
            'max-keys': m,
            marker: s,
            'encoding-type': e ? 'url' : undefined,
          };
          const v2 = {
            prefix: p || undefined,
            delimiter: d,
            'max-keys': m,
            'start-after': s,
            'encoding-type': e ? 'url' : undefined,
          };
          const ours = await proxyPages(v1, 1);
          expect(ours.map(entriesOf)).toEqual((await referencePages(v2)).map(entriesOf));
          for (const page of ours as Record<string, unknown>[]) {
            expect(page.MaxKeys).toBe(m);
            for (const c of (page.Contents as { hasOwner: boolean }[] | undefined) ?? [])
              expect(c.hasOwner).toBe(true);
            if (page.IsTruncated === 'true' && d) expect(page.NextMarker).toBe('present');
          }
        },
      );

      // Object requests and errors: each runs once per front end, in the core tier.
      if (tier === 'full') return;
      const headerCases: [string, Record<string, string>][] = [
        ['plain', {}],
        ['range start-end', { range: 'bytes=0-4' }],
        ['range open end', { range: 'bytes=5-' }],
        ['suffix range', { range: 'bytes=-3' }],
        ['range past the end', { range: 'bytes=5000-6000' }],
        ['range end past size', { range: 'bytes=10-5000' }],
        ['inverted range (ignored)', { range: 'bytes=9-3' }],
        ['if-none-match hit', { 'if-none-match': '"ETAG"' }],
        ['if-none-match miss', { 'if-none-match': '"nope"' }],
        ['if-match miss', { 'if-match': '"nope"' }],
        ['if-match hit', { 'if-match': '"ETAG"' }],
        [
          'if-modified-since future',
          { 'if-modified-since': new Date(Date.now() + 86_400_000).toUTCString() },
        ],
        ['if-modified-since past', { 'if-modified-since': 'Mon, 01 Jan 2001 00:00:00 GMT' }],
        ['if-unmodified-since past', { 'if-unmodified-since': 'Mon, 01 Jan 2001 00:00:00 GMT' }],
      ];
      const READ_HEADERS = ['content-length', 'content-range', 'etag', 'accept-ranges', 'content-type'];

      for (const method of ['GET', 'HEAD'] as const) {
        it.each(headerCases)(`${method} object with %s answers like S3`, async (_name, hdrs) => {
          const objectKey = keys.find((k) => k.includes('ü'))!;
          const head = await signedFetch(moto.endpoint, 'HEAD', `/ref/${encodeKeyPath(objectKey)}`);
          const h = Object.fromEntries(
            Object.entries(hdrs).map(([k, v]) => [k, v.replace('"ETAG"', head.headers.etag!)]),
          );
          const [a, b] = await Promise.all([
            signedFetch(proxy.url, method, `/datalake/${encodeKeyPath(objectKey)}`, '', h, ANALYST),
            signedFetch(moto.endpoint, method, `/ref/${encodeKeyPath(objectKey)}`, '', h),
          ]);
          expect(a.status).toBe(b.status);
          for (const name of READ_HEADERS)
            if (b.status < 300 || (b.status === 304 && name === 'etag'))
              expect([name, a.headers[name]]).toEqual([name, b.headers[name]]);
          if (b.status < 300) expect(a.body.equals(b.body)).toBe(true);
          else if (method === 'GET' && b.status !== 304)
            expect(parser.parse(a.text).Error.Code).toBe(parser.parse(b.text).Error.Code);
          expect(a.headers['x-amz-request-id']).toMatch(/^[0-9A-F]{16}$/);
        });
      }

      it.each([
        ['missing key', 'GET', '/datalake/sales/nope.parquet', '/ref/sales/nope.parquet'],
        ['missing key (HEAD)', 'HEAD', '/datalake/sales/nope.parquet', '/ref/sales/nope.parquet'],
        ['unknown bucket', 'GET', '/nobucket/x', '/nobucket/x'],
        ['unknown bucket listing', 'GET', '/nobucket', '/nobucket'],
      ])('%s answers like S3', async (_n, method, proxyPath, motoPath) => {
        const [a, b] = await Promise.all([
          signedFetch(proxy.url, method, proxyPath, '', {}, ANALYST),
          signedFetch(moto.endpoint, method, motoPath),
        ]);
        expect(a.status).toBe(b.status);
        if (method === 'GET') expect(parser.parse(a.text).Error.Code).toBe(parser.parse(b.text).Error.Code);
        else expect(a.body.length).toBe(0);
      });

      it('never lists a key outside the mapped prefix', async () => {
        const r = await signedFetch(
          proxy.url,
          'GET',
          '/datalake',
          encodeQuery({ 'list-type': '2' }),
          {},
          ANALYST,
        );
        expect(r.text).not.toContain('leak');
        expect(r.text).not.toContain('warehouse');
      });
    });
  });
}
