/**
 * A principal longer than DynamoDB's key limit allows (MAX_PRINCIPAL_BYTES) can own no grant item
 * in DynamoDB, and real DynamoDB refuses a Query for its grants (ValidationException: "Size of
 * hashkey has exceeded the maximum size limit of 2048 bytes"). Neither dynalite nor moto checks a
 * Query's key size, so the DynamoDB here is dynalite behind a front that checks it as DynamoDB does.
 * Such a principal has no DynamoDB grants: a read of a table is answered as for any principal
 * without grants (404 NoSuchKey, SECURITY.md: a table without grant looks like a missing key), its
 * config grants still count, and no Query is sent.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoTable, MAX_PRINCIPAL_BYTES } from '../../lambda/store/dynamo-schema';
import { type DynamoServer, startDynalite, testDynamoClient } from '../helpers/dynamo-servers';
import { type TestTable, writeTable } from '../helpers/fault-tables';
import { type RunningProxy, startProxy, type TestKey } from '../helpers/proxy-harness';
import { backendClient, createBucket, type S3Server, startS3rver } from '../helpers/s3-servers';
import { encodeKeyPath, signedFetch } from '../helpers/signed-fetch';

const TABLE = 'long-principals';
const code = (text: string) => /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
const LONG = 'p'.repeat(MAX_PRINCIPAL_BYTES + 1);
const LONG_GRANTED = `g${'q'.repeat(MAX_PRINCIPAL_BYTES)}`;

// A key item written by another tool, for a principal with no grant anywhere.
const DYNAMO_KEY: TestKey = {
  accessKeyId: 'DLPLONGPRINCIPAL0001',
  secretAccessKey: 'dynamo-secret-1',
  principal: LONG,
};
// The same without the long name: the answer any principal without grants gets.
const SHORT_KEY: TestKey = {
  accessKeyId: 'DLPSHORTPRINCIPAL003',
  secretAccessKey: 'dynamo-secret-3',
  principal: 'nobody',
};
// A config key whose principal the config grants a table.
const CONFIG_KEY: TestKey = {
  accessKeyId: 'DLPLONGPRINCIPAL0002',
  secretAccessKey: 'config-secret-2',
  principal: LONG_GRANTED,
};

/** dynalite behind a front that refuses a key attribute over 2,048 bytes, as DynamoDB does. */
async function keySizeCheckingFront(upstream: DynamoServer): Promise<DynamoServer & { queries: string[] }> {
  const target = new URL(upstream.endpoint);
  const queries: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const operation = String(req.headers['x-amz-target'] ?? '')
        .split('.')
        .pop();
      const input = JSON.parse(body.toString('utf8') || '{}');
      const pk: string | undefined = input.ExpressionAttributeValues?.[':pk']?.S ?? input.Key?.pk?.S;
      if (operation === 'Query') queries.push(pk ?? '');
      if (pk !== undefined && Buffer.byteLength(pk) > 2048) {
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(
          JSON.stringify({
            __type: 'com.amazon.coral.validate#ValidationException',
            message:
              'One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of 2048 bytes',
          }),
        );
        return;
      }
      const up = request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
        },
      );
      up.on('error', () => res.destroy());
      up.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    queries,
    stop: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

let s3: S3Client;
let backend: S3Server;
let dynalite: DynamoServer;
let front: Awaited<ReturnType<typeof keySizeCheckingFront>>;
let proxy: RunningProxy;
let sales: TestTable;
let file: string;

beforeAll(async () => {
  backend = await startS3rver();
  s3 = backendClient(backend.endpoint);
  await createBucket(s3, 'long-lake');
  sales = await writeTable(s3, 'long-lake', 'sales', 'tables/sales/');
  file = (await sales.commitFiles('EU'))[0]!;
  dynalite = await startDynalite();
  front = await keySizeCheckingFront(dynalite);
  const client = testDynamoClient(dynalite.endpoint);
  await createDynamoTable(client, TABLE);
  for (const k of [DYNAMO_KEY, SHORT_KEY])
    await client.send(
      new PutItemCommand({
        TableName: TABLE,
        Item: {
          pk: { S: `KEY#${k.accessKeyId}` },
          sk: { S: 'KEY' },
          accessKeyId: { S: k.accessKeyId },
          principal: { S: k.principal },
          secret: { S: k.secretAccessKey },
          status: { S: 'active' },
          createdAt: { S: '2026-01-01T00:00:00Z' },
        },
      }),
    );
  client.destroy();
  proxy = await startProxy(backend, {
    tableMapping: { sales: sales.uri },
    getMode: 'proxy',
    databaseEnabled: true,
    database: { type: 'dynamodb', tableName: TABLE, endpoint: front.endpoint, region: 'us-east-1' },
    auth: { keys: [CONFIG_KEY] },
    grants: [{ principal: LONG_GRANTED, table: 'sales', partitions: [{}] }],
  });
}, 60_000);
afterAll(async () => {
  await proxy?.stop();
  await front?.stop();
  await dynalite?.stop();
  s3?.destroy();
  await backend?.stop();
});

const get = (k: TestKey) =>
  signedFetch(proxy.url, 'GET', `/datalake/${encodeKeyPath(`sales/${file}`)}`, '', {}, k);

describe('a principal longer than a DynamoDB key allows', () => {
  it('without grants is answered like any principal without grants (404 NoSuchKey), not 503', async () => {
    const short = await get(SHORT_KEY);
    expect([short.status, code(short.text)]).toEqual([404, 'NoSuchKey']);
    for (let i = 0; i < 2; i++) {
      const r = await get(DYNAMO_KEY);
      expect([r.status, code(r.text)]).toEqual([404, 'NoSuchKey']);
    }
  });

  it('keeps the grants the config gives it', async () => {
    const r = await get(CONFIG_KEY);
    expect(r.status).toBe(200);
  });

  it('costs no Query DynamoDB is certain to refuse', () => {
    expect(front.queries.map((pk) => Buffer.byteLength(pk)).filter((n) => n > 2048)).toEqual([]);
  });
});
