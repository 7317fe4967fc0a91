// Runs the Lambda adapter (runtime shim) in a fresh process, answers `argv[2]` invocations at once
// (each held open until all have arrived), and prints the process warnings as one JSON line. A
// fresh process: node warns about an AbortSignal's listeners once per signal, and a signal shared
// by the whole process (middy's) would collect one listener per invocation in flight.
import { createLambdaHandler } from '../../lambda/adapters/lambda';
import { startLambdaHttpServer } from './lambda-http-server';
import { installLambdaRuntimeShim } from './lambda-runtime-shim';

// Before the handler is made: it wraps itself with the runtime's streamifyResponse.
installLambdaRuntimeShim();
const count = Number(process.argv[2] ?? 12);
const warnings: string[] = [];
process.on('warning', (w) => warnings.push(`${w.name}: ${w.message}`));
let arrived = 0;
let allArrived: () => void = () => {};
const all = new Promise<void>((resolve) => {
  allArrived = resolve;
});
const server = await startLambdaHttpServer(
  createLambdaHandler(async () => async () => {
    if (++arrived === count) allArrived();
    await all;
    return { status: 200, headers: {}, body: 'ok' };
  }),
);
const statuses = await Promise.all(
  Array.from({ length: count }, () =>
    fetch(server.url, { signal: AbortSignal.timeout(20_000) }).then(async (r) => {
      await r.text();
      return r.status;
    }),
  ),
);
await server.close();
// Warnings are emitted on the next tick.
await new Promise((r) => setTimeout(r, 50));
process.stdout.write(`${JSON.stringify({ statuses, warnings })}\n`);
