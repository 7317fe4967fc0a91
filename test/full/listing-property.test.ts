/**
 * Differential property test of the proxy's own listings (ListObjectsV2 and v1 of `datalake`)
 * against moto. The backend bucket holds tables `t` and `u` under `tables/`; a reference bucket
 * holds the same bytes under `t/` and `u/`, so with a whole-table grant and the raw log view a
 * listing of `datalake` must equal moto's listing of the reference bucket. Keys stress listings:
 * astral and combining characters, spaces, `+`, `%`, `=`, keys sorting around "/" (`a/`, `a-`,
 * `a.`, `a0`), a key equal to a folder name, deep folders, long shared prefixes. Every key is a
 * file of its table (an orphan is hidden by design), so no folder marker (`a/`) is among them.
 *
 * Compared: the concatenation of pages (keys, sizes, ETags, common prefixes, in order, no
 * duplicates), IsTruncated (true on every page but the last), KeyCount, the max-keys bound, the
 * Prefix/Delimiter/StartAfter/Marker echoes, the encoded forms under encoding-type=url, owners.
 * Page boundaries may differ. Where moto is not S3 the reference is held to S3's rules:
 * - v1 is compared with moto's v2 (moto's v1 repeats common prefixes on every page and hands out
 *   a token as NextMarker; S3's v1 pages are v2's);
 * - moto echoes Delimiter/StartAfter unencoded under encoding-type=url (listing-compare.ts);
 * - values are compared decoded: S3 and moto may escape different character sets.
 * The proxy's backend is moto behind a wrapper that may cap each backend page at 1-5 keys (S3
 * may return fewer keys than asked), so its own paging and roll-ups across backend pages run.
 * Left out by design: orphans and keys ending in "/" (hidden), prefixes with "//" (400).
 * The seed is fixed; FUZZ_SEED and FUZZ_RUNS explore, FUZZ_PATH replays a report's path.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AddFile, DeltaTableWriter, logPathOf } from '../../lambda/local/delta-writer';
import { S3Backend } from '../../lambda/storage/s3-backend';
import type { StorageBackend } from '../../lambda/storage/storage-backend';
import { writeSpecialTable } from '../helpers/fixture-tables';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import {
  BACKEND_CREDENTIALS,
  backendClient,
  createBucket,
  motoUnavailableReason,
  type S3Server,
  startMoto,
  uploadDir,
} from '../helpers/s3-servers';
import { encodeQuery, signedFetch } from '../helpers/signed-fetch';
import { withReason } from '../helpers/skips';

const SEED = Number(process.env.FUZZ_SEED ?? 20260501);
const RUNS = Number(process.env.FUZZ_RUNS ?? 60);
const PATH = process.env.FUZZ_PATH;

/** Extra objects of table `t` (relative to its root), beside the Delta table's own files. */
const EXTRA = [
  'a',
  'a-',
  'a.',
  'a0',
  'a/b',
  'a/b/c',
  'a/b/c/d/e/f.txt',
  'a b',
  'a+b',
  'a%20b',
  'a%',
  'a=1/b=2/c',
  'a=1/b=20',
  'e\u0301',
  'é',
  '\u{1F600}',
  '\u{1F600}/x',
  '\uFF21',
  '\uFFFD/z',
  'dir',
  'dir/file',
  'dir/sub/file',
  'long/prefix/shared/aaaaaaaa',
  'long/prefix/shared/aaaaaaaa1',
  'long/prefix/shared/aaaaaaaa2',
  'long/prefix/shared/aaaaaaab/x',
  'z~',
];

const reason = motoUnavailableReason();

/** As listing-compare's, but keeps a value's spaces (a prefix or key may end in one). */
const listingParser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: false,
  isArray: (n) => ['Contents', 'CommonPrefixes'].includes(n),
});

interface Entry {
  key: string;
  kind: 'object' | 'prefix';
  size?: string;
  etag?: string;
}

type Params = Record<string, string | undefined>;

const arr = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

describe.skipIf(reason !== undefined)(
  withReason('listings of datalake equal moto (property)', reason),
  () => {
    let moto: S3Server;
    let proxy: RunningProxy;
    let allKeys: string[] = [];
    let backendPageKeys = 1000;

    beforeAll(async () => {
      moto = await startMoto();
      const c = backendClient(moto.endpoint);
      for (const b of ['bucket', 'ref']) await createBucket(c, b);
      // `t`: an unpartitioned table whose files (its log's adds) have the stressing names; an object
      // no version of the log references is an orphan the proxy hides by design.
      const put = async (rel: string, body: Uint8Array | string) => {
        await c.send(new PutObjectCommand({ Bucket: 'bucket', Key: `tables/t/${rel}`, Body: body }));
        await c.send(new PutObjectCommand({ Bucket: 'ref', Key: `t/${rel}`, Body: body }));
        allKeys.push(`t/${rel}`);
      };
      const writer = new DeltaTableWriter(
        { put: (rel, bytes) => put(rel, bytes) },
        { schema: [{ name: 'id', type: 'long' }] },
      );
      const adds: AddFile[] = [];
      for (const [i, rel] of EXTRA.entries()) {
        await put(rel, 'x'.repeat(i + 1));
        adds.push({
          path: logPathOf(rel),
          partitionValues: {},
          size: i + 1,
          modificationTime: 0,
          dataChange: true,
        });
      }
      await writer.create(adds);
      await writer.checkpoint();
      // `u`: a table partitioned by values with astral, `+`, `=` and `%` in their folder names.
      const dir = await writeSpecialTable(['EU', 'ü+=x', '😈', '50%'], ['2024-01-01']);
      await uploadDir(c, 'bucket', 'tables/u/', dir);
      allKeys.push(...(await uploadDir(c, 'ref', 'u/', dir)));
      // Beside the tables, never listed.
      await c.send(new PutObjectCommand({ Bucket: 'bucket', Key: 'tables/t-leak', Body: 'no' }));
      c.destroy();
      allKeys = allKeys.sort();
      const real = new S3Backend({
        endpoint: moto.endpoint,
        forcePathStyle: true,
        credentials: BACKEND_CREDENTIALS,
      });
      // S3 may answer a page with fewer keys than asked: the run chooses how few, so that the proxy's
      // own paging over the backend (and its roll-ups across backend pages) is exercised.
      const storage: StorageBackend = {
        get: (ref, o) => real.get(ref, o),
        head: (ref, o) => real.head(ref, o),
        list: (q) => real.list({ ...q, maxKeys: Math.min(q.maxKeys, backendPageKeys) }),
        presign: (ref, o) => real.presign(ref, o),
      };
      proxy = await startProxy(
        moto,
        {
          logView: 'raw',
          tableMapping: { t: 's3://bucket/tables/t', u: 's3://bucket/tables/u' },
          grants: [
            { principal: ANALYST.principal, table: 't', partitions: [{}] },
            { principal: ANALYST.principal, table: 'u', partitions: [{}] },
          ],
        },
        undefined,
        { storage },
      );
    }, 120_000);

    afterAll(async () => {
      await proxy?.stop();
      await moto?.stop();
    });

    /** Every page of a listing, followed as a client does; throws past `maxPages`. */
    async function pages(endpoint: string, bucket: string, v: 1 | 2, params: Params, maxPages: number) {
      const out: { status: number; doc: Record<string, unknown>; text: string }[] = [];
      let token: string | undefined;
      let marker: string | undefined = params.marker;
      const encoded = params['encoding-type'] === 'url';
      for (let i = 0; i < maxPages; i++) {
        const q =
          v === 2 ? { 'list-type': '2', ...params, 'continuation-token': token } : { ...params, marker };
        const r = await signedFetch(endpoint, 'GET', `/${bucket}`, encodeQuery(q), {}, ANALYST);
        const parsed = listingParser.parse(r.text) as Record<string, Record<string, unknown>>;
        const doc = parsed.ListBucketResult ?? parsed.Error ?? {};
        out.push({ status: r.status, doc, text: r.text });
        if (r.status !== 200 || doc.IsTruncated !== 'true') return out;
        if (v === 2) token = doc.NextContinuationToken as string;
        else {
          const contents = arr(doc.Contents as Record<string, string>[]);
          const last = (doc.NextMarker as string | undefined) ?? contents.at(-1)?.Key;
          marker = encoded && last !== undefined ? decodeURIComponent(last) : last;
        }
        if (v === 2 && !token) throw new Error('truncated v2 page without NextContinuationToken');
        if (v === 1 && marker === undefined) throw new Error('truncated v1 page without a marker');
      }
      throw new Error(`listing did not end in ${maxPages} pages`);
    }

    function entries(doc: Record<string, unknown>, decode: boolean): Entry[] {
      const dec = (s: string) => (decode ? decodeURIComponent(s) : s);
      const objs = arr(doc.Contents as Record<string, string>[]).map(
        (c): Entry => ({ key: dec(c.Key!), kind: 'object', size: c.Size, etag: c.ETag }),
      );
      const pre = arr(doc.CommonPrefixes as Record<string, string>[]).map(
        (p): Entry => ({ key: dec(p.Prefix!), kind: 'prefix' }),
      );
      // A client reads a page's entries merged by key (S3 sends Contents, then CommonPrefixes).
      return [...objs, ...pre].sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
    }

    const keyArb = fc.constantFrom(
      ...EXTRA.map((k) => `t/${k}`),
      't/_delta_log/',
      'u/region=EU/',
      'u/region=%F0',
    );
    const partialOf = (k: string, n: number) => [...k].slice(0, Math.max(0, [...k].length - n)).join('');
    /** A key with a character appended: sorts just after it, or far after it. */
    const nearArb = fc
      .tuple(keyArb, fc.constantFrom(' ', '/', '0', '~', '\u{10FFFF}', '\uFFFF', 'a'))
      .map(([k, c]) => k + c);
    const prefixArb = fc.oneof(
      fc.constantFrom(
        '',
        't',
        't/',
        'u/',
        't/a',
        't/a/',
        't/a/b',
        't/_delta_log/',
        'u/region=',
        't/\u{1F600}',
      ),
      fc.constantFrom('t/e', 't/long/prefix/shared/aaaa', 't/zz', 't/dir', 't/a=1/', 't/e\u0301', 'x'),
      fc.tuple(keyArb, fc.nat(6)).map(([k, n]) => partialOf(k, n)),
      // The proxy refuses a prefix with an empty path segment (400 InvalidArgument), by design.
      nearArb.filter((p) => !p.includes('//')),
    );
    const delimiterArb = fc.constantFrom(
      undefined,
      '/',
      '/',
      '=',
      'a',
      '/b',
      'ab',
      '|',
      '\u{1F600}',
      '.',
      '\u0301',
      ' ',
      '%',
      '+',
      'aa',
      '/a',
      '_',
    );
    const startArb = fc.oneof(
      fc.constant(undefined),
      fc.constantFrom(
        '',
        't',
        't/',
        't/a/',
        't/a',
        't/dir/',
        't/long/',
        't/zzz',
        'u',
        'a',
        'zz',
        't/_delta_log/',
      ),
      // On common prefixes of the other delimiters.
      fc.constantFrom(
        't/a=',
        't/a=1/b=',
        't/long/prefix/shared/aaaa',
        't/a.',
        't/a ',
        't/\u{1F600}',
        'u/region=EU/da',
      ),
      keyArb,
      fc.tuple(keyArb, fc.nat(4)).map(([k, n]) => partialOf(k, n)),
      nearArb,
      fc.constantFrom('t/_delta_log/00000000000000000000.json', 't/_delta_log/00000000000000000001.json'),
    );
    const requestArb = fc.record({
      v: fc.constantFrom<1 | 2>(1, 2),
      prefix: prefixArb,
      delimiter: delimiterArb,
      maxKeys: fc.constantFrom('0', '1', '2', '7', '1000', undefined),
      start: startArb,
      url: fc.boolean(),
      owner: fc.boolean(),
      backendPage: fc.constantFrom(1000, 1000, 1, 2, 3, 5),
    });

    it('pages through the same entries as S3', { timeout: 600_000 }, async () => {
      await fc.assert(
        fc.asyncProperty(requestArb, async (r) => {
          backendPageKeys = r.backendPage;
          const common: Params = {
            prefix: r.prefix || undefined,
            delimiter: r.delimiter,
            'max-keys': r.maxKeys,
            'encoding-type': r.url ? 'url' : undefined,
          };
          const v2: Params = {
            ...common,
            'start-after': r.start,
            'fetch-owner': r.owner ? 'true' : undefined,
          };
          const ours: Params = r.v === 2 ? v2 : { ...common, marker: r.start };
          const ref = await pages(moto.endpoint, 'ref', 2, v2, 200);
          const got = await pages(proxy.url, 'datalake', r.v, ours, 200);
          const want = ref.flatMap((p) => entries(p.doc, r.url));
          const mine = got.flatMap((p) => entries(p.doc, r.url));
          for (const p of got) expect(p.status, p.text).toBe(200);
          expect(mine).toEqual(want);
          const limit = r.maxKeys === undefined ? 1000 : Number(r.maxKeys);
          for (const [i, p] of got.entries()) {
            const d = p.doc;
            const n = entries(d, false).length;
            const last = i === got.length - 1;
            expect(d.IsTruncated, p.text).toBe(last ? 'false' : 'true');
            expect(n).toBeLessThanOrEqual(limit);
            expect(d.MaxKeys).toBe(String(limit));
            if (r.v === 2) expect(d.KeyCount).toBe(String(n));
            const dec = (s: unknown) => (r.url && typeof s === 'string' ? decodeURIComponent(s) : s);
            expect(dec(d.Prefix ?? '')).toBe(r.prefix);
            expect(dec(d.Delimiter)).toBe(r.delimiter || undefined);
            if (r.v === 2 && i === 0) expect(dec(d.StartAfter)).toBe(r.start || undefined);
            if (r.v === 1 && i === 0) expect(dec(d.Marker ?? '')).toBe(r.start ?? '');
            if (r.url) {
              expect(d.EncodingType).toBe('url');
              // An encoded key is plain ASCII, no spaces or controls: a decoder sees the key itself.
              for (const e of entries(d, false)) expect(e.key).toMatch(/^[\x21-\x7e]*$/);
            }
            for (const c of arr(d.Contents as Record<string, unknown>[]))
              expect('Owner' in c).toBe(r.v === 1 || r.owner);
          }
          // Pages end: a page holds max-keys entries unless its request ran out of backend pages (50).
          const full = Math.ceil(mine.length / Math.max(1, limit));
          expect(got.length).toBeLessThanOrEqual(full + Math.ceil(allKeys.length / (50 * r.backendPage)) + 1);
        }),
        { numRuns: RUNS, seed: SEED, ...(PATH ? { path: PATH } : {}), endOnFailure: true },
      );
    });

    it('knows every uploaded key', () => {
      expect(allKeys.length).toBeGreaterThan(EXTRA.length);
    });
  },
);
