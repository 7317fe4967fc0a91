/**
 * A zero-byte object streamed through the Lambda adapter. The runtime sends the prelude (status
 * and headers) on the response stream's first write only: a streamed body that never yields a
 * byte must still make that write, or the client gets a bare 200 without the object's ETag,
 * Content-Length or request id (a real Function URL: not even the status).
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, it } from 'vitest';
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

let s3: S3Server;
let server: { url: string; close: () => Promise<void> };
let emptyKey: string;

beforeAll(async () => {
  s3 = await startS3rver();
  const c = backendClient(s3.endpoint);
  await createBucket(c, 'lake');
  const keys = await uploadDir(c, 'lake', 't/', await writeSpecialTable(['EU'], ['2024-01-01']));
  // The table's data file, emptied in place: same key, so the snapshot still lists it.
  const data = keys.find((k) => k.endsWith('.parquet') && !k.includes('_delta_log'))!;
  await c.send(new PutObjectCommand({ Bucket: 'lake', Key: data, Body: new Uint8Array(0) }));
  c.destroy();
  emptyKey = `sales/${data.slice(2)}`;
  const config = parseConfig({
    tableMapping: { sales: 's3://lake/t' },
    getMode: 'proxy',
    grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{}] }],
    s3: { endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1' },
    auth: { keys: [ANALYST] },
  });
  installLambdaRuntimeShim();
  const handler = createLambdaHandler(
    async (runtime) =>
      createProxy(config, { runtime, backendCredentials: BACKEND_CREDENTIALS, audit: false }).handler,
  );
  server = await startLambdaHttpServer(handler);
});
afterAll(async () => {
  await server?.close();
  await s3?.stop();
});

it('a zero-byte object keeps its status and headers through the Lambda adapter', async () => {
  const r = await signedFetch(server.url, 'GET', `/datalake/${encodeKeyPath(emptyKey)}`, '', {}, ANALYST);
  expect(r.status).toBe(200);
  expect(r.text).toBe('');
  expect(r.headers.etag).toMatch(/^"[0-9a-f]{32}"$/);
  expect(r.headers['content-length']).toBe('0');
  expect(r.headers['x-amz-request-id']).toBeTruthy();
});
