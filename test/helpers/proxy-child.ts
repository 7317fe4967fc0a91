/**
 * The proxy in a process of its own, for tests and benchmarks that measure it from outside (its
 * RSS, its throughput): argv[2] is JSON {config, transport: "node" | "lambda", timeoutMs?}.
 * "lambda" serves it through the Lambda adapter and the runtime shim, built by the factory the
 * adapter calls (so the core knows it runs in Lambda). Prints "READY <url>", then one
 * "EVENT <json>" line per finished request (or, with audit "line", the proxy's own audit line).
 * Backend credentials are the test servers'.
 */
import './safe-env';
import { createLambdaHandler } from '../../lambda/adapters/lambda';
import { startNodeServer } from '../../lambda/adapters/node-server';
import { createProxy } from '../../lambda/bootstrap';
import { type ConfigInput, parseConfig } from '../../lambda/config';
import type { Runtime } from '../../lambda/core/types';
import { startLambdaHttpServer } from './lambda-http-server';
import { installLambdaRuntimeShim } from './lambda-runtime-shim';
import { BACKEND_CREDENTIALS } from './s3-servers';

const { config, transport, timeoutMs, audit } = JSON.parse(process.argv[2] ?? '{}') as {
  config: ConfigInput;
  transport: 'node' | 'lambda';
  timeoutMs?: number;
  /** "line": the real audit line on stdout (benchmarks); default: EVENT lines for the parent. */
  audit?: 'line' | 'events';
};
const parsed = parseConfig(config);
const build = (runtime: Runtime) =>
  createProxy(parsed, {
    runtime,
    backendCredentials: BACKEND_CREDENTIALS,
    audit: audit === 'line',
    observers:
      audit === 'line' ? [] : [{ record: (e) => process.stdout.write(`EVENT ${JSON.stringify(e)}\n`) }],
  }).handler;

let server: { url: string; close(): Promise<void> };
if (transport === 'lambda') {
  installLambdaRuntimeShim();
  server = await startLambdaHttpServer(
    createLambdaHandler(async (runtime) => build(runtime)),
    { timeoutMs: timeoutMs ?? 900_000 },
  );
} else {
  server = await startNodeServer(build('node'), '127.0.0.1', 0);
}
process.stdout.write(`READY ${server.url}\n`);
const stop = () => void server.close().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
