/**
 * Load: `concurrency` clients for `duration` seconds mixing ListObjectsV2, HeadObject, small and
 * medium GetObject, Range reads and denied requests, with real SigV4, against the proxy in front
 * of a real S3 server holding a Delta table written by the project's fixture writer:
 *   1. the proxy's node:http server,
 *   2. the proxy through the Lambda adapter and the runtime shim (as a Function URL serves it),
 *   3. the baseline: a bare node:http server answering the same requests with the same bytes
 *      from memory (no auth, no authorization, no backend): what a pass-through costs at least.
 * Each server runs in its own process; the generator (this process) checks every answer's
 * status, bytes and headers. Reported: requests/s, p50/p99/max per operation, errors (must be
 * 0), the server's RSS (after a forced GC) before and after the run and its peak, its event-loop
 * delay and CPU, and the generator's CPU (near 100 % would make it the bottleneck).
 *
 * Every client is the same principal. The proxy bounds one principal's proxied GET bodies in flight
 * (`streamsPerPrincipal`, default 64, more while the backend pool keeps a share free) and answers
 * beyond it 503 SlowDown, which SDKs retry and this generator counts as errors. The proxies run on
 * the product's default unless --streams-per-principal says otherwise.
 *
 * Usage: npm run bench -- load [--duration 60] [--concurrency 200] [--warmup 3] [--backend s3rver|moto]
 *        [--streams-per-principal N]
 */
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import {
  calibrateListings,
  type LoadStack,
  loadPhase,
  type PhaseResult,
  recordAnswers,
  startLoadStack,
} from '../test/helpers/load-session';
import { type LoadTarget, type LoadTargetMode, startLoadTarget } from '../test/helpers/load-target';
import { motoUnavailableReason } from '../test/helpers/s3-servers';
import '../test/helpers/safe-env';

const LABELS: Record<LoadTargetMode, string> = {
  node: 'proxy via node:http',
  lambda: 'proxy via Lambda adapter (shim)',
  bare: 'baseline: bare node:http, fixed answers',
};

function perRequest(cpuPercent: number, p: PhaseResult): number {
  return Math.round(((cpuPercent / 100) * p.run.elapsedMs * 1000) / p.run.requests) / 1000;
}

function summary(p: PhaseResult) {
  return {
    requestsPerSec: p.run.requestsPerSec,
    requests: p.run.requests,
    errors: p.run.errors + p.warmupErrors,
    errorSamples: p.run.errorSamples,
    denied: p.run.denied,
    latencyMs: p.run.latency,
    rssMB: { before: p.memory.rssBeforeMB, after: p.memory.rssAfterMB, peak: p.memory.peakRssMB },
    rssEverySecondMB: p.memory.rssTimelineMB,
    heapUsedMB: { before: p.memory.heapUsedBeforeMB, after: p.memory.heapUsedAfterMB },
    eventLoopDelayMs: p.target.eventLoopDelayMs,
    serverCpuPercent: p.target.cpuPercent,
    /** CPU time per request: steadier than requests/s on a shared machine, and what Lambda bills. */
    serverCpuMsPerRequest: perRequest(p.target.cpuPercent, p),
    generatorCpuPercent: p.run.generator.cpuPercent,
    /** The generator near one full core: the figures would be the generator's, not the server's. */
    generatorSaturated: p.run.generator.cpuPercent >= 90,
    backendCpuPercent: p.backendCpuPercent ?? null,
    backendCpuMsPerRequest: p.backendCpuPercent === undefined ? null : perRequest(p.backendCpuPercent, p),
    generatorEventLoopDelayP99Ms: p.run.generator.eventLoopDelayP99Ms,
    unhandledRejections: p.target.unhandledRejections,
    uncaughtExceptions: p.target.uncaughtExceptions,
    errorLogLines: p.target.errorLogLines,
    receivedMBPerSec: Math.round((p.run.bytesReceived / 1024 / 1024 / p.run.elapsedMs) * 1000 * 10) / 10,
  };
}

export default async function main(args: string[]): Promise<unknown> {
  const { values } = parseArgs({
    args,
    options: {
      duration: { type: 'string', default: '60' },
      concurrency: { type: 'string', default: '200' },
      warmup: { type: 'string', default: '3' },
      backend: { type: 'string', default: 's3rver' },
      'streams-per-principal': { type: 'string' },
    },
    strict: true,
  });
  const durationMs = Number(values.duration) * 1000;
  const concurrency = Number(values.concurrency);
  const warmupMs = Number(values.warmup) * 1000;
  const backendKind = values.backend as 's3rver' | 'moto';
  const spp = values['streams-per-principal'];
  const streamsPerPrincipal = spp === undefined ? undefined : Number(spp);
  if (!(durationMs > 0 && durationMs <= 3_600_000)) throw new Error('--duration: 1..3600 seconds');
  if (!(Number.isInteger(concurrency) && concurrency > 0 && concurrency <= 2000))
    throw new Error('--concurrency: 1..2000');
  if (
    streamsPerPrincipal !== undefined &&
    !(Number.isInteger(streamsPerPrincipal) && streamsPerPrincipal > 0)
  )
    throw new Error('--streams-per-principal: a positive integer');
  if (backendKind !== 's3rver' && backendKind !== 'moto') throw new Error('--backend: s3rver or moto');
  if (backendKind === 'moto') {
    const why = motoUnavailableReason();
    if (why) throw new Error(`moto unavailable: ${why}`);
  }

  const loadBefore = loadavg();
  const options = { concurrency, durationMs, warmupMs, backendPid: undefined as number | undefined };
  const results: Partial<Record<LoadTargetMode, ReturnType<typeof summary>>> = {};
  let stack: LoadStack | undefined;
  let target: LoadTarget | undefined;
  try {
    stack = await startLoadStack(backendKind);
    options.backendPid = stack.backendPid;
    const proxyStart = {
      config: streamsPerPrincipal === undefined ? stack.config : { ...stack.config, streamsPerPrincipal },
      backendCredentials: stack.backendCredentials,
    };

    target = await startLoadTarget({ mode: 'node', ...proxyStart });
    // Listing bodies are fixed here; the Lambda adapter must then answer the same bytes.
    const specs = await calibrateListings(stack.specs, target.url);
    const answers = await recordAnswers(specs, target.url);
    results.node = summary(await loadPhase(target, specs, options));
    await target.stop();

    target = await startLoadTarget({ mode: 'lambda', ...proxyStart });
    results.lambda = summary(await loadPhase(target, specs, options));
    await target.stop();

    target = await startLoadTarget({ mode: 'bare', answers });
    results.bare = summary(await loadPhase(target, specs, options));
    await target.stop();
  } finally {
    await target?.stop();
    await stack?.stop();
  }
  const ratio = (a: number, b: number) => (b ? Math.round((a / b) * 100) / 100 : null);
  const node = results.node!;
  const lambda = results.lambda!;
  const bare = results.bare!;
  return {
    benchmark: 'load',
    node: process.version,
    machine: {
      cpus: cpus().length,
      loadAverageBefore: loadBefore.map((l) => Math.round(l * 100) / 100),
      loadAverageAfter: loadavg().map((l) => Math.round(l * 100) / 100),
    },
    backend: stack.backend.kind,
    concurrency,
    streamsPerPrincipal: streamsPerPrincipal ?? 'default',
    durationSeconds: durationMs / 1000,
    warmupSeconds: warmupMs / 1000,
    notes: [
      'rssMB.before/after are measured after a forced full GC in the server process; peak is sampled every 100 ms during the run.',
      'Each server runs in its own process; the generator (another process) checks every answer (status, bytes, headers, error code).',
      'The bare baseline answers the same requests with the same bytes from memory: no auth, no authorization, no backend.',
      'The Lambda shim runs all invocations concurrently in one process; Lambda runs one per execution environment: these figures are the adapter cost, not Lambda scaling.',
      'Event-loop delay is how late a 10 ms timer fired; on a machine with more runnable processes than cores it includes time the OS did not schedule the process.',
    ],
    targets: Object.fromEntries(
      (Object.keys(results) as LoadTargetMode[]).map((m) => [LABELS[m], results[m]]),
    ),
    ratiosToBare: {
      nodeRequestsPerSec: ratio(node.requestsPerSec, bare.requestsPerSec),
      lambdaRequestsPerSec: ratio(lambda.requestsPerSec, bare.requestsPerSec),
      nodeP50: ratio(node.latencyMs.all.p50Ms, bare.latencyMs.all.p50Ms),
      nodeP99: ratio(node.latencyMs.all.p99Ms, bare.latencyMs.all.p99Ms),
      lambdaP50: ratio(lambda.latencyMs.all.p50Ms, bare.latencyMs.all.p50Ms),
      lambdaP99: ratio(lambda.latencyMs.all.p99Ms, bare.latencyMs.all.p99Ms),
      nodeCpuPerRequest: ratio(node.serverCpuMsPerRequest, bare.serverCpuMsPerRequest),
      lambdaCpuPerRequest: ratio(lambda.serverCpuMsPerRequest, bare.serverCpuMsPerRequest),
    },
    errorsTotal: node.errors + lambda.errors + bare.errors,
  };
}
