/**
 * A grant value that is no value of its column's type (`day=2024-13-45` on a date column,
 * `year=abc` on an integer one) allows nothing (fail closed), and the first request that meets it
 * says so in a warning line naming the principal, table, column, value and type, once. Values that
 * are the column's values written another way (README: compared as the column's Delta type) match
 * and are not warned about.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeltaTableWriter } from '../../lambda/local/delta-writer';
import { ANALYST, type RunningProxy, startProxy, type TestKey } from '../helpers/proxy-harness';
import { backendClient, createBucket, type S3Server, startS3rver } from '../helpers/s3-servers';
import { encodeKeyPath, signedFetch } from '../helpers/signed-fetch';

const AUDITOR: TestKey = {
  accessKeyId: 'AKIATESTAUDITOR0001',
  secretAccessKey: 'auditor-secret-key-0001',
  principal: 'auditor',
};

let backend: S3Server;
let s3: S3Client;
let files: string[];

beforeAll(async () => {
  backend = await startS3rver();
  s3 = backendClient(backend.endpoint);
  await createBucket(s3, 'values-lake');
  const writer = new DeltaTableWriter(
    {
      async put(rel, bytes) {
        await s3.send(new PutObjectCommand({ Bucket: 'values-lake', Key: `typed/${rel}`, Body: bytes }));
      },
    },
    {
      schema: [
        { name: 'id', type: 'long' },
        { name: 'year', type: 'integer' },
        { name: 'day', type: 'date' },
        { name: 'at', type: 'timestamp' },
        { name: 'flag', type: 'boolean' },
        { name: 'region', type: 'string' },
      ],
      partitionColumns: ['year', 'day', 'at', 'flag', 'region'],
    },
  );
  await writer.create();
  const tuples = [
    { year: '2024', day: '2024-01-05', at: '2024-01-01T10:00:00.000000Z', flag: 'true', region: 'EU' },
    { year: '2025', day: '2025-02-01', at: '2025-01-01T00:00:00.000000Z', flag: 'false', region: null },
    { year: '2023', day: '2023-03-03', at: '2023-01-01T00:00:00.000000Z', flag: 'true', region: 'US' },
  ];
  files = [];
  for (const [id, values] of tuples.entries()) {
    const f = await writer.writeDataFile(values, [{ id }]);
    await writer.commit({ add: [f] });
    files.push(decodeURIComponent(f.path));
  }
}, 60_000);
afterAll(async () => {
  s3?.destroy();
  await backend?.stop();
});

/** A value of each type that does not parse for it: each allows nothing. */
const BAD = [
  { column: 'year', value: 'abc', type: 'integer' },
  { column: 'day', value: '2024-13-45', type: 'date' },
  { column: 'at', value: '2024-01-01 10:00', type: 'timestamp' },
  { column: 'flag', value: 'yes', type: 'boolean' },
  { column: 'year', value: '__HIVE_DEFAULT_PARTITION__', type: 'integer' },
];

describe.each(['raw', 'filtered'] as const)('grant values of the wrong type (logView %s)', (logView) => {
  let proxy: RunningProxy;
  beforeAll(async () => {
    proxy = await startProxy(backend, {
      logView,
      getMode: 'proxy',
      tableMapping: { typed: 's3://values-lake/typed' },
      auth: { keys: [ANALYST, AUDITOR] },
      grants: [
        {
          principal: ANALYST.principal,
          table: 'typed',
          partitions: [
            ...BAD.map((b) => ({ [b.column]: b.value })),
            // The same values as the log's, written another way: no warning, and they match.
            { day: '2024-01-05', at: '2024-01-01 10:00:00' },
            { year: '02025', flag: 'FALSE', region: null },
          ],
        },
        // Only values of the wrong type: nothing of the table is readable.
        {
          principal: AUDITOR.principal,
          table: 'typed',
          partitions: [{ day: '2024-13-45' }, { flag: 'yes' }],
        },
      ],
    });
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  const get = (file: string, key: TestKey) =>
    signedFetch(proxy.url, 'GET', `/datalake/${encodeKeyPath(`typed/${file}`)}`, '', {}, key);
  const warned = () =>
    proxy.logs.map((l) => JSON.parse(l)).filter((l) => l.value !== undefined && l.type !== undefined);
  const denied = logView === 'raw' ? 403 : 404;

  it('allows nothing through such a value and names principal, table, column, value and type once', async () => {
    expect((await get('_delta_log/00000000000000000000.json', ANALYST)).status).toBe(200);
    expect((await get(files[0]!, ANALYST)).status).toBe(200);
    expect((await get(files[1]!, ANALYST)).status).toBe(200);
    expect((await get(files[2]!, ANALYST)).status).toBe(denied);
    expect((await get(files[0]!, ANALYST)).status).toBe(200);
    for (const f of files) expect((await get(f, AUDITOR)).status).toBe(denied);
    expect((await get(files[2]!, AUDITOR)).status).toBe(denied);

    const expected = [
      ...BAD.map((b) => ({ principal: ANALYST.principal, ...b })),
      { principal: AUDITOR.principal, column: 'day', value: '2024-13-45', type: 'date' },
      { principal: AUDITOR.principal, column: 'flag', value: 'yes', type: 'boolean' },
    ];
    expect(warned()).toHaveLength(expected.length);
    expect(warned()).toEqual(
      expect.arrayContaining(
        expected.map((e) => expect.objectContaining({ level: 'warn', table: 'typed', ...e })),
      ),
    );
    const hive = warned().find((l) => l.value === '__HIVE_DEFAULT_PARTITION__');
    expect(hive.hint).toMatch(/null/);
    for (const line of proxy.logs) {
      expect(line).not.toContain(ANALYST.secretAccessKey);
      expect(line).not.toContain(AUDITOR.secretAccessKey);
    }
  });
});

describe('a string grant value that is Hive folder name of the null partition', () => {
  let proxy: RunningProxy;
  beforeAll(async () => {
    proxy = await startProxy(backend, {
      getMode: 'proxy',
      tableMapping: { typed: 's3://values-lake/typed' },
      grants: [
        {
          principal: ANALYST.principal,
          table: 'typed',
          partitions: [{ region: '__HIVE_DEFAULT_PARTITION__' }, { region: 'null' }],
        },
      ],
    });
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  it('matches only that text, not the null partition, and says so once', async () => {
    const get = (file: string) =>
      signedFetch(proxy.url, 'GET', `/datalake/${encodeKeyPath(`typed/${file}`)}`, '', {}, ANALYST);
    for (const f of files) expect((await get(f)).status).toBe(403);
    expect((await get(files[1]!)).status).toBe(403);
    const warned = proxy.logs.map((l) => JSON.parse(l)).filter((l) => l.value !== undefined);
    // "null" is a string like any other (README); only Hive's folder name is called out.
    expect(warned).toEqual([
      expect.objectContaining({
        level: 'warn',
        table: 'typed',
        principal: ANALYST.principal,
        column: 'region',
        value: '__HIVE_DEFAULT_PARTITION__',
        type: 'string',
        hint: expect.stringMatching(/null/),
      }),
    ]);
  });
});
