/**
 * Paging through a filtered `_delta_log/` of a long log. The proxy merges the generated log keys
 * with the backend's keys (the real log's keys are hidden: the generated ones stand in their
 * place, under the same names), across its own page limits: a backend that answers three keys
 * per page (S3 may return fewer than asked) brings the 50-page budget within reach of every
 * request. Whatever the prefix, delimiter, page size and start-after, the pages a client reads
 * one after another must add up to the S3 listing of what the caller may see, each entry once.
 *
 * Objects are read from s3rver; listings are answered from its keys read once (s3rver reads every
 * key's metadata for each listing call, 100 ms and more here: thousands of small pages would take
 * minutes), with S3's semantics, a few keys per page.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AddFile, DeltaTableWriter } from '../../lambda/local/delta-writer';
import { S3Backend } from '../../lambda/storage/s3-backend';
import type {
  ListedObject,
  ListPage,
  ListParams,
  StorageBackend,
} from '../../lambda/storage/storage-backend';
import {
  type AuthzProxy,
  type ListedPage,
  listAllPages,
  mapLimit,
  startAuthzProxy,
} from '../helpers/authz-harness';
import { byteOrder, modelListing } from '../helpers/authz-s3-model';
import { checkpointKey, commitKey, logVersion } from '../helpers/log-text';
import {
  BACKEND_CREDENTIALS,
  backendClient,
  createBucket,
  type S3Server,
  startS3rver,
} from '../helpers/s3-servers';

const READER = 'reader';
const BUCKET = 'long-log';
const PREFIX = 'lg/t/';
const ALIAS = 't';
const COMMITS = 240;
/** Table "s", listed before "t": the first SHORT commits of t's log, and nothing else. */
const SHORT = 170;
const CHECKPOINT_AT = 200;
/** Keys per backend listing page. */
const BACKEND_PAGE = 3;

let s3: S3Server;
let client: S3Client;
let real: S3Backend;
let proxy: AuthzProxy;
/** Every virtual key the reader may see: the generated log and its readable data files. */
let visible: string[];
/** Keys that exist in the backend and the reader may not see. */
let hidden: string[];

beforeAll(async () => {
  s3 = await startS3rver();
  client = backendClient(s3.endpoint);
  await createBucket(client, BUCKET);
  const files = new Map<string, Uint8Array | string>();
  const writer = new DeltaTableWriter(
    { put: async (rel, bytes) => void files.set(rel, bytes) },
    {
      schema: [
        { name: 'id', type: 'long' },
        { name: 'region', type: 'string' },
      ],
      partitionColumns: ['region'],
    },
  );
  await writer.create();
  const readable: string[] = [];
  for (let v = 1; v <= COMMITS; v++) {
    const region = v % 3 === 0 ? 'EU' : 'US';
    const add: AddFile = {
      path: `region=${region}/part-${String(v).padStart(5, '0')}.c000.snappy.parquet`,
      partitionValues: { region },
      size: 1,
      modificationTime: 0,
      dataChange: true,
    };
    // Only some data files exist in storage (a listing shows what is there).
    if (v % 20 === 0) {
      files.set(add.path, 'x');
      if (region === 'EU') readable.push(add.path);
    }
    await writer.commit({ add: [add] });
    if (v === CHECKPOINT_AT) await writer.checkpoint();
  }
  // Side files of the real log: never shown in the filtered view, and not generated.
  for (let v = 0; v <= COMMITS; v += 7) files.set(`_delta_log/${logVersion(v)}.crc`, '{}');
  files.set('_delta_log/.s3-optimization-0', 'x');
  const short = [...files].filter(([rel]) => /^_delta_log\/\d{20}\.json$/.test(rel)).slice(0, SHORT);
  await mapLimit(
    [
      ...[...files].map(([rel, body]) => [PREFIX + rel, body]),
      ...short.map(([rel, body]) => [`lg/s/${rel}`, body]),
    ],
    16,
    ([key, body]) => client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key as string, Body: body })),
  );

  const log = Array.from({ length: COMMITS + 1 }, (_, v) => commitKey(v));
  log.push(checkpointKey(CHECKPOINT_AT), '_delta_log/_last_checkpoint');
  visible = [...log, ...readable]
    .map((k) => `${ALIAS}/${k}`)
    .concat(short.map(([rel]) => `s/${rel}`))
    .sort(byteOrder);
  hidden = [...files.keys()]
    .filter((k) => k.startsWith('_delta_log/') || !readable.includes(k))
    .map((k) => `${ALIAS}/${k}`)
    .sort(byteOrder);

  real = new S3Backend({
    endpoint: s3.endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: BACKEND_CREDENTIALS,
  });
  const stored: ListedObject[] = [];
  for (let token: string | undefined, more = true; more; ) {
    const page = await real.list({ bucket: BUCKET, prefix: '', maxKeys: 1000, continuationToken: token });
    stored.push(...page.objects);
    token = page.nextContinuationToken;
    more = page.isTruncated;
  }
  const storage: StorageBackend = {
    get: (ref, o) => real.get(ref, o),
    head: (ref, o) => real.head(ref, o),
    list: async (p) => smallPages(stored, p),
    presign: (ref, o) => real.presign(ref, o),
  };
  proxy = await startAuthzProxy(
    s3,
    {
      tableMapping: { [ALIAS]: `s3://${BUCKET}/${PREFIX.slice(0, -1)}`, s: `s3://${BUCKET}/lg/s` },
      grants: [
        { principal: READER, table: ALIAS, partitions: [{ region: 'EU' }] },
        { principal: READER, table: 's', partitions: [{ region: 'EU' }] },
      ],
      logView: 'filtered',
    },
    [READER],
    { storage },
  );
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
  real?.destroy?.();
  client?.destroy();
  await s3?.stop();
});

/**
 * One ListObjectsV2 page of `objects` (sorted in byte order) as S3 answers it, of at most
 * BACKEND_PAGE entries; the continuation token is the last entry returned.
 */
function smallPages(objects: readonly ListedObject[], p: ListParams): ListPage {
  const after = p.continuationToken ?? p.startAfter ?? '';
  const page: ListPage = { objects: [], commonPrefixes: [], isTruncated: false };
  let last = '';
  for (const o of objects) {
    if (!o.key.startsWith(p.prefix) || byteOrder(o.key, after) <= 0) continue;
    const i = p.delimiter ? o.key.indexOf(p.delimiter, p.prefix.length) : -1;
    const rolled = i < 0 ? undefined : o.key.slice(0, i + p.delimiter!.length);
    if (rolled !== undefined && (rolled === last || (p.continuationToken && after.startsWith(rolled))))
      continue;
    if (page.objects.length + page.commonPrefixes.length >= Math.min(p.maxKeys, BACKEND_PAGE)) {
      page.isTruncated = true;
      page.nextContinuationToken = last;
      break;
    }
    if (rolled === undefined) page.objects.push(o);
    else page.commonPrefixes.push(rolled);
    last = rolled ?? o.key;
  }
  return page;
}

/** What a client reads of all pages: keys and prefixes in order, as model entries. */
function entriesOf(pages: ListedPage[]) {
  return pages.flatMap((p) =>
    [
      ...p.keys.map((value) => ({ kind: 'key' as const, value })),
      ...p.prefixes.map((value) => ({ kind: 'prefix' as const, value })),
    ].sort((a, b) => byteOrder(a.value, b.value)),
  );
}

describe('a filtered _delta_log/ of a long log, paged', () => {
  it('a request that reads its whole backend budget inside the real log loses no generated key', async () => {
    for (const version of [1, 2] as const) {
      const pages = await listAllPages(proxy.url, READER, version, { prefix: `${ALIAS}/` });
      expect(pages.every((p) => p.status === 200)).toBe(true);
      expect(pages.length).toBeGreaterThan(1);
      expect([version, entriesOf(pages)]).toEqual([version, modelListing(visible, { prefix: `${ALIAS}/` })]);
    }
  });

  it('a common prefix shown for generated keys is not shown again when the budget ends on hidden keys inside it', async () => {
    // "t/_" holds the generated log and the real one; the real log's keys run the budget out.
    for (const delimiter of ['_', '1'])
      for (const version of [1, 2] as const) {
        const pages = await listAllPages(proxy.url, READER, version, { prefix: `${ALIAS}/`, delimiter });
        expect(pages.length).toBeGreaterThan(1);
        expect([delimiter, version, entriesOf(pages)]).toEqual([
          delimiter,
          version,
          modelListing(visible, { prefix: `${ALIAS}/`, delimiter }),
        ]);
      }
  });

  it('a page whose budget runs out as the next table starts resumes after the generated keys it showed', async () => {
    // Start where exactly the budget's worth of s's backend keys (50 pages of 3) is left: the
    // page shows s's generated keys (the last after its last backend key), then has no page left
    // for t.
    const sLog = visible.filter((k) => k.startsWith('s/'));
    const startAfter = sLog.at(-1 - 50 * BACKEND_PAGE)!;
    for (const version of [1, 2] as const) {
      const pages = await listAllPages(proxy.url, READER, version, { prefix: '', startAfter });
      expect(pages.length).toBeGreaterThan(1);
      expect(pages[0]!.keys.at(-1)).toBe(sLog.at(-1));
      expect([version, entriesOf(pages)]).toEqual([version, modelListing(visible, { after: startAfter })]);
    }
  });
});

const SEED = Number(process.env.LISTING_PAGES_SEED ?? 20260511);
const RUNS = Number(process.env.LISTING_PAGES_RUNS ?? 25);

describe('the pages of any listing of the table add up to the S3 listing of what the reader may see', () => {
  const log = `${ALIAS}/_delta_log/`;
  const prefixes = [
    '',
    ALIAS,
    `${ALIAS}/`,
    `${ALIAS}/_`,
    log,
    `${log}0000000000000000012`,
    `${log}000000000000000002`,
    `${log}_`,
    `${ALIAS}/region=`,
    `${ALIAS}/region=US/`,
  ];
  const delimiters = ['', '/', '_', '.', '0', '1', 'json', '=', '/0'];
  /** start-after: visible and hidden keys, common prefixes, and points between them. */
  const starts = () =>
    fc.oneof(
      fc.constant(undefined),
      fc.constantFrom(...visible, ...hidden),
      fc.constantFrom(
        `${log}`,
        `${ALIAS}/_`,
        `${log}0000000000000000015`,
        `${ALIAS}/region=EU/`,
        `${ALIAS}/`,
      ),
    );

  it('v1 and v2, any prefix, delimiter, max-keys and start-after', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          version: fc.constantFrom(1 as const, 2 as const),
          prefix: fc.constantFrom(...prefixes),
          delimiter: fc.constantFrom(...delimiters),
          maxKeys: fc.constantFrom(1, 2, 5, 40, 1000),
          startAfter: starts(),
          encodingUrl: fc.boolean(),
        }),
        async ({ version, prefix, delimiter, maxKeys, startAfter, encodingUrl }) => {
          const params = { prefix, delimiter: delimiter || undefined, maxKeys, startAfter, encodingUrl };
          const pages = await listAllPages(proxy.url, READER, version, params, 'datalake', 2000);
          expect(pages.every((p) => p.status === 200)).toBe(true);
          expect(entriesOf(pages)).toEqual(modelListing(visible, { prefix, delimiter, after: startAfter }));
        },
      ),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
  });
});
