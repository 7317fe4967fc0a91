/**
 * Deletion vectors in the retained history, through the real proxy on s3rver with SDK clients:
 * - a `remove` whose path-based (`p`) deletion vector names a data file of another partition does
 *   not make that file readable (SECURITY.md: a deletion vector counts only for a `.bin` file
 *   outside `_delta_log/`), removed or active, raw or filtered view;
 * - a deletion-vector file holds the vectors of every file that ever pointed at it: it is readable
 *   only by a caller who may read all of them, also once some of them were removed (the history
 *   knows their partitions) — not by a caller granted one of them.
 */
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dvFile, TableRoot } from '../../lambda/delta/table-root';
import {
  addAction,
  commitKey,
  commitText,
  DV_ENABLED,
  dvProtocol,
  metaData,
  pathVector,
  removeAction,
  sharedVector,
} from '../helpers/log-text';
import {
  ANALYST,
  BOTH_READER,
  type RunningProxy,
  startProxy,
  type TestKey,
  US_READER,
} from '../helpers/proxy-harness';
import { type S3Server, startS3rver, writeBucket } from '../helpers/s3-servers';

const EU_READER = ANALYST;
const BOTH = BOTH_READER;

const BUCKET = 'dv-lake';
const dvMetaData = metaData(['region'], { id: 'dv-owners', configuration: DV_ENABLED });
const add = (path: string, region: string, deletionVector?: object) =>
  addAction(path, { region }, { size: 4, deletionVector });
/** Removed now: well within the default retention of 7 days. */
const remove = (path: string, region: string, deletionVector?: object) =>
  removeAction(path, { partitionValues: { region }, deletionTimestamp: Date.now(), deletionVector });

let backend: S3Server;

/** A path-based deletion vector pointing at `rel` in table `t`. */
const pathDv = (t: string, rel: string) => pathVector(`s3://${BUCKET}/${t}/${rel}`);
/** One deletion-vector file (`u`), at two offsets: Spark packs a task's vectors into one file. */
const sharedFile = dvFile(new TableRoot(`s3://${BUCKET}/shared`), sharedVector(1))!.relPath!;

beforeAll(async () => {
  backend = await startS3rver();
  await writeBucket(backend.endpoint, BUCKET, {
    // Table "pathdv": removes whose `p` vectors name US data files.
    'pathdv/region=US/removed.parquet': 'US!!',
    'pathdv/region=US/active.parquet': 'US!!',
    'pathdv/region=EU/a.parquet': 'EU!!',
    'pathdv/region=EU/b.parquet': 'EU!!',
    'pathdv/region=EU/vectors-of-c.bin': 'VEC',
    [commitKey(0, 'pathdv/')]: commitText([
      dvProtocol,
      dvMetaData,
      add('region=US/removed.parquet', 'US'),
      add('region=US/active.parquet', 'US'),
      add('region=EU/a.parquet', 'EU'),
      add('region=EU/b.parquet', 'EU'),
      add('region=EU/c.parquet', 'EU', pathDv('pathdv', 'region=EU/vectors-of-c.bin')),
    ]),
    [commitKey(1, 'pathdv/')]: commitText([
      remove('region=US/removed.parquet', 'US'),
      remove('region=EU/a.parquet', 'EU', pathDv('pathdv', 'region=US/removed.parquet')),
      remove('region=EU/b.parquet', 'EU', pathDv('pathdv', 'region=US/active.parquet')),
      remove('region=EU/c.parquet', 'EU', pathDv('pathdv', 'region=EU/vectors-of-c.bin')),
    ]),
    // Table "shared": one DV file with the vectors of an EU file and a US file; the EU file removed since.
    'shared/region=EU/a.parquet': 'data',
    'shared/region=US/b.parquet': 'data',
    [`shared/${sharedFile}`]: 'VECTORS OF EU AND US',
    [commitKey(0, 'shared/')]: commitText([
      dvProtocol,
      dvMetaData,
      add('region=EU/a.parquet', 'EU', sharedVector(1)),
      add('region=US/b.parquet', 'US', sharedVector(20)),
    ]),
    [commitKey(1, 'shared/')]: commitText([remove('region=EU/a.parquet', 'EU', sharedVector(1))]),
  });
}, 60_000);

afterAll(async () => {
  await backend?.stop();
});

describe.each(['raw', 'filtered'] as const)('deletion vectors in history (logView %s)', (logView) => {
  let proxy: RunningProxy;
  const clients = new Map<string, S3Client>();
  beforeAll(async () => {
    const grant = (principal: string, table: string, regions: string[]) => ({
      principal,
      table,
      partitions: regions.map((region) => ({ region })),
    });
    proxy = await startProxy(backend, {
      logView,
      getMode: 'proxy',
      tableMapping: { pathdv: `s3://${BUCKET}/pathdv`, shared: `s3://${BUCKET}/shared` },
      auth: { keys: [EU_READER, US_READER, BOTH] },
      grants: [
        grant(EU_READER.principal, 'pathdv', ['EU']),
        grant(EU_READER.principal, 'shared', ['EU']),
        grant(US_READER.principal, 'shared', ['US']),
        grant(BOTH.principal, 'shared', ['EU', 'US']),
      ],
    });
    for (const k of [EU_READER, US_READER, BOTH]) clients.set(k.principal, proxy.client(k));
  });
  afterAll(async () => {
    for (const c of clients.values()) c.destroy();
    await proxy?.stop();
  });

  /** The status of an SDK GetObject (200, or the error's status), and the body when 200. */
  async function get(key: TestKey, vkey: string): Promise<{ status: number; body?: string }> {
    try {
      const out = await clients
        .get(key.principal)!
        .send(new GetObjectCommand({ Bucket: 'datalake', Key: vkey }));
      return { status: 200, body: await out.Body!.transformToString() };
    } catch (err) {
      return { status: (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 0 };
    }
  }
  /** The data and deletion-vector keys a caller's listing of the shared table shows. */
  async function listed(key: TestKey, prefix = 'shared/'): Promise<string[]> {
    const out = await clients
      .get(key.principal)!
      .send(new ListObjectsV2Command({ Bucket: 'datalake', Prefix: prefix }));
    return (out.Contents ?? []).map((c) => c.Key!).filter((k) => !k.startsWith('shared/_delta_log/'));
  }
  const refused = logView === 'raw' ? 403 : 404;

  it("a removed file's path-based deletion vector naming a US data file does not make it readable in EU", async () => {
    expect(await get(EU_READER, 'pathdv/region=EU/a.parquet')).toEqual({ status: 200, body: 'EU!!' });
    expect(await get(EU_READER, 'pathdv/region=US/removed.parquet')).toEqual({ status: refused });
    expect(await get(EU_READER, 'pathdv/region=US/active.parquet')).toEqual({ status: refused });
  });

  it("a removed file's own deletion-vector file is served in raw view only (filtered: every vector is inline)", async () => {
    const dv = 'pathdv/region=EU/vectors-of-c.bin';
    expect(await get(EU_READER, dv)).toEqual(
      logView === 'raw' ? { status: 200, body: 'VEC' } : { status: 404 },
    );
  });

  it(
    logView === 'raw'
      ? 'a deletion-vector file that held an EU and a US vector needs both, after the EU file was removed'
      : 'a deletion-vector file that held an EU and a US vector is served to no one, listed to no one',
    async () => {
      const dv = `shared/${sharedFile}`;
      if (logView === 'filtered') {
        // The data folders only: the test's vector bytes are not a real vector, which the
        // filtered log would have to inline into its commits.
        const DATA = 'shared/region=';
        for (const caller of [BOTH, EU_READER, US_READER])
          expect(await get(caller, dv)).toEqual({ status: 404 });
        expect((await get(US_READER, 'shared/region=US/b.parquet')).status).toBe(200);
        expect(await listed(BOTH, DATA)).toEqual(['shared/region=US/b.parquet']);
        expect(await listed(EU_READER, DATA)).toEqual([]);
        expect(await listed(US_READER, DATA)).toEqual(['shared/region=US/b.parquet']);
        return;
      }
      expect(await get(BOTH, dv)).toEqual({ status: 200, body: 'VECTORS OF EU AND US' });
      // The EU reader may still read the removed EU file (within retention), not the US vector.
      expect((await get(EU_READER, 'shared/region=EU/a.parquet')).status).toBe(200);
      expect(await get(EU_READER, dv)).toEqual({ status: 403 });
      // The US reader reads the active US file, not the removed EU file's vector.
      expect((await get(US_READER, 'shared/region=US/b.parquet')).status).toBe(200);
      expect(await get(US_READER, dv)).toEqual({ status: 403 });
      // Listings show what a GET serves.
      expect(await listed(BOTH)).toEqual([dv, 'shared/region=US/b.parquet'].sort());
      expect(await listed(EU_READER)).toEqual([]);
      expect(await listed(US_READER)).toEqual(['shared/region=US/b.parquet']);
    },
  );
});
