/**
 * A listing's event-loop holds are bounded by the key bytes of one backend page, not by a page of
 * 1,000 keys: keys may be 1,024 bytes long, and a page of 1,000 of them (over 1 MB of XML) was
 * parsed and filtered in one block (60-150 ms measured on a shared runner) even when the caller
 * could see none of them. Orphan files with long names under a table (never in its log) are
 * hidden from every caller, yet a listing must still read past them a page at a time.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Backend } from '../../lambda/storage/s3-backend';
import type { ListPage, ListParams, StorageBackend } from '../../lambda/storage/storage-backend';
import { keyFor, listAllPages } from '../helpers/authz-harness';
import { writeSpecialTable } from '../helpers/fixture-tables';
import { type RunningProxy, startProxy } from '../helpers/proxy-harness';
import {
  BACKEND_CREDENTIALS,
  backendClient,
  createBucket,
  type S3Server,
  startS3rver,
  uploadDir,
} from '../helpers/s3-servers';

const ORPHANS = 600;
const READER = keyFor('reader');
/** Keys of about 1,000 characters (s3rver stores each "/" segment as a file name of at most 255 bytes). */
const LONG = Array(5).fill('k'.repeat(190)).join('/');
/** Key characters one backend page may hold (a quarter of a page of 1,000 keys of 1,024 bytes). */
const PAGE_KEY_BYTES = 256 * 1024;

let s3: S3Server;
let proxy: RunningProxy;
let tableFiles: string[];
/** Per backend page the proxy read: the keys it asked for and the key characters it got. */
const pages: { maxKeys: number | undefined; keyChars: number }[] = [];

beforeAll(async () => {
  s3 = await startS3rver();
  const client = backendClient(s3.endpoint);
  await createBucket(client, 'lake');
  tableFiles = await uploadDir(
    client,
    'lake',
    'tables/sales/',
    await writeSpecialTable(['EU'], ['2024-01-01']),
  );
  const orphans = Array.from(
    { length: ORPHANS },
    (_, i) => `tables/sales/region=EU/date=2024-01-01/${LONG}-${String(i).padStart(4, '0')}.parquet`,
  );
  for (let i = 0; i < orphans.length; i += 32)
    await Promise.all(
      orphans
        .slice(i, i + 32)
        .map((k) => client.send(new PutObjectCommand({ Bucket: 'lake', Key: k, Body: 'x' }))),
    );
  client.destroy();
  const real = new S3Backend({
    endpoint: s3.endpoint,
    forcePathStyle: true,
    credentials: BACKEND_CREDENTIALS,
  });
  const storage: StorageBackend = {
    get: (ref, o) => real.get(ref, o),
    head: (ref, o) => real.head(ref, o),
    presign: (ref, o) => real.presign(ref, o),
    list: async (p: ListParams): Promise<ListPage> => {
      const page = await real.list(p);
      let keyChars = 0;
      for (const o of page.objects) keyChars += o.key.length;
      for (const c of page.commonPrefixes) keyChars += c.length;
      pages.push({ maxKeys: p.maxKeys, keyChars });
      return page;
    },
  };
  proxy = await startProxy(
    s3,
    {
      logView: 'filtered',
      tableMapping: { sales: 's3://lake/tables/sales' },
      grants: [{ principal: READER.principal, table: 'sales', partitions: [{}] }],
      auth: { keys: [READER] },
    },
    undefined,
    { storage },
  );
}, 180_000);

afterAll(async () => {
  await proxy?.stop();
  await s3?.stop();
});

describe('a listing over keys of ~1,000 bytes the caller cannot see', () => {
  it('reads the backend in pages of bounded key bytes and still lists every readable file', async () => {
    pages.length = 0;
    const listed = await listAllPages(proxy.url, READER.principal, 2, { prefix: 'sales/region=EU/' });
    const data = tableFiles
      .filter((k) => k.startsWith('tables/sales/region=EU/'))
      .map((k) => k.slice('tables/'.length));
    expect(listed.flatMap((p) => p.keys).sort()).toEqual(data.sort());
    // Every orphan was read past (more than one page of them), none was shown.
    expect(pages.reduce((n, p) => n + p.keyChars, 0)).toBeGreaterThan(ORPHANS * LONG.length);
    for (const p of pages) expect(p.keyChars).toBeLessThanOrEqual(PAGE_KEY_BYTES);
  });
});
