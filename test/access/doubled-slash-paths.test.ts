/**
 * An absolute path in the log with a doubled slash (`s3://bucket/t//region=EU/x.parquet`, a `p`
 * deletion vector `s3://bucket/t//region=EU/dv.bin`) names the key without it for the readers:
 * Spark's Hadoop Path normalizes the URI (java.net.URI.normalize drops redundant slashes) and
 * delta-kernel-rs reads a vector through object_store's Path::from (empty segments dropped). The
 * proxy took such a path for one outside the table: the granted reader was refused its file and
 * its vector (raw view), and the filtered view hid the file and inlined a placeholder vector.
 */
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z85Encode } from '../../lambda/delta/z85';
import { crc32 } from '../../lambda/log-view/dv-inliner';
import {
  addAction,
  commitKey,
  commitText,
  DV_ENABLED,
  dvProtocol,
  field,
  metaData,
} from '../helpers/log-text';
import { type RegionReaders, startRegionReaders } from '../helpers/proxy-harness';
import { backendClient, type S3Server, startS3rver, writeBucket } from '../helpers/s3-servers';

const BUCKET = 'doubled-slash';

/** A DV file: a version byte, then at offset 1 size (BE), magic (LE) + bitmap, CRC-32 (BE). */
function dvFileBytes(bitmap: number[]): { file: Uint8Array; data: Uint8Array } {
  const data = new Uint8Array(4 + bitmap.length);
  new DataView(data.buffer).setUint32(0, 1681511377, true);
  data.set(bitmap, 4);
  const file = new Uint8Array(1 + 4 + data.length + 4);
  const v = new DataView(file.buffer);
  file[0] = 1;
  v.setUint32(1, data.length, false);
  file.set(data, 5);
  v.setUint32(5 + data.length, crc32(data), false);
  return { file, data };
}
const vec = dvFileBytes([1, 2, 3, 4]);

let backend: S3Server;

beforeAll(async () => {
  backend = await startS3rver();
  await writeBucket(backend.endpoint, BUCKET, {
    't/region=EU/x.parquet': 'EU DATA',
    't/region=EU/z.parquet': 'EU ZZZZ',
    [commitKey(0, 't/')]: commitText([
      dvProtocol,
      metaData(['region'], { id: 'doubled', configuration: DV_ENABLED, fields: [field('region', 'string')] }),
      addAction(
        'region=EU/x.parquet',
        { region: 'EU' },
        {
          size: 7,
          deletionVector: {
            storageType: 'p',
            pathOrInlineDv: `s3://${BUCKET}/t//region=EU/dv.bin`,
            offset: 1,
            sizeInBytes: vec.data.length,
            cardinality: 1,
          },
        },
      ),
      addAction(`s3://${BUCKET}/t//region=EU/z.parquet`, { region: 'EU' }, { size: 7 }),
    ]),
  });
  const c = backendClient(backend.endpoint);
  await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: 't/region=EU/dv.bin', Body: vec.file }));
  c.destroy();
}, 60_000);

afterAll(async () => {
  await backend?.stop();
});

describe.each(['raw', 'filtered'] as const)('absolute paths with a doubled slash (logView %s)', (logView) => {
  let readers: RegionReaders;
  beforeAll(async () => {
    readers = await startRegionReaders(backend, BUCKET, logView);
  });
  afterAll(() => readers?.stop());

  const get = (client: S3Client, Key: string) =>
    client.send(new GetObjectCommand({ Bucket: 'datalake', Key })).then(
      async (o) => ({ status: 200, body: await o.Body!.transformToByteArray() }),
      (e: { $metadata?: { httpStatusCode?: number } }) => ({
        status: e.$metadata?.httpStatusCode,
        body: undefined,
      }),
    );

  it('serves the key the readers read, to the granted reader only', async () => {
    expect((await get(readers.eu, 't/region=EU/z.parquet')).status).toBe(200);
    expect((await get(readers.us, 't/region=EU/z.parquet')).status).not.toBe(200);
    expect((await get(readers.us, 't/region=EU/dv.bin')).status).not.toBe(200);
    if (logView === 'raw') {
      const r = await get(readers.eu, 't/region=EU/dv.bin');
      expect(r.status).toBe(200);
      expect(r.body).toEqual(vec.file);
      return;
    }
    const commit = await get(readers.eu, commitKey(0, 't/'));
    expect(commit.status).toBe(200);
    const adds = new TextDecoder()
      .decode(commit.body)
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l).add)
      .filter(Boolean);
    const padded = new Uint8Array(Math.ceil(vec.data.length / 4) * 4);
    padded.set(vec.data);
    expect(
      adds.find((a: { path: string }) => a.path === 'region=EU/x.parquet')?.deletionVector,
    ).toMatchObject({
      storageType: 'i',
      pathOrInlineDv: z85Encode(padded),
    });
    expect(adds.map((a: { path: string }) => a.path).sort()).toEqual([
      'region=EU/x.parquet',
      'region=EU/z.parquet',
    ]);
  });
});
