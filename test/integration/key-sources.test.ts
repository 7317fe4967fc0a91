/**
 * An access key id held by both the config file (auth.keys) and DynamoDB (databaseEnabled). The
 * two copies must be the same key: when their secrets or principals differ, or DynamoDB has
 * revoked its copy, which one signs would be a guess, so the id authenticates nowhere (403
 * InvalidAccessKeyId) and an error line names it (never a secret). Identical active copies work.
 */
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoAdmin } from '../../lambda/store/dynamo-admin';
import { createDynamoTable } from '../../lambda/store/dynamo-schema';
import { type DynamoServer, startDynalite, testDynamoClient } from '../helpers/dynamo-servers';
import { type TestTable, writeTable } from '../helpers/fault-tables';
import { type RunningProxy, startProxy, type TestKey } from '../helpers/proxy-harness';
import { backendClient, createBucket, type S3Server, startS3rver } from '../helpers/s3-servers';
import { encodeKeyPath, type RawResponse, signedFetch } from '../helpers/signed-fetch';

const TABLE = 'key-sources';
const code = (text: string) => /<Code>([^<]*)<\/Code>/.exec(text)?.[1];

const key = (n: number, principal: string, secret = `config-secret-of-${n}`): TestKey => ({
  accessKeyId: `DLPSOURCES${String(n).padStart(10, '0')}`,
  secretAccessKey: secret,
  principal,
});
// In the config file.
const ONLY_CONFIG = key(1, 'reader');
const OTHER_SECRET = key(2, 'reader');
const OTHER_PRINCIPAL = key(3, 'reader');
const REVOKED_IN_DYNAMO = key(4, 'reader');
const SAME_IN_BOTH = key(5, 'reader');
// In DynamoDB.
const ONLY_DYNAMO = key(6, 'reader', 'dynamo-secret-of-6');
const DYNAMO_COPIES = {
  otherSecret: { ...OTHER_SECRET, secretAccessKey: 'dynamo-secret-of-2' },
  otherPrincipal: { ...OTHER_PRINCIPAL, principal: 'admin' },
};

// In DynamoDB only, as items the proxy cannot read as written (written by another tool).
const EXPIRING = key(7, 'admin', 'dynamo-secret-of-7');
const DISABLED = key(8, 'admin', 'dynamo-secret-of-8');

let s3: S3Client;
let backend: S3Server;
let dynalite: DynamoServer;
let proxy: RunningProxy;
let sales: TestTable;
let file: string;

beforeAll(async () => {
  backend = await startS3rver();
  s3 = backendClient(backend.endpoint);
  await createBucket(s3, 'sources-lake');
  sales = await writeTable(s3, 'sources-lake', 'sales', 'tables/sales/');
  file = (await sales.commitFiles('EU'))[0]!;
  dynalite = await startDynalite();
  const client = testDynamoClient(dynalite.endpoint);
  await createDynamoTable(client, TABLE);
  const admin = new DynamoAdmin(client, TABLE);
  for (const k of [ONLY_DYNAMO, DYNAMO_COPIES.otherSecret, DYNAMO_COPIES.otherPrincipal, SAME_IN_BOTH])
    await admin.putKey(k);
  await admin.putKey(REVOKED_IN_DYNAMO);
  await admin.revokeKey(REVOKED_IN_DYNAMO.accessKeyId);
  for (const [k, extra] of [
    [EXPIRING, { status: { S: 'active' }, expiresAt: { S: '2020-01-01T00:00:00Z' } }],
    [DISABLED, { status: { S: 'disabled' } }],
  ] as const) {
    await client.send(
      new PutItemCommand({
        TableName: TABLE,
        Item: {
          pk: { S: `KEY#${k.accessKeyId}` },
          sk: { S: 'KEY' },
          accessKeyId: { S: k.accessKeyId },
          principal: { S: k.principal },
          secret: { S: k.secretAccessKey },
          ...extra,
        },
      }),
    );
  }
  client.destroy();
  proxy = await startProxy(backend, {
    tableMapping: { sales: sales.uri },
    getMode: 'proxy',
    databaseEnabled: true,
    database: { type: 'dynamodb', tableName: TABLE, endpoint: dynalite.endpoint, region: 'us-east-1' },
    auth: { keys: [ONLY_CONFIG, OTHER_SECRET, OTHER_PRINCIPAL, REVOKED_IN_DYNAMO, SAME_IN_BOTH] },
    grants: [
      { principal: 'reader', table: 'sales', partitions: [{ region: 'EU' }] },
      { principal: 'admin', table: 'sales', partitions: [{}] },
    ],
  });
}, 60_000);
afterAll(async () => {
  await proxy?.stop();
  await dynalite?.stop();
  s3?.destroy();
  await backend?.stop();
});

const get = (k: TestKey): Promise<RawResponse> =>
  signedFetch(proxy.url, 'GET', `/datalake/${encodeKeyPath(`sales/${file}`)}`, '', {}, k);

describe('an access key id in the config and in DynamoDB', () => {
  it('authenticates from either source alone, and with identical active copies in both', async () => {
    for (const k of [ONLY_CONFIG, ONLY_DYNAMO, SAME_IN_BOTH]) expect((await get(k)).status).toBe(200);
  });

  it.each([
    ['a different secret', OTHER_SECRET, DYNAMO_COPIES.otherSecret],
    ['a different principal', OTHER_PRINCIPAL, DYNAMO_COPIES.otherPrincipal],
  ])('with %s in each is refused, whichever copy signs', async (_what, inConfig, inDynamo) => {
    for (const k of [inConfig, inDynamo]) {
      const r = await get(k);
      expect([r.status, code(r.text)]).toEqual([403, 'InvalidAccessKeyId']);
    }
    const line = proxy.logs.find((l) => l.includes(inConfig.accessKeyId));
    expect(line).toMatch(/"level":"error"/);
    expect(line).toContain('auth.keys[');
    for (const secret of [inConfig.secretAccessKey, inDynamo.secretAccessKey])
      for (const l of proxy.logs) expect(l).not.toContain(secret);
  });

  it('revoked in DynamoDB is refused, though the config still lists it', async () => {
    const r = await get(REVOKED_IN_DYNAMO);
    expect([r.status, code(r.text)]).toEqual([403, 'InvalidAccessKeyId']);
  });
});

describe('an access key item in DynamoDB the proxy cannot read as written', () => {
  it.each([
    ['an attribute outside the schema (an expiry)', EXPIRING, 'expiresAt'],
    ['an unknown status', DISABLED, 'disabled'],
  ])(
    'with %s does not sign, like an unknown key, and a warning names it (never the secret)',
    async (_what, k, why) => {
      const r = await get(k);
      expect([r.status, code(r.text)]).toEqual([403, 'InvalidAccessKeyId']);
      const lines = proxy.logs.filter((l) => l.includes(k.accessKeyId) && l.includes('"level":"warn"'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(why);
      await get(k);
      expect(
        proxy.logs.filter((l) => l.includes(k.accessKeyId) && l.includes('"level":"warn"')),
      ).toHaveLength(1);
      for (const l of proxy.logs) expect(l).not.toContain(k.secretAccessKey);
    },
  );
});
