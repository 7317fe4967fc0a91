/**
 * What operators see when a client leaves: while the proxy waits for the backend, after the
 * backend replied but before the body was sent, and mid-body. Each such request is counted
 * once, as the client's doing (`client-gone`, status 499 when no answer was made), never as a
 * server error; through node:http (Prometheus text) and the Lambda adapter (EMF as well).
 */
import { request } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it, type MockInstance, vi } from 'vitest';
import { createLambdaHandler } from '../../lambda/adapters/lambda';
import { startNodeServer } from '../../lambda/adapters/node-server';
import { createProxy, type ProxyInstance } from '../../lambda/bootstrap';
import { parseConfig } from '../../lambda/config';
import type { RequestEvent } from '../../lambda/core/observer';
import { S3Backend } from '../../lambda/storage/s3-backend';
import { emfValues, parseEmfLines, sum } from '../helpers/emf';
import { uploadDemoTable } from '../helpers/fixture-tables';
import { aborted, type HeldGet, type HeldStorage, holdGets } from '../helpers/held-storage';
import { startLambdaHttpServer } from '../helpers/lambda-http-server';
import { installLambdaRuntimeShim } from '../helpers/lambda-runtime-shim';
import { ANALYST } from '../helpers/proxy-harness';
import { BACKEND_CREDENTIALS, type S3Server, startS3rver } from '../helpers/s3-servers';
import { encodeKeyPath, signHeaders } from '../helpers/signed-fetch';

installLambdaRuntimeShim();

let s3: S3Server;
let euKey: string;

beforeAll(async () => {
  s3 = await startS3rver();
  const active = await uploadDemoTable(s3.endpoint, 'lake', 'w/sales/');
  euKey = `sales/${active.find((p) => p.startsWith('region=EU/'))}`;
});
afterAll(async () => {
  await s3?.stop();
});

interface Running {
  url: string;
  proxy: ProxyInstance;
  held: HeldStorage;
  events: RequestEvent[];
  emf: string[];
  close(): Promise<void>;
}

function build(emf: string[], events: RequestEvent[]): { proxy: ProxyInstance; held: HeldStorage } {
  const config = parseConfig({
    tableMapping: { sales: 's3://lake/w/sales' },
    getMode: 'proxy',
    s3: { endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1' },
    auth: { keys: [ANALYST] },
    grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{ region: 'EU' }] }],
  });
  const backend = new S3Backend({
    endpoint: s3.endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: BACKEND_CREDENTIALS,
  });
  // Only the data files are held: the Delta log loads as usual.
  const held = holdGets(backend, (ref) => !ref.key.includes('/_delta_log/'));
  const proxy = createProxy(config, {
    storage: held.storage,
    audit: false,
    processMetrics: false,
    logger: { warn: () => {}, error: () => {} },
    observers: [{ record: (e) => events.push(e) }],
    emf: { write: (lines) => emf.push(lines) },
  });
  return { proxy, held };
}

const TRANSPORTS: [string, () => Promise<Running>][] = [
  [
    'node:http',
    async () => {
      const events: RequestEvent[] = [];
      const { proxy, held } = build([], events);
      const server = await startNodeServer(proxy.handler, '127.0.0.1', 0);
      return { url: server.url, proxy, held, events, emf: [], close: () => server.close() };
    },
  ],
  [
    'Lambda Function URL',
    async () => {
      const events: RequestEvent[] = [];
      const emf: string[] = [];
      const { proxy, held } = build(emf, events);
      const handler = createLambdaHandler(async () => proxy.handler, {
        afterResponse: () => proxy.emf!.flush(),
      });
      const server = await startLambdaHttpServer(handler);
      return { url: server.url, proxy, held, events, emf, close: () => server.close() };
    },
  ],
];

/** Sends a signed GET for the EU data file; `leave` decides when the client goes away. */
async function getThenLeave(
  running: Running,
  leave: 'when the backend is called' | 'after the first body bytes',
): Promise<HeldGet> {
  const url = new URL(running.url);
  const path = `/datalake/${encodeKeyPath(euKey)}`;
  const headers = await signHeaders(running.url, 'GET', path, '', {}, ANALYST);
  const req = request({ host: url.hostname, port: url.port, path, headers });
  req.on('error', () => {});
  const firstBytes = new Promise<void>((resolve) =>
    req.on('response', (res) => res.once('data', () => resolve())),
  );
  req.end();
  const held = await running.held.nextHeld();
  if (leave === 'after the first body bytes') {
    held.release({ stallAfterFirstChunk: true });
    await firstBytes;
  }
  // A reset, as a client that crashes or is killed leaves: the proxy notices at once.
  req.socket?.resetAndDestroy();
  req.destroy();
  await aborted(held.signal);
  return held;
}

/** The one event recorded after `before` (waits for it, bounded). */
async function eventAfter(running: Running, before: number): Promise<RequestEvent> {
  const deadline = Date.now() + 10_000;
  while (running.events.length === before && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 20));
  expect(running.events.length - before, 'events recorded').toBe(1);
  return running.events[before]!;
}

async function prometheusText(running: Running): Promise<string> {
  return (await running.proxy.metrics.render()).body;
}

/** The value of the one series of `name` whose label text contains every `labels` pair. */
function series(text: string, name: string, labels: Record<string, string> = {}): number[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`))
    .filter((line) => Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
    .map((line) => Number(line.slice(line.lastIndexOf(' ') + 1)));
}

/** Lines logged at level error (the Lambda adapter's, which feed the AdapterErrors alarm). */
function errorLog(spy: MockInstance<typeof process.stderr.write>): string[] {
  return spy.mock.calls.map((args) => String(args[0])).filter((l) => l.includes('"level":"error"'));
}

/** Waits until the Lambda adapter has flushed the invocation's EMF (bounded). */
async function emfFlushed(running: Running, before: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (running.emf.length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

describe.each(TRANSPORTS)('a client that leaves, via %s', (name, start) => {
  let running: Running;
  const lambda = name !== 'node:http';
  beforeAll(async () => {
    running = await start();
  });
  afterAll(async () => {
    await running?.close();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('while the proxy waits for the backend: one request, status 499, client-gone, no server error', async () => {
    const before = running.events.length;
    const emfBefore = running.emf.length;
    const errorLines = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const held = await getThenLeave(running, 'when the backend is called');
    // The backend sees the abort, as S3 does, and the call fails.
    held.release();
    const event = await eventAfter(running, before);
    expect(event).toMatchObject({
      op: 'GetObject',
      status: 499,
      decision: 'error',
      reasonClass: 'client-gone',
    });
    expect(event.code).toBeUndefined();
    const text = await prometheusText(running);
    expect(series(text, 'deltaproxy_requests_total', { status_class: '5xx' })).toEqual([]);
    expect(series(text, 'deltaproxy_decisions_total', { reason_class: 'internal' })).toEqual([]);
    expect(series(text, 'deltaproxy_decisions_total', { reason_class: 'client-gone' })).toEqual([1]);
    if (lambda) {
      await emfFlushed(running, emfBefore);
      const data = parseEmfLines(running.emf.slice(emfBefore));
      expect(emfValues(data, 'Requests')).toEqual([1]);
      expect(sum(emfValues(data, 'ServerErrors'))).toBe(0);
      expect(emfValues(data, 'Requests', { Operation: 'GetObject', StatusClass: '5xx' })).toEqual([]);
    }
    // (In Lambda, read once the invocation is over: the EMF flush comes after the response.)
    expect(errorLog(errorLines)).toEqual([]);
  });

  it('after the backend replied but before any byte was sent: still counted, once', async () => {
    const before = running.events.length;
    const emfBefore = running.emf.length;
    const served = series(await prometheusText(running), 'deltaproxy_queries_served_total')[0]!;
    const errorLines = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const held = await getThenLeave(running, 'when the backend is called');
    // A reply already on its way: the backend answers although the client is gone.
    held.release({ withoutSignal: true });
    const event = await eventAfter(running, before);
    expect(event).toMatchObject({
      op: 'GetObject',
      status: 200,
      decision: 'error',
      reasonClass: 'client-gone',
    });
    expect(event.bytes).toBe(0);
    if (lambda) await emfFlushed(running, emfBefore);
    expect(errorLog(errorLines)).toEqual([]);
    const text = await prometheusText(running);
    expect(series(text, 'deltaproxy_queries_served_total')).toEqual([served + 1]);
  });

  it('mid-body: the status sent, client-gone, not an internal error nor an error log line', async () => {
    const before = running.events.length;
    const emfBefore = running.emf.length;
    // The Lambda adapter's error lines feed the AdapterErrors alarm: a client leaving is none.
    const errorLines = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const held = await getThenLeave(running, 'after the first body bytes');
    held.resumeBody();
    const event = await eventAfter(running, before);
    if (lambda) await emfFlushed(running, emfBefore);
    expect(errorLog(errorLines)).toEqual([]);

    expect(event).toMatchObject({
      op: 'GetObject',
      status: 200,
      decision: 'error',
      reasonClass: 'client-gone',
    });
    expect(event.reason).toMatch(/body stream failed/);
    const text = await prometheusText(running);
    expect(series(text, 'deltaproxy_decisions_total', { reason_class: 'internal' })).toEqual([]);
  });

  it('a backend that breaks mid-body is still an internal error, logged as one', async () => {
    const before = running.events.length;
    const errorLines = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const url = new URL(running.url);
    const path = `/datalake/${encodeKeyPath(euKey)}`;
    const headers = await signHeaders(running.url, 'GET', path, '', {}, ANALYST);
    const req = request({ host: url.hostname, port: url.port, path, headers });
    req.on('error', () => {});
    const firstBytes = new Promise<void>((resolve) =>
      req.on('response', (res) => {
        res.on('error', () => {});
        res.once('data', () => resolve());
      }),
    );
    req.end();
    const held = await running.held.nextHeld();
    held.release({ stallAfterFirstChunk: true });
    await firstBytes;
    held.failBody();
    const event = await eventAfter(running, before);
    req.destroy();
    expect(event).toMatchObject({ op: 'GetObject', status: 200, decision: 'error', reasonClass: 'internal' });
    if (lambda)
      expect(errorLines.mock.calls.some((args) => String(args[0]).includes('response body failed'))).toBe(
        true,
      );
  });
});
