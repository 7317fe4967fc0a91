/**
 * Mounts that overlap in the backend: a table nested under another's root, a table whose prefix is
 * a string prefix of another's, and a second alias on the same table. A grant on one alias must
 * reach nothing of the others through it: not their files, not their logs, not in listings.
 */
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VIRTUAL_BUCKET } from '../../lambda/s3/virtual-key';
import { writeRegionTable } from '../helpers/fixture-tables';
import { ANALYST, type RunningProxy, startProxy, type TestKey } from '../helpers/proxy-harness';
import { backendClient, createBucket, type S3Server, startS3rver, uploadDir } from '../helpers/s3-servers';

const TWIN_READER: TestKey = {
  accessKeyId: 'AKIATESTTWINREADER01',
  secretAccessKey: 'twin-reader-secret-0001',
  principal: 'twin-reader',
};
const TABLES = { outer: 'lake/t', nested: 'lake/t/sub', sibling: 'lake/t2', twin: 'lake/t' };

let backend: S3Server;
let outerEu: string[];
let outerUs: string[];
let nestedFiles: string[];

beforeAll(async () => {
  backend = await startS3rver();
  const outer = await writeRegionTable(1, []);
  const nested = await writeRegionTable(1, []);
  const sibling = await writeRegionTable(1, []);
  const admin = backendClient(backend.endpoint);
  await createBucket(admin, 'lake');
  await uploadDir(admin, 'lake', 't/', outer.dir);
  await uploadDir(admin, 'lake', 't/sub/', nested.dir);
  await uploadDir(admin, 'lake', 't2/', sibling.dir);
  admin.destroy();
  outerEu = outer.adds
    .filter((a) => a.partitionValues.region === 'EU')
    .map((a) => decodeURIComponent(a.path));
  outerUs = outer.adds
    .filter((a) => a.partitionValues.region === 'US')
    .map((a) => decodeURIComponent(a.path));
  nestedFiles = nested.adds.map((a) => decodeURIComponent(a.path));
}, 60_000);
afterAll(async () => {
  await backend?.stop();
});

describe.each(['raw', 'filtered'] as const)('overlapping mounts (logView %s)', (logView) => {
  let proxy: RunningProxy;
  let client: S3Client;
  let twinClient: S3Client;

  beforeAll(async () => {
    proxy = await startProxy(backend, {
      logView,
      getMode: 'proxy',
      tableMapping: Object.fromEntries(Object.entries(TABLES).map(([a, p]) => [a, `s3://${p}`])),
      grants: [
        { principal: 'analyst', table: 'outer', partitions: [{ region: 'EU' }] },
        { principal: 'twin-reader', table: 'twin', partitions: [{ region: 'US' }] },
      ],
      auth: { keys: [ANALYST, TWIN_READER] },
    });
    client = proxy.client();
    twinClient = proxy.client(TWIN_READER);
  });
  afterAll(async () => {
    client?.destroy();
    twinClient?.destroy();
    await proxy?.stop();
  });

  const status = async (key: string, as = client) => {
    try {
      const out = await as.send(new GetObjectCommand({ Bucket: VIRTUAL_BUCKET, Key: key }));
      await out.Body?.transformToString();
      return 200;
    } catch (e) {
      return (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? -1;
    }
  };
  const list = async (prefix: string, delimiter?: string) => {
    const keys: string[] = [];
    let token: string | undefined;
    for (let page = 0; page < 20; page++) {
      const out = await client.send(
        new ListObjectsV2Command({
          Bucket: VIRTUAL_BUCKET,
          Prefix: prefix,
          Delimiter: delimiter,
          ContinuationToken: token,
        }),
      );
      keys.push(
        ...(out.Contents ?? []).map((o) => o.Key!),
        ...(out.CommonPrefixes ?? []).map((p) => p.Prefix!),
      );
      if (!out.IsTruncated) break;
      token = out.NextContinuationToken;
    }
    return keys;
  };

  it('reads the granted files of the outer table and nothing of the nested one through it', async () => {
    expect(await status(`outer/${outerEu[0]}`)).toBe(200);
    for (const f of nestedFiles) expect(await status(`outer/sub/${f}`)).not.toBe(200);
    expect(await status('outer/sub/_delta_log/00000000000000000000.json')).not.toBe(200);
    expect(await status('outer/sub/_delta_log/00000000000000000001.json')).not.toBe(200);
  });

  it('lists only the outer table: no nested table, no sibling, no twin', async () => {
    const all = await list('');
    expect(all.some((k) => k.startsWith('outer/sub/'))).toBe(false);
    expect(all.filter((k) => !k.startsWith('outer/_delta_log/')).sort()).toEqual(
      outerEu.map((f) => `outer/${f}`).sort(),
    );
    expect(await list('outer/sub/')).toEqual([]);
    expect(await list('outer/', '/')).not.toContain('outer/sub/');
    expect(await list('', '/')).toEqual(['outer/']);
  });

  it('answers the ungranted aliases on the same backend keys as absent', async () => {
    expect(await status(`twin/${outerEu[0]}`)).toBe(404);
    expect(await status('twin/_delta_log/00000000000000000000.json')).toBe(404);
    expect(await status(`nested/${nestedFiles[0]}`)).toBe(404);
    expect(await status('sibling/_delta_log/00000000000000000000.json')).toBe(404);
    expect(await list('twin/')).toEqual([]);
    expect(await list('t')).toEqual([]);
  });

  it('keeps the grants of two aliases on one table apart, though they share its snapshot', async () => {
    expect(await status(`twin/${outerUs[0]}`, twinClient)).toBe(200);
    expect(await status(`twin/${outerEu[0]}`, twinClient)).not.toBe(200);
    expect(await status(`outer/${outerUs[0]}`, twinClient)).toBe(404);
    expect(await status(`outer/${outerUs[0]}`)).not.toBe(200);
    expect(await status(`twin/${outerUs[0]}`)).toBe(404);
  });
});
