import { describe, expect, it } from 'vitest';
import { createLambdaHandler } from '../../lambda/adapters/lambda';
import {
  createContext,
  createResponseStream,
  functionUrlEvent,
  installLambdaRuntimeShim,
  invokeAndCollect,
  PRELUDE_CONTENT_TYPE,
  parseIntegrationResponse,
  ShimHttpResponseStream,
  type ShimResponseStream,
  streamifyResponse,
} from '../helpers/lambda-runtime-shim';
import { createTestProxy } from './test-proxy';

installLambdaRuntimeShim();

const event = (rawPath: string, method = 'GET') => functionUrlEvent(rawPath, { method });

describe('runtime shim streaming contract', () => {
  it('writes the JSON prelude, 8 NUL bytes, then the body', async () => {
    const handler = streamifyResponse(async (_e: unknown, stream: ShimResponseStream) => {
      const http = ShimHttpResponseStream.from(stream, { statusCode: 201, headers: { a: 'b' } });
      http.write('hello');
      http.end();
    });
    const { contentType, bytes } = await invokeAndCollect(handler, {});
    expect(contentType).toBe(PRELUDE_CONTENT_TYPE);
    expect(bytes.toString('latin1')).toBe(`{"statusCode":201,"headers":{"a":"b"}}${'\0'.repeat(8)}hello`);
    expect(parseIntegrationResponse(bytes).body.toString()).toBe('hello');
  });

  it('refuses to start an HTTP response after the first write', async () => {
    const { stream } = createResponseStream(async () => {});
    stream.write('raw bytes');
    expect(() => ShimHttpResponseStream.from(stream, { statusCode: 200 })).toThrow('too late');
  });

  it('sends no prelude when nothing is written after HttpResponseStream.from', async () => {
    const handler = streamifyResponse(async (_e: unknown, stream: ShimResponseStream) => {
      ShimHttpResponseStream.from(stream, { statusCode: 304, headers: { etag: '"x"' } }).end();
    });
    const { bytes } = await invokeAndCollect(handler, {});
    expect(() => parseIntegrationResponse(bytes)).toThrow('no prelude');
  });

  it('refuses handlers not wrapped by streamifyResponse, and unfinished streams', async () => {
    await expect(invokeAndCollect(async () => {}, {})).rejects.toThrow('streamifyResponse');
    await expect(
      invokeAndCollect(
        streamifyResponse(async () => {}),
        {},
        50,
      ),
    ).rejects.toThrow('not finished');
  });

  it('reports the remaining time like the Lambda context', () => {
    const context = createContext('id', 10_000);
    expect(context.getRemainingTimeInMillis()).toBeGreaterThan(9_000);
    expect(context.getRemainingTimeInMillis()).toBeLessThanOrEqual(10_000);
  });
});

describe('Lambda adapter output under the runtime contract', () => {
  const handler = createLambdaHandler(async () => createTestProxy());

  it.each([
    ['HEAD', '/object', 200],
    ['GET', '/not-modified', 304],
    ['GET', '/redirect-empty', 307],
    ['GET', '/forbidden-empty', 403],
  ])('always writes the prelude for a bodiless %s %s', async (method, path, status) => {
    const { contentType, bytes } = await invokeAndCollect(handler, event(path, method));
    expect(contentType).toBe(PRELUDE_CONTENT_TYPE);
    const { prelude, body } = parseIntegrationResponse(bytes);
    expect(prelude.statusCode).toBe(status);
    expect(prelude.headers?.['x-amz-request-id']).toBe('CORE0000REQUEST1');
    expect(body.length).toBe(0);
  });

  it('gives the client IP from requestContext.http.sourceIp', async () => {
    const { bytes } = await invokeAndCollect(handler, event('/echo'));
    expect(JSON.parse(parseIntegrationResponse(bytes).body.toString()).sourceIp).toBe('192.0.2.1');
  });
});

describe('runtime shim installation', () => {
  it('installs the streaming functions on an awslambda global the AWS SDK created first', () => {
    // The real runtime defines awslambda before it loads the handler; the SDK's
    // @aws/lambda-invoke-store may already have made an empty one (`globalThis.awslambda ||= {}`).
    const g = globalThis as { awslambda?: Record<string, unknown> };
    const saved = g.awslambda;
    g.awslambda = { InvokeStore: 'kept' };
    try {
      installLambdaRuntimeShim();
      expect(typeof g.awslambda.streamifyResponse).toBe('function');
      expect(g.awslambda.HttpResponseStream).toBe(ShimHttpResponseStream);
      expect(g.awslambda.InvokeStore).toBe('kept');
    } finally {
      g.awslambda = saved;
    }
  });
});
