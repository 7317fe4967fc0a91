/**
 * Bodies stream: a client that goes away mid-download stops the backend transfer instead of
 * the proxy reading the whole object into memory.
 */
import { request } from 'node:http';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { writeSpecialTable } from '../helpers/fixture-tables';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { backendClient, createBucket, type S3Server, startS3rver, uploadDir } from '../helpers/s3-servers';
import { signedFetch, signHeaders } from '../helpers/signed-fetch';

const BIG = 48 * 1024 * 1024;
let s3: S3Server;
let proxy: RunningProxy;
let bigKey: string;

beforeAll(async () => {
  s3 = await startS3rver();
  const c = backendClient(s3.endpoint);
  await createBucket(c, 'lake');
  const dir = await writeSpecialTable(['EU'], ['2024-01-01']);
  const keys = await uploadDir(c, 'lake', 't/', dir);
  // Make the table's one data file big, in place: same key, so the snapshot still knows it.
  const data = keys.find((k) => k.endsWith('.parquet') && !k.includes('_delta_log'))!;
  await c.send(new PutObjectCommand({ Bucket: 'lake', Key: data, Body: Buffer.alloc(BIG, 7) }));
  bigKey = `sales/${data.slice(2)}`;
  proxy = await startProxy(s3, {
    tableMapping: { sales: 's3://lake/t' },
    grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{}] }],
  });
});
afterAll(async () => {
  await proxy?.stop();
  await s3?.stop();
});

it('stops streaming when the client disconnects', async () => {
  // Sign with the test helper, then issue the request by hand so we can drop the socket.
  const probe = await signedFetch(
    proxy.url,
    'HEAD',
    `/datalake/${bigKey.split('/').map(encodeURIComponent).join('/')}`,
    '',
    {},
    ANALYST,
  );
  expect(probe.headers['content-length']).toBe(String(BIG));

  const url = new URL(proxy.url);
  const path = `/datalake/${bigKey.split('/').map(encodeURIComponent).join('/')}`;
  const headers = await signHeaders(proxy.url, 'GET', path, '', {}, ANALYST);
  const before = proxy.events.length;
  const received = await new Promise<number>((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, headers }, (res) => {
      expect(res.statusCode).toBe(200);
      let n = 0;
      res.on('data', (chunk: Buffer) => {
        n += chunk.length;
        if (n >= 256 * 1024) {
          res.destroy();
          req.destroy();
          resolve(n);
        }
      });
    });
    req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
    req.end();
  });
  expect(received).toBeLessThan(BIG);
  const deadline = Date.now() + 10_000;
  while (proxy.events.length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const event = proxy.events.at(-1)!;
  expect(event.op).toBe('GetObject');
  expect(event.decision).toBe('error');
  expect(event.reason).toMatch(/body stream failed/);
  // The proxy stopped reading long before the end of the object.
  expect(event.bytes).toBeLessThan(BIG / 2);
});
