/**
 * The 400 for a body over Lambda's streaming limit names the ways out. A client that follows
 * redirects is one only where a follower would get a 307: never for a file of the filtered log
 * (never presigned), and not when `redirectClients` is empty (no client is ever redirected).
 * There the message must not send the user to the client helper, which gets the same 400.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLambdaHandler } from '../../lambda/adapters/lambda';
import { createProxy } from '../../lambda/bootstrap';
import { type ConfigInput, parseConfig } from '../../lambda/config';
import { HEAD_ALLOWANCE_BYTES } from '../../lambda/s3/stream-limit';
import { writeSpecialTable } from '../helpers/fixture-tables';
import { startLambdaHttpServer } from '../helpers/lambda-http-server';
import { installLambdaRuntimeShim } from '../helpers/lambda-runtime-shim';
import { ANALYST } from '../helpers/proxy-harness';
import {
  BACKEND_CREDENTIALS,
  backendClient,
  createBucket,
  type S3Server,
  startS3rver,
  uploadDir,
} from '../helpers/s3-servers';
import { encodeKeyPath, signedFetch } from '../helpers/signed-fetch';

const MB = 1_000_000;
const HELPER = { 'user-agent': 'delta-proxy-client/0.1.0 Boto3/1.43.11' };
const message = (text: string) => /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? '';

let s3: S3Server;
let bigKey: string;
const servers: { close: () => Promise<void> }[] = [];

async function inLambda(over: Partial<ConfigInput>): Promise<string> {
  const parsed = parseConfig({
    tableMapping: { sales: 's3://lake/t' },
    getMode: 'proxy',
    grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{}] }],
    lambdaStreaming: { maxResponseBytes: 2 * MB },
    ...over,
    s3: { endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1' },
    auth: { keys: [ANALYST] },
  });
  installLambdaRuntimeShim();
  const server = await startLambdaHttpServer(
    createLambdaHandler(
      async (runtime) =>
        createProxy(parsed, { runtime, backendCredentials: BACKEND_CREDENTIALS, audit: false }).handler,
    ),
  );
  servers.push(server);
  return server.url;
}

beforeAll(async () => {
  s3 = await startS3rver();
  const c = backendClient(s3.endpoint);
  await createBucket(c, 'lake');
  const keys = await uploadDir(c, 'lake', 't/', await writeSpecialTable(['EU'], ['2024-01-01']));
  const data = keys.find((k) => k.endsWith('.parquet') && !k.includes('_delta_log'))!;
  await c.send(new PutObjectCommand({ Bucket: 'lake', Key: data, Body: Buffer.alloc(3 * MB, 7) }));
  c.destroy();
  bigKey = `sales/${data.slice(2)}`;
});
afterAll(async () => {
  for (const s of servers) await s.close();
  await s3?.stop();
});

describe('the over-limit 400 names only ways out that work', () => {
  it('does not offer a redirecting client when redirectClients is empty', async () => {
    const url = await inLambda({ redirectClients: [] });
    for (const agent of [HELPER, {}]) {
      const r = await signedFetch(url, 'GET', `/datalake/${encodeKeyPath(bigKey)}`, '', agent, ANALYST);
      expect([r.status, r.headers.location]).toEqual([400, undefined]);
      expect(message(r.text)).toMatch(/Request byte ranges of at most \d+ bytes/);
      expect(message(r.text)).not.toMatch(/redirect|delta-proxy-client/);
    }
  });

  it('does not offer a redirecting client for a file of the filtered log (never presigned)', async () => {
    const url = await inLambda({ lambdaStreaming: { maxResponseBytes: HEAD_ALLOWANCE_BYTES + 100 } });
    const commit = '/datalake/sales/_delta_log/00000000000000000000.json';
    const r = await signedFetch(url, 'GET', commit, '', HELPER, ANALYST);
    expect([r.status, r.headers.location]).toEqual([400, undefined]);
    expect(message(r.text)).toMatch(/Request byte ranges of at most 100 bytes/);
    expect(message(r.text)).not.toMatch(/redirect|delta-proxy-client/);
  });

  it('still offers it where a follower gets a 307', async () => {
    const url = await inLambda({});
    const path = `/datalake/${encodeKeyPath(bigKey)}`;
    const r = await signedFetch(url, 'GET', path, '', {}, ANALYST);
    expect(r.status).toBe(400);
    expect(message(r.text)).toMatch(/client that follows redirects \(such as delta-proxy-client\)/);
    const followed = await signedFetch(url, 'GET', path, '', HELPER, ANALYST);
    expect(followed.status).toBe(307);
  });
});
