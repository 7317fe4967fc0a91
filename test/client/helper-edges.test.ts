/**
 * The client helper against upstreams that misbehave on purpose: a stand-in for the proxy and a
 * stand-in for S3, both plain node:http servers on 127.0.0.1 that record what reaches them and
 * answer as each test says (hang, cut a body short, redirect oddly). The real proxy cannot be
 * made to do these things; the helper under test is the real one, driven with raw HTTP.
 */
import { Agent, createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ClientHelper, startClientHelper } from '../../client/helper';
import { rawSocket } from '../helpers/raw-http';
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
beforeEach(() => {
  proxy.seen.length = 0;
  s3.seen.length = 0;
  proxy.answer = (_req, res) => res.end('ok');
  s3.answer = (_req, res) => res.end('ok');
});

interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
  /** The response ended cleanly (as opposed to a connection cut mid-body). */
  complete: boolean;
}

/** One request to the helper with exactly this path and these headers. */
function send(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  to: ClientHelper = helper,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: to.port, method, path, headers, agent: false, timeout: 10_000 },
      (res) => {
        let body = '';
        res.setEncoding('latin1');
        res.on('data', (d) => {
          body += d;
        });
        const done = () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, complete: res.complete });
        res.on('end', done);
        res.on('error', done);
        res.on('aborted', done);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** The query of a SigV4 presigned URL, the only kind of Location the helper follows. */
const PRESIGNED =
  'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=abab';

const AUTH =
  'AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=ab';

describe('client helper: the request target is forwarded as sent, to the target only', () => {
  it.each([
    [`//127.0.0.1:S3PORT/datalake/k`],
    [`/\\127.0.0.1:S3PORT/datalake/k`],
    [`/datalake/a/../b`],
    [`/datalake/a/%2e%2e/b?x=1`],
  ])('%s reaches the proxy unchanged, and nothing else', async (template) => {
    const path = template.replace('S3PORT', String(s3.port));
    const r = await send('GET', path, { authorization: AUTH });
    expect(r.status).toBe(200);
    expect(s3.seen).toEqual([]);
    expect(proxy.seen.map((s) => s.url)).toEqual([path]);
    expect(proxy.seen[0]?.headers.authorization).toBe(AUTH);
  });

  it('an absolute-form target naming the proxy keeps its path as sent', async () => {
    const path = `//127.0.0.1:${s3.port}/datalake/a/../k?x=%2F`;
    const r = await send('GET', `http://127.0.0.1:${proxy.port}${path}`, { authorization: AUTH });
    expect(r.status).toBe(200);
    expect(s3.seen).toEqual([]);
    expect(proxy.seen.map((s) => s.url)).toEqual([path]);
  });
});

/** Resolves when the server side of this exchange is closed before it answered. */
function closedEarly(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => res.once('close', () => resolve()));
}

/** Sends a request to the helper and tears the connection down once `when` resolves. */
async function leaveWhen(
  when: Promise<unknown>,
  method = 'GET',
  headers: Record<string, string> = {},
  body?: string,
): Promise<void> {
  const req = request({
    host: '127.0.0.1',
    port: helper.port,
    method,
    path: '/datalake/k',
    headers,
    agent: false,
  });
  req.on('error', () => {});
  if (body === undefined) req.end();
  else req.write(body); // the rest never comes
  await when;
  req.destroy();
}

const within = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([
    p,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`still open after ${ms} ms: ${what}`)), ms),
    ),
  ]);

describe('client helper: a client that leaves', () => {
  it('before the proxy answers: the request to the proxy is closed at once', async () => {
    let upstreamClosed: Promise<void> | undefined;
    const arrived = new Promise<void>((resolve) => {
      proxy.answer = (_req, res) => {
        upstreamClosed = closedEarly(res); // and never answer
        resolve();
      };
    });
    await leaveWhen(arrived);
    await within(upstreamClosed!, 2_000, 'the request to the proxy');
  });

  it('before S3 answers the redirect: the request to S3 is closed at once', async () => {
    proxy.answer = (_req, res) => {
      res.writeHead(307, { location: `${s3.url}/bucket/k?${PRESIGNED}` });
      res.end();
    };
    let upstreamClosed: Promise<void> | undefined;
    const arrived = new Promise<void>((resolve) => {
      s3.answer = (_req, res) => {
        upstreamClosed = closedEarly(res);
        resolve();
      };
    });
    await leaveWhen(arrived);
    await within(upstreamClosed!, 2_000, 'the request to S3');
  });

  it('halfway through its request body: the request to the proxy is closed at once', async () => {
    let upstreamClosed: Promise<void> | undefined;
    const arrived = new Promise<void>((resolve) => {
      proxy.answer = (req, res) => {
        upstreamClosed = closedEarly(res);
        req.once('data', () => resolve());
      };
    });
    await leaveWhen(arrived, 'PUT', { 'content-length': '1000' }, 'x'.repeat(10));
    await within(upstreamClosed!, 2_000, 'the request to the proxy');
  });
});

const redirectToS3 = (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(307, { location: `${s3.url}/bucket/k?${PRESIGNED}`, 'content-type': 'application/xml' });
  res.end('<Error><Code>TemporaryRedirect</Code></Error>');
};

describe('client helper: what S3 answers reaches the client as it is', () => {
  it('a body S3 cuts short (Content-Length) reaches the client as a broken response', async () => {
    proxy.answer = redirectToS3;
    s3.answer = (_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('x'.repeat(300), () => res.destroy());
    };
    const r = await send('GET', '/datalake/k');
    expect(r.status).toBe(200);
    expect(r.complete).toBe(false);
  });

  it('a chunked body S3 cuts short reaches the client as a broken response', async () => {
    proxy.answer = redirectToS3;
    s3.answer = (_req, res) => {
      res.writeHead(200);
      res.write('x'.repeat(300), () => res.destroy());
    };
    const r = await send('GET', '/datalake/k');
    expect(r.complete).toBe(false);
  });

  it("S3's refusal of the presigned URL reaches the client, with no Location and no signature", async () => {
    proxy.answer = redirectToS3;
    s3.answer = (_req, res) => {
      res.writeHead(403, { 'content-type': 'application/xml' });
      res.end('<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>');
    };
    const r = await send('GET', '/datalake/k', {
      authorization: AUTH,
      range: 'bytes=0-1',
      'if-match': '"e"',
    });
    expect(r.status).toBe(403);
    expect(r.body).toContain('Request has expired');
    expect(JSON.stringify(r.headers)).not.toContain('X-Amz-Signature');
    expect(s3.seen[0]?.headers).toMatchObject({ range: 'bytes=0-1', 'if-match': '"e"' });
    expect(s3.seen[0]?.headers.authorization).toBeUndefined();
  });

  it('a followed GET keeps If-Range with its Range, so a resumed read never splices two versions', async () => {
    proxy.answer = redirectToS3;
    s3.answer = (_req, res) => {
      res.writeHead(200, { 'content-length': '2' });
      res.end('ab');
    };
    const r = await send('GET', '/datalake/k', {
      authorization: AUTH,
      range: 'bytes=5-',
      'if-range': '"e1"',
    });
    expect(r.status).toBe(200);
    expect(s3.seen[0]?.headers).toMatchObject({ range: 'bytes=5-', 'if-range': '"e1"' });
  });

  it('HEAD keeps its Content-Length and sends no body', async () => {
    proxy.answer = (_req, res) => {
      res.writeHead(200, { 'content-length': '12345', etag: '"e"' });
      res.end();
    };
    const r = await send('HEAD', '/datalake/k');
    expect(r).toMatchObject({ status: 200, body: '', complete: true });
    expect(r.headers['content-length']).toBe('12345');
  });
});

describe('client helper: loops back to itself', () => {
  it('a Location that points at the helper is refused once, not followed without end', async () => {
    proxy.answer = (_req, res) => {
      res.writeHead(307, { location: `${helper.url}/datalake/k?${PRESIGNED}` });
      res.end();
    };
    const before = helper.stats.requests;
    const r = await send('GET', '/datalake/k', { authorization: AUTH });
    expect(r.status).toBe(508);
    expect(r.body).toContain('<Code>LoopDetected</Code>');
    expect(proxy.seen.length).toBe(1);
    expect(helper.stats.requests - before).toBe(2);
  });

  it('a helper whose target is its own address refuses instead of calling itself without end', async () => {
    const port = await freePort();
    const self = await startClientHelper({ target: `http://127.0.0.1:${port}`, port });
    try {
      const r = await new Promise<number>((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port, path: '/datalake/k', agent: false, timeout: 5_000 },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', reject);
        req.end();
      });
      expect(r).toBe(508);
      expect(self.stats.requests).toBe(2);
    } finally {
      await self.close();
    }
  });
});

function freePort(): Promise<number> {
  const server = createServer();
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    }),
  );
}

describe('client helper: IPv6 literals', () => {
  // An IPv4-mapped literal keeps the traffic on 127.0.0.1 while exercising the `[…]` form a
  // URL gives an IPv6 host (`new URL('http://[::1]/').hostname` is "[::1]", brackets included).
  const mapped = '[::ffff:127.0.0.1]';

  it('follows a Location that names an IPv6 literal', async () => {
    proxy.answer = (_req, res) => {
      res.writeHead(307, { location: `http://${mapped}:${s3.port}/bucket/k?${PRESIGNED}` });
      res.end();
    };
    s3.answer = (_req, res) => res.end('object bytes');
    const r = await send('GET', '/datalake/k', { authorization: AUTH });
    expect(r).toMatchObject({ status: 200, body: 'object bytes', complete: true });
    expect(s3.seen).toHaveLength(1);
    expect(s3.seen[0]?.headers.authorization).toBeUndefined();
  });

  it('forwards to a --target that names an IPv6 literal', async () => {
    const v6 = await startClientHelper({ target: `http://${mapped}:${proxy.port}` });
    try {
      const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port: v6.port, path: '/datalake/k', agent: false, timeout: 5_000 },
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
      expect(r).toEqual({ status: 200, body: 'ok' });
      expect(proxy.seen.map((s) => s.url)).toEqual(['/datalake/k']);
    } finally {
      await v6.close();
    }
  });
});

describe('client helper: requests the proxy would take', () => {
  it("forwards a header section larger than node's 16 KiB default (the proxy takes ~25 KiB by default)", async () => {
    // A long presigned-style query plus a big header: 8 KiB + 12 KiB, within the proxy's
    // maxUrlBytes (8192) and maxHeaderBytes (16384).
    const path = `/datalake/k?x-id=${'q'.repeat(8_000)}`;
    const r = await send('GET', path, { 'x-client-context': 'c'.repeat(12_000) });
    expect(r.status).toBe(200);
    expect(proxy.seen.map((s) => s.url)).toEqual([path]);
  });

  // The helper read the answers with node's 16 KiB default: a bigger header section (a long
  // response-content-disposition the proxy echoes or signs into a 307's Location) became a 503.
  it("passes on an answer whose header section is larger than node's 16 KiB default, and follows such a 307", async () => {
    const disposition = `attachment; filename="${'d'.repeat(20_000)}.csv"`;
    proxy.answer = (_req, res) => res.writeHead(200, { 'content-disposition': disposition }).end('ok');
    const direct = await rawSocket(
      helper.url,
      'GET /datalake/k HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
    );
    expect(direct).toMatch(/^HTTP\/1\.1 200 /);
    expect(direct).toContain(disposition);
    const query = `${PRESIGNED}&response-content-disposition=${'e'.repeat(20_000)}`;
    proxy.answer = (_req, res) => res.writeHead(307, { location: `${s3.url}/bucket/k?${query}` }).end();
    const followed = await rawSocket(
      helper.url,
      'GET /datalake/k HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
    );
    expect(followed).toMatch(/^HTTP\/1\.1 200 /);
    expect(s3.seen.map((r) => r.url)).toEqual([`/bucket/k?${query}`]);
  });

  it('answers a request it cannot parse with S3 XML, not a bare 400', async () => {
    const out = await rawSocket(helper.url, 'GET /datalake/k HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n');
    expect(out).toMatch(/^HTTP\/1\.1 400 /);
    expect(out).toContain('<Code>InvalidRequest</Code>');
    const huge = await rawSocket(
      helper.url,
      `GET /datalake/k HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(140_000)}\r\n\r\n`,
    );
    expect(huge).toMatch(/^HTTP\/1\.1 400 /);
    expect(huge).toContain('<Code>RequestHeaderSectionTooLarge</Code>');
    expect(proxy.seen).toEqual([]);
  });
});

describe('client helper: more than the helper should follow', () => {
  it('stops after five redirects and hands the sixth to the client as it is', async () => {
    proxy.answer = redirectToS3;
    s3.answer = (_req, res) => {
      res.writeHead(307, { location: `${s3.url}/bucket/again?${PRESIGNED}` });
      res.end();
    };
    const r = await send('GET', '/datalake/k', { authorization: AUTH });
    expect(r.status).toBe(307);
    expect(r.headers.location).toBe(`${s3.url}/bucket/again?${PRESIGNED}`);
    expect(proxy.seen).toHaveLength(1);
    expect(s3.seen).toHaveLength(5);
    expect(s3.seen.every((s) => s.headers.authorization === undefined)).toBe(true);
  });

  it('hands a 307 answering a PUT to the client: its body went to the proxy only', async () => {
    let received = '';
    proxy.answer = (req, res) => {
      req.setEncoding('utf8');
      req.on('data', (d) => {
        received += d;
      });
      req.on('end', () => redirectToS3(req, res));
    };
    const r = await new Promise<Reply>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: helper.port, method: 'PUT', path: '/datalake/k', agent: false },
        (res) => {
          res.resume();
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '', complete: true }),
          );
        },
      );
      req.on('error', reject);
      req.write('part one, ');
      req.end('part two'); // no Content-Length: sent chunked
    });
    expect(r.status).toBe(307);
    expect(received).toBe('part one, part two');
    expect(s3.seen).toEqual([]);
  });
});

describe("client helper: S3's conditional answers reach the client as they are", () => {
  it.each([
    [304, { 'if-none-match': '"e"' }],
    [412, { 'if-match': '"other"' }],
  ])('%i', async (status, conditions) => {
    proxy.answer = redirectToS3;
    s3.answer = (_req, res) => {
      res.writeHead(status, { etag: '"e"', 'x-amz-request-id': 'S3REQ' });
      res.end();
    };
    const r = await send('GET', '/datalake/k', { authorization: AUTH, ...conditions });
    expect(r).toMatchObject({ status, body: '', complete: true });
    expect(r.headers).toMatchObject({ etag: '"e"', 'x-amz-request-id': 'S3REQ' });
    expect(s3.seen[0]?.headers).toMatchObject(conditions);
  });
});

describe('client helper: a client that leaves while S3 streams', () => {
  it('the read from S3 stops: its connection is closed', async () => {
    proxy.answer = redirectToS3;
    let upstreamClosed: Promise<void> | undefined;
    const streaming = new Promise<void>((resolve) => {
      s3.answer = (_req, res) => {
        upstreamClosed = closedEarly(res);
        res.writeHead(200, { 'content-length': String(1 << 30) });
        const chunk = Buffer.alloc(64 * 1024, 1);
        const more = () => {
          while (!res.destroyed && res.write(chunk));
        };
        res.on('drain', more);
        more();
        resolve();
      };
    });
    const req = request({ host: '127.0.0.1', port: helper.port, path: '/datalake/k', agent: false });
    req.on('error', () => {});
    const firstBytes = new Promise<void>((resolve) =>
      req.on('response', (res) => res.once('data', () => resolve())),
    );
    req.end();
    await streaming;
    await firstBytes;
    req.destroy();
    await within(upstreamClosed!, 2_000, 'the read from S3');
  });
});

describe('client helper: one client connection, several requests', () => {
  it('serves redirected GETs one after another on a kept-alive connection', async () => {
    proxy.answer = redirectToS3;
    s3.answer = (req, res) => res.end(`bytes of ${req.url?.split('?')[0]}`);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const get = () =>
        new Promise<{ body: string; reused: boolean }>((resolve, reject) => {
          const req = request({ host: '127.0.0.1', port: helper.port, path: '/datalake/k', agent }, (res) => {
            let body = '';
            res.on('data', (d) => {
              body += d;
            });
            res.on('end', () => resolve({ body, reused: req.reusedSocket }));
          });
          req.on('error', reject);
          req.end();
        });
      const first = await get();
      const second = await get();
      expect([first.body, second.body]).toEqual(['bytes of /bucket/k', 'bytes of /bucket/k']);
      expect(second.reused).toBe(true);
    } finally {
      agent.destroy();
    }
  });
});

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

describe('client helper: a kept-alive upstream connection the server has dropped', () => {
  /** Answers the first request on each connection; a second one on it finds the connection gone. */
  const onceThenDrop = (body: string) => {
    const served = new WeakSet<object>();
    return (req: IncomingMessage, res: ServerResponse) => {
      if (served.has(req.socket)) {
        req.socket.destroy(); // as a server that closed the idle connection as it was reused
        return;
      }
      served.add(req.socket);
      res.end(body);
    };
  };

  it('a GET is sent again on a fresh connection, to the proxy and to S3', async () => {
    proxy.answer = onceThenDrop('from the proxy');
    const first = await send('GET', '/datalake/k');
    const second = await send('GET', '/datalake/k');
    expect([first.status, first.body, second.status, second.body]).toEqual([
      200,
      'from the proxy',
      200,
      'from the proxy',
    ]);

    proxy.answer = redirectToS3;
    s3.answer = onceThenDrop('from S3');
    const third = await send('GET', '/datalake/k');
    const fourth = await send('GET', '/datalake/k');
    expect([third.status, third.body, fourth.status, fourth.body]).toEqual([200, 'from S3', 200, 'from S3']);
  });

  // The retry went through the pool and took the next idle connection, dropped too (a server
  // whose idle timeout closed them all): the client got 503 where the README promises a retry.
  it('a GET is sent again on a fresh connection, not the next pooled one, to the proxy and to S3', async () => {
    proxy.answer = poolThenDrop(3, 'from the proxy');
    const pooled = await Promise.all([0, 1, 2].map(() => send('GET', '/datalake/k')));
    expect(pooled.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(await send('GET', '/datalake/k')).toMatchObject({ status: 200, body: 'from the proxy' });

    proxy.answer = redirectToS3;
    s3.answer = poolThenDrop(3, 'from S3');
    const viaS3 = await Promise.all([0, 1, 2].map(() => send('GET', '/datalake/k')));
    expect(viaS3.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(await send('GET', '/datalake/k')).toMatchObject({ status: 200, body: 'from S3' });
  });

  it('the fresh connection to an https proxy trusts the CA the helper was given', async () => {
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
      const pooled = await Promise.all([0, 1, 2].map(() => send('GET', '/datalake/k', {}, tls)));
      expect(pooled.map((r) => r.status)).toEqual([200, 200, 200]);
      expect(await send('GET', '/datalake/k', {}, tls)).toMatchObject({ status: 200, body: 'over https' });
    } finally {
      await tls.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    }
  });
});

describe('client helper: --verbose lines for requests that fail', () => {
  it('name the request and why, never the presigned URL', async () => {
    const lines: string[] = [];
    const verbose = await startClientHelper({ target: proxy.url, log: (l) => lines.push(l) });
    const closed = await freePort();
    proxy.answer = (_req, res) => {
      res.writeHead(307, { location: `http://127.0.0.1:${closed}/bucket/k?${PRESIGNED}` });
      res.end();
    };
    try {
      const r = await new Promise<number>((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port: verbose.port, path: '/datalake/k?x-id=GetObject', agent: false },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end();
      });
      expect(r).toBe(503);
    } finally {
      await verbose.close();
    }
    expect(lines).toEqual(['GET /datalake/k failed (ECONNREFUSED)']);
  });
});

describe('client helper: redirects it refuses to follow', () => {
  const redirectTo = (location: string) => (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(307, { location, 'content-type': 'application/xml' });
    res.end('<Error><Code>TemporaryRedirect</Code></Error>');
  };

  it('a Location that is not a presigned S3 URL is not fetched: the client gets a 502 in S3 XML', async () => {
    proxy.answer = redirectTo(`${s3.url}/admin/reset?token=1`);
    const r = await send('GET', '/datalake/k', { authorization: AUTH });
    expect(r.status).toBe(502);
    expect(r.headers['content-type']).toBe('application/xml');
    expect(r.body).toContain('<Code>BadGateway</Code>');
    expect(r.body).toContain('not a presigned S3 URL');
    expect(s3.seen).toEqual([]);
  });

  it.each([
    ['the EC2 metadata service', `http://169.254.169.254/latest/meta-data/iam/?${PRESIGNED}`],
    ['its IPv4-mapped IPv6 form', `http://[::ffff:169.254.169.254]/latest/?${PRESIGNED}`],
    ["EC2's IPv6 metadata address", `http://[fd00:ec2::254]/latest/?${PRESIGNED}`],
    ['an IPv6 link-local address', `http://[fe80::1]/?${PRESIGNED}`],
  ])('a presigned-looking Location at %s is refused before any connection', async (_what, location) => {
    const lines: string[] = [];
    const logged = await startClientHelper({ target: proxy.url, log: (l) => lines.push(l) });
    try {
      proxy.answer = redirectTo(location);
      const r = await send('GET', '/datalake/k?x-id=GetObject', { authorization: AUTH }, logged);
      expect(r.status).toBe(502);
      expect(r.body).toContain('<Code>BadGateway</Code>');
      expect(r.body).toContain('link-local');
      expect(r.body).not.toContain('abab');
      expect(logged.stats.redirectsFollowed).toBe(0);
    } finally {
      await logged.close();
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^GET \/datalake\/k refused redirect \(redirect to \S+ refused: .*link-local/);
    expect(lines[0]).not.toContain('abab');
  });

  it('a host name that resolves to a link-local address is refused as it resolves', async () => {
    const resolving = await startClientHelper({
      target: proxy.url,
      // Stands in for DNS (no name resolution here): the name resolves to the metadata address.
      resolve: ((_name: string, _options: unknown, callback: (...a: unknown[]) => void) =>
        callback(null, [{ address: '169.254.169.254', family: 4 }])) as never,
    });
    try {
      proxy.answer = redirectTo(`http://s3.eu-west-1.amazonaws.com/bucket/k?${PRESIGNED}`);
      const r = await send('GET', '/datalake/k', { authorization: AUTH }, resolving);
      expect(r.status).toBe(502);
      expect(r.body).toContain('169.254.169.254 is a link-local or cloud metadata address');
    } finally {
      await resolving.close();
    }
  });

  it('an SSE-C key is never sent over plain http off this machine', async () => {
    // s3.test stands in for an S3-compatible store on another host, reached over http.
    const toS3 = (_name: string, _options: unknown, callback: (...a: unknown[]) => void) =>
      callback(null, [{ address: '127.0.0.1', family: 4 }]);
    const lan = await startClientHelper({ target: proxy.url, resolve: toS3 as never });
    const signing =
      'X-Amz-SignedHeaders=host%3Bx-amz-server-side-encryption-customer-algorithm%3Bx-amz-server-side-encryption-customer-key%3Bx-amz-server-side-encryption-customer-key-md5';
    const query = PRESIGNED.replace('X-Amz-SignedHeaders=host', signing);
    proxy.answer = redirectTo(`http://s3.test:${s3.port}/bucket/k?${query}`);
    s3.answer = (_req, res) => res.end('object bytes');
    const sse = {
      'x-amz-server-side-encryption-customer-algorithm': 'AES256',
      'x-amz-server-side-encryption-customer-key': 'k'.repeat(43) + '=',
      'x-amz-server-side-encryption-customer-key-md5': 'md5',
    };
    try {
      const refused = await send('GET', '/datalake/k', { authorization: AUTH, ...sse }, lan);
      expect(refused.status).toBe(502);
      expect(refused.body).toContain('SSE-C key');
      expect(s3.seen).toEqual([]);
      // Without a key there is nothing to protect: the same Location is followed.
      const plain = await send('GET', '/datalake/k', { authorization: AUTH }, lan);
      expect(plain).toMatchObject({ status: 200, body: 'object bytes' });
      // To loopback (no network) the key is sent, as the URL signs it.
      proxy.answer = redirectTo(`${s3.url}/bucket/k?${query}`);
      const local = await send('GET', '/datalake/k', { authorization: AUTH, ...sse }, lan);
      expect(local.status).toBe(200);
      expect(s3.seen.at(-1)?.headers).toMatchObject(sse);
    } finally {
      await lan.close();
    }
  });

  it('a loopback Location is followed when the proxy is on loopback (as here)', async () => {
    proxy.answer = redirectToS3;
    s3.answer = (_req, res) => res.end('object bytes');
    const r = await send('GET', '/datalake/k');
    expect(r).toMatchObject({ status: 200, body: 'object bytes' });
  });
});
