/**
 * README: "A request without a body whose kept-alive connection upstream was dropped just as it was
 * reused is sent once more on a fresh connection." With several idle connections in the helper's
 * pool (after parallel reads) that the server drops together (an idle timeout they all reached),
 * the retry took the next pooled connection, which was dropped too, and the client got a 503.
 */
import { type IncomingMessage, request, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClientHelper, startClientHelper } from '../../client/helper';
import { startUpstream, type Upstream } from '../helpers/recording-upstream';
import { selfSignedLoopbackCert } from '../helpers/tls-front';

let proxy: Upstream;
let s3: Upstream;
let helper: ClientHelper;

beforeAll(async () => {
  proxy = await startUpstream();
  s3 = await startUpstream();
  helper = await startClientHelper({ target: proxy.url });
});
afterAll(async () => {
  await helper?.close();
  await proxy?.stop();
  await s3?.stop();
});

const PRESIGNED =
  'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=abab';

function get(to: ClientHelper = helper): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: to.port, path: '/datalake/k', agent: false, timeout: 10_000 },
      (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Answers `parallel` requests at once (so the helper opens that many connections and keeps them),
 * then drops every connection that is reused, as a server whose idle timeout closed them all.
 */
function poolThenDrop(parallel: number, body: string) {
  const used = new WeakSet<object>();
  let held: ServerResponse[] = [];
  let pooling = true;
  return (req: IncomingMessage, res: ServerResponse) => {
    if (used.has(req.socket)) {
      req.socket.destroy();
      return;
    }
    used.add(req.socket);
    if (!pooling) return res.end(body);
    held.push(res);
    if (held.length < parallel) return;
    pooling = false;
    for (const r of held) r.end(body);
    held = [];
  };
}

describe('client helper: a retried GET goes on a fresh connection', () => {
  it('to the proxy, when every pooled connection was dropped', async () => {
    proxy.answer = poolThenDrop(3, 'from the proxy');
    const pooled = await Promise.all([get(), get(), get()]);
    expect(pooled.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(await get()).toEqual({ status: 200, body: 'from the proxy' });
  });

  it('to S3, when every pooled connection was dropped', async () => {
    proxy.answer = (_req, res) => {
      res.writeHead(307, { location: `${s3.url}/bucket/k?${PRESIGNED}` });
      res.end();
    };
    s3.answer = poolThenDrop(3, 'from S3');
    const pooled = await Promise.all([get(), get(), get()]);
    expect(pooled.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(await get()).toEqual({ status: 200, body: 'from S3' });
  });
});

describe('client helper: a retried GET to an https proxy', () => {
  it('goes on a fresh connection that trusts the same CA', async () => {
    const material = selfSignedLoopbackCert();
    const server = createHttpsServer(material, poolThenDrop(3, 'over https'));
    const sockets = new Set<Socket>();
    server.on('secureConnection', (s: Socket) => {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const tls = await startClientHelper({ target: `https://127.0.0.1:${port}`, ca: material.cert });
    try {
      const pooled = await Promise.all([get(tls), get(tls), get(tls)]);
      expect(pooled.map((r) => r.status)).toEqual([200, 200, 200]);
      expect(await get(tls)).toEqual({ status: 200, body: 'over https' });
    } finally {
      await tls.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    }
  });
});
