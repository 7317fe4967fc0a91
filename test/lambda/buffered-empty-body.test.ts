/**
 * A buffered body of zero bytes keeps its status and headers through both front ends: the Lambda
 * runtime sends the prelude only with a first write, and an empty chunk in byte mode is no write.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLambdaHandler } from '../../lambda/adapters/lambda';
import { startNodeServer } from '../../lambda/adapters/node-server';
import type { ProxyHandler, ProxyRequest } from '../../lambda/core/types';
import { sendRaw } from '../helpers/lambda-http-client';
import { startLambdaHttpServer } from '../helpers/lambda-http-server';
import { installLambdaRuntimeShim } from '../helpers/lambda-runtime-shim';

installLambdaRuntimeShim();

const core: ProxyHandler = async (req: ProxyRequest) => {
  const id = { 'x-amz-request-id': 'EMPTYBODY0000001' };
  switch (req.rawPath) {
    case '/empty-bytes':
      return {
        status: 200,
        headers: { ...id, etag: '"d41d8cd98f00b204e9800998ecf8427e"', 'content-length': '0' },
        body: new Uint8Array(0),
      };
    case '/empty-bytes-404':
      return { status: 404, headers: { ...id }, body: new Uint8Array(0) };
    default:
      return { status: 404, headers: id, body: '<Error/>' };
  }
};

describe('Lambda adapter: a buffered zero-byte body', () => {
  let server: { url: string; close: () => Promise<void> };
  const logged = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  beforeAll(async () => {
    server = await startLambdaHttpServer(createLambdaHandler(async () => core));
  });
  afterAll(async () => {
    await server?.close();
    logged.mockRestore();
  });

  it('keeps its status and headers (an empty generated object)', async () => {
    const r = await sendRaw(server.url, { path: '/empty-bytes' });
    expect(r.status).toBe(200);
    expect(r.headers.etag).toBe('"d41d8cd98f00b204e9800998ecf8427e"');
    expect(r.headers['x-amz-request-id']).toBe('EMPTYBODY0000001');
    const r2 = await sendRaw(server.url, { path: '/empty-bytes-404' });
    expect(r2.status).toBe(404);
  });
});

describe('node adapter: a buffered zero-byte body', () => {
  let server: { url: string; close: () => Promise<void> };
  beforeAll(async () => {
    server = await startNodeServer(core, '127.0.0.1', 0);
  });
  afterAll(async () => {
    await server?.close();
  });
  it('keeps its status and headers', async () => {
    const r = await sendRaw(server.url, { path: '/empty-bytes' });
    expect(r.status).toBe(200);
    expect(r.headers.etag).toBe('"d41d8cd98f00b204e9800998ecf8427e"');
  });
});
