/**
 * The filtered log classifies each partition tuple of the log with the caller's grant. It compiled
 * the caller's every partition map again for each tuple: a principal granted 1,000 maps on a table
 * of 1,000 partitions held the event loop for 1.8-2 s in one block on its first request (a listing
 * of one key), every other request of the process waiting on it; compiled once, 50-60 ms.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { writeCheckpoint } from '../../lambda/local/delta-writer';
import { keyFor, parseListPage, startAuthzProxy } from '../helpers/authz-harness';
import { addAction, commitKey, commitText, field, metaData, protocolV1 } from '../helpers/log-text';
import { longestLoopBlock } from '../helpers/loop-watch';
import { measured, retryMeasured } from '../helpers/measured';
import { backendClient, createBucket, type S3Server, startS3rver } from '../helpers/s3-servers';
import { encodeQuery, signedFetch } from '../helpers/signed-fetch';

const REGIONS = 20;
const DAYS = 50;
const MAPS = 1000;
const r = (i: number) => `r${String(i).padStart(2, '0')}`;
const d = (i: number) => `d${String(i).padStart(3, '0')}`;
const file = (a: number, b: number) => `region=${r(a)}/day=${d(b)}/part-${a}-${b}.parquet`;

let s3: S3Server;
let client: S3Client;

beforeAll(async () => {
  s3 = await startS3rver();
  client = backendClient(s3.endpoint);
  await createBucket(client, 'lake');
  await writeTable('t/', REGIONS, DAYS);
  // A table of one file, whose first read loads the proxy's modules before anything is measured.
  await writeTable('w/', 1, 1);
}, 120_000);

async function writeTable(root: string, regions: number, days: number): Promise<void> {
  const put = (key: string, body: string | Uint8Array) =>
    client.send(new PutObjectCommand({ Bucket: 'lake', Key: `${root}${key}`, Body: body }));
  const meta = metaData(['region', 'day'], {
    fields: [field('id', 'long'), field('region', 'string'), field('day', 'string')],
  });
  const files: { path: string; partitionValues: Record<string, string> }[] = [];
  for (let a = 0; a < regions; a++)
    for (let b = 0; b < days; b++)
      files.push({ path: file(a, b), partitionValues: { region: r(a), day: d(b) } });
  await put(
    commitKey(0),
    commitText([
      { commitInfo: { timestamp: 1, operation: 'WRITE' } },
      protocolV1,
      meta,
      ...files.map((f) => addAction(f.path, f.partitionValues, { size: 4, modificationTime: 1 })),
    ]),
  );
  await writeCheckpoint(
    { put: async (rel, bytes) => void (await put(rel, bytes)) },
    0,
    protocolV1.protocol,
    meta.metaData as never,
    files.map((f) => ({ ...f, size: 4, modificationTime: 1, dataChange: false })),
  );
  await put(file(0, 0), 'PAR1');
}

afterAll(async () => {
  client?.destroy();
  await s3?.stop();
});

it(`a first listing by a principal of ${MAPS} maps over ${REGIONS * DAYS} partitions does not hold the event loop`, {
  ...retryMeasured,
  timeout: 60_000,
}, async () => {
  // A proxy of its own: what is measured is its first request (a retry meets a cold one too).
  // Maps of partitions the log does not hold but one: what the caller's log shows stays small.
  const maps = Array.from({ length: MAPS }, (_, i) => ({
    region: r(i % REGIONS),
    day: d(i === 0 ? 0 : DAYS + i),
  }));
  const proxy = await startAuthzProxy(
    s3,
    {
      logView: 'filtered',
      tableMapping: { t: 's3://lake/t', w: 's3://lake/w' },
      grants: [
        { principal: 'wide', table: 't', partitions: maps },
        { principal: 'wide', table: 'w', partitions: [{ region: r(0) }] },
      ],
    },
    ['wide'],
  );
  const list = (table: string) =>
    signedFetch(
      proxy.url,
      'GET',
      '/datalake',
      encodeQuery({ 'list-type': '2', prefix: `${table}/_delta_log/`, 'max-keys': '1' }),
      {},
      keyFor('wide'),
    );
  expect((await list('w')).status).toBe(200);
  const { result, longestBlockMs } = await longestLoopBlock(() => list('t')).finally(() => proxy.stop());
  expect(result.status).toBe(200);
  expect(parseListPage(result, false).keys).toEqual(['t/_delta_log/00000000000000000000.checkpoint.parquet']);
  // Before: 1,800-2,100 ms in one block; now 50-60 ms (the log read and filtered, the modules warm).
  measured(longestBlockMs, 'longest loop block, ms').toBeLessThan(250);
});
