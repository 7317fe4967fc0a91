/**
 * A server under load, in its own process (forked by load-target.ts, IPC for control): the
 * proxy through node:http, the proxy through the Lambda adapter and the runtime shim, or a bare
 * node:http server answering fixed responses. It reports its RSS (now and peak), heap, CPU time,
 * event-loop delay, unhandled rejections and error log lines on request.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import {
  LOAD_CASE_HEADER,
  type LoadTargetStart,
  type LoadTargetStats,
  type TargetMessage,
} from './load-target';

const counts = { unhandledRejections: 0, uncaughtExceptions: 0, errorLogLines: 0, warnLogLines: 0 };
process.on('unhandledRejection', (e) => {
  counts.unhandledRejections++;
  process.stderr.write(`load target: unhandled rejection: ${String((e as Error)?.stack ?? e)}\n`);
});
process.on('uncaughtException', (e) => {
  counts.uncaughtExceptions++;
  process.stderr.write(`load target: uncaught exception: ${String(e?.stack ?? e)}\n`);
});

// The histogram records the whole interval between samples: the delay is what exceeds it.
const LOOP_SAMPLE_MS = 10;
const loopDelay = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS });
loopDelay.enable();
let peakRss = process.memoryUsage.rss();
/** RSS once a second since the last reset (bounded: an hour's worth). */
let timeline: number[] = [];
let ticks = 0;
const sampler = setInterval(() => {
  const rss = process.memoryUsage.rss();
  peakRss = Math.max(peakRss, rss);
  if (++ticks % 10 === 0 && timeline.length < 3600) timeline.push(rss);
}, 100);
sampler.unref();
let cpuSince = process.cpuUsage();
let wallSince = performance.now();

const MB = 1024 * 1024;
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

const delayMs = (ns: number) => round(Math.max(0, ns / 1e6 - LOOP_SAMPLE_MS), 2);

/** At most `n` evenly spaced samples, the last one included. */
function thin(xs: number[], n: number): number[] {
  if (xs.length <= n) return xs;
  return Array.from({ length: n }, (_, i) => xs[Math.round(((i + 1) * (xs.length - 1)) / n)]!);
}

async function stats(reset: boolean): Promise<LoadTargetStats> {
  const gc = (globalThis as { gc?: () => void }).gc;
  // Forced full collections first, so garbage does not hide or fake a leak; the pause between
  // them lets Buffers freed by the first one leave the books (they are released off-thread).
  gc?.();
  await new Promise((r) => setTimeout(r, 100));
  gc?.();
  const mem = process.memoryUsage();
  peakRss = Math.max(peakRss, mem.rss);
  const cpu = process.cpuUsage(cpuSince);
  const wallMs = performance.now() - wallSince;
  const out: LoadTargetStats = {
    rssMB: round(mem.rss / MB),
    peakRssMB: round(peakRss / MB),
    heapUsedMB: round(mem.heapUsed / MB),
    externalMB: round((mem.external + mem.arrayBuffers) / MB),
    cpuPercent: round(((cpu.user + cpu.system) / 1e3 / wallMs) * 100),
    eventLoopDelayMs: {
      p50: delayMs(loopDelay.percentile(50)),
      p99: delayMs(loopDelay.percentile(99)),
      max: delayMs(loopDelay.max),
    },
    rssTimelineMB: thin(timeline, 12).map((b) => round(b / MB)),
    ...counts,
  };
  if (reset) {
    loopDelay.reset();
    peakRss = mem.rss;
    timeline = [];
    cpuSince = process.cpuUsage();
    wallSince = performance.now();
  }
  return out;
}

async function start(msg: LoadTargetStart): Promise<{ url: string; close: () => Promise<void> }> {
  if (msg.mode === 'bare') return startBare(msg.answers);
  const { createProxy } = await import('../../lambda/bootstrap');
  const { parseConfig } = await import('../../lambda/config');
  const { jsonLogger } = await import('../../lambda/core/logger');
  const logger = jsonLogger((line) => {
    if (line.includes('"level":"error"')) counts.errorLogLines++;
    else counts.warnLogLines++;
    process.stderr.write(`${line}\n`);
  });
  // The audit line stays on (it is part of every request's cost); stdout goes nowhere.
  const proxy = createProxy(parseConfig(msg.config), { backendCredentials: msg.backendCredentials, logger });
  if (msg.mode === 'node') {
    const { startNodeServer } = await import('../../lambda/adapters/node-server');
    const s = await startNodeServer(proxy.handler, '127.0.0.1', 0);
    return { url: s.url, close: () => s.close() };
  }
  const { startProxyThroughLambda } = await import('./lambda-http-server');
  return startProxyThroughLambda(async () => proxy.handler);
}

/** The best simple alternative: fixed answers from memory, no auth, no authorization, no backend. */
async function startBare(
  answers: LoadTargetStart['answers'],
): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const a = answers[Number(req.headers[LOAD_CASE_HEADER])];
    if (!a) {
      res.writeHead(404, { 'content-length': '0' }).end();
      return;
    }
    res.writeHead(a.status, a.headers);
    res.end(req.method === 'HEAD' ? undefined : a.body);
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let running: { close: () => Promise<void> } | undefined;
const send = (m: TargetMessage) => process.send!(m);

process.on('message', (m: TargetMessage) => {
  if (m.type === 'start') {
    start(m).then(
      (s) => {
        running = s;
        send({ type: 'ready', url: s.url });
      },
      (e: Error) => send({ type: 'failed', message: e.stack ?? e.message }),
    );
  } else if (m.type === 'get-stats') {
    void stats(m.reset).then((s) => send({ type: 'stats', id: m.id, stats: s }));
  } else if (m.type === 'stop') {
    const timer = setTimeout(() => process.exit(1), 5_000);
    void (running?.close() ?? Promise.resolve()).finally(() => {
      clearTimeout(timer);
      process.exit(0);
    });
  }
});
process.on('disconnect', () => process.exit(0));
