/**
 * A listing shows a folder (common prefix) only when something under it is shown. A folder whose
 * only file is a deletion-vector file the caller may not read showed as an empty common prefix:
 * - raw view: the vector file holds the vectors of an EU file (removed since) and of a US file; the
 *   US reader may not read it (SECURITY.md), yet listed its folder;
 * - filtered view: no deletion-vector file is ever served (every vector is inline in the log), yet
 *   a reader granted its owners listed its folder.
 * Through the real proxy on s3rver with SDK clients, for a root listing and paged listings.
 */
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dvFile, TableRoot } from '../../lambda/delta/table-root';
import {
  addAction,
  commitKey,
  commitText,
  DV_ENABLED,
  dvProtocol,
  metaData,
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

const EU = ANALYST;
const US = US_READER;
const BOTH = BOTH_READER;
const BUCKET = 'dv-folder-lake';
/** One `u` vector file under a random prefix folder ("ab/"), as Spark writes with random prefixes. */
const sharedFile = dvFile(new TableRoot(`s3://${BUCKET}/t`), sharedVector(1))!.relPath!;
const DV_FOLDER = sharedFile.slice(0, sharedFile.indexOf('/') + 1);
const add = (path: string, region: string, offset: number) =>
  addAction(path, { region }, { size: 4, deletionVector: sharedVector(offset) });

let backend: S3Server;

beforeAll(async () => {
  backend = await startS3rver();
  await writeBucket(backend.endpoint, BUCKET, {
    't/region=EU/a.parquet': 'EU!!',
    't/region=US/b.parquet': 'US!!',
    [`t/${sharedFile}`]: 'VECTORS OF EU AND US',
    [commitKey(0, 't/')]: commitText([
      dvProtocol,
      metaData(['region'], { id: 'dv-folder', configuration: DV_ENABLED }),
      add('region=EU/a.parquet', 'EU', 1),
      add('region=US/b.parquet', 'US', 20),
    ]),
    [commitKey(1, 't/')]: commitText([
      removeAction('region=EU/a.parquet', {
        partitionValues: { region: 'EU' },
        deletionTimestamp: Date.now(),
        deletionVector: sharedVector(1),
      }),
    ]),
  });
}, 60_000);

afterAll(async () => {
  await backend?.stop();
});

describe.each(['raw', 'filtered'] as const)(
  'a folder holding only a hidden deletion-vector file (logView %s)',
  (logView) => {
    let proxy: RunningProxy;
    const clients = new Map<string, S3Client>();
    beforeAll(async () => {
      proxy = await startProxy(backend, {
        logView,
        getMode: 'proxy',
        tableMapping: { t: `s3://${BUCKET}/t` },
        auth: { keys: [EU, US, BOTH] },
        grants: [
          { principal: EU.principal, table: 't', partitions: [{ region: 'EU' }] },
          { principal: US.principal, table: 't', partitions: [{ region: 'US' }] },
          { principal: BOTH.principal, table: 't', partitions: [{ region: 'EU' }, { region: 'US' }] },
        ],
      });
      for (const k of [EU, US, BOTH]) clients.set(k.principal, proxy.client(k));
    });
    afterAll(async () => {
      for (const c of clients.values()) c.destroy();
      await proxy?.stop();
    });

    /** The common prefixes of a "/" listing of the table root (every page), log folder left out. */
    async function folders(key: TestKey, maxKeys = 1000): Promise<string[]> {
      const out: string[] = [];
      let token: string | undefined;
      do {
        const page = await clients.get(key.principal)!.send(
          new ListObjectsV2Command({
            Bucket: 'datalake',
            Prefix: 't/',
            Delimiter: '/',
            MaxKeys: maxKeys,
            ...(token ? { ContinuationToken: token } : {}),
          }),
        );
        for (const p of page.CommonPrefixes ?? []) if (p.Prefix !== 't/_delta_log/') out.push(p.Prefix!);
        token = page.NextContinuationToken;
      } while (token);
      return out;
    }

    it('is listed only to a caller who may read that file', async () => {
      // Sanity: the vector file lies in a folder of its own.
      expect(DV_FOLDER).toBe('ab/');
      const shown = logView === 'raw' ? [`t/${DV_FOLDER}`] : [];
      for (const maxKeys of [1000, 1]) {
        expect(await folders(BOTH, maxKeys)).toEqual([...shown, 't/region=US/']);
        expect(await folders(US, maxKeys)).toEqual(['t/region=US/']);
        expect(await folders(EU, maxKeys)).toEqual([]);
      }
    });
  },
);
