/**
 * A grant whose partition map names a column the table is not partitioned by (`regon`) allows
 * nothing there (fail closed). The proxy cannot know a table's columns at start-up, so the first
 * request that meets such a grant says so in a warning line, once per table and column. A column
 * named in another letter case (`Region`) is that column, as in Spark (Delta refuses two columns
 * that differ only in case).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestTable, writeTable } from '../helpers/fault-tables';
import { ANALYST, type RunningProxy, startProxy, US_READER } from '../helpers/proxy-harness';
import { backendClient, createBucket, type S3Server, startS3rver } from '../helpers/s3-servers';
import { encodeKeyPath, signedFetch } from '../helpers/signed-fetch';

let backend: S3Server;
let s3: S3Client;
let sales: TestTable;
let files: string[];

beforeAll(async () => {
  backend = await startS3rver();
  s3 = backendClient(backend.endpoint);
  await createBucket(s3, 'columns-lake');
  sales = await writeTable(s3, 'columns-lake', 'sales', 'tables/sales/');
  files = await sales.commitFiles('EU', 'US');
}, 60_000);
afterAll(async () => {
  s3?.destroy();
  await backend?.stop();
});

describe.each(['raw', 'filtered'] as const)(
  'a grant on a column the table does not have (logView %s)',
  (logView) => {
    let proxy: RunningProxy;
    beforeAll(async () => {
      proxy = await startProxy(backend, {
        logView,
        getMode: 'proxy',
        tableMapping: { sales: sales.uri },
        grants: [
          { principal: ANALYST.principal, table: 'sales', partitions: [{ regon: 'EU' }, { region: 'US' }] },
          { principal: US_READER.principal, table: 'sales', partitions: [{ Region: 'EU' }] },
        ],
        auth: { keys: [ANALYST, US_READER] },
      });
    });
    afterAll(async () => {
      await proxy?.stop();
    });

    it('allows nothing through that map, and a warning names the table and the column, once', async () => {
      const get = (file: string) =>
        signedFetch(proxy.url, 'GET', `/datalake/${encodeKeyPath(`sales/${file}`)}`, '', {}, ANALYST);
      const warned = () => proxy.logs.map((l) => JSON.parse(l)).filter((l) => l.column !== undefined);
      // A reader starts with the log: the filtered one is made for these maps, and says so already.
      expect((await get('_delta_log/00000000000000000000.json')).status).toBe(200);
      expect(warned()).toHaveLength(logView === 'filtered' ? 1 : 0);
      expect((await get(files[0]!)).status).toBe(logView === 'raw' ? 403 : 404);
      expect((await get(files[1]!)).status).toBe(200);
      expect((await get(files[0]!)).status).not.toBe(200);
      expect(warned()).toEqual([
        expect.objectContaining({
          level: 'warn',
          table: 'sales',
          column: 'regon',
          principal: ANALYST.principal,
          partitionColumns: ['region'],
        }),
      ]);
    });

    it('takes a column named in another letter case for that column, without a warning', async () => {
      const get = (file: string) =>
        signedFetch(proxy.url, 'GET', `/datalake/${encodeKeyPath(`sales/${file}`)}`, '', {}, US_READER);
      expect((await get('_delta_log/00000000000000000000.json')).status).toBe(200);
      expect((await get(files[0]!)).status).toBe(200); // EU
      expect((await get(files[1]!)).status).toBe(logView === 'raw' ? 403 : 404); // US
      const warnings = proxy.logs
        .map((l) => JSON.parse(l))
        .filter((l) => l.principal === US_READER.principal);
      expect(warnings).toEqual([]);
    });
  },
);
