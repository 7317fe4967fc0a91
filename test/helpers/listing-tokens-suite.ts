/**
 * Listings that must read many keys the caller may not see before finding one it may (a backend
 * that returns small pages, in front of s3rver, brings the proxy's page budget within reach):
 * the continuation token (v2) and the marker (v1) that resume such a listing must not reveal the
 * hidden keys, must be honoured by another instance sharing `listingTokenKey` (Lambda), and v1
 * clients must still page to the end (boto3's paginator stops on a truncated page with neither
 * NextMarker nor a key). Listings with a delimiter other than "/" are rolled up by the proxy and
 * must still match S3's semantics across such pages.
 *
 * One suite, two tiers: `npm test` (test/integration/listing-tokens.test.ts) runs the token and
 * marker cases and the first rolled-up listing; `npm run test:full` (test/full/) runs the other
 * rolled-up listings and boto3's paginators over the same backend.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientEnv, unavailable } from '../auth/helpers/python-env';
import { type AuthzProxy, keyFor, type ListedPage, listAllPages, startAuthzProxy } from './authz-harness';
import { byteOrder, modelListing } from './authz-s3-model';
import { writeRegionFiles } from './fixture-tables';
import { type MisbehavingS3, startMisbehavingS3 } from './misbehaving-s3';
import { backendClient, createBucket, type S3Server, startS3rver } from './s3-servers';
import { encodeQuery, signedFetch } from './signed-fetch';
import { withReason } from './skips';

const run = promisify(execFile);
const boto3Missing = await unavailable('python3', ['-c', 'import boto3']);

const READER = 'reader';
const BUCKET = 'tokens-bucket';
const PREFIX = 'tok/orders/';
const HIDDEN_ORPHANS = 110;
const KEY = 'a-listing-token-key-shared-by-every-instance';

let upstream: S3Server;
let backend: MisbehavingS3;
let client: S3Client;
let proxyA: AuthzProxy;
let proxyB: AuthzProxy;
let otherKey: AuthzProxy;
/** Every key the reader may see in the table, as virtual keys. */
let visible: string[];

async function startReaderProxy(listingTokenKey: string): Promise<AuthzProxy> {
  return startAuthzProxy(
    backend,
    {
      tableMapping: { orders: `s3://${BUCKET}/${PREFIX.slice(0, -1)}` },
      grants: [{ principal: READER, table: 'orders', partitions: [{ region: 'EU' }] }],
      listingTokenKey,
    },
    [READER],
  );
}

/** What a client reads of all pages: keys and prefixes in order, as model entries. */
function entriesOf(pages: ListedPage[]) {
  return pages.flatMap((p) => [
    ...p.keys.map((value) => ({ kind: 'key' as const, value })),
    ...p.prefixes.map((value) => ({ kind: 'prefix' as const, value })),
  ]);
}

const tokenOf = (text: string) => /<NextContinuationToken>([^<]*)<\/NextContinuationToken>/.exec(text)?.[1];

/** Whatever a token or marker is made of, it must not spell a hidden key. */
function expectOpaque(value: string | undefined): void {
  if (value === undefined) return;
  for (const text of [value, Buffer.from(value, 'base64url').toString('utf8')]) {
    expect(text).not.toContain('APAC');
    expect(text).not.toContain('secret-');
    expect(text).not.toContain('region=US');
  }
}

const ROLLED_UP: [prefix: string, delimiter: string][] = [
  ['orders/region=', '.'],
  ['orders/', '='],
  ['orders/region=EU/', '-'],
];

export function listingTokensSuite(tier: 'core' | 'full'): void {
  beforeAll(async () => {
    upstream = await startS3rver();
    client = backendClient(upstream.endpoint);
    await createBucket(client, BUCKET);
    const adds = await writeRegionFiles(client, BUCKET, PREFIX, ['EU', 'EU', 'EU', 'US', 'US']);
    // Keys the reader must never learn of, sorting before everything it may see.
    for (let i = 0; i < HIDDEN_ORPHANS; i += 10) {
      await Promise.all(
        Array.from({ length: 10 }, (_, j) =>
          client.send(
            new PutObjectCommand({
              Bucket: BUCKET,
              Key: `${PREFIX}region=APAC/secret-${String(i + j).padStart(4, '0')}.tmp.parquet`,
              Body: 'x',
            }),
          ),
        ),
      );
    }
    const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: PREFIX }));
    const eu = new Set(
      adds.filter((a) => a.partitionValues.region === 'EU').map((a) => decodeURIComponent(a.path)),
    );
    visible = (listed.Contents ?? [])
      .map((o) => o.Key!.slice(PREFIX.length))
      .filter((rel) => rel.startsWith('_delta_log/') || eu.has(rel))
      .map((rel) => `orders/${rel}`)
      .sort(byteOrder);
    expect(visible.filter((k) => k.includes('region=EU/'))).toHaveLength(3);

    backend = await startMisbehavingS3(upstream);
    // The backend returns two keys per listing page (S3 may return fewer than asked).
    backend.onRequest = (r) => {
      if (r.key !== '' || r.method !== 'GET') return undefined;
      const query = new URLSearchParams(r.query);
      query.set('max-keys', '2');
      return { query };
    };
    proxyA = await startReaderProxy(KEY);
    proxyB = await startReaderProxy(KEY);
    otherKey = await startReaderProxy('another-key-of-another-deployment-000');
  });

  afterAll(async () => {
    for (const p of [proxyA, proxyB, otherKey]) await p?.stop();
    client?.destroy();
    await backend?.stop();
    await upstream?.stop();
  });

  describe('continuation tokens and markers over hidden keys', () => {
    // The token and marker cases: in the core tier only.
    if (tier === 'core') {
      it('v2: pages to the end, and no token names a hidden key', async () => {
        const pages = await listAllPages(proxyA.url, READER, 2, { prefix: 'orders/region=' });
        expect(pages.every((p) => p.status === 200)).toBe(true);
        // The case in point: a page that found nothing visible within its budget.
        expect(pages.some((p) => p.truncated && p.keys.length === 0)).toBe(true);
        for (const p of pages) expectOpaque(tokenOf(p.text));
        expect(entriesOf(pages)).toEqual(modelListing(visible, { prefix: 'orders/region=' }));
      });

      it('v1: pages to the end with NextMarker, which names no hidden key', async () => {
        const pages = await listAllPages(proxyA.url, READER, 1, { prefix: 'orders/region=' });
        expect(pages.some((p) => p.truncated && p.keys.length === 0)).toBe(true);
        for (const p of pages) expectOpaque(p.nextMarker);
        expect(entriesOf(pages)).toEqual(modelListing(visible, { prefix: 'orders/region=' }));
      });

      it('another instance sharing listingTokenKey resumes the listing; another key is refused', async () => {
        const first = await signedFetch(
          proxyA.url,
          'GET',
          '/datalake',
          encodeQuery({ 'list-type': '2', prefix: 'orders/region=' }),
          {},
          keyFor(READER),
        );
        const token = tokenOf(first.text);
        expect(token).toBeDefined();
        const next = (url: string, t: string) =>
          signedFetch(
            url,
            'GET',
            '/datalake',
            encodeQuery({ 'list-type': '2', prefix: 'orders/region=', 'continuation-token': t }),
            {},
            keyFor(READER),
          );
        const onB = await next(proxyB.url, token!);
        expect(onB.status).toBe(200);
        expect(onB.text).toContain('<Key>orders/region=EU/');
        const refused = await next(otherKey.url, token!);
        expect(refused.status).toBe(400);
        expect(refused.text).toContain('<Code>InvalidArgument</Code>');
        const tampered = Buffer.from(token!, 'base64url');
        tampered.writeUInt8(tampered.readUInt8(tampered.length - 1) ^ 1, tampered.length - 1);
        expect((await next(proxyA.url, tampered.toString('base64url'))).status).toBe(400);
      });

      it('v1: a sealed NextMarker presented to an instance with another key is refused, not read as a key', async () => {
        const first = await signedFetch(
          proxyA.url,
          'GET',
          '/datalake',
          encodeQuery({ prefix: 'orders/region=', 'max-keys': '1' }),
          {},
          keyFor(READER),
        );
        const marker = /<NextMarker>([^<]*)<\/NextMarker>/.exec(first.text)?.[1];
        expect(marker).toBeDefined();
        const next = (url: string) =>
          signedFetch(
            url,
            'GET',
            '/datalake',
            encodeQuery({ prefix: 'orders/region=', marker }),
            {},
            keyFor(READER),
          );
        expect((await next(proxyB.url)).status).toBe(200);
        // Read as a plain key, it would sort before the prefix: the listing would start over.
        const refused = await next(otherKey.url);
        expect([refused.status, refused.text]).toEqual([
          400,
          expect.stringContaining('<Code>InvalidArgument</Code>'),
        ]);
      });
    }

    // The first rolled-up listing in the core tier, the others in test:full.
    it.each(ROLLED_UP.filter((_c, i) => (i === 0) === (tier === 'core')))(
      'prefix %s, delimiter %s: the rolled-up listing matches S3 semantics, v1 and v2',
      async (prefix, delimiter) => {
        const expected = modelListing(visible, { prefix, delimiter });
        // v2 in pages of two entries (tokens inside rolled-up prefixes), v1 in whole pages (sealed markers).
        for (const [version, maxKeys] of [
          [2, 2],
          [1, 1000],
        ] as const) {
          const pages = await listAllPages(proxyA.url, READER, version, { prefix, delimiter, maxKeys });
          for (const p of pages) expectOpaque(version === 2 ? tokenOf(p.text) : p.nextMarker);
          const got = entriesOf(pages).sort((a, b) => byteOrder(a.value, b.value));
          expect([version, maxKeys, got]).toEqual([version, maxKeys, expected]);
        }
      },
    );
  });

  // boto3's paginators: in test:full.
  if (tier === 'full')
    describe.skipIf(boto3Missing !== undefined)(withReason('boto3', boto3Missing), () => {
      it('lists every visible key with the v1 paginator (list_objects), and the v2 one', async () => {
        const script = `
import json, sys, boto3
from botocore.config import Config
s3 = boto3.client('s3', endpoint_url=sys.argv[1], config=Config(s3={'addressing_style': 'path'}))
out = {}
for op in ('list_objects', 'list_objects_v2'):
    keys = []
    for page in s3.get_paginator(op).paginate(Bucket='datalake', Prefix='orders/region='):
        keys += [c['Key'] for c in page.get('Contents', [])]
    out[op] = keys
print(json.dumps(out))
`;
        const { stdout } = await run('python3', ['-c', script, proxyA.url], {
          env: clientEnv('us-east-1', keyFor(READER)),
          timeout: 120_000,
        });
        const got = JSON.parse(stdout) as Record<string, string[]>;
        const expected = visible.filter((k) => k.startsWith('orders/region='));
        expect(got.list_objects).toEqual(expected);
        expect(got.list_objects_v2).toEqual(expected);
      });
    });
}
