/**
 * `grants add --partition` knows three escapes (`\,` `\=` `\\`). A backslash before any other
 * character was dropped without a word: `region=C:\data` stored a grant on `C:data`, a partition
 * the operator never wrote, and the key then read it through the proxy. Such a value is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoTable } from '../../lambda/store/dynamo-schema';
import { adminInProcess } from '../helpers/admin-cli';
import { type DynamoServer, startDynalite, testDynamoClient } from '../helpers/dynamo-servers';
import { writeRegionFiles } from '../helpers/fixture-tables';
import { type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { backendClient, createBucket, type S3Server, startS3rver } from '../helpers/s3-servers';
import { encodeKeyPath, signedFetch } from '../helpers/signed-fetch';

const TABLE = 'cli-escapes';
let backend: S3Server;
let dynalite: DynamoServer;
let proxy: RunningProxy;
let files: { region: string; key: string }[];

beforeAll(async () => {
  backend = await startS3rver();
  const s3 = backendClient(backend.endpoint);
  await createBucket(s3, 'esc-lake');
  const regions = ['C:data', 'C:\\data'];
  const adds = await writeRegionFiles(s3, 'esc-lake', 't/', regions);
  files = adds.map((a, i) => ({ region: regions[i]!, key: decodeURIComponent(a.path) }));
  s3.destroy();
  dynalite = await startDynalite();
  const client = testDynamoClient(dynalite.endpoint);
  await createDynamoTable(client, TABLE);
  client.destroy();
  proxy = await startProxy(backend, {
    getMode: 'proxy',
    tableMapping: { t: 's3://esc-lake/t' },
    databaseEnabled: true,
    database: { type: 'dynamodb', tableName: TABLE, endpoint: dynalite.endpoint, region: 'us-east-1' },
  });
}, 60_000);
afterAll(async () => {
  await proxy?.stop();
  await dynalite?.stop();
  await backend?.stop();
});

describe('grants add --partition with a backslash that escapes nothing', () => {
  it('is refused, and never grants the value with the backslash dropped', async () => {
    const common = ['--dynamodb', TABLE, '--endpoint', dynalite.endpoint, '--json'];
    const created = await adminInProcess(['keys', 'create', '--principal=win', ...common]);
    const key = JSON.parse(created.stdout) as { accessKeyId: string; secretAccessKey: string };
    const r = await adminInProcess([
      'grants',
      'add',
      '--principal=win',
      '--table=t',
      '--partition=region=C:\\data',
      ...common,
    ]);
    expect(r.code, r.stdout).toBe(2);
    expect(r.stderr).toMatch(/\\d.*\\\\/);
    const listed = await adminInProcess(['grants', 'list', '--principal=win', ...common]);
    expect(JSON.parse(listed.stdout)).toEqual([]);
    for (const f of files) {
      const got = await signedFetch(
        proxy.url,
        'GET',
        `/datalake/${encodeKeyPath(`t/${f.key}`)}`,
        '',
        {},
        key,
      );
      expect([f.region, got.status]).toEqual([f.region, 404]);
    }
    // Written as documented (`\\`), the backslash is kept and grants exactly that partition.
    const ok = await adminInProcess([
      'grants',
      'add',
      '--principal=win',
      '--table=t',
      '--partition=region=C:\\\\data',
      ...common,
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).partitions).toEqual([{ region: 'C:\\data' }]);
  });
});
