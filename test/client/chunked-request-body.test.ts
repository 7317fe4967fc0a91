/**
 * The client helper forwards a request body sent chunked as chunked: Transfer-Encoding is
 * hop-by-hop, and a GET's body sent unframed on the helper's shared keep-alive connection would
 * be read by the proxy as the next request, whose answer another client would get.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClientHelper, startClientHelper } from '../../client/helper';
import { sendRaw } from '../helpers/lambda-http-client';
import { rawSocket } from '../helpers/raw-http';

describe('client helper: a GET with a chunked body', () => {
  let proxy: Server;
  let proxyUrl: string;
  let helper: ClientHelper;
  const seen: string[] = [];
  beforeAll(async () => {
    proxy = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      req.resume();
      // The proxy takes a while for some requests (a cold snapshot): answers stay in order.
      const delay = req.url === '/smuggled' ? 300 : 0;
      req.on('end', () => setTimeout(() => res.end(`answer for ${req.url}`), delay));
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    helper = await startClientHelper({ target: proxyUrl });
  });
  afterAll(async () => {
    await helper?.close();
    proxy.closeAllConnections();
    await new Promise<void>((r) => proxy.close(() => r()));
  });

  it('reaches the proxy framed: its body is never read as another request, whose answer another client gets', async () => {
    const inner = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';
    const payload =
      'GET /datalake/k HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n' +
      `${Buffer.byteLength(inner).toString(16)}\r\n${inner}\r\n0\r\n\r\n`;
    const first = await rawSocket(helper.url, payload);
    expect(first).toContain('answer for /datalake/k');
    // Another client's request on the helper's kept-alive connection to the proxy.
    const second = await sendRaw(helper.url, { path: '/datalake/other' });
    expect(seen).not.toContain('GET /smuggled');
    expect(second.body.toString()).toBe('answer for /datalake/other');
  });
});
