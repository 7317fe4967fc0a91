/**
 * The Lambda entry (handler `index.handler`): the core built from PROXY_* environment variables,
 * its EMF metrics written after each invocation's response has been streamed.
 */
import { createLambdaHandler } from './adapters/lambda';
import { createProxyFromEnv, type ProxyInstance } from './bootstrap';

let proxy: ProxyInstance | undefined;

export const handler = createLambdaHandler(
  async (runtime) => {
    proxy = await createProxyFromEnv(runtime);
    return proxy.handler;
  },
  { afterResponse: () => proxy?.emf?.flush() },
);
