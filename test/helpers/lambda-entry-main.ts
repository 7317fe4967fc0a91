/**
 * A process that runs the real Lambda entry (lambda/index.ts: configuration from PROXY_*
 * variables, audit lines and EMF on stdout) behind the Function URL stand-in on 127.0.0.1, for
 * tests that must see every byte a deployed function would write. Prints `LISTENING <url>`.
 */
import { installLambdaRuntimeShim } from './lambda-runtime-shim';

// As the runtime does before it imports the handler module.
installLambdaRuntimeShim();
const { handler } = await import('../../lambda/index');
const { startLambdaHttpServer } = await import('./lambda-http-server');
const server = await startLambdaHttpServer(handler);
process.stderr.write(`LISTENING ${server.url}\n`);
process.on('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
