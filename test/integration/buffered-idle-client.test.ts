/**
 * node:http: a client that takes a big buffered answer's headers and then reads nothing is cut
 * after clientIdleTimeoutMs, as one stalled on a streamed body is (slow-readers.test.ts): else its
 * connection and every unsent byte queued to it were held for good (node sets no socket timeout).
 */
import { type ClientRequest, type IncomingMessage, request } from 'node:http';
import type { Socket } from 'node:net';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNodeServer } from '../../lambda/adapters/node-server';
import { DeltaTableWriter } from '../../lambda/local/delta-writer';
import { ANALYST, type RunningProxy, type ServeFn, startProxy } from '../helpers/proxy-harness';
import { backendClient, createBucket, type S3Server, startS3rver } from '../helpers/s3-servers';
import { signHeaders } from '../helpers/signed-fetch';
import { wideAdds } from '../helpers/wide-adds';

const BUCKET = 'bounds';
/** ~20 MB of commit JSON: more than loopback socket buffers absorb from a paused reader. */
const ADDS = 12_000;

let s3: S3Server;
let client: S3Client;
const open: ClientRequest[] = [];

beforeAll(async () => {
  s3 = await startS3rver();
  client = backendClient(s3.endpoint);
  await createBucket(client, BUCKET);
  const writer = new DeltaTableWriter(
    {
      put: async (rel, bytes) => {
        await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `t/${rel}`, Body: bytes }));
      },
    },
    { schema: [{ name: 'id', type: 'long' }] },
  );
  await writer.create();
  await writer.commit({ add: wideAdds(ADDS), operation: 'WRITE' });
}, 120_000);

afterAll(async () => {
  for (const r of open.splice(0)) r.destroy();
  client?.destroy();
  await s3?.stop();
});

/** A signed GET whose reader takes the status and headers, then reads nothing. */
async function pausedGet(proxy: RunningProxy, path: string): Promise<IncomingMessage> {
  const url = new URL(proxy.url);
  const headers = await signHeaders(proxy.url, 'GET', path, '', {}, ANALYST);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, headers, agent: false }, (res) => {
      res.pause();
      resolve(res);
    });
    req.on('error', reject);
    req.setTimeout(60_000, () => req.destroy(new Error('no response headers within 60 s')));
    open.push(req);
    req.end();
  });
}

describe('node:http: a client that stops reading', () => {
  it('is cut after clientIdleTimeoutMs also when the response body is buffered (a generated log file)', async () => {
    // The proxy's side of each connection, to see what it still holds for the client.
    const sockets: Socket[] = [];
    const serve: ServeFn = async (handler, options) => {
      const s = await startNodeServer(handler, '127.0.0.1', 0, options);
      s.server.on('connection', (socket: Socket) => sockets.push(socket));
      return { url: s.url, close: () => s.close() };
    };
    const proxy = await startProxy(
      s3,
      {
        tableMapping: { t: `s3://${BUCKET}/t` },
        getMode: 'proxy',
        logView: 'filtered',
        grants: [{ principal: ANALYST.principal, table: 't', partitions: [{}] }],
        clientIdleTimeoutMs: 300,
      },
      serve,
    );
    try {
      const res = await pausedGet(proxy, '/datalake/t/_delta_log/00000000000000000001.json');
      expect(res.statusCode).toBe(200);
      const size = Number(res.headers['content-length']);
      expect(size).toBeGreaterThan(16 * 1024 * 1024);
      // Ten times the idle timeout without reading a byte.
      await new Promise((r) => setTimeout(r, 3_000));
      // The proxy hung up on the stalled reader: it holds no connection with unsent bytes.
      const held = sockets.filter((s) => !s.destroyed && s.writableLength > 0);
      expect(held.map((s) => s.writableLength)).toEqual([]);
      const rest = await new Promise<{ bytes: number; complete: boolean }>((resolve) => {
        let bytes = 0;
        res.on('data', (d: Buffer) => {
          bytes += d.byteLength;
        });
        res.on('close', () => resolve({ bytes, complete: res.complete }));
        res.resume();
      });
      // As for a streamed body (test/integration/slow-readers.test.ts): the proxy hung up.
      expect(rest.complete).toBe(false);
      expect(rest.bytes).toBeLessThan(size);
    } finally {
      await proxy.stop();
    }
  }, 120_000);
});
