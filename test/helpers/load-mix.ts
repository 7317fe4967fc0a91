/**
 * The request mix of the load suite and bench: listings, HEADs, small and medium GETs, Range
 * reads and denied requests against the load table, each with the answer a user must get,
 * taken from what the backend holds. Requests are signed once per target (SigV4 headers stay
 * valid for 15 minutes; the generator re-signs sooner), so the generator spends no CPU signing.
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ConfigInput } from '../../lambda/config';
import { listingParser } from './listing-compare';
import { isGranted, LOAD_BUCKET, LOAD_GRANT, LOAD_PREFIX, type LoadFile } from './load-table';
import { LOAD_CASE_HEADER } from './load-target';
import { ANALYST } from './proxy-harness';
import { type Credentials, encodeKeyPath, encodeQuery, signHeaders } from './signed-fetch';

export const LOAD_OPS = [
  'ListObjectsV2',
  'HeadObject',
  'GetObject small',
  'GetObject medium',
  'GetObject range',
  'denied',
] as const;
export type LoadOp = (typeof LOAD_OPS)[number];

/** Share of each operation in the mix, in percent. */
export const LOAD_WEIGHTS: Record<LoadOp, number> = {
  ListObjectsV2: 15,
  HeadObject: 20,
  'GetObject small': 25,
  'GetObject medium': 5,
  'GetObject range': 20,
  denied: 15,
};

export interface Expectation {
  status: number;
  /** The exact body bytes (GET of an object, a range, a calibrated listing). */
  body?: Buffer;
  /** The S3 error code the XML body must carry. */
  code?: string;
  /** HEAD: the Content-Length and ETag headers, and no body. */
  contentLength?: number;
  etag?: string;
  /** A listing before calibration: the keys and common prefixes it must show, nothing else. */
  listing?: { keys: string[]; prefixes: string[] };
}

export interface LoadSpec {
  op: LoadOp;
  method: 'GET' | 'HEAD';
  rawPath: string;
  rawQuery: string;
  headers: Record<string, string>;
  signer: Credentials;
  expect: Expectation;
}

/** A request ready to send: signed for one target. */
export interface LoadRequest {
  op: LoadOp;
  method: 'GET' | 'HEAD';
  path: string;
  headers: Record<string, string>;
  expect: Expectation;
}

export const TABLE_ALIAS = 'sales';
/** A second alias for the same table, on which the analyst has no grant. */
export const UNGRANTED_ALIAS = 'hidden';

export function loadProxyConfig(backendEndpoint: string): ConfigInput {
  const root = `s3://${LOAD_BUCKET}/${LOAD_PREFIX}`;
  return {
    getMode: 'proxy' as const,
    tableMapping: { [TABLE_ALIAS]: root, [UNGRANTED_ALIAS]: root },
    grants: [
      { principal: ANALYST.principal, table: TABLE_ALIAS, partitions: LOAD_GRANT.map((p) => ({ ...p })) },
    ],
    s3: { endpoint: backendEndpoint, forcePathStyle: true, region: 'us-east-1' },
    auth: { keys: [ANALYST] },
  };
}

const BAD_SECRET: Credentials = { accessKeyId: ANALYST.accessKeyId, secretAccessKey: 'not-the-secret-key' };
const UNKNOWN_KEY: Credentials = { accessKeyId: 'AKIAUNKNOWNKEY000000', secretAccessKey: 'whatever-secret' };

async function backendObject(client: S3Client, key: string): Promise<{ bytes: Buffer; etag: string }> {
  const out = await client.send(new GetObjectCommand({ Bucket: LOAD_BUCKET, Key: `${LOAD_PREFIX}/${key}` }));
  return { bytes: Buffer.from(await out.Body!.transformToByteArray()), etag: out.ETag! };
}

/**
 * Every request of the mix with its expected answer, read from the backend. `suffixRanges`:
 * include `Range: bytes=-N` (s3rver 3.7.1 answers it as `bytes=0-N`, so only with moto).
 */
export async function buildLoadSpecs(
  backend: S3Client,
  files: LoadFile[],
  { suffixRanges }: { suffixRanges: boolean },
): Promise<LoadSpec[]> {
  const objectPath = (alias: string, key: string) => `/datalake/${encodeKeyPath(`${alias}/${key}`)}`;
  const held = new Map<string, { bytes: Buffer; etag: string }>();
  for (const f of files) held.set(f.key, await backendObject(backend, f.key));
  const specs: LoadSpec[] = [];
  const add = (spec: Omit<LoadSpec, 'headers' | 'signer' | 'rawQuery'> & Partial<LoadSpec>) =>
    specs.push({ headers: {}, signer: ANALYST, rawQuery: '', ...spec });

  const visible = files.filter((f) => isGranted(f.partition) && !f.removed);
  const small = visible.filter((f) => !f.medium);
  const medium = visible.filter((f) => f.medium);
  const hiddenSmall = files.filter((f) => !isGranted(f.partition) && !f.medium);
  const hiddenMedium = files.find((f) => !isGranted(f.partition) && f.medium)!;
  const removed = files.find((f) => f.removed)!;

  // Listings: a granted partition recursively, and the table's top level with a delimiter.
  add({
    op: 'ListObjectsV2',
    method: 'GET',
    rawPath: '/datalake',
    rawQuery: encodeQuery({ 'list-type': '2', prefix: `${TABLE_ALIAS}/region=EU/` }),
    expect: {
      status: 200,
      listing: {
        keys: visible.filter((f) => f.partition.region === 'EU').map((f) => `${TABLE_ALIAS}/${f.key}`),
        prefixes: [],
      },
    },
  });
  add({
    op: 'ListObjectsV2',
    method: 'GET',
    rawPath: '/datalake',
    rawQuery: encodeQuery({ 'list-type': '2', prefix: `${TABLE_ALIAS}/`, delimiter: '/' }),
    expect: {
      status: 200,
      listing: {
        keys: [],
        prefixes: ['_delta_log/', 'region=EU/', 'region=US/'].map((p) => `${TABLE_ALIAS}/${p}`),
      },
    },
  });

  for (const f of small) {
    const { bytes, etag } = held.get(f.key)!;
    const path = objectPath(TABLE_ALIAS, f.key);
    add({
      op: 'HeadObject',
      method: 'HEAD',
      rawPath: path,
      expect: { status: 200, contentLength: bytes.length, etag },
    });
    add({ op: 'GetObject small', method: 'GET', rawPath: path, expect: { status: 200, body: bytes } });
  }
  for (const f of medium) {
    const { bytes } = held.get(f.key)!;
    const path = objectPath(TABLE_ALIAS, f.key);
    add({ op: 'GetObject medium', method: 'GET', rawPath: path, expect: { status: 200, body: bytes } });
    // What Parquet readers do: the footer length, the footer, then column chunks.
    const half = Math.floor(bytes.length / 2);
    const footerLength = suffixRanges ? 'bytes=-8' : `bytes=${bytes.length - 8}-${bytes.length - 1}`;
    for (const [range, slice] of [
      [footerLength, bytes.subarray(bytes.length - 8)],
      [`bytes=${bytes.length - 4096}-`, bytes.subarray(bytes.length - 4096)],
      ['bytes=0-65535', bytes.subarray(0, 65536)],
      [`bytes=${half}-${half + 65535}`, bytes.subarray(half, half + 65536)],
    ] as const) {
      add({
        op: 'GetObject range',
        method: 'GET',
        rawPath: path,
        headers: { range },
        expect: { status: 206, body: Buffer.from(slice) },
      });
    }
  }

  // A file removed in a granted partition stays readable while its removal is within the
  // table's retention (time travel reads it), though listings show the current version only.
  add({
    op: 'GetObject small',
    method: 'GET',
    rawPath: objectPath(TABLE_ALIAS, removed.key),
    expect: { status: 200, body: held.get(removed.key)!.bytes },
  });

  // Denied: partitions not granted, a table without a grant, bad credentials. Under the default
  // filtered log view a file the caller may not read is answered as missing, as S3 answers a
  // key that does not exist (so a refusal tells nothing a listing would not).
  const anyVisible = small[0]!;
  for (const f of hiddenSmall.slice(0, 2)) {
    add({
      op: 'denied',
      method: 'GET',
      rawPath: objectPath(TABLE_ALIAS, f.key),
      expect: { status: 404, code: 'NoSuchKey' },
    });
  }
  add({
    op: 'denied',
    method: 'HEAD',
    rawPath: objectPath(TABLE_ALIAS, hiddenSmall[0]!.key),
    expect: { status: 404 },
  });
  add({
    op: 'denied',
    method: 'GET',
    rawPath: objectPath(TABLE_ALIAS, hiddenMedium.key),
    headers: { range: 'bytes=0-65535' },
    expect: { status: 404, code: 'NoSuchKey' },
  });
  add({
    op: 'denied',
    method: 'GET',
    rawPath: objectPath(UNGRANTED_ALIAS, anyVisible.key),
    expect: { status: 404, code: 'NoSuchKey' },
  });
  add({
    op: 'denied',
    method: 'GET',
    rawPath: objectPath(TABLE_ALIAS, anyVisible.key),
    signer: BAD_SECRET,
    expect: { status: 403, code: 'SignatureDoesNotMatch' },
  });
  add({
    op: 'denied',
    method: 'GET',
    rawPath: objectPath(TABLE_ALIAS, anyVisible.key),
    signer: UNKNOWN_KEY,
    expect: { status: 403, code: 'InvalidAccessKeyId' },
  });
  return specs;
}

/** Signs every spec for the target at `url` (the Host header is part of the signature). */
export async function signLoadSpecs(specs: LoadSpec[], url: string): Promise<LoadRequest[]> {
  return Promise.all(
    specs.map(async (s, i) => ({
      op: s.op,
      method: s.method,
      path: s.rawQuery ? `${s.rawPath}?${s.rawQuery}` : s.rawPath,
      headers: {
        ...(await signHeaders(url, s.method, s.rawPath, s.rawQuery, s.headers, s.signer)),
        // Unsigned, ignored by the proxy: tells the bare baseline server which answer to give
        // (requests that differ only in their credentials look alike to a server without auth).
        [LOAD_CASE_HEADER]: String(i),
      },
      expect: s.expect,
    })),
  );
}

/**
 * Checks a listing answer against the keys and prefixes it must show; the answer's bytes then
 * become the listing's expected body (a listing's XML does not change while the table does not).
 */
export function calibrateListing(spec: LoadSpec, status: number, body: Buffer): LoadSpec {
  const want = spec.expect.listing!;
  const doc = listingParser.parse(body.toString('utf8')) as {
    ListBucketResult?: { Contents?: { Key: string }[]; CommonPrefixes?: { Prefix: string }[] };
  };
  const got = {
    keys: (doc.ListBucketResult?.Contents ?? []).map((c) => c.Key).sort(),
    prefixes: (doc.ListBucketResult?.CommonPrefixes ?? []).map((c) => c.Prefix).sort(),
  };
  const expected = { keys: [...want.keys].sort(), prefixes: [...want.prefixes].sort() };
  if (status !== 200 || JSON.stringify(got) !== JSON.stringify(expected)) {
    throw new Error(
      `listing ${spec.rawQuery} answered ${status} ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`,
    );
  }
  return { ...spec, expect: { status: 200, body } };
}

/**
 * The order requests are sent in: each operation's share of the mix spread over its requests,
 * interleaved by a fixed shuffle so that every client sends the whole mix.
 */
export function loadSchedule(requests: { op: LoadOp }[], slots = 1000): number[] {
  const schedule: number[] = [];
  for (const op of LOAD_OPS) {
    const mine = requests.flatMap((r, i) => (r.op === op ? [i] : []));
    const n = Math.round((slots * LOAD_WEIGHTS[op]) / 100);
    for (let k = 0; k < n && mine.length; k++) schedule.push(mine[k % mine.length]!);
  }
  let seed = 42;
  for (let i = schedule.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const j = seed % (i + 1);
    [schedule[i], schedule[j]] = [schedule[j]!, schedule[i]!];
  }
  return schedule;
}
