/**
 * The audit line tells what happened on the wire: a 304 streamed no body (not proxied); a client
 * that leaves during a big buffered body (a generated log file) is client-gone with the bytes it
 * got, through both front ends; a Lambda invocation that runs out of time mid-body is the
 * function's failure, not the client leaving.
 */
import { type IncomingMessage, request } from 'node:http';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLambdaHandler } from '../../lambda/adapters/lambda';
import { createProxy } from '../../lambda/bootstrap';
import { parseConfig } from '../../lambda/config';
import type { RequestEvent } from '../../lambda/core/observer';
import { DeltaTableWriter } from '../../lambda/local/delta-writer';
import { S3Backend } from '../../lambda/storage/s3-backend';
import type { StorageBackend } from '../../lambda/storage/storage-backend';
import { uploadDemoTable } from '../helpers/fixture-tables';
import { startLambdaHttpServer } from '../helpers/lambda-http-server';
import { installLambdaRuntimeShim } from '../helpers/lambda-runtime-shim';
import { TRANSPORTS } from '../helpers/lambda-transports';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import {
  BACKEND_CREDENTIALS,
  backendClient,
  createBucket,
  type S3Server,
  startS3rver,
} from '../helpers/s3-servers';
import { encodeKeyPath, signedFetch, signHeaders } from '../helpers/signed-fetch';
import { wideAdds } from '../helpers/wide-adds';

installLambdaRuntimeShim();

let s3: S3Server;
let euKey: string;

beforeAll(async () => {
  s3 = await startS3rver();
  const active = await uploadDemoTable(s3.endpoint, 'lake', 'w/sales/');
  euKey = `sales/${active.find((p) => p.startsWith('region=EU/'))}`;
  const client = backendClient(s3.endpoint);
  await createBucket(client, 'bounds');
  const writer = new DeltaTableWriter(
    {
      put: async (rel, bytes) => {
        await client.send(new PutObjectCommand({ Bucket: 'bounds', Key: `t/${rel}`, Body: bytes }));
      },
    },
    { schema: [{ name: 'id', type: 'long' }] },
  );
  await writer.create();
  await writer.commit({ add: wideAdds(12_000), operation: 'WRITE' });
  client.destroy();
}, 120_000);
afterAll(async () => {
  await s3?.stop();
});

async function settled(ms = 500): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

describe('node:http: one request, one audit event', () => {
  let proxy: RunningProxy;
  beforeAll(async () => {
    proxy = await startProxy(s3, {
      tableMapping: { sales: 's3://lake/w/sales' },
      getMode: 'proxy',
      grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{ region: 'EU' }] }],
    });
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  it('a 304 is not reported as a proxied body', async () => {
    const path = `/datalake/${encodeKeyPath(euKey)}`;
    const first = await signedFetch(proxy.url, 'GET', path, '', {}, ANALYST);
    expect(first.status).toBe(200);
    const etag = first.headers.etag!;
    const before = proxy.events.length;
    const res = await signedFetch(proxy.url, 'GET', path, '', { 'if-none-match': etag }, ANALYST);
    expect(res.status).toBe(304);
    await settled(100);
    const e = proxy.events[before]!;
    expect({ status: e.status, bytes: e.bytes, proxied: e.proxied }).toEqual({
      status: 304,
      bytes: 0,
      proxied: false,
    });
  });
});

describe.each(TRANSPORTS)(
  'a client that leaves during a big buffered body (a generated log file), via %s',
  (_name, serve) => {
    let proxy: RunningProxy;
    beforeAll(async () => {
      proxy = await startProxy(
        s3,
        {
          tableMapping: { t: 's3://bounds/t' },
          getMode: 'proxy',
          logView: 'filtered',
          grants: [{ principal: ANALYST.principal, table: 't', partitions: [{}] }],
        },
        serve,
      );
    }, 120_000);
    afterAll(async () => {
      await proxy?.stop();
    });

    it('is recorded as client-gone with the bytes it got, not as a 200 served whole', async () => {
      const path = '/datalake/t/_delta_log/00000000000000000001.json';
      const url = new URL(proxy.url);
      const headers = await signHeaders(proxy.url, 'GET', path, '', {}, ANALYST);
      const before = proxy.events.length;
      const res = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = request({ host: url.hostname, port: url.port, path, headers, agent: false }, (r) => {
          r.pause();
          resolve(r);
        });
        req.on('error', reject);
        req.end();
      });
      expect(res.statusCode).toBe(200);
      const size = Number(res.headers['content-length']);
      expect(size).toBeGreaterThan(16 * 1024 * 1024);
      // The client takes a little of the body, then leaves.
      let received = 0;
      await new Promise<void>((resolve) => {
        res.once('data', (d: Buffer) => {
          received += d.byteLength;
          res.pause();
          resolve();
        });
        res.resume();
      });
      res.socket.resetAndDestroy();
      await new Promise((r) => setTimeout(r, 1_000));
      const events = proxy.events.slice(before);
      expect(events).toHaveLength(1);
      const e = events[0]!;
      expect({
        decision: e.decision,
        reasonClass: e.reasonClass,
        complete: e.bytes === size,
      }).toEqual({ decision: 'error', reasonClass: 'client-gone', complete: false });
      expect(received).toBeLessThan(size);
    }, 60_000);
  },
);

describe('Lambda: an invocation that times out mid-body, its client still reading', () => {
  it('is not recorded as the client leaving', async () => {
    const events: RequestEvent[] = [];
    const config = parseConfig({
      tableMapping: { t: 's3://bounds/t' },
      getMode: 'proxy',
      logView: 'raw',
      s3: { endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1' },
      auth: { keys: [ANALYST] },
      grants: [{ principal: ANALYST.principal, table: 't', partitions: [{}] }],
    });
    const backend = new S3Backend({
      endpoint: s3.endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: BACKEND_CREDENTIALS,
    });
    let armed = false;
    let heldCalls = 0;
    // The data body's first chunk, then nothing until the request's signal aborts (as S3's does).
    const storage: StorageBackend = {
      ...backend,
      head: (ref, o) => backend.head(ref, o),
      list: (p) => backend.list(p),
      presign: (ref, o) => backend.presign(ref, o),
      get: async (ref, options) => {
        const got = await backend.get(ref, options);
        if (!armed || !ref.key.endsWith('01.json')) return got;
        heldCalls++;
        const signal = options?.signal;
        async function* stalled(): AsyncIterable<Uint8Array> {
          for await (const chunk of got.body) {
            yield chunk;
            await new Promise<void>((_, reject) => {
              if (signal?.aborted) reject(signal.reason);
              signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
            });
          }
        }
        return { ...got, body: stalled() };
      },
    };
    const instance = createProxy(config, {
      storage,
      audit: false,
      processMetrics: false,
      logger: { warn: () => {}, error: () => {} },
      observers: [{ record: (e) => events.push(e) }],
    });
    const errors = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const handler = createLambdaHandler(async () => instance.handler);
    const server = await startLambdaHttpServer(handler, { timeoutMs: 2_500 });
    try {
      const url = new URL(server.url);
      const path = '/datalake/t/_delta_log/00000000000000000001.json';
      // Warm: the table's log is loaded before the held read.
      await signedFetch(
        server.url,
        'GET',
        '/datalake/t/_delta_log/00000000000000000000.json',
        '',
        {},
        ANALYST,
      );
      events.length = 0;
      armed = true;
      const headers = await signHeaders(server.url, 'GET', path, '', {}, ANALYST);
      const done = new Promise<{ status: number; complete: boolean }>((resolve) => {
        const req = request({ host: url.hostname, port: url.port, path, headers, agent: false }, (res) => {
          res.on('data', () => {});
          res.on('close', () => resolve({ status: res.statusCode ?? 0, complete: res.complete }));
        });
        req.on('error', () => resolve({ status: 0, complete: false }));
        req.end();
      });
      const wire = await Promise.race([
        done,
        new Promise<undefined>((r) => setTimeout(() => r(undefined), 8_000)),
      ]);
      await new Promise((r) => setTimeout(r, 300));
      expect(heldCalls).toBe(1);
      // The client never left: the invocation ran out of time and the response was cut.
      // The invocation cut the response (the client read on until then).
      expect(wire).toEqual({ status: 200, complete: false });
      expect(events).toHaveLength(1);
      expect({ status: events[0]!.status, reasonClass: events[0]!.reasonClass }).toEqual({
        status: 200,
        reasonClass: 'internal',
      });
    } finally {
      errors.mockRestore();
      await server.close();
    }
  }, 30_000);
});
