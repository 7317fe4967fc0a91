/**
 * A closed-loop HTTP load generator: `concurrency` clients, each on its own keep-alive socket,
 * send pre-signed requests from a fixed schedule back to back until the deadline, and check
 * every answer against what the user must get (status, exact body bytes, headers, error code).
 * Runs in a different process from the server under test, so they never share an event loop.
 * Every request has an idle timeout; every loop ends at the deadline.
 */
import { Agent, type IncomingHttpHeaders, request } from 'node:http';
import { createHistogram, monitorEventLoopDelay, type RecordableHistogram } from 'node:perf_hooks';
import { type Expectation, LOAD_OPS, type LoadOp, type LoadRequest } from './load-mix';

/** Compares a response with its expectation as the bytes arrive, holding no copy of big bodies. */
export class ResponseCheck {
  private received = 0;
  private mismatch = false;
  private head = Buffer.alloc(0);

  constructor(
    private readonly expect: Expectation,
    private readonly method: string,
  ) {}

  onData(chunk: Buffer): void {
    const want = this.expect.body;
    if (want) {
      const end = this.received + chunk.length;
      if (end > want.length || !chunk.equals(want.subarray(this.received, end))) this.mismatch = true;
    }
    // The first bytes, to name the error code in a failure message.
    if (this.head.length < 4096) this.head = Buffer.concat([this.head, chunk.subarray(0, 4096)]);
    this.received += chunk.length;
  }

  /** Why the answer is wrong, or undefined when it is right. */
  verdict(status: number, headers: IncomingHttpHeaders): string | undefined {
    const e = this.expect;
    if (status !== e.status) return `status ${status}, expected ${e.status}${this.codeSeen()}`;
    if (e.body && (this.mismatch || this.received !== e.body.length))
      return `body differs (${this.received} bytes, expected ${e.body.length})`;
    if (e.code && !this.head.includes(`<Code>${e.code}</Code>`))
      return `no <Code>${e.code}</Code>${this.codeSeen()}`;
    if (this.method === 'HEAD' && this.received !== 0) return `HEAD answered ${this.received} body bytes`;
    if (e.contentLength !== undefined && headers['content-length'] !== String(e.contentLength))
      return `content-length ${headers['content-length']}, expected ${e.contentLength}`;
    if (e.etag !== undefined && headers.etag !== e.etag) return `etag ${headers.etag}, expected ${e.etag}`;
    return undefined;
  }

  private codeSeen(): string {
    const code = /<Code>([^<]*)<\/Code>/.exec(this.head.toString('utf8'))?.[1];
    return code ? ` (${code})` : '';
  }
}

export interface Answer {
  /** Undefined when the answer is what the user must get. */
  error?: string;
  ms: number;
  bytes: number;
}

/** Sends one request on `agent` and checks its answer. Never rejects; bounded by `timeoutMs` idle. */
export function sendChecked(base: URL, agent: Agent, r: LoadRequest, timeoutMs: number): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve) => {
    let done = false;
    let bytes = 0;
    const finish = (error?: string) => {
      if (done) return;
      done = true;
      resolve({ error, ms: performance.now() - started, bytes });
    };
    const check = new ResponseCheck(r.expect, r.method);
    const req = request(
      { hostname: base.hostname, port: base.port, method: r.method, path: r.path, headers: r.headers, agent },
      (res) => {
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          check.onData(chunk);
        });
        res.on('end', () => finish(check.verdict(res.statusCode ?? 0, res.headers)));
        res.on('close', () => {
          if (!res.complete) finish('response cut short');
        });
        res.on('error', (e) => finish(`response error: ${e.message}`));
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no progress for ${timeoutMs} ms`)));
    req.on('error', (e) => finish(`request error: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
    req.end();
  });
}

export interface LatencyStats {
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

export interface LoadRunResult {
  concurrency: number;
  elapsedMs: number;
  requests: number;
  requestsPerSec: number;
  /** Answers that were not what the user must get (wrong status, bytes, headers, or none). */
  errors: number;
  errorSamples: string[];
  /** Denied requests sent, and how many of them were denied as expected. */
  denied: { sent: number; deniedAsExpected: number };
  bytesReceived: number;
  latency: Record<LoadOp, LatencyStats> & { all: LatencyStats };
  generator: { cpuPercent: number; eventLoopDelayP99Ms: number };
}

export interface LoadRunOptions {
  url: string;
  requests: LoadRequest[];
  schedule: number[];
  concurrency: number;
  durationMs: number;
  /** Idle timeout of one request (default 30 s). */
  timeoutMs?: number;
  /** Fresh signatures before the old ones age out (SigV4 allows 15 minutes of clock skew). */
  resign?: { everyMs: number; sign: () => Promise<LoadRequest[]> };
}

const ms = (ns: number) => Math.round(ns / 1e3) / 1e3;
const LOOP_SAMPLE_MS = 10;

function stats(h: RecordableHistogram): LatencyStats {
  // Recorded in microseconds.
  const at = (p: number) => (h.count ? Math.round(h.percentile(p)) / 1e3 : 0);
  return {
    count: h.count,
    p50Ms: at(50),
    p99Ms: at(99),
    maxMs: h.count ? Math.round(h.max) / 1e3 : 0,
    meanMs: h.count ? Math.round(h.mean) / 1e3 : 0,
  };
}

export async function runLoad(o: LoadRunOptions): Promise<LoadRunResult> {
  const base = new URL(o.url);
  const timeoutMs = o.timeoutMs ?? 30_000;
  const agent = new Agent({ keepAlive: true, maxSockets: o.concurrency, maxFreeSockets: o.concurrency });
  const perOp = Object.fromEntries(LOAD_OPS.map((op) => [op, createHistogram()])) as Record<
    LoadOp,
    RecordableHistogram
  >;
  const all = createHistogram();
  const errorSamples: string[] = [];
  let errors = 0;
  let bytesReceived = 0;
  const denied = { sent: 0, deniedAsExpected: 0 };

  let requests = o.requests;
  let resignFailure: string | undefined;
  const resignTimer = o.resign
    ? setInterval(() => {
        o.resign!.sign().then(
          (fresh) => {
            requests = fresh;
          },
          (e: Error) => {
            resignFailure = e.message;
          },
        );
      }, o.resign.everyMs)
    : undefined;

  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS });
  loopDelay.enable();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const deadline = started + o.durationMs;
  let next = 0;
  const client = async () => {
    while (performance.now() < deadline) {
      const r = requests[o.schedule[next++ % o.schedule.length]!]!;
      const answer = await sendChecked(base, agent, r, timeoutMs);
      const us = Math.max(1, Math.round(answer.ms * 1000));
      perOp[r.op].record(us);
      all.record(us);
      bytesReceived += answer.bytes;
      if (r.op === 'denied') {
        denied.sent++;
        if (!answer.error) denied.deniedAsExpected++;
      }
      if (answer.error) {
        errors++;
        if (errorSamples.length < 20) errorSamples.push(`${r.op} ${r.method} ${r.path}: ${answer.error}`);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: o.concurrency }, client));
  } finally {
    if (resignTimer) clearInterval(resignTimer);
    agent.destroy();
    loopDelay.disable();
  }
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  if (resignFailure) {
    errors++;
    errorSamples.push(`re-signing failed: ${resignFailure}`);
  }
  return {
    concurrency: o.concurrency,
    elapsedMs: Math.round(elapsedMs),
    requests: all.count,
    requestsPerSec: Math.round((all.count / elapsedMs) * 1000),
    errors,
    errorSamples,
    denied,
    bytesReceived,
    latency: {
      ...(Object.fromEntries(LOAD_OPS.map((op) => [op, stats(perOp[op])])) as Record<LoadOp, LatencyStats>),
      all: stats(all),
    },
    generator: {
      cpuPercent: Math.round(((cpu.user + cpu.system) / 1e3 / elapsedMs) * 100),
      // The histogram records the whole sampling interval; the delay is what exceeds it.
      eventLoopDelayP99Ms: Math.max(0, ms(loopDelay.percentile(99)) - LOOP_SAMPLE_MS),
    },
  };
}

/**
 * Sends every request once, one after another, and throws on the first wrong answer: a clear
 * failure before any load is applied.
 */
export async function verifyEach(url: string, requests: LoadRequest[]): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (const r of requests) {
      const answer = await sendChecked(new URL(url), agent, r, 30_000);
      if (answer.error) throw new Error(`${r.op} ${r.method} ${r.path}: ${answer.error}`);
    }
  } finally {
    agent.destroy();
  }
}
