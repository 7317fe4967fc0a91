/**
 * An https front for a proxy on loopback, as a Function URL is one: TLS with a throwaway
 * self-signed certificate for 127.0.0.1 (made by openssl), requests passed through unchanged
 * (Host included) to the proxy's http port.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';

export interface TlsFront {
  url: string;
  /** The certificate, for clients that must trust it. */
  ca: Buffer;
  requests: number;
  stop(): Promise<void>;
}

/** A throwaway certificate for 127.0.0.1 (openssl), valid a day. */
export function selfSignedLoopbackCert(): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'tls-front-'));
  try {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1'].concat([
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ]),
      { stdio: 'ignore', timeout: 30_000 },
    );
    return { key: readFileSync(key), cert: readFileSync(cert) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function startTlsFront(backend: string): Promise<TlsFront> {
  const material = selfSignedLoopbackCert();
  const target = new URL(backend);
  const front: TlsFront = { url: '', ca: material.cert, requests: 0, stop: async () => {} };
  const server = createServer(material, (req, res) => {
    front.requests++;
    const upstream = request(
      {
        hostname: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        pipeline(answer, res).catch(() => answer.destroy());
      },
    );
    upstream.on('error', () => res.destroy());
    pipeline(req, upstream).catch(() => upstream.destroy());
  });
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  front.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  front.stop = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
  return front;
}
