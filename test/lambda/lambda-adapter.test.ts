import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLambdaHandler } from '../../lambda/adapters/lambda';
import type { ProxyHandler } from '../../lambda/core/types';
import { sendRaw } from '../helpers/lambda-http-client';
import { startLambdaHttpServer, startProxyThroughLambda } from '../helpers/lambda-http-server';
import {
  installLambdaRuntimeShim,
  invokeAndCollect,
  parseIntegrationResponse,
} from '../helpers/lambda-runtime-shim';
import { REPO_ROOT } from '../helpers/s3-servers';
import { CHUNK, createTestProxy, type StreamProbe } from './test-proxy';

installLambdaRuntimeShim();
const run = promisify(execFile);

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('Lambda adapter behind a Function URL (runtime shim)', () => {
  const probe: StreamProbe = { produced: 0, closed: false, aborted: false };
  let server: { url: string; close: () => Promise<void> };
  const logged = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);

  beforeAll(async () => {
    server = await startLambdaHttpServer(createLambdaHandler(async () => createTestProxy(probe)));
  });
  afterAll(async () => {
    await server?.close();
    logged.mockRestore();
  });

  it('keeps the raw path and raw query byte for byte (%2F, %3D, +, unicode, repeats)', async () => {
    const path = '/echo/tbl/date%3D2024-01-01/a%2Fb/x+y/%E2%82%AC%C3%BC.parquet';
    const query = 'prefix=a%2Fb%3Dc&prefix=second&q=+plus+&u=%E2%82%AC&empty=&flag&encoding-type=url';
    const res = await sendRaw(server.url, { path: `${path}?${query}` });
    expect(res.status).toBe(200);
    const echo = JSON.parse(res.body.toString());
    expect(echo.rawPath).toBe(path);
    expect(echo.rawQuery).toBe(query);
    const doubleSlash = JSON.parse(
      (await sendRaw(server.url, { path: '/echo//a/./b/%2e%2e/c?' })).body.toString(),
    );
    expect(doubleSlash.rawPath).toBe('/echo//a/./b/%2e%2e/c');
    expect(doubleSlash.rawQuery).toBe('');
  });

  it('passes method, lower-case headers, re-joined cookies and the source IP', async () => {
    const res = await sendRaw(server.url, {
      path: '/echo',
      headers: { 'X-Amz-Date': '20250101T000000Z', Cookie: 'a=1; b=2', Authorization: 'AWS4-HMAC-SHA256 x' },
    });
    const echo = JSON.parse(res.body.toString());
    expect(echo.method).toBe('GET');
    expect(echo.rawPath).toBe('/echo');
    expect(echo.rawQuery).toBe('');
    expect(echo.headers['x-amz-date']).toBe('20250101T000000Z');
    expect(echo.headers.authorization).toBe('AWS4-HMAC-SHA256 x');
    expect(echo.headers.cookie).toBe('a=1; b=2');
    expect(echo.headers.host).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(echo.sourceIp).toBe('127.0.0.1');
    expect(echo.hasSignal).toBe(true);
  });

  it('decodes base64 request bodies (binary) and plain text bodies', async () => {
    const binary = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) % 256);
    const res = await sendRaw(server.url, {
      method: 'PUT',
      path: '/echo',
      headers: { 'content-type': 'application/octet-stream' },
      body: binary,
    });
    expect(Buffer.from(JSON.parse(res.body.toString()).body, 'base64')).toEqual(Buffer.from(binary));
    const text = await sendRaw(server.url, {
      method: 'POST',
      path: '/echo',
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      body: Buffer.from('héllo €'),
    });
    expect(Buffer.from(JSON.parse(text.body.toString()).body, 'base64').toString()).toBe('héllo €');
  });

  it('answers HEAD with status and headers (content-length, etag) and no body', async () => {
    const res = await sendRaw(server.url, { method: 'HEAD', path: '/object' });
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe('1234');
    expect(res.headers.etag).toBe('"abc"');
    expect(res.headers['x-amz-request-id']).toBe('CORE0000REQUEST1');
    expect(res.body.length).toBe(0);
  });

  it('answers 304 with its headers and no body', async () => {
    const res = await sendRaw(server.url, { path: '/not-modified', headers: { 'if-none-match': '"abc"' } });
    expect(res.status).toBe(304);
    expect(res.headers.etag).toBe('"abc"');
    expect(res.headers['x-amz-request-id']).toBe('CORE0000REQUEST1');
  });

  it('answers 307 with Location, with and without a body', async () => {
    const withBody = await sendRaw(server.url, { path: '/redirect' });
    expect(withBody.status).toBe(307);
    expect(withBody.headers.location).toBe('http://127.0.0.1:9/bucket/key?X-Amz-Signature=abc');
    expect(withBody.body.toString()).toContain('<Code>TemporaryRedirect</Code>');
    const empty = await sendRaw(server.url, { path: '/redirect-empty' });
    expect(empty.status).toBe(307);
    expect(empty.headers.location).toBe('http://127.0.0.1:9/elsewhere');
    expect(empty.body.length).toBe(0);
  });

  it('keeps the headers of an error answered with no body', async () => {
    const res = await sendRaw(server.url, { path: '/forbidden-empty' });
    expect(res.status).toBe(403);
    expect(res.headers['x-amz-error-code']).toBe('AccessDenied');
    expect(res.headers['x-amz-request-id']).toBe('CORE0000REQUEST1');
  });

  it('turns an exception in the core into S3 XML InternalError with a request id, no stack', async () => {
    const res = await sendRaw(server.url, { path: '/throw' });
    expect(res.status).toBe(500);
    expect(res.headers['content-type']).toBe('application/xml');
    const requestId = res.headers['x-amz-request-id'];
    expect(requestId).toBeTruthy();
    const xml = res.body.toString();
    expect(xml).toContain('<Code>InternalError</Code>');
    expect(xml).toContain(`<RequestId>${requestId}</RequestId>`);
    expect(xml).toContain('<Resource>/throw</Resource>');
    expect(xml).not.toMatch(/hunter2|secret\.js|at /);
    expect(Number(res.headers['content-length'])).toBe(res.body.length);
  });

  // Lambda's Node.js runtime prefixes console lines in its text log format ("<time>\t<request
  // id>\tERROR\t…"), and the stack's AdapterErrors metric filter ($.level = "error") reads JSON
  // lines only: the adapter's error line must not go through console.
  it('writes its error line as bare JSON on stderr, not through the console Lambda prefixes', async () => {
    const lambdaConsole = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
      process.stderr.write(`2026-01-01T00:00:00.000Z\tREQUEST-ID\tERROR\t${args.map(String).join(' ')}\n`);
    });
    const before = logged.mock.calls.length;
    try {
      expect((await sendRaw(server.url, { path: '/throw' })).status).toBe(500);
      const json = logged.mock.calls.slice(before).flatMap(([line]) => {
        try {
          return [JSON.parse(String(line))];
        } catch {
          return [];
        }
      });
      expect(json).toContainEqual(
        expect.objectContaining({ level: 'error', message: 'request failed before the response started' }),
      );
    } finally {
      lambdaConsole.mockRestore();
    }
  });

  it('keeps the code and status of an S3Error that escapes the core', async () => {
    const res = await sendRaw(server.url, { path: '/throw-s3' });
    expect(res.status).toBe(404);
    expect(res.body.toString()).toContain('<Code>NoSuchKey</Code>');
  });

  it('carries binary response bodies unchanged', async () => {
    const res = await sendRaw(server.url, { path: '/binary' });
    expect([...res.body]).toEqual(Array.from({ length: 256 }, (_, i) => i));
  });

  it('drops hop-by-hop headers set by the core', async () => {
    const res = await sendRaw(server.url, { path: '/hop-by-hop' });
    expect(res.body.toString()).toBe('ok');
    expect(res.headers.connection).not.toBe('close');
  });

  it('streams a large body with backpressure: a paused client stops the producer', async () => {
    probe.produced = 0;
    probe.closed = false;
    const chunks = 512; // 32 MiB
    const { hostname, port } = new URL(server.url);
    let received = 0;
    const done = new Promise<number>((resolve, reject) => {
      const req = request({ hostname, port, path: `/stream?chunks=${chunks}` }, (res) => {
        res.once('data', (c: Buffer) => {
          received += c.length;
          res.pause();
          // Let the pipeline fill every buffer on the way, then check the producer stopped.
          waitForStable(() => probe.produced)
            .then(() => {
              expect(probe.produced * CHUNK).toBeLessThan(16 * 1024 * 1024);
              res.on('data', (d: Buffer) => {
                received += d.length;
              });
              res.resume();
            })
            .catch(reject);
        });
        res.on('end', () => resolve(received));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    expect(await done).toBe(chunks * CHUNK);
    await waitFor(() => probe.closed, 'the body iterator to close');
  });

  it('stops reading the core body and aborts the request when the client goes away', async () => {
    probe.produced = 0;
    probe.closed = false;
    probe.aborted = false;
    const { hostname, port } = new URL(server.url);
    await new Promise<void>((resolve, reject) => {
      const req = request({ hostname, port, path: '/stream?chunks=100000' }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => {});
      req.setTimeout(5_000, () => reject(new Error('no data')));
      req.end();
    });
    await waitFor(() => probe.closed && probe.aborted, 'the body to close and the signal to abort');
    expect(probe.produced).toBeLessThan(100000);
  });

  it('cuts the response short (never a clean end) when the body fails after the status was sent', async () => {
    const outcome = await sendRaw(server.url, { path: '/fail-mid-stream' }).then(
      (r) => `complete:${r.body.toString()}`,
      (e: Error) => `cut:${e.message}`,
    );
    expect(outcome).toMatch(/^cut:/);
    expect(logged).toHaveBeenCalledWith(expect.stringContaining('backend connection reset'));
  });

  it('fails before the status (the Function URL answers 502) when the body fails before its first byte', async () => {
    const res = await sendRaw(server.url, { path: '/fail-before-first-byte' });
    expect(res.status).toBe(502);
    expect(logged).toHaveBeenCalledWith(expect.stringContaining('before the first byte'));
  });
});

// Only a Function URL sends HTTP requests here; an IAM principal with lambda:InvokeFunction may
// invoke with anything else (a test event, a queue's batch, an API Gateway v1 payload).
describe('Lambda adapter invoked with an event that is not a Function URL request', () => {
  it.each([
    ['an empty object', {}],
    ['an SQS batch', { Records: [{ eventSource: 'aws:sqs', body: 'x' }] }],
    ['an API Gateway REST payload', { httpMethod: 'GET', path: '/datalake', headers: {} }],
    ['a string', 'GET /'],
  ])('answers 400 InvalidRequest in S3 XML, not 500 (%s)', async (_name, event) => {
    installLambdaRuntimeShim();
    let served = 0;
    const handler = createLambdaHandler(async () => {
      const core = await createTestProxy();
      return (req) => {
        served++;
        return core(req);
      };
    });
    const written = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const { prelude, body } = parseIntegrationResponse((await invokeAndCollect(handler, event)).bytes);
      expect(prelude.statusCode).toBe(400);
      expect(body.toString()).toContain('<Code>InvalidRequest</Code>');
      expect(served).toBe(0);
      // The operator's log says why, as a warning: no error line, no stack.
      expect(written.mock.calls.map((c) => JSON.parse(String(c[0])))).toEqual([
        expect.objectContaining({
          level: 'warn',
          code: 'InvalidRequest',
          reason: 'not a Function URL event',
        }),
      ]);
    } finally {
      written.mockRestore();
    }
  });
});

describe('Lambda adapter with invocations at once (the shim; multi-concurrency runtimes)', () => {
  it('answers them all without a listener warning', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', join(REPO_ROOT, 'test/helpers/lambda-concurrency-main.ts'), '16'],
      { cwd: REPO_ROOT, timeout: 60_000 },
    );
    const { statuses, warnings } = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(statuses).toEqual(Array(16).fill(200));
    expect(warnings.filter((w: string) => w.startsWith('MaxListenersExceededWarning'))).toEqual([]);
  });
});

describe('Lambda adapter start-up', () => {
  it('answers InternalError XML while the proxy cannot start, and recovers once it can', async () => {
    const logged = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    let attempts = 0;
    const getProxy = async (): Promise<ProxyHandler> => {
      attempts++;
      if (attempts < 3) throw new Error('PROXY_TABLE_MAPPING: expected JSON');
      return createTestProxy();
    };
    // Retried at once here (startRetryMs 0): the hold-down is lambda-start-up.test.ts's.
    const server = await startLambdaHttpServer(createLambdaHandler(getProxy, { startRetryMs: 0 }));
    try {
      const first = await sendRaw(server.url, { path: '/echo' });
      expect(first.status).toBe(500);
      expect(first.body.toString()).toContain('<Code>InternalError</Code>');
      expect(first.body.toString()).not.toContain('PROXY_TABLE_MAPPING');
      const second = await sendRaw(server.url, { path: '/echo' });
      expect(second.status).toBe(200);
      expect(attempts).toBe(3);
      expect(logged).toHaveBeenCalledWith(expect.stringContaining('PROXY_TABLE_MAPPING'));
    } finally {
      await server.close();
      logged.mockRestore();
    }
  });
});

describe('Lambda adapter start-up from the environment', () => {
  it('retries createProxyFromEnv on the next request once the configuration is fixed', async () => {
    const logged = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const saved = { mapping: process.env.PROXY_TABLE_MAPPING, auth: process.env.PROXY_AUTH };
    process.env.PROXY_TABLE_MAPPING = '{"sales": not json';
    process.env.PROXY_AUTH = '{"allowAnonymous":true}';
    vi.resetModules();
    const { createProxyFromEnv } = await import('../../lambda/bootstrap');
    const server = await startLambdaHttpServer(
      createLambdaHandler(async (runtime) => (await createProxyFromEnv(runtime)).handler, {
        startRetryMs: 0,
      }),
    );
    try {
      const broken = await sendRaw(server.url, { path: '/' });
      expect(broken.status).toBe(500);
      expect(broken.body.toString()).toContain('<Code>InternalError</Code>');
      process.env.PROXY_TABLE_MAPPING = '{"sales":"s3://lake/tables/sales"}';
      const fixed = await sendRaw(server.url, { path: '/' });
      expect(fixed.status).toBe(200);
      expect(fixed.body.toString()).toContain('<Name>datalake</Name>');
    } finally {
      await server.close();
      for (const [name, value] of [
        ['PROXY_TABLE_MAPPING', saved.mapping],
        ['PROXY_AUTH', saved.auth],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      logged.mockRestore();
    }
  });
});

describe('Lambda adapter near the function timeout', () => {
  it('answers InternalError XML before the function times out, and aborts the core', async () => {
    const logged = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    let signal: AbortSignal | undefined;
    const never: ProxyHandler = (req) => {
      signal = req.signal;
      return new Promise(() => {});
    };
    const server = await startProxyThroughLambda(never, { timeoutMs: 300 });
    try {
      const res = await sendRaw(server.url, { path: '/slow' });
      expect(res.status).toBe(500);
      expect(res.body.toString()).toContain('<Code>InternalError</Code>');
      expect(signal?.aborted).toBe(true);
    } finally {
      await server.close();
      logged.mockRestore();
    }
  });

  // middy has answered the timed-out invocation and drops what the core answers later: a streamed
  // body nobody reads kept its backend connection and its stream share for good.
  it('closes a streamed body the core hands over after the invocation timed out', async () => {
    const logged = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    let closed = false;
    let started = false;
    const late: ProxyHandler = async (_req) => {
      await new Promise((r) => setTimeout(r, 450)); // past the 300 ms deadline, ignoring the abort
      const body: AsyncIterable<Uint8Array> = {
        [Symbol.asyncIterator]: () => ({
          next: async () => {
            started = true;
            return { done: false, value: new Uint8Array(1) };
          },
          return: async () => {
            closed = true;
            return { done: true, value: undefined };
          },
        }),
      };
      return { status: 200, headers: {}, body };
    };
    const server = await startProxyThroughLambda(late, { timeoutMs: 300 });
    try {
      expect((await sendRaw(server.url, { path: '/late' })).status).toBe(500);
      await waitFor(() => closed, 'the late body to be closed');
      expect(started).toBe(false);
    } finally {
      await server.close();
      logged.mockRestore();
    }
  });

  // middy gives every invocation the same AbortSignal (one per process): a multi-concurrency
  // runtime (and the shim) runs invocations at once, and one timing out must not abort the others.
  it("aborts only the invocation that times out, not another one's work in flight", async () => {
    const logged = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const signals = new Map<string, AbortSignal>();
    const core: ProxyHandler = async (req) => {
      signals.set(req.rawPath, req.signal!);
      if (req.rawPath === '/stuck') return new Promise(() => {});
      // Still working when /stuck's invocation times out (600 ms after it began), done well
      // before its own deadline (600 ms after it began itself).
      await new Promise((r) => setTimeout(r, 450));
      if (req.signal?.aborted) throw req.signal.reason;
      return { status: 200, headers: {}, body: 'done' };
    };
    const server = await startProxyThroughLambda(core, { timeoutMs: 600 });
    try {
      const stuck = sendRaw(server.url, { path: '/stuck' });
      await new Promise((r) => setTimeout(r, 300));
      const working = await sendRaw(server.url, { path: '/working' });
      expect((await stuck).status).toBe(500);
      expect(signals.get('/stuck')?.aborted).toBe(true);
      expect([working.status, working.body.toString()]).toEqual([200, 'done']);
      expect(signals.get('/working')?.aborted).toBe(false);
    } finally {
      await server.close();
      logged.mockRestore();
    }
  });
});

async function waitForStable(read: () => number, quietMs = 300, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = read();
  let since = Date.now();
  while (Date.now() - since < quietMs) {
    if (Date.now() > deadline) throw new Error('producer never settled');
    await new Promise((r) => setTimeout(r, 25));
    const now = read();
    if (now !== last) {
      last = now;
      since = Date.now();
    }
  }
}
