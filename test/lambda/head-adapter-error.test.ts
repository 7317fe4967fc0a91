/**
 * A HEAD answered by the Lambda adapter itself (the proxy could not start, or the invocation ran
 * out of time before the core answered) is answered as the core answers every HEAD error: the
 * status and headers alone. S3 never sends a body with a HEAD answer, and the core leaves it out
 * (errorResponse's `head`); the adapter's own fallback wrote the whole XML document into the
 * integration response instead, so its body bytes reached the Function URL after a HEAD status.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createLambdaHandler } from '../../lambda/adapters/lambda';
import type { ProxyHandler } from '../../lambda/core/types';
import {
  functionUrlEvent,
  installLambdaRuntimeShim,
  invokeAndCollect,
  parseIntegrationResponse,
} from '../helpers/lambda-runtime-shim';

installLambdaRuntimeShim();

const event = (method: string, rawPath: string) => functionUrlEvent(rawPath, { method });

describe('Lambda adapter: its own error answers to HEAD', () => {
  const logged = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  afterAll(() => logged.mockRestore());

  it('answers HEAD with the status and headers alone while the proxy cannot start', async () => {
    const handler = createLambdaHandler(() =>
      Promise.reject(new Error('PROXY_TABLE_MAPPING: expected JSON')),
    );
    const head = parseIntegrationResponse(
      (await invokeAndCollect(handler, event('HEAD', '/datalake/x'))).bytes,
    );
    expect(head.prelude.statusCode).toBe(500);
    expect(head.prelude.headers?.['x-amz-request-id']).toBeTruthy();
    expect(head.body.length).toBe(0);
    // A GET still gets the XML document.
    const get = parseIntegrationResponse(
      (await invokeAndCollect(handler, event('GET', '/datalake/x'))).bytes,
    );
    expect(get.prelude.statusCode).toBe(500);
    expect(get.body.toString()).toContain('<Code>InternalError</Code>');
  });

  it('answers HEAD with the status and headers alone when the invocation runs out of time', async () => {
    const never: ProxyHandler = () => new Promise(() => {});
    const handler = createLambdaHandler(async () => never);
    const head = parseIntegrationResponse(
      (await invokeAndCollect(handler, event('head', '/datalake/x'), 300)).bytes,
    );
    expect(head.prelude.statusCode).toBe(500);
    expect(head.body.length).toBe(0);
  });
});
