/**
 * The proxy's HTTP front ends, for suites that must pass through each of them exactly alike:
 * node:http (`npm start`, tests) and the Lambda adapter behind a Function URL (the runtime shim
 * plus an HTTP server that turns requests into payload v2 events, as the deployed stack does).
 */
import type { ProxyHandler } from '../../lambda/core/types';
import { startProxyThroughLambda } from './lambda-http-server';
import { type ServeFn, serveWithNode } from './proxy-harness';

export const serveThroughLambda: ServeFn = (handler: ProxyHandler) =>
  startProxyThroughLambda(async () => handler);

export type TransportName = 'node:http' | 'Lambda Function URL';

/** `describe.each(TRANSPORTS)('... via %s', (name, serve) => ...)` runs a suite once per front end. */
export const TRANSPORTS: [TransportName, ServeFn][] = [
  ['node:http', serveWithNode],
  ['Lambda Function URL', serveThroughLambda],
];
