/**
 * Listings of `datalake` under generated partition grants, in both log views, against moto. The
 * backend holds two partitioned tables: `m` (two partition columns, values with spaces, Unicode,
 * `=`, `%` and `/` escaped as Spark escapes them, a null partition, removed files and orphans, a
 * folder whose every file was removed) and `wide` (authz-listing-fixtures.ts: runs of forbidden
 * folders). For each generated caller (grants per table, or none; `raw` or `filtered` view) a
 * reference bucket in moto holds exactly what the caller may see: its readable data files
 * (computed by authz-table-facts, independently of lambda/) and its `_delta_log/` (raw: the
 * stored log; filtered: the keys the proxy lists, with the bytes it serves). A generated listing
 * (v1 or v2, prefix, delimiter, max-keys, start-after/marker anywhere, encoding-type=url), paged
 * as a client does, must give the reference's entries in order, each once; every listed key GETs
 * 200 with the listed Size and ETag (data files: the backend's bytes); no entry names a key or
 * folder the caller may not see.
 * moto's quirks (listing-compare.ts): v1 is held to moto's v2; keys are compared decoded. The
 * backend may cap its pages at 1-3 keys (S3 may), so page boundaries are compared only with
 * full backend pages; truncated pages otherwise may hold fewer entries (the 50-page budget).
 * The seed is fixed; FUZZ_SEED and FUZZ_RUNS explore, FUZZ_PATH replays a report's path.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeltaTableWriter, directoryTarget } from '../../lambda/local/delta-writer';
import { S3Backend } from '../../lambda/storage/s3-backend';
import type { StorageBackend } from '../../lambda/storage/storage-backend';
import { expectedListed } from '../helpers/authz-caller-audit';
import { grantListArb } from '../helpers/authz-grant-arbitraries';
import { type AuthzProxy, keyFor, objectRequest, startAuthzProxy } from '../helpers/authz-harness';
import { writeWideTable } from '../helpers/authz-listing-fixtures';
import type { GrantMap } from '../helpers/authz-partition-match';
import { byteOrder } from '../helpers/authz-s3-model';
import { readTableFacts, type TableFacts } from '../helpers/authz-table-facts';
import { type ListingPage, listingPages } from '../helpers/listing-compare';
import {
  BACKEND_CREDENTIALS,
  backendClient,
  createBucket,
  motoUnavailableReason,
  type S3Server,
  startMoto,
  uploadDir,
} from '../helpers/s3-servers';
import { withReason } from '../helpers/skips';
import { tempDir } from '../helpers/temp-dir';

const SEED = Number(process.env.FUZZ_SEED ?? 20261207);
const RUNS = Number(process.env.FUZZ_RUNS ?? 30);
const PATH = process.env.FUZZ_PATH;

const CALLER = 'prop';
const reason = motoUnavailableReason();

/** `m`: (region, kind) partitions with hostile values; removes, a re-add, orphans, a checkpoint. */
async function writeMultiTable(): Promise<string> {
  const dir = tempDir('multi-table-');
  const w = new DeltaTableWriter(directoryTarget(dir), {
    schema: [
      { name: 'id', type: 'long' },
      { name: 'region', type: 'string' },
      { name: 'kind', type: 'string' },
    ],
    partitionColumns: ['region', 'kind'],
  });
  await w.create();
  const tuples: [string | null, string | null][] = [
    ['EU', 'x'],
    ['EU', 'y z'],
    ['E', 'x'],
    ['US', 'x'],
    ['US', null],
    ['a/b c', 'x'],
    ['50%', 'y z'],
    ['ü+=x', 'x'],
    ['😈', null],
    ['k=v', 'x'],
    [null, 'x'],
    [null, null],
    ['\uFF21', 'x'],
  ];
  const adds = [];
  let id = 0;
  for (const [region, kind] of tuples)
    for (let n = 0; n < 2; n++)
      adds.push(await w.writeDataFile({ region, kind }, [{ id: id++, region, kind }]));
  await w.commit({ add: adds });
  // Every US file goes (a folder of removed files only); one file each of EU/x and the null partition.
  const gone = adds.filter(
    (a, i) =>
      a.partitionValues.region === 'US' || i === 0 || (a.partitionValues.region === null && i % 2 === 0),
  );
  await w.commit({ remove: gone.map((a) => a.path), operation: 'DELETE' });
  await w.checkpoint();
  await w.commit({ add: [await w.writeDataFile({ region: 'E', kind: 'y z' }, [{ id: id++ }])] });
  const put = (rel: string, text: string) => {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), text);
  };
  put('region=EU/kind=x/orphan.parquet', 'orphan in a granted-looking folder');
  put('region=US/kind=x/late.parquet', 'orphan among removed files');
  put('region=ZZ/kind=x/part-00000.parquet', 'a folder of no partition');
  put('region=EU/notes.txt', 'side file between partition levels');
  put('_delta_log/.00000000000000000001.json.crc', 'crc');
  put('_delta_log/00000000000000000002.json.tmp', 'temporary');
  return dir;
}

interface Table {
  alias: string;
  dir: string;
  facts: TableFacts;
}

interface Caller {
  view: 'raw' | 'filtered';
  /** Per alias: the caller's maps, or undefined (no grant). */
  grants: Record<string, GrantMap[] | undefined>;
}

interface Prepared {
  proxy: AuthzProxy;
  bucket: string;
  /** Every key the caller may list (alias-prefixed). */
  visible: Set<string>;
  /** GET checks done, by key. */
  checked: Set<string>;
}

type Params = Record<string, string | undefined>;

/** A page's entries as a client reads them: keys (with size, ETag) and prefixes, decoded, merged by key. */
function entries(page: ListingPage, decode: boolean) {
  const dec = (s: string) => (decode ? decodeURIComponent(s) : s);
  const keys = ((page.Contents as { Key: string; Size: string; ETag: string }[] | undefined) ?? []).map(
    (c) => ({ key: dec(c.Key), size: c.Size, etag: c.ETag }),
  );
  const prefixes = ((page.CommonPrefixes as { Prefix: string }[] | undefined) ?? []).map((p) => ({
    key: dec(p.Prefix),
  }));
  return [...keys, ...prefixes].sort((a, b) => byteOrder(a.key, b.key)) as {
    key: string;
    size?: string;
    etag?: string;
  }[];
}

describe.skipIf(reason !== undefined)(
  withReason('listings under generated grants equal a moto reference (property)', reason),
  () => {
    let moto: S3Server;
    let tables: Table[];
    /** Every backend object, alias-prefixed. */
    let allKeys: string[];
    let backendPageKeys = 1000;
    let storage: StorageBackend;
    const prepared = new Map<string, Promise<Prepared>>();
    let nextBucket = 0;

    beforeAll(async () => {
      moto = await startMoto();
      const c = backendClient(moto.endpoint);
      await createBucket(c, 'lake');
      tables = [];
      allKeys = [];
      for (const [alias, dir] of [
        ['m', await writeMultiTable()],
        ['wide', await writeWideTable(50, 2)],
      ] as const) {
        await uploadDir(c, 'lake', `t/${alias}/`, dir);
        const facts = await readTableFacts(dir, alias);
        tables.push({ alias, dir, facts });
        allKeys.push(...facts.objects.map((o) => `${alias}/${o}`));
      }
      c.destroy();
      allKeys.sort(byteOrder);
      const real = new S3Backend({
        endpoint: moto.endpoint,
        forcePathStyle: true,
        credentials: BACKEND_CREDENTIALS,
      });
      storage = {
        get: (ref, o) => real.get(ref, o),
        head: (ref, o) => real.head(ref, o),
        list: (q) => real.list({ ...q, maxKeys: Math.min(q.maxKeys, backendPageKeys) }),
        presign: (ref, o) => real.presign(ref, o),
      };
    }, 120_000);

    afterAll(async () => {
      for (const p of prepared.values()) await (await p.catch(() => undefined))?.proxy.stop();
      await moto?.stop();
    });

    /** A proxy for the caller and its reference bucket, made once per distinct caller. */
    function prepare(caller: Caller): Promise<Prepared> {
      const id = JSON.stringify(caller);
      let p = prepared.get(id);
      if (!p) {
        p = (async () => {
          backendPageKeys = 1000;
          const proxy = await startAuthzProxy(
            moto,
            {
              logView: caller.view,
              tableMapping: Object.fromEntries(tables.map((t) => [t.alias, `s3://lake/t/${t.alias}`])),
              grants: tables
                .filter((t) => caller.grants[t.alias])
                .map((t) => ({ principal: CALLER, table: t.alias, partitions: caller.grants[t.alias]! })),
            },
            [CALLER],
            { storage },
          );
          const bucket = `ref-${nextBucket++}`;
          const c = backendClient(moto.endpoint);
          await createBucket(c, bucket);
          const visible = new Set<string>();
          for (const t of tables) {
            const listed = expectedListed(t.facts, caller.grants[t.alias]);
            if (!listed) continue;
            for (const rel of listed) {
              if (caller.view === 'filtered' && rel.startsWith('_delta_log/')) continue;
              visible.add(`${t.alias}/${rel}`);
              await c.send(
                new PutObjectCommand({
                  Bucket: bucket,
                  Key: `${t.alias}/${rel}`,
                  Body: readFileSync(join(t.dir, rel)),
                }),
              );
            }
            if (caller.view === 'filtered') {
              // The generated log: the keys the proxy lists, with the bytes it serves.
              const log = await listingPages(proxy.url, 'datalake', { prefix: `${t.alias}/_delta_log/` }, 2, {
                credentials: keyFor(CALLER),
                echoesRaw: false,
              });
              for (const e of log.flatMap((pg) => entries(pg, false))) {
                const r = await objectRequest(proxy.url, 'GET', e.key, CALLER);
                if (r.status !== 200) throw new Error(`listed ${e.key} GETs ${r.status}`);
                visible.add(e.key);
                await c.send(new PutObjectCommand({ Bucket: bucket, Key: e.key, Body: r.body }));
              }
            }
          }
          c.destroy();
          return { proxy, bucket, visible, checked: new Set() };
        })();
        prepared.set(id, p);
      }
      return p;
    }

    it('pages through the reference entries; listed keys GET as listed', { timeout: 1_200_000 }, async () => {
      const byAlias = Object.fromEntries(tables.map((t) => [t.alias, t]));
      const callerArb: fc.Arbitrary<Caller> = fc.record({
        view: fc.constantFrom<'raw' | 'filtered'>('raw', 'filtered'),
        grants: fc.record({
          m: fc.option(grantListArb(byAlias.m!.facts), { nil: undefined, freq: 5 }),
          wide: fc.option(grantListArb(byAlias.wide!.facts), { nil: undefined, freq: 4 }),
        }),
      });
      const keyArb = fc.constantFrom(...allKeys);
      const partialOf = (k: string, n: number) => [...k].slice(0, Math.max(0, [...k].length - n)).join('');
      const folderOf = (k: string, n: number) => {
        const parts = k.split('/');
        return `${parts.slice(0, Math.max(1, parts.length - 1 - n)).join('/')}/`;
      };
      const nearArb = fc
        .tuple(keyArb, fc.constantFrom(' ', '/', '0', '~', '\u{10FFFF}', 'a', '='))
        .map(([k, ch]) => k + ch);
      const prefixArb = fc.oneof(
        fc.constantFrom(
          '',
          'm',
          'm/',
          'm/region=',
          'm/region=E',
          'm/region=EU/',
          'm/region=US/',
          'm/region=US/kind=',
          'm/region=__HIVE',
          'm/region=a%2Fb c/',
          'm/_delta_log/',
          'm/_delta_log/0000',
          'wide/',
          'wide/region=r4',
          'wide/region=r40/',
          'wide/_delta_log/',
          'w',
        ),
        fc.tuple(keyArb, fc.nat(3)).map(([k, n]) => folderOf(k, n)),
        fc.tuple(keyArb, fc.nat(8)).map(([k, n]) => partialOf(k, n)),
      );
      const startArb = fc.oneof(
        fc.constant(undefined),
        fc.constantFrom(
          'm/region=US/',
          'm/region=E',
          'm/region=EU/kind=x/',
          'wide/region=r20/',
          'm/_delta_log/',
        ),
        keyArb,
        fc.tuple(keyArb, fc.nat(6)).map(([k, n]) => partialOf(k, n)),
        fc.tuple(keyArb, fc.nat(2)).map(([k, n]) => folderOf(k, n)),
        nearArb,
      );
      const requestArb = fc.record({
        v: fc.constantFrom<1 | 2>(1, 2),
        prefix: prefixArb,
        delimiter: fc.constantFrom(undefined, '/', '/', '=', '%', 'x', ' ', '/k'),
        maxKeys: fc.constantFrom('1', '2', '3', '1000'),
        start: startArb,
        url: fc.boolean(),
        backendPage: fc.constantFrom(1000, 1000, 1, 2, 3),
      });

      await fc.assert(
        fc.asyncProperty(
          callerArb,
          fc.array(requestArb, { minLength: 1, maxLength: 3 }),
          async (caller, reqs) => {
            const prep = await prepare(caller);
            for (const r of reqs) {
              backendPageKeys = r.backendPage;
              const common: Params = {
                prefix: r.prefix || undefined,
                delimiter: r.delimiter,
                'max-keys': r.maxKeys,
                'encoding-type': r.url ? 'url' : undefined,
              };
              const v2: Params = { ...common, 'start-after': r.start };
              const ours = await listingPages(
                prep.proxy.url,
                'datalake',
                r.v === 2 ? v2 : { ...common, marker: r.start },
                r.v,
                { credentials: keyFor(CALLER), echoesRaw: false, maxPages: 400 },
              );
              const ref = await listingPages(moto.endpoint, prep.bucket, v2, 2, {
                credentials: keyFor(CALLER),
                echoesRaw: true,
                maxPages: 400,
              });
              const what = JSON.stringify({ caller, r });
              for (const pg of ours) expect(pg.status, what).toBe(200);
              const mine = ours.flatMap((pg) => entries(pg, r.url));
              const want = ref.flatMap((pg) => entries(pg, r.url));
              // Nothing the caller may not see, not even as a folder.
              for (const e of mine)
                expect(
                  e.size === undefined
                    ? [...prep.visible].some((k) => k.startsWith(e.key))
                    : prep.visible.has(e.key),
                  `${e.key} listed to ${what}`,
                ).toBe(true);
              // The filtered log's generated files carry the proxy's own ETags: GET decides them.
              const cmp = (xs: typeof mine) =>
                xs.map((e) =>
                  caller.view === 'filtered' && e.key.split('/')[1] === '_delta_log'
                    ? { ...e, etag: '*' }
                    : e,
                );
              expect(cmp(mine), what).toEqual(cmp(want));
              // listing-compare's parser trims values: a delimiter " " echoed raw by moto reads "".
              const trimmed = (ps: ListingPage[]) =>
                ps.map((pg) => ({ ...pg, Delimiter: (pg.Delimiter as string | undefined)?.trim() }));
              if (r.v === 2 && r.backendPage === 1000) expect(trimmed(ours), what).toEqual(trimmed(ref));
              for (const [i, pg] of ours.entries()) {
                expect(pg.IsTruncated, what).toBe(i === ours.length - 1 ? 'false' : 'true');
                expect(entries(pg, false).length).toBeLessThanOrEqual(Number(r.maxKeys));
              }
              for (const e of mine) {
                if (e.size === undefined || prep.checked.has(e.key)) continue;
                prep.checked.add(e.key);
                const got = await objectRequest(prep.proxy.url, 'GET', e.key, CALLER);
                expect(
                  [got.status, String(got.body.length), got.headers.etag],
                  `GET ${e.key} ${what}`,
                ).toEqual([200, e.size, e.etag]);
                const [alias, ...rest] = e.key.split('/');
                const rel = rest.join('/');
                if (!rel.startsWith('_delta_log/') || caller.view === 'raw')
                  expect(
                    got.body.equals(readFileSync(join(byAlias[alias!]!.dir, rel))),
                    `bytes of ${e.key}`,
                  ).toBe(true);
              }
            }
          },
        ),
        { numRuns: RUNS, seed: SEED, ...(PATH ? { path: PATH } : {}), endOnFailure: true },
      );
    });
  },
);
