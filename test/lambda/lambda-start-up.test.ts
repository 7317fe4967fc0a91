/**
 * The Lambda function while it starts: a client that left while the proxy was starting aborts the
 * request at once (a listener added after the stream closed never ran, and the core served nobody
 * in full); a failed start is tried again by the first request a while after it failed, not by
 * every request; lambda/index.ts with an invalid configuration answers S3 XML 500, logs why, and
 * tries again only when a request comes.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createLambdaHandler } from '../../lambda/adapters/lambda';
import type { ProxyHandler } from '../../lambda/core/types';
import {
  createContext,
  createResponseStream,
  functionUrlEvent,
  installLambdaRuntimeShim,
  invokeAndCollect,
  invokeStreaming,
  parseIntegrationResponse,
} from '../helpers/lambda-runtime-shim';

installLambdaRuntimeShim();

const event = (rawPath: string, extra: Record<string, unknown> = {}) => ({
  ...functionUrlEvent(rawPath),
  ...extra,
});

describe('the response stream', () => {
  const logged = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  afterAll(() => logged.mockRestore());

  it('aborts the core when the response stream closed before the core was called (client left during start-up)', async () => {
    let signal: AbortSignal | undefined;
    let abortedAfterMs: number | undefined;
    const core: ProxyHandler = async (req) => {
      signal = req.signal;
      const began = Date.now();
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 1_500);
        req.signal?.addEventListener('abort', () => {
          clearTimeout(t);
          abortedAfterMs = Date.now() - began;
          resolve();
        });
        if (req.signal?.aborted) {
          clearTimeout(t);
          abortedAfterMs = 0;
          resolve();
        }
      });
      return { status: 200, headers: {}, body: 'late' };
    };
    let startUp: () => void = () => {};
    const started = new Promise<void>((r) => {
      startUp = r;
    });
    const handler = createLambdaHandler(async () => {
      await started;
      return core;
    });
    const { stream, destroy } = createResponseStream(async () => {});
    const invocation = invokeStreaming(handler, event('/x'), stream, createContext('r1', 10_000)).catch(
      () => {},
    );
    // The client leaves while the proxy is still starting.
    await new Promise((r) => setTimeout(r, 50));
    destroy(new Error('client disconnected'));
    await new Promise((r) => setTimeout(r, 50));
    startUp();
    await invocation;
    expect(signal).toBeDefined();
    expect(abortedAfterMs).toBeDefined();
    expect(abortedAfterMs!).toBeLessThan(500);
  });
});

describe('a failed start', () => {
  const logged = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  afterAll(() => logged.mockRestore());

  it('is tried again by the first request after startRetryMs, not by every request', async () => {
    let starts = 0;
    let secretReadable = false;
    const core: ProxyHandler = async () => ({ status: 200, headers: {}, body: 'ok' });
    const handler = createLambdaHandler(
      async () => {
        starts++;
        if (!secretReadable) throw new Error('AccessDeniedException reading the listing key secret');
        return core;
      },
      { startRetryMs: 300 },
    );
    const status = async () => parseIntegrationResponse((await invokeAndCollect(handler, event('/'))).bytes);
    for (let i = 0; i < 3; i++) {
      const { prelude, body } = await status();
      expect(prelude.statusCode).toBe(500);
      expect(body.toString()).toContain('<Code>InternalError</Code>');
    }
    expect(starts).toBe(1);
    secretReadable = true;
    await new Promise((r) => setTimeout(r, 350));
    expect((await status()).prelude.statusCode).toBe(200);
    expect(starts).toBe(2);
    expect((await status()).prelude.statusCode).toBe(200);
    expect(starts).toBe(2);
  });
});

describe('lambda/index.ts with an invalid configuration', () => {
  it('answers S3 XML 500 and logs why, and tries again only on requests', async () => {
    const errors: string[] = [];
    const logged = vi.spyOn(process.stderr, 'write').mockImplementation((line) => {
      errors.push(String(line));
      return true;
    });
    const saved = { ...process.env };
    for (const name of Object.keys(process.env)) if (name.startsWith('PROXY_')) delete process.env[name];
    process.env.PROXY_LISTING_TOKEN_KEY = 'short';
    process.env.PROXY_TABLE_MAPPING = '{"sales":"s3://lake/tables/sales"}';
    try {
      vi.resetModules();
      const { handler } = await import('../../lambda/index');
      await new Promise((r) => setTimeout(r, 200));
      const atImport = errors.length;
      await new Promise((r) => setTimeout(r, 300));
      expect(errors.length).toBe(atImport);
      const { bytes } = await invokeAndCollect(handler, event('/'));
      const { prelude, body } = parseIntegrationResponse(bytes);
      expect(prelude.statusCode).toBe(500);
      expect(body.toString()).toContain('<Code>InternalError</Code>');
      expect(errors.join('\n')).toContain('listingTokenKey: at least 32 characters');
    } finally {
      for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
      Object.assign(process.env, saved);
      logged.mockRestore();
    }
  });
});
