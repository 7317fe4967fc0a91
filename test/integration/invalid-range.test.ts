/**
 * A range that starts past the end is 416 InvalidRange naming the range asked for and the
 * object's size, as S3 writes it (`RangeRequested`, `ActualObjectSize`): for a backend object
 * (where the backend's answer tells the size), a HEAD and a file of the filtered log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSpecialTable } from '../helpers/fixture-tables';
import { listingParser as parser } from '../helpers/listing-compare';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { backendClient, createBucket, type S3Server, s3rverAndMoto, uploadDir } from '../helpers/s3-servers';
import { encodeKeyPath, signedFetch } from '../helpers/signed-fetch';

const RANGE = 'bytes=99999999-';

describe.each(s3rverAndMoto())('InvalidRange on %s', (_kind, start, skip) => {
  let s3: S3Server;
  let proxy: RunningProxy;
  let keys: string[] = [];
  const run = it.skipIf(skip !== undefined);
  beforeAll(async () => {
    if (skip) return;
    s3 = await start();
    const c = backendClient(s3.endpoint);
    await createBucket(c, 'lake');
    keys = await uploadDir(c, 'lake', 'tables/sales/', await writeSpecialTable(['EU'], ['2024-01-01']));
    c.destroy();
    proxy = await startProxy(s3, {
      logView: 'filtered',
      tableMapping: { sales: 's3://lake/tables/sales' },
      grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{}] }],
    });
  });
  afterAll(async () => {
    await proxy?.stop();
    await s3?.stop();
  });

  const ask = async (method: 'GET' | 'HEAD', key: string) => {
    const path = `/datalake/${encodeKeyPath(key.replace('tables/', ''))}`;
    const size = await signedFetch(proxy.url, 'HEAD', path, '', {}, ANALYST);
    const r = await signedFetch(proxy.url, method, path, '', { range: RANGE }, ANALYST);
    const error = method === 'GET' ? parser.parse(r.text).Error : undefined;
    return { status: r.status, size: size.headers['content-length'], error };
  };

  run('a GET of a backend object names the range and, told by the backend, its size', async () => {
    const data = keys.find((k) => k.endsWith('.parquet') && !k.includes('_delta_log'))!;
    const { status, size, error } = await ask('GET', data);
    expect([status, error?.Code, error?.RangeRequested]).toEqual([416, 'InvalidRange', RANGE]);
    expect(String(error?.ActualObjectSize)).toBe(size);
  });

  run('a GET of a generated log file names both', async () => {
    const log = keys.find((k) => k.endsWith('00000000000000000000.json'))!;
    const { status, size, error } = await ask('GET', log);
    expect([status, error?.Code, error?.RangeRequested]).toEqual([416, 'InvalidRange', RANGE]);
    expect(String(error?.ActualObjectSize)).toBe(size);
  });

  run('a HEAD answers 416 without a body', async () => {
    const data = keys.find((k) => k.endsWith('.parquet') && !k.includes('_delta_log'))!;
    expect((await ask('HEAD', data)).status).toBe(416);
  });
});
