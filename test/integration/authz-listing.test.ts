/**
 * Filtered listings are still S3 listings. moto holds, in a "reference" bucket, exactly what the
 * caller may see (its readable files and `_delta_log/` under each granted alias); the proxy's
 * backend holds the whole tables. The same request, paged the same way, must give the same
 * pages from both (normalization as in s3-conformance.test.ts, whose notes on moto's quirks apply).
 * Also: the root shows only granted tables, and a table without grant answers exactly like an
 * alias that does not exist. Skips where moto is absent.
 */

import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectedListed } from '../helpers/authz-caller-audit';
import { type AuthzProxy, keyFor, startAuthzProxy, unsignedFetch } from '../helpers/authz-harness';
import { region, writeWideTable } from '../helpers/authz-listing-fixtures';
import type { GrantMap } from '../helpers/authz-partition-match';
import { readTableFacts } from '../helpers/authz-table-facts';
import { writeSpecialTable } from '../helpers/fixture-tables';
import { entriesOf, listingPages, listingParser } from '../helpers/listing-compare';
import {
  backendClient,
  createBucket,
  motoUnavailableReason,
  REPO_ROOT,
  type S3Server,
  startMoto,
  uploadDir,
} from '../helpers/s3-servers';
import { encodeKeyPath, encodeQuery, type RawResponse, signedFetch } from '../helpers/signed-fetch';

const reason = motoUnavailableReason();
if (reason) console.warn(`[skip] authz listings against moto: ${reason}`);
const DAT = resolve(REPO_ROOT, '../shared/delta-tables/dat-multi_partitioned');
const datMissing = existsSync(DAT) ? undefined : `${DAT} is absent`;
if (datMissing) console.warn(`[skip] authz listings: corpus table left out (${datMissing})`);

const CALLER = 'analyst';
let proxyUrl = '';

const parser = listingParser;

/** Every normalized page of a listing on one server (moto echoes request values raw). */
const pages = (
  endpoint: string,
  bucket: string,
  params: Record<string, string | undefined>,
  v: 1 | 2,
  creds = keyFor(CALLER),
  maxPages = 60,
) =>
  listingPages(endpoint, bucket, params, v, {
    credentials: creds,
    echoesRaw: endpoint !== proxyUrl,
    maxPages,
  });

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

describe.skipIf(reason !== undefined)('filtered listings page like S3 (proxy vs moto reference)', () => {
  let moto: S3Server;
  let proxy: AuthzProxy;
  let visible: Map<string, string[]>;
  let fixtures: Fixture[];

  beforeAll(async () => {
    moto = await startMoto();
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
    proxyUrl = proxy.url;
  });
  afterAll(async () => {
    await proxy?.stop();
    await moto?.stop();
  });

  it('the fixtures hide something in every granted table and show something too', () => {
    for (const f of fixtures.filter((x) => x.maps)) {
      const shown = visible.get(f.alias)!.filter((k) => !k.startsWith('_delta_log/'));
      expect(shown.length, f.alias).toBeGreaterThan(0);
    }
    const wide = visible.get('wide')!.filter((k) => !k.startsWith('_delta_log/'));
    // r07 and r31 keep one file each; r40 lost both; 47 regions are forbidden.
    expect(wide.map((k) => k.split('/')[0]).sort()).toEqual([`region=${region(7)}`, `region=${region(31)}`]);
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
  const cases: [string, string | undefined, string, string | undefined, boolean][] = [];
  prefixes.forEach((p) => {
    delimiters.forEach((d) => {
      maxKeys.forEach((m) => {
        for (const s of [undefined, starts[p]]) for (const e of [false, true]) cases.push([p, d, m, s, e]);
      });
    });
  });
  const runnable = (p: string) => !(datMissing && p.startsWith('dat/'));

  it.each(cases.filter((c) => runnable(c[0])))(
    'ListObjectsV2 prefix=%j delimiter=%j max-keys=%s start-after=%j url=%s pages like S3',
    async (p, d, m, s, e) => {
      const params = {
        prefix: p || undefined,
        delimiter: d,
        'max-keys': m,
        'start-after': s,
        'encoding-type': e ? 'url' : undefined,
      };
      expect(await pages(proxy.url, 'datalake', params, 2)).toEqual(
        await pages(moto.endpoint, 'ref', params, 2),
      );
    },
  );

  // moto's v1 paging is not S3's: v1 pages are held to S3's own rule, v1 pages = v2 pages.
  it.each(cases.filter((c) => runnable(c[0]) && c[2] !== '1000'))(
    'ListObjects v1 prefix=%j delimiter=%j max-keys=%s marker=%j url=%s pages like S3',
    async (p, d, m, s, e) => {
      const common = {
        prefix: p || undefined,
        delimiter: d,
        'max-keys': m,
        'encoding-type': e ? 'url' : undefined,
      };
      const ours = await pages(proxy.url, 'datalake', { ...common, marker: s }, 1);
      const ref = await pages(moto.endpoint, 'ref', { ...common, 'start-after': s }, 2);
      expect(ours.map(entriesOf)).toEqual(ref.map(entriesOf));
    },
  );

  it('the root lists only the tables the caller holds a grant on', async () => {
    const root = await pages(proxy.url, 'datalake', { delimiter: '/' }, 2);
    expect(root.flatMap((p) => entriesOf(p).prefixes)).toEqual(
      fixtures
        .filter((f) => f.maps)
        .map((f) => `${f.alias}/`)
        .sort(),
    );
    const all = await pages(proxy.url, 'datalake', {}, 2);
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
          !['date', 'x-amz-request-id', 'x-amz-id-2', 'content-length', 'connection', 'keep-alive'].includes(
            h,
          ),
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
      rel.endsWith('/') && rel.startsWith('region=') ? facts.objects.find((o) => o.startsWith(rel))! : rel;
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
      const hidden = await pages(proxy.url, 'datalake', withAlias('secret'), v);
      const absent = await pages(proxy.url, 'datalake', withAlias('nosuch'), v);
      const mask = (ps: Record<string, unknown>[], alias: string) =>
        JSON.parse(JSON.stringify(ps).split(alias).join('ALIAS'));
      expect(mask(hidden, 'secret')).toEqual(mask(absent, 'nosuch'));
      expect(hidden.every((p) => !p.Contents && !p.CommonPrefixes)).toBe(true);
    },
  );
});

describe.skipIf(reason !== undefined)(
  'filtered listings skip more than a backend page of forbidden files',
  () => {
    let moto: S3Server;
    let proxy: AuthzProxy;
    const regions = 600;

    beforeAll(async () => {
      moto = await startMoto();
      const client = backendClient(moto.endpoint);
      for (const b of ['ref', 'lake']) await createBucket(client, b);
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
        uri: 's3://lake/crowded',
        maps,
      };
      await stage(moto, [fixture], 'ref');
      proxy = await startAuthzProxy(
        moto,
        {
          tableMapping: { crowded: fixture.uri },
          grants: [{ principal: CALLER, table: 'crowded', partitions: maps }],
        },
        [CALLER],
      );
      proxyUrl = proxy.url;
    }, 120_000);
    afterAll(async () => {
      await proxy?.stop();
      await moto?.stop();
    });

    const cases: [string, string | undefined, string, string | undefined][] = [];
    for (const p of ['crowded/', 'crowded/region='])
      for (const d of [undefined, '/'])
        for (const m of ['1', '2', '1000'])
          for (const s of [undefined, 'crowded/region=r100/']) cases.push([p, d, m, s]);

    it.each(cases)(
      'ListObjectsV2 prefix=%j delimiter=%j max-keys=%s start-after=%j pages like S3',
      async (p, d, m, s) => {
        const params = { prefix: p, delimiter: d, 'max-keys': m, 'start-after': s };
        const ours = await pages(proxy.url, 'datalake', params, 2);
        expect(ours).toEqual(await pages(moto.endpoint, 'ref', params, 2));
        // No page that is empty yet says more follow (a client would loop on such pages).
        for (const page of ours) if (page.IsTruncated === 'true') expect(page.KeyCount).toBe(m);
      },
    );

    it.each(cases.filter((c) => c[2] !== '1000'))(
      'ListObjects v1 prefix=%j delimiter=%j max-keys=%s marker=%j pages like S3',
      async (p, d, m, s) => {
        const ours = await pages(
          proxy.url,
          'datalake',
          { prefix: p, delimiter: d, 'max-keys': m, marker: s },
          1,
        );
        const ref = await pages(
          moto.endpoint,
          'ref',
          { prefix: p, delimiter: d, 'max-keys': m, 'start-after': s },
          2,
        );
        expect(ours.map(entriesOf)).toEqual(ref.map(entriesOf));
      },
    );
  },
);
