/**
 * A file the newest snapshot holds is judged by its partition there, in both views: an older
 * `remove` of the same path that claims another partition (its values disagree with every add of
 * the file: a broken writer) does not make the active file readable in that partition. Before,
 * the filtered view (the default) served it through the history's record of that remove, while
 * the raw view refused it.
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addAction,
  commitKey,
  commitText,
  field,
  metaData,
  protocolV1,
  removeAction,
} from '../helpers/log-text';
import { type RegionReaders, startRegionReaders } from '../helpers/proxy-harness';
import { type S3Server, startS3rver, writeBucket } from '../helpers/s3-servers';

const BUCKET = 'active-lake';
const add = (path: string, region: string) => addAction(path, { region }, { size: 7 });

let backend: S3Server;

beforeAll(async () => {
  backend = await startS3rver();
  await writeBucket(backend.endpoint, BUCKET, {
    't/region=US/p.parquet': 'US DATA',
    [commitKey(0, 't/')]: commitText([
      protocolV1,
      metaData(['region'], { id: 'active-file', fields: [field('region', 'string')] }),
      add('region=US/p.parquet', 'US'),
    ]),
    // Removed (now, within retention) with values of another partition, then added again as before.
    [commitKey(1, 't/')]: commitText([
      removeAction('region=US/p.parquet', {
        partitionValues: { region: 'EU' },
        deletionTimestamp: Date.now(),
      }),
    ]),
    [commitKey(2, 't/')]: commitText([add('region=US/p.parquet', 'US')]),
  });
}, 60_000);

afterAll(async () => {
  await backend?.stop();
});

describe.each(['raw', 'filtered'] as const)('an active file and a stale remove (logView %s)', (logView) => {
  let readers: RegionReaders;
  beforeAll(async () => {
    readers = await startRegionReaders(backend, BUCKET, logView);
  });
  afterAll(() => readers?.stop());

  const get = (client: S3Client) =>
    client.send(new GetObjectCommand({ Bucket: 'datalake', Key: 't/region=US/p.parquet' })).then(
      async (o) => ({ status: 200, body: await o.Body!.transformToString() }),
      (e: { $metadata?: { httpStatusCode?: number } }) => ({ status: e.$metadata?.httpStatusCode }),
    );

  it('is served in its own partition only', async () => {
    expect(await get(readers.us)).toEqual({ status: 200, body: 'US DATA' });
    expect(await get(readers.eu)).toEqual({ status: logView === 'raw' ? 403 : 404 });
  });
});
