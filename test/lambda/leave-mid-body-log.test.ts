/**
 * A client that leaves a proxied GET mid-body through the Lambda adapter, while a backend read
 * is in flight (a real S3 server streaming, not a held body): no error-level line, as those feed
 * the AdapterErrors alarm, and a client leaving is no fault of the proxy.
 */
import { request } from 'node:http';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { writeSpecialTable } from '../helpers/fixture-tables';
import { serveThroughLambda } from '../helpers/lambda-transports';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { backendClient, createBucket, type S3Server, startS3rver, uploadDir } from '../helpers/s3-servers';
import { encodeKeyPath, signHeaders } from '../helpers/signed-fetch';

const SIZE = 16 * 1024 * 1024;
let s3: S3Server;
let proxy: RunningProxy;
let path: string;

beforeAll(async () => {
  s3 = await startS3rver();
  const c = backendClient(s3.endpoint);
  await createBucket(c, 'lake');
  const keys = await uploadDir(c, 'lake', 't/', await writeSpecialTable(['EU'], ['2024-01-01']));
  const data = keys.find((k) => k.endsWith('.parquet') && !k.includes('_delta_log'))!;
  await c.send(new PutObjectCommand({ Bucket: 'lake', Key: data, Body: Buffer.alloc(SIZE, 5) }));
  c.destroy();
  path = `/datalake/${encodeKeyPath(`sales/${data.slice(2)}`)}`;
  proxy = await startProxy(
    s3,
    {
      tableMapping: { sales: 's3://lake/t' },
      getMode: 'proxy',
      grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{}] }],
      lambdaStreaming: { maxResponseBytes: 4 * SIZE, unthrottledBytes: 4 * SIZE },
    },
    serveThroughLambda,
    { runtime: 'lambda' },
  );
}, 60_000);
afterAll(async () => {
  await proxy?.stop();
  await s3?.stop();
});

async function leaveAfter(bytes: number): Promise<void> {
  const u = new URL(proxy.url);
  const headers = await signHeaders(proxy.url, 'GET', path, '', {}, ANALYST);
  await new Promise<void>((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, headers }, (res) => {
      let got = 0;
      res.on('error', () => {});
      res.on('data', (d: Buffer) => {
        got += d.length;
        if (got >= bytes) {
          req.destroy();
          resolve();
        }
      });
    });
    req.on('error', (e) => (req.destroyed ? undefined : reject(e)));
    req.end();
  });
}

it('logs no error line when the client leaves while the backend read is in flight', async () => {
  const stderr = vi.spyOn(process.stderr, 'write');
  try {
    for (let i = 0; i < 12; i++) {
      const before = proxy.events.length;
      await leaveAfter(256 * 1024);
      for (const end = Date.now() + 10_000; proxy.events.length === before && Date.now() < end; )
        await new Promise((r) => setTimeout(r, 20));
      expect(proxy.events.at(-1)).toMatchObject({ op: 'GetObject', status: 200, reasonClass: 'client-gone' });
    }
    await new Promise((r) => setTimeout(r, 200));
    const errors = stderr.mock.calls.map((a) => String(a[0])).filter((l) => l.includes('"level":"error"'));
    expect(errors).toEqual([]);
  } finally {
    stderr.mockRestore();
  }
}, 60_000);
