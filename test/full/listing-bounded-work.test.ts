/**
 * A listing's work is bounded by what it reads, and no request holds the event loop: on a
 * 100,000-file table, `prefix=wide/region=APAC/&delimiter=.` (every file its own common prefix)
 * once scanned the whole snapshot per common prefix and held every other user's request for
 * seconds. Here the listing must not walk the snapshot's files more than once (the folder index
 * of a "/" listing is built once per snapshot, a slice at a time), and another user's GET on
 * another table, sent while the listing runs, is served.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Snapshot } from '../../lambda/delta/snapshot';
import {
  type AddFile,
  DeltaTableWriter,
  writeCheckpoint,
  writeLastCheckpoint,
} from '../../lambda/local/delta-writer';
import { type AuthzProxy, listAllPages, objectRequest, startAuthzProxy } from '../helpers/authz-harness';
import { byteOrder, modelListing } from '../helpers/authz-s3-model';
import { longestLoopBlock } from '../helpers/loop-watch';
import { backendClient, createBucket, type S3Server, startS3rver } from '../helpers/s3-servers';

const BUCKET = 'wide-bucket';
const FILES = 100_000;
const APAC_OBJECTS = 200;
const REGIONS = ['EU', 'US', 'APAC', 'LATAM'];

let s3: S3Server;
let client: S3Client;
let proxy: AuthzProxy;
let smallFile: string;
/** The APAC files that exist in storage (the rest of the snapshot is only in the log). */
let apac: string[];

const put = (key: string, body: Uint8Array | string) =>
  client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));

beforeAll(async () => {
  s3 = await startS3rver();
  client = backendClient(s3.endpoint);
  await createBucket(client, BUCKET);
  const target = { put: (rel: string, bytes: Uint8Array) => put(`wide/${rel}`, bytes).then(() => undefined) };
  const adds: AddFile[] = [];
  for (let i = 0; i < FILES; i++) {
    const region = REGIONS[i % REGIONS.length]!;
    adds.push({
      path: `region=${region}/part-${String(i).padStart(6, '0')}-c000.snappy.parquet`,
      partitionValues: { region },
      size: 1,
      modificationTime: 0,
      dataChange: true,
    });
  }
  const small = new DeltaTableWriter(
    { put: (rel, bytes) => put(`small/${rel}`, bytes).then(() => undefined) },
    {
      schema: [
        { name: 'id', type: 'long' },
        { name: 'region', type: 'string' },
      ],
      partitionColumns: ['region'],
    },
  );
  const meta = small.metaData;
  // The wide table: one checkpoint of 100,000 files (version 0) and its hint.
  const info = await writeCheckpoint(target, 0, small.protocol, { ...meta, id: 'wide' }, adds);
  await writeLastCheckpoint(target, info);
  apac = adds
    .filter((a) => a.partitionValues.region === 'APAC')
    .slice(0, APAC_OBJECTS)
    .map((a) => a.path);
  for (let i = 0; i < apac.length; i += 20)
    await Promise.all(apac.slice(i, i + 20).map((p) => put(`wide/${p}`, 'x')));
  await small.create();
  const f = await small.writeDataFile({ region: 'EU' }, [{ id: 1, region: 'EU' }]);
  await small.commit({ add: [f] });
  smallFile = `small/${decodeURIComponent(f.path)}`;
  proxy = await startAuthzProxy(
    s3,
    {
      tableMapping: { wide: `s3://${BUCKET}/wide`, small: `s3://${BUCKET}/small` },
      grants: [
        { principal: 'lister', table: 'wide', partitions: [{ region: 'APAC' }] },
        { principal: 'other', table: 'small', partitions: [{}] },
      ],
    },
    ['lister', 'other'],
  );
  // Warm: both snapshots loaded before anything is measured.
  expect((await objectRequest(proxy.url, 'HEAD', `wide/${apac[0]}`, 'lister')).status).toBe(200);
  expect((await objectRequest(proxy.url, 'GET', smallFile, 'other')).status).toBe(200);
}, 180_000);

afterAll(async () => {
  await proxy?.stop();
  client?.destroy();
  await s3?.stop();
});

describe('a listing on a 100,000-file table', () => {
  it('with delimiter ".", walks no file of the snapshot per common prefix and lets another user in', async () => {
    const walks = [vi.spyOn(Snapshot.prototype, 'forEachFile'), vi.spyOn(Snapshot.prototype, 'files')];
    try {
      const { result, longestBlockMs: blockedMs } = await longestLoopBlock(async () => {
        const listing = listAllPages(proxy.url, 'lister', 2, { prefix: 'wide/region=APAC/', delimiter: '.' });
        // Another user's GET on another table, sent while the listing runs, is served.
        const other = await objectRequest(proxy.url, 'GET', smallFile, 'other');
        return { pages: await listing, other };
      });
      expect(result.other.status).toBe(200);
      const prefixes = result.pages.flatMap((p) => p.prefixes);
      const expected = modelListing(
        apac.map((p) => `wide/${p}`),
        { prefix: 'wide/region=APAC/', delimiter: '.' },
      ).map((e) => e.value);
      expect(prefixes.sort(byteOrder)).toEqual(expected);
      expect(prefixes).toHaveLength(APAC_OBJECTS);
      // Bounded work: the snapshot's 100,000 files are not walked per prefix (nor at all).
      expect(walks.map((w) => w.mock.calls.length)).toEqual([0, 0]);
      // Not a speed target: the old scan held the loop for seconds; a slice is a few ms.
      expect(blockedMs).toBeLessThan(1_000);
    } finally {
      for (const w of walks) w.mockRestore();
    }
  });

  it('with delimiter "/", walks the files once (a slice at a time) for every caller and listing', async () => {
    const walks = [vi.spyOn(Snapshot.prototype, 'forEachFile'), vi.spyOn(Snapshot.prototype, 'files')];
    try {
      const { result, longestBlockMs: blockedMs } = await longestLoopBlock(async () => {
        const pages = [];
        for (const prefix of ['wide/', 'wide/region=APAC/'])
          pages.push(...(await listAllPages(proxy.url, 'lister', 2, { prefix, delimiter: '/' })));
        return pages;
      });
      expect(result.flatMap((p) => p.prefixes)).toEqual(['wide/_delta_log/', 'wide/region=APAC/']);
      expect(result.flatMap((p) => p.keys)).toHaveLength(APAC_OBJECTS);
      expect(walks.map((w) => w.mock.calls.length)).toEqual([0, 1]);
      expect(blockedMs).toBeLessThan(1_000);
    } finally {
      for (const w of walks) w.mockRestore();
    }
  });
});
