/** Exact-bytes HTTP for hostile-request tests: nothing normalizes the path or headers. */
import { request } from 'node:http';
import { connect } from 'node:net';

export interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** When the status and headers arrived (performance.now()). */
  headAt: number;
}

export function rawRequest(
  url: string,
  method: string,
  path: string,
  /** An array sends the header once per value, in order. */
  headers: Record<string, string | string[]> = {},
): Promise<RawReply> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method, path, headers, timeout: 10_000 }, (res) => {
      const headAt = performance.now();
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, headAt }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Sends raw bytes on a socket and returns everything the server wrote before closing. */
export function rawSocket(url: string, payload: string | Buffer, timeoutMs = 5_000): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(u.port), u.hostname);
    let out = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(out);
    }, timeoutMs);
    socket.on('connect', () => socket.write(payload));
    socket.on('data', (d) => {
      out += d.toString('utf8');
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    socket.on('error', (e) => {
      clearTimeout(timer);
      if (out) resolve(out);
      else reject(e);
    });
  });
}
