/**
 * The proxy with keys and grants in DynamoDB (dynalite) behind a front that misbehaves on
 * purpose: 500s, throttling, stalls and calls that never return. Whatever DynamoDB does, a
 * request fails closed with S3 XML (503 ServiceUnavailable, or SlowDown when throttled: never a
 * 200, never "no such key" or "no grant" for a lookup that did not happen), within the request's
 * time budget; DynamoDB calls are retried a bounded number of times; and once DynamoDB is back
 * the next request is served (a failed lookup is never cached).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DynamoAdmin } from '../../lambda/store/dynamo-admin';
import { createDynamoTable } from '../../lambda/store/dynamo-schema';
import {
  type DynamoFault,
  type DynamoServer,
  type MisbehavingDynamo,
  startDynalite,
  startMisbehavingDynamo,
  testDynamoClient,
} from '../helpers/dynamo-servers';
import { type TestTable, writeTable } from '../helpers/fault-tables';
import { type RunningProxy, startProxy, type TestKey } from '../helpers/proxy-harness';
import { backendClient, createBucket, type S3Server, startS3rver } from '../helpers/s3-servers';
import { encodeKeyPath, type RawResponse, signedFetch } from '../helpers/signed-fetch';

const TABLE = 'fault-grants';
const code = (text: string) => /<Code>([^<]*)<\/Code>/.exec(text)?.[1];

let s3: S3Server;
let s3Client: S3Client;
let dynalite: DynamoServer;
let dynamo: MisbehavingDynamo;
let admin: DynamoAdmin;
let proxy: RunningProxy;
let sales: TestTable;
let files: string[];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => {
  unhandled.push(reason);
};

beforeAll(async () => {
  s3 = await startS3rver();
  s3Client = backendClient(s3.endpoint);
  await createBucket(s3Client, 'grants-lake');
  sales = await writeTable(s3Client, 'grants-lake', 'sales', 'tables/sales/');
  files = await sales.commitFiles('EU', 'US');
  dynalite = await startDynalite();
  const direct = testDynamoClient(dynalite.endpoint);
  await createDynamoTable(direct, TABLE);
  admin = new DynamoAdmin(direct, TABLE);
  dynamo = await startMisbehavingDynamo(dynalite);
  proxy = await startProxy(s3, {
    tableMapping: { sales: sales.uri },
    getMode: 'proxy',
    databaseEnabled: true,
    database: { type: 'dynamodb', tableName: TABLE, endpoint: dynamo.endpoint, region: 'us-east-1' },
    // No key in the config: every key comes from DynamoDB.
    auth: { keys: [] },
    requestTimeoutMs: 2_500,
  });
  process.on('unhandledRejection', onUnhandled);
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await proxy?.stop();
  await dynamo?.stop();
  await dynalite?.stop();
  s3Client?.destroy();
  await s3?.stop();
});
afterEach(async () => {
  dynamo.onRequest = () => undefined;
  await new Promise((r) => setTimeout(r, 20));
  expect(unhandled).toEqual([]);
});

let n = 0;
/** A principal of its own per case (answers are cached per key id and principal), granted EU. */
async function freshReader(): Promise<TestKey> {
  const key = {
    accessKeyId: `DLPFAULT${String(++n).padStart(12, '0')}`,
    secretAccessKey: `secret-of-reader-${n}`,
    principal: `reader-${n}`,
  };
  await admin.putKey(key);
  await admin.putGrant({ principal: key.principal, table: 'sales', partitions: [{ region: 'EU' }] }, `g${n}`);
  return key;
}

const get = (key: TestKey, file: string): Promise<RawResponse> =>
  signedFetch(proxy.url, 'GET', `/datalake/${encodeKeyPath(`sales/${file}`)}`, '', {}, key);

function expectFailClosed(r: RawResponse, errorCode: string): void {
  expect([r.status, code(r.text)]).toEqual([503, errorCode]);
  expect(r.headers['content-type']).toBe('application/xml');
  expect(r.text).not.toMatch(/\bat .*\.(ts|js):\d+|secret-of/);
}

describe('the grants lookup does not tell aliases apart', () => {
  it('a key of an unmapped alias, or a folder, costs the same DynamoDB calls as a key of a mapped table', async () => {
    const lookups = async (path: string) => {
      const key = await freshReader(); // its own principal: cold key and grants caches
      const from = dynamo.seen.length;
      const r = await signedFetch(proxy.url, 'GET', `/datalake/${path}`, '', {}, key);
      return { status: r.status, code: code(r.text), calls: dynamo.seen.slice(from) };
    };
    const mapped = await lookups(`sales/${encodeKeyPath(files[0]!)}`);
    expect(mapped.status).toBe(200);
    const unmapped = await lookups('other/region=EU/part-0.parquet');
    const folder = await lookups('sales/region=EU/');
    expect(unmapped.code).toBe('NoSuchKey');
    expect(folder.code).toBe('NoSuchKey');
    expect(unmapped.calls).toEqual(['GetItem', 'Query']);
    expect(folder.calls).toEqual(unmapped.calls);
    expect(mapped.calls).toEqual(unmapped.calls);
  });
});

describe('DynamoDB failing under the key and grant lookups', () => {
  it.each<[string, string, DynamoFault, string]>([
    ['key lookup', 'GetItem', { status: 500, type: 'InternalServerError' }, 'ServiceUnavailable'],
    ['key lookup', 'GetItem', { status: 400, type: 'ThrottlingException' }, 'SlowDown'],
    ['grant lookup', 'Query', { status: 500, type: 'InternalServerError' }, 'ServiceUnavailable'],
    ['grant lookup', 'Query', { status: 400, type: 'ProvisionedThroughputExceededException' }, 'SlowDown'],
  ])('a failing %s (%s) is 503 after 2 attempts, then served', async (_what, operation, fault, errorCode) => {
    const reader = await freshReader();
    dynamo.onRequest = (op) => (op === operation ? fault : undefined);
    const from = dynamo.seen.length;
    for (const file of files) expectFailClosed(await get(reader, file), errorCode);
    // Each request tried twice (the DynamoDB client's bound), nothing more.
    expect(dynamo.seen.slice(from).filter((op) => op === operation)).toHaveLength(4);
    dynamo.onRequest = () => undefined;
    expect((await get(reader, files[0]!)).status).toBe(200);
    expect((await get(reader, files[1]!)).status).toBe(403);
  });

  it.each([
    ['key lookup', 'GetItem'],
    ['grant lookup', 'Query'],
  ])(
    'a stalled %s is 503 within the request budget; once it answers, the key is served',
    async (_w, operation) => {
      const reader = await freshReader();
      let release!: () => void;
      const stalled = new Promise<void>((r) => {
        release = r;
      });
      const fallback = setTimeout(release, 10_000);
      dynamo.onRequest = (op) => (op === operation ? { after: stalled } : undefined);
      try {
        expectFailClosed(await get(reader, files[0]!), 'ServiceUnavailable');
        const event = proxy.events.at(-1);
        expect(event?.reason).toMatch(/requestTimeoutMs/);
      } finally {
        dynamo.onRequest = () => undefined;
        release();
        clearTimeout(fallback);
      }
      expect((await get(reader, files[0]!)).status).toBe(200);
    },
  );

  it('a DynamoDB that never answers leaves the process serving others', async () => {
    const stuck = await freshReader();
    const other = await freshReader();
    // Warm the other reader's key and grants, then let every call hang.
    expect((await get(other, files[0]!)).status).toBe(200);
    dynamo.onRequest = () => ({ hang: true });
    const [a, b] = await Promise.all([get(stuck, files[0]!), get(other, files[0]!)]);
    expectFailClosed(a, 'ServiceUnavailable');
    expect(b.status).toBe(200);
    // DynamoDB comes back: the hung calls' connections drop, their retries are answered, and the
    // stuck reader is served (the abandoned lookups' outcomes are handled, see afterEach).
    dynamo.onRequest = () => undefined;
    dynamo.dropHung();
    await new Promise((r) => setTimeout(r, 200));
    expect((await get(stuck, files[0]!)).status).toBe(200);
  });
});
