/**
 * A plain node:http server on 127.0.0.1 that records what reaches it and answers as a test says:
 * a stand-in for the proxy or for S3 in front of the client helper (which cannot be made to
 * misbehave on purpose otherwise).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
}

export interface Upstream {
  url: string;
  port: number;
  seen: Seen[];
  /** Sockets currently open to this server. */
  open(): number;
  answer: (req: IncomingMessage, res: ServerResponse) => void;
  stop(): Promise<void>;
}

export async function startUpstream(): Promise<Upstream> {
  const sockets = new Set<Socket>();
  const up: Upstream = {
    url: '',
    port: 0,
    seen: [],
    open: () => sockets.size,
    answer: (_req, res) => res.end('ok'),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
  // Header limit as roomy as the proxy's own parser, so the helper's limit is what is tested.
  const server: Server = createServer({ maxHeaderSize: 64 * 1024 }, (req, res) => {
    up.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    req.resume();
    up.answer(req, res);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  up.port = (server.address() as AddressInfo).port;
  up.url = `http://127.0.0.1:${up.port}`;
  return up;
}
