/**
 * Filtered listings are still S3 listings. moto holds, in a "reference" bucket, exactly what the
 * caller may see (its readable files and `_delta_log/` under each granted alias); the proxy's
 * backend holds the whole tables. The same request, paged the same way, must give the same
 * pages from both (normalization as in s3-conformance.test.ts, whose notes on moto's quirks apply).
 * Also: the root shows only granted tables, and a table without grant answers exactly like an
 * alias that does not exist. Skips where moto is absent.
 *
 * One suite, two tiers: `npm test` (test/integration/authz-listing.test.ts) runs half the max-keys
 * 1000 points (see isCore) and every single request; `npm run test:full` (test/full/) runs the
 * rest: the other half, max-keys 1, 2 and 3 with and without encoding-type=url (the paged
 * points), and a table with more than a backend page of forbidden files between readable ones.
 */

import { readFileSync } from 'node:fs';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectedListed } from './authz-caller-audit';
import { type AuthzProxy, keyFor, startAuthzProxy, unsignedFetch } from './authz-harness';
import { region, writeWideTable } from './authz-listing-fixtures';
import type { GrantMap } from './authz-partition-match';
import { readTableFacts } from './authz-table-facts';
import { corpusTable } from './delta-corpus';
import { writeSpecialTable } from './fixture-tables';
import { entriesOf, type ListingPage, listingPages, listingParser } from './listing-compare';
import {
  backendClient,
  createBucket,
  motoUnavailableReason,
  type S3Server,
  startMoto,
  uploadDir,
} from './s3-servers';
import { encodeKeyPath, encodeQuery, type RawResponse, signedFetch } from './signed-fetch';
import { withReason } from './skips';

const { dir: DAT, missing: datMissing } = corpusTable('dat-multi_partitioned');

const CALLER = 'analyst';

const parser = listingParser;

/** Every normalized page of a listing through a proxy. */
const pages = (url: string, params: Record<string, string | undefined>, v: 1 | 2) =>
  listingPages(url, 'datalake', params, v, { credentials: keyFor(CALLER), echoesRaw: false });

/** moto's pages for the reference bucket, asked once per distinct listing (v1 is held to v2's). */
function referenceOf(moto: () => S3Server, bucket: string) {
  const seen = new Map<string, Promise<ListingPage[]>>();
  return (params: Record<string, string | undefined>): Promise<ListingPage[]> => {
    const key = JSON.stringify(params);
    let p = seen.get(key);
    if (!p) {
      p = listingPages(moto().endpoint, bucket, params, 2, { credentials: keyFor(CALLER), echoesRaw: true });
      seen.set(key, p);
    }
    return p;
  };
}

type Case = [
  prefix: string,
  delimiter: string | undefined,
  maxKeys: string,
  start: string | undefined,
  url: boolean,
];

/** A listing case pages through moto and the proxy; concurrent cases share the worker: a bound, not a check. */
const LISTING_BOUND = { timeout: 120_000 };

/**
 * The points `npm test` runs: max-keys 1000, with `encoding-type=url` where start-after is set and
 * without where it is not. `npm run test:full` runs the rest (the other half at max-keys 1000, and
 * max-keys 1, 2 and 3: the paged ones; listing-tokens and filtered-log-listing-pages page filtered
 * listings in `npm test`).
 */
const isCore = (c: readonly unknown[]) => c[2] === '1000' && (c[3] !== undefined) === c[4];

interface Fixture {
  alias: string;
  dir: string;
  uri: string;
  /** The caller's maps; undefined = no grant (the table must look absent). */
  maps: GrantMap[] | undefined;
}

/** Uploads each table whole to the proxy's backend and its visible part to the reference bucket. */
async function stage(moto: S3Server, fixtures: Fixture[], ref: string): Promise<Map<string, string[]>> {
  const client = backendClient(moto.endpoint);
  const visibleByAlias = new Map<string, string[]>();
  for (const f of fixtures) {
    const m = /^s3:\/\/([^/]+)\/(.*)$/.exec(f.uri)!;
    await uploadDir(client, m[1]!, `${m[2]}/`, f.dir);
    const visible = expectedListed(await readTableFacts(f.dir, f.alias), f.maps);
    if (!visible) continue;
    visibleByAlias.set(f.alias, [...visible]);
    for (const rel of visible) {
      await client.send(
        new PutObjectCommand({
          Bucket: ref,
          Key: `${f.alias}/${rel}`,
          Body: readFileSync(`${f.dir}/${rel}`),
        }),
      );
    }
  }
  client.destroy();
  return visibleByAlias;
}

export function authzListingSuite(tier: 'core' | 'full'): void {
  const reason = motoUnavailableReason();
  const inTier = (c: readonly unknown[]) => isCore(c) === (tier === 'core');
  // One moto for the file: each describe stages its tables in its own buckets.
  let moto: S3Server;
  beforeAll(async () => {
    if (!reason) moto = await startMoto();
  });
  afterAll(async () => {
    await moto?.stop();
  });

  describe.skipIf(reason !== undefined)(
    withReason('filtered listings page like S3 (proxy vs moto reference)', reason),
    () => {
      let proxy: AuthzProxy;
      let visible: Map<string, string[]>;
      let fixtures: Fixture[];
      const reference = referenceOf(() => moto, 'ref');

      beforeAll(async () => {
        const client = backendClient(moto.endpoint);
        for (const b of ['ref', 'lake']) await createBucket(client, b);
        client.destroy();
        fixtures = [
          {
            alias: 'wide',
            dir: await writeWideTable(),
            uri: 's3://lake/w/wide',
            // Two of fifty regions, one of them only through a second column; r40 has no file left.
            maps: [{ region: region(7) }, { region: region(31), day: '2024-01-01' }, { region: region(40) }],
          },
          {
            alias: 'special',
            dir: await writeSpecialTable(),
            uri: 's3://lake/w/special',
            maps: [{ region: 'a/b c' }, { region: '50%', date: '2024-01-02' }, { region: '😈' }],
          },
          {
            alias: 'secret',
            dir: await writeSpecialTable(['EU'], ['2024-05-01']),
            uri: 's3://lake/s/secret',
            maps: undefined,
          },
          ...(datMissing
            ? []
            : [
                {
                  alias: 'dat',
                  dir: DAT,
                  uri: 's3://lake/c/dat',
                  maps: [{ letter: 'b' }, { letter: null }] as GrantMap[],
                },
              ]),
        ];
        visible = await stage(moto, fixtures, 'ref');
        proxy = await startAuthzProxy(
          moto,
          {
            tableMapping: Object.fromEntries(fixtures.map((f) => [f.alias, f.uri])),
            grants: fixtures
              .filter((f) => f.maps)
              .map((f) => ({ principal: CALLER, table: f.alias, partitions: f.maps! })),
          },
          [CALLER],
        );
      });
      afterAll(async () => {
        await proxy?.stop();
      });

      if (tier === 'core')
        it('the fixtures hide something in every granted table and show something too', () => {
          for (const f of fixtures.filter((x) => x.maps)) {
            const shown = visible.get(f.alias)!.filter((k) => !k.startsWith('_delta_log/'));
            expect(shown.length, f.alias).toBeGreaterThan(0);
          }
          const wide = visible.get('wide')!.filter((k) => !k.startsWith('_delta_log/'));
          // r07 and r31 keep one file each; r40 lost both; 47 regions are forbidden.
          expect(wide.map((k) => k.split('/')[0]).sort()).toEqual([
            `region=${region(7)}`,
            `region=${region(31)}`,
          ]);
        });

      const prefixes = [
        '',
        'wide/',
        'wide/region=',
        'wide/region=r0',
        'wide/region=r07/',
        'wide/region=r07/day=2024-01-01/',
        'wide/region=r40/',
        'wide/_delta_log/',
        'special/',
        'special/region=',
        'dat/',
        'w',
      ];
      const delimiters = [undefined, '/', '='];
      const maxKeys = ['1', '2', '3', '1000'];
      const starts: Record<string, string> = {
        '': 'special/',
        'wide/': 'wide/region=r20/',
        'wide/region=': 'wide/region=r07/day=2024-01-01/zzz',
        'wide/region=r0': 'wide/region=r05',
        'wide/region=r07/': 'wide/region=r07/day=2024-01-01/.part',
        'wide/region=r07/day=2024-01-01/': 'wide/region=r07/day=2024-01-01/part-00000',
        'wide/region=r40/': 'wide/region=r40/day=',
        'wide/_delta_log/': 'wide/_delta_log/00000000000000000000.json',
        'special/': 'special/region=a',
        'special/region=': 'special/region=a%2Fb c/date=2024-01-01/',
        'dat/': 'dat/letter=a/',
        w: 'wide/region=r31/',
      };
      const cases: Case[] = [];
      prefixes.forEach((p) => {
        delimiters.forEach((d) => {
          maxKeys.forEach((m) => {
            for (const s of [undefined, starts[p]])
              for (const e of [false, true]) cases.push([p, d, m, s, e]);
          });
        });
      });
      const listings = cases.filter(inTier);
      // The dat/ cases need a table of the corpus: without it they are registered as skipped.
      const onDat = (c: Case) => c[0].startsWith('dat/');
      const groups: [Case[], typeof it.concurrent, string | undefined][] = [
        [listings.filter((c) => !onDat(c)), it.concurrent, undefined],
        [listings.filter(onDat), datMissing ? it.skip : it.concurrent, datMissing],
      ];

      for (const [group, run, why] of groups) {
        run.for(group)(
          withReason(
            'ListObjectsV2 prefix=%j delimiter=%j max-keys=%s start-after=%j url=%s pages like S3',
            why,
          ),
          LISTING_BOUND,
          async ([p, d, m, s, e], { expect }) => {
            const params = {
              prefix: p || undefined,
              delimiter: d,
              'max-keys': m,
              'start-after': s,
              'encoding-type': e ? 'url' : undefined,
            };
            expect(await pages(proxy.url, params, 2)).toEqual(await reference(params));
          },
        );

        // moto's v1 paging is not S3's: v1 pages are held to S3's own rule, v1 pages = v2 pages.
        run.for(group.filter((c) => c[2] !== '1000'))(
          withReason('ListObjects v1 prefix=%j delimiter=%j max-keys=%s marker=%j url=%s pages like S3', why),
          LISTING_BOUND,
          async ([p, d, m, s, e], { expect }) => {
            const common = {
              prefix: p || undefined,
              delimiter: d,
              'max-keys': m,
              'encoding-type': e ? 'url' : undefined,
            };
            const ours = await pages(proxy.url, { ...common, marker: s }, 1);
            const ref = await reference({ ...common, 'start-after': s });
            expect(ours.map(entriesOf)).toEqual(ref.map(entriesOf));
          },
        );
      }

      // Single requests: in the core tier only.
      if (tier === 'full') return;

      it('the root lists only the tables the caller holds a grant on', async () => {
        const root = await pages(proxy.url, { delimiter: '/' }, 2);
        expect(root.flatMap((p) => entriesOf(p).prefixes)).toEqual(
          fixtures
            .filter((f) => f.maps)
            .map((f) => `${f.alias}/`)
            .sort(),
        );
        const all = await pages(proxy.url, {}, 2);
        expect(all.flatMap((p) => entriesOf(p).keys).filter((k) => k.startsWith('secret'))).toEqual([]);
      });

      it('anonymous callers get nothing from allowedPartitions, signed callers do', async () => {
        const open = await startAuthzProxy(
          moto,
          {
            tableMapping: Object.fromEntries(fixtures.map((f) => [f.alias, f.uri])),
            allowedPartitions: { wide: [{}] },
          },
          [CALLER],
          { allowAnonymous: true },
        );
        try {
          const file = `wide/${visible.get('wide')!.find((k) => k.startsWith('region='))!}`;
          const anonymous = await unsignedFetch(open.url, 'GET', `/datalake/${encodeKeyPath(file)}`);
          expect([anonymous.status, /<Code>([^<]*)</.exec(anonymous.text)?.[1]]).toEqual([404, 'NoSuchKey']);
          const anonymousRoot = await unsignedFetch(
            open.url,
            'GET',
            `/datalake?${encodeQuery({ 'list-type': '2' })}`,
          );
          expect(anonymousRoot.status).toBe(200);
          expect(anonymousRoot.text).not.toContain('<Key>');
          const signed = await signedFetch(
            open.url,
            'GET',
            `/datalake/${encodeKeyPath(file)}`,
            '',
            {},
            keyFor(CALLER),
          );
          expect(signed.status).toBe(200);
        } finally {
          await open.stop();
        }
      });

      /** Everything a client can observe of an answer, with the alias written as ALIAS. */
      function observable(r: RawResponse, alias: string) {
        const doc = r.text ? (parser.parse(r.text) as Record<string, Record<string, unknown>>) : {};
        const rootName = Object.keys(doc).find((k) => k !== '?xml');
        const body = rootName ? doc[rootName]! : {};
        const fields = Object.fromEntries(
          Object.entries(body)
            .filter(([k]) => k !== 'RequestId' && k !== 'HostId')
            .map(([k, v]) => [k, JSON.stringify(v).split(alias).join('ALIAS')]),
        );
        const headers = Object.keys(r.headers)
          .filter(
            (h) =>
              ![
                'date',
                'x-amz-request-id',
                'x-amz-id-2',
                'content-length',
                'connection',
                'keep-alive',
              ].includes(h),
          )
          .sort()
          .map((h) => `${h}: ${h === 'content-type' ? r.headers[h] : '*'}`);
        return { status: r.status, root: rootName, fields, headers, empty: r.body.length === 0 };
      }

      it.each([
        ['GET of a data file', 'GET', 'region=EU/date=2024-05-01/'],
        ['HEAD of a data file', 'HEAD', 'region=EU/date=2024-05-01/'],
        ['GET of the first commit', 'GET', '_delta_log/00000000000000000000.json'],
        ['HEAD of the first commit', 'HEAD', '_delta_log/00000000000000000000.json'],
        ['GET of _last_checkpoint', 'GET', '_delta_log/_last_checkpoint'],
        ['GET of the bare folder', 'GET', ''],
        ['HEAD of a folder', 'HEAD', '_delta_log/'],
        ['GET of a key that does not exist', 'GET', 'nope.parquet'],
      ])('a table without grant answers like a missing alias: %s', async (_name, method, rel) => {
        const secret = fixtures.find((f) => f.alias === 'secret')!;
        const facts = await readTableFacts(secret.dir);
        // A data-file probe names a real file of the forbidden table.
        const realRel =
          rel.endsWith('/') && rel.startsWith('region=')
            ? facts.objects.find((o) => o.startsWith(rel))!
            : rel;
        const ask = (alias: string) =>
          signedFetch(
            proxy.url,
            method,
            `/datalake/${encodeKeyPath(realRel ? `${alias}/${realRel}` : alias)}`,
            '',
            {},
            keyFor(CALLER),
          );
        const [hidden, absent] = await Promise.all([ask('secret'), ask('nosuch')]);
        expect(hidden.status).toBe(404);
        expect(observable(hidden, 'secret')).toEqual(observable(absent, 'nosuch'));
      });

      it.each([
        [2, { prefix: 'ALIAS/' }],
        [2, { prefix: 'ALIAS/', delimiter: '/', 'max-keys': '1' }],
        [2, { prefix: 'ALIAS/_delta_log/', 'encoding-type': 'url' }],
        [2, { prefix: 'ALIAS', delimiter: '/' }],
        [1, { prefix: 'ALIAS/', delimiter: '/' }],
        [1, { prefix: 'ALIAS/region=EU/', marker: 'ALIAS/region=' }],
      ] as [1 | 2, Record<string, string>][])(
        'a table without grant lists like a missing alias: v%s %j',
        async (v, params) => {
          const withAlias = (alias: string) =>
            Object.fromEntries(Object.entries(params).map(([k, x]) => [k, x.split('ALIAS').join(alias)]));
          const hidden = await pages(proxy.url, withAlias('secret'), v);
          const absent = await pages(proxy.url, withAlias('nosuch'), v);
          const mask = (ps: Record<string, unknown>[], alias: string) =>
            JSON.parse(JSON.stringify(ps).split(alias).join('ALIAS'));
          expect(mask(hidden, 'secret')).toEqual(mask(absent, 'nosuch'));
          expect(hidden.every((p) => !p.Contents && !p.CommonPrefixes)).toBe(true);
        },
      );
    },
  );

  // In test:full only (npm test pages past hidden keys in listing-tokens): staging 1,200 files in
  // moto and paging through them is a fifth of this file's time.
  if (tier === 'full')
    describe.skipIf(reason !== undefined)(
      withReason('filtered listings skip more than a backend page of forbidden files', reason),
      () => {
        let proxy: AuthzProxy;
        const regions = 600;
        const reference = referenceOf(() => moto, 'ref2');

        beforeAll(async () => {
          const client = backendClient(moto.endpoint);
          for (const b of ['ref2', 'lake2']) await createBucket(client, b);
          client.destroy();
          // 1,200 data files; the caller may read the first, a middle and the last region only, so
          // between two readable files lie ~600 forbidden ones (more than one 1,000-key backend page
          // from the start to the end).
          const maps: GrantMap[] = [
            { region: region(0, 3) },
            { region: region(300, 3) },
            { region: region(599, 3) },
          ];
          const fixture = {
            alias: 'crowded',
            dir: await writeWideTable(regions, 2, 3),
            uri: 's3://lake2/crowded',
            maps,
          };
          await stage(moto, [fixture], 'ref2');
          proxy = await startAuthzProxy(
            moto,
            {
              tableMapping: { crowded: fixture.uri },
              grants: [{ principal: CALLER, table: 'crowded', partitions: maps }],
            },
            [CALLER],
          );
        }, 120_000);
        afterAll(async () => {
          await proxy?.stop();
        });

        const cases: [string, string | undefined, string, string | undefined][] = [];
        for (const p of ['crowded/', 'crowded/region='])
          for (const d of [undefined, '/'])
            for (const m of ['1', '2', '1000'])
              for (const s of [undefined, 'crowded/region=r100/']) cases.push([p, d, m, s]);

        // One at a time: each of these pages through 1,200 backend keys.
        it.for(cases)(
          'ListObjectsV2 prefix=%j delimiter=%j max-keys=%s start-after=%j pages like S3',
          LISTING_BOUND,
          async ([p, d, m, s], { expect }) => {
            const params = { prefix: p, delimiter: d, 'max-keys': m, 'start-after': s };
            const ours = await pages(proxy.url, params, 2);
            expect(ours).toEqual(await reference(params));
            // No page that is empty yet says more follow (a client would loop on such pages).
            for (const page of ours) if (page.IsTruncated === 'true') expect(page.KeyCount).toBe(m);
          },
        );

        it.for(cases.filter((c) => c[2] !== '1000'))(
          'ListObjects v1 prefix=%j delimiter=%j max-keys=%s marker=%j pages like S3',
          LISTING_BOUND,
          async ([p, d, m, s], { expect }) => {
            const ours = await pages(proxy.url, { prefix: p, delimiter: d, 'max-keys': m, marker: s }, 1);
            const ref = await reference({ prefix: p, delimiter: d, 'max-keys': m, 'start-after': s });
            expect(ours.map(entriesOf)).toEqual(ref.map(entriesOf));
          },
        );
      },
    );
}
