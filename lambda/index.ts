/** The Lambda entry (handler `index.handler`): the core built from PROXY_* environment variables. */
import { createLambdaHandler } from './adapters/lambda';
import { createProxyFromEnv } from './bootstrap';

export const handler = createLambdaHandler((runtime) => createProxyFromEnv(runtime));
