/**
 * A table without grant answers like an alias that is not mapped. A key that fits S3's 1,024 bytes
 * as asked but not once the table's backend prefix is put in front of it must not tell them apart:
 * 400 KeyTooLongError there (404 for an unmapped alias of the same length) told anyone that the
 * alias is mapped, and by bisection how long its backend prefix is.
 */
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VIRTUAL_BUCKET } from '../../lambda/s3/virtual-key';
import { writeRegionTable } from '../helpers/fixture-tables';
import { type MisbehavingS3, startMisbehavingS3 } from '../helpers/misbehaving-s3';
import { type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { backendClient, createBucket, type S3Server, startS3rver, uploadDir } from '../helpers/s3-servers';

const SECRET_ROOT = 'warehouse/finance/very/deep/secret';

let upstream: S3Server;
let backend: MisbehavingS3;

beforeAll(async () => {
  upstream = await startS3rver();
  backend = await startMisbehavingS3(upstream);
  const table = await writeRegionTable(1, []);
  const admin = backendClient(backend.endpoint);
  await createBucket(admin, 'lake');
  await uploadDir(admin, 'lake', 'tables/open/', table.dir);
  await uploadDir(admin, 'lake', `${SECRET_ROOT}/`, table.dir);
  admin.destroy();
}, 60_000);
afterAll(async () => {
  await backend?.stop();
  await upstream?.stop();
});

describe.each(['raw', 'filtered'] as const)('key too long behind a prefix (%s)', (logView) => {
  let proxy: RunningProxy;
  let client: S3Client;

  beforeAll(async () => {
    proxy = await startProxy(backend, {
      logView,
      getMode: 'proxy',
      tableMapping: { open: 's3://lake/tables/open', secret: `s3://lake/${SECRET_ROOT}` },
      grants: [{ principal: 'analyst', table: 'open', partitions: [{}] }],
    });
    client = proxy.client();
  });
  afterAll(async () => {
    client?.destroy();
    await proxy?.stop();
  });

  /** A key of exactly 1,024 bytes under `alias`. */
  const longKey = (alias: string) => `${alias}/${'k'.repeat(1024 - alias.length - 1)}`;
  const answer = async (send: () => Promise<unknown>) => {
    try {
      await send();
      return '200';
    } catch (e) {
      const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
      return `${err.$metadata?.httpStatusCode} ${err.name}`;
    }
  };
  const get = (key: string) =>
    answer(async () => {
      const out = await client.send(new GetObjectCommand({ Bucket: VIRTUAL_BUCKET, Key: key }));
      await out.Body?.transformToString();
    });
  const head = (key: string) =>
    answer(() => client.send(new HeadObjectCommand({ Bucket: VIRTUAL_BUCKET, Key: key })));

  it('answers a table without grant like an unmapped alias (GET and HEAD)', async () => {
    expect(await get(longKey('secret'))).toBe(await get(longKey('sacret')));
    expect(await get(longKey('secret'))).toBe('404 NoSuchKey');
    expect(await head(longKey('secret'))).toBe(await head(longKey('sacret')));
  });

  it('answers a granted table as a missing key, and lists nothing there', async () => {
    expect(await get(longKey('open'))).toBe('404 NoSuchKey');
    expect(await head(longKey('open'))).toBe('404 NotFound');
    const out = await client.send(
      new ListObjectsV2Command({ Bucket: VIRTUAL_BUCKET, Prefix: longKey('open') }),
    );
    expect(out.KeyCount).toBe(0);
  });

  it('lists nothing under a prefix too long behind the table prefix, without asking S3', async () => {
    // No S3 key is longer than 1,024 bytes; s3rver lists nothing for such a prefix, real S3 may
    // refuse it (a 400 the proxy would turn into a 5xx). It is not sent.
    const long = (r: { query: URLSearchParams }) => (r.query.get('prefix') ?? '').length > 1024;
    backend.onRequest = (r) => (long(r) ? { status: 400, code: 'KeyTooLongError' } : undefined);
    try {
      const before = backend.seen.length;
      const out = await client.send(
        new ListObjectsV2Command({ Bucket: VIRTUAL_BUCKET, Prefix: `${longKey('open').slice(0, -1)}/` }),
      );
      expect(out.KeyCount).toBe(0);
      expect(backend.seen.slice(before).filter(long)).toEqual([]);
    } finally {
      backend.onRequest = () => undefined;
    }
  });
});
