/**
 * An object over Lambda's streaming limit is refused before any byte, and the backend read the
 * proxy had started is closed: it would otherwise hold its pooled connection, unread, for good
 * (with one socket, the next read got 503 after the request timeout).
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLambdaHandler } from '../../lambda/adapters/lambda';
import { createProxy } from '../../lambda/bootstrap';
import { parseConfig } from '../../lambda/config';
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

installLambdaRuntimeShim();

describe('Lambda: an object over the streaming limit', () => {
  let s3: S3Server;
  let bigKey: string;
  let server: { url: string; close: () => Promise<void> } | undefined;
  const MB = 1_000_000;
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
    await server?.close();
    await s3?.stop();
  });

  it('releases its backend connection when refused: later reads still get a socket', async () => {
    const parsed = parseConfig({
      tableMapping: { sales: 's3://lake/t' },
      getMode: 'proxy',
      grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{}] }],
      lambdaStreaming: { maxResponseBytes: 2 * MB },
      s3: {
        endpoint: s3.endpoint,
        forcePathStyle: true,
        region: 'us-east-1',
        maxSockets: 1,
        requestTimeoutMs: 3_000,
        maxAttempts: 1,
      },
      auth: { keys: [ANALYST] },
    });
    server = await startLambdaHttpServer(
      createLambdaHandler(
        async (runtime) =>
          createProxy(parsed, { runtime, backendCredentials: BACKEND_CREDENTIALS, audit: false }).handler,
      ),
    );
    const path = `/datalake/${encodeKeyPath(bigKey)}`;
    const within = await signedFetch(server.url, 'GET', path, '', { range: 'bytes=0-9' }, ANALYST);
    expect(within.status).toBe(206);
    const over = await signedFetch(server.url, 'GET', path, '', {}, ANALYST);
    expect(over.status).toBe(400);
    const again = await signedFetch(server.url, 'GET', path, '', { range: 'bytes=0-9' }, ANALYST);
    expect([again.status, again.body.length]).toEqual([206, 10]);
  }, 30_000);
});
