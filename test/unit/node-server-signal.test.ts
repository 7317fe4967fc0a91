import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createNodeServer } from '../../lambda/adapters/node-server';
import type { ProxyRequest } from '../../lambda/core/types';

// The node:http adapter makes a request's abort signal only when the core first reads it; a
// signal read after the client has gone must still say so, or a backend read would run on.
describe('node:http adapter: the request signal', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  async function serve(handler: (req: ProxyRequest) => Promise<{ aborted: boolean }>) {
    const seen: boolean[] = [];
    const server = createNodeServer(async (req) => {
      const { aborted } = await handler(req);
      seen.push(aborted);
      return { status: 200, headers: {}, body: 'ok' };
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    close = () => new Promise((resolve) => server.close(() => resolve()));
    return { port: (server.address() as AddressInfo).port, seen };
  }

  it('is already aborted when first read after the client left', async () => {
    let leave!: () => void;
    const left = new Promise<void>((resolve) => {
      leave = resolve;
    });
    const { port, seen } = await serve(async (req) => {
      await left;
      await new Promise((r) => setTimeout(r, 100)); // the socket's close is seen by the server
      return { aborted: req.signal?.aborted === true };
    });
    const client = request({ host: '127.0.0.1', port, path: '/x' });
    client.on('error', () => undefined);
    client.end();
    await new Promise((r) => setTimeout(r, 100));
    client.destroy();
    leave();
    await expect.poll(() => seen, { timeout: 5_000 }).toEqual([true]);
  });

  it('aborts a signal read earlier when the client leaves, and not one whose answer was sent', async () => {
    let signal: AbortSignal | undefined;
    const { port, seen } = await serve(async (req) => {
      signal = req.signal;
      const waited = await Promise.race([
        new Promise<boolean>((r) => signal!.addEventListener('abort', () => r(true), { once: true })),
        new Promise<boolean>((r) => setTimeout(() => r(false), 300)),
      ]);
      return { aborted: waited };
    });
    // A client that stays: its answer arrives, the signal is never aborted.
    const body = await new Promise<string>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path: '/stay' }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c));
        res.on('end', () => resolve(text));
      })
        .on('error', reject)
        .end();
    });
    expect(body).toBe('ok');
    expect(seen).toEqual([false]);
    expect(signal?.aborted).toBe(false);
    // A client that leaves while its request is served: the signal fires.
    const client = request({ host: '127.0.0.1', port, path: '/leave' });
    client.on('error', () => undefined);
    client.end();
    await new Promise((r) => setTimeout(r, 100));
    client.destroy();
    await expect.poll(() => seen, { timeout: 5_000 }).toEqual([false, true]);
  });
});
