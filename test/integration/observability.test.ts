/**
 * One scripted mix of list / head / get / redirect / denied / bad-signature requests from two
 * principals, run against the local server (Prometheus on its metrics port, parsed by Python's
 * prometheus_client) and through the Lambda adapter (EMF lines flushed per invocation, and
 * `/metrics` on the Function URL behind a bearer token). Both must tell the same story.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLambdaHandler } from '../../lambda/adapters/lambda';
import { startMetricsListener } from '../../lambda/adapters/metrics-listener';
import { startNodeServer } from '../../lambda/adapters/node-server';
import { createProxy, type ProxyInstance } from '../../lambda/bootstrap';
import { parseConfig } from '../../lambda/config';
import { S3Backend } from '../../lambda/storage/s3-backend';
import { emfValues, parseEmfLines, sum } from '../helpers/emf';
import { uploadDemoTable } from '../helpers/fixture-tables';
import { startLambdaHttpServer } from '../helpers/lambda-http-server';
import { installLambdaRuntimeShim } from '../helpers/lambda-runtime-shim';
import {
  parsePrometheusText,
  prometheusParserMissing,
  type Sample,
  sampleValue,
} from '../helpers/prometheus-text';
import { ANALYST, type TestKey } from '../helpers/proxy-harness';
import { BACKEND_CREDENTIALS, type S3Server, startS3rver } from '../helpers/s3-servers';
import { encodeKeyPath, signedFetch } from '../helpers/signed-fetch';
import { withReason } from '../helpers/skips';
import { slowStorage } from '../helpers/slow-storage';

// As the runtime does before it imports the handler module.
installLambdaRuntimeShim();

const AUDITOR: TestKey = {
  accessKeyId: 'AKIATESTAUDITOR0002',
  secretAccessKey: 'auditor-secret-key-0002',
  principal: 'auditor',
};
const METRICS_TOKEN = 'scrape-token-0123456789abcdef';
const BACKEND_DELAY_MS = 20;

let s3: S3Server;
let active: string[];

function startMixProxy(emfLines?: string[]): ProxyInstance {
  const config = parseConfig({
    tableMapping: { sales: 's3://lake/w/sales' },
    getMode: 'presignedUrl',
    metricsToken: METRICS_TOKEN,
    s3: { endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1' },
    auth: { keys: [ANALYST, AUDITOR] },
    grants: [
      { principal: ANALYST.principal, table: 'sales', partitions: [{ region: 'EU' }] },
      { principal: AUDITOR.principal, table: 'sales', partitions: [{}] },
    ],
  });
  const backend = new S3Backend({
    endpoint: s3.endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: BACKEND_CREDENTIALS,
  });
  return createProxy(config, {
    storage: slowStorage(backend, BACKEND_DELAY_MS),
    audit: false,
    logger: { warn: () => {}, error: () => {} },
    ...(emfLines ? { emf: { write: (line: string) => emfLines.push(line) } } : {}),
  });
}

interface MixResult {
  /** Body bytes each response carried, as the client received them. */
  bytes: number[];
  statuses: number[];
}

/** The scripted mix: 8 requests, 2 principals who authenticate, 1 caller whose signature is wrong. */
async function runMix(url: string): Promise<MixResult> {
  const eu = `sales/${active.find((p) => p.startsWith('region=EU/'))}`;
  const us = `sales/${active.find((p) => p.startsWith('region=US/'))}`;
  const object = (key: string) => `/datalake/${encodeKeyPath(key)}`;
  const list = 'list-type=2&prefix=sales%2F';
  const wrongSecret = { accessKeyId: ANALYST.accessKeyId, secretAccessKey: 'not-the-analyst-secret' };
  const responses = [
    await signedFetch(url, 'GET', '/datalake', list, {}, ANALYST),
    await signedFetch(url, 'HEAD', object(eu), '', {}, ANALYST),
    await signedFetch(url, 'GET', object(eu), '', {}, ANALYST),
    await signedFetch(url, 'GET', object(us), '', {}, ANALYST),
    await signedFetch(url, 'GET', object(eu), '', { 'user-agent': 'delta-proxy-client/0.1.0' }, AUDITOR),
    await signedFetch(url, 'HEAD', object(us), '', {}, AUDITOR),
    await signedFetch(url, 'GET', object(eu), '', {}, wrongSecret),
    await signedFetch(url, 'GET', '/datalake', list, {}, AUDITOR),
  ];
  return { bytes: responses.map((r) => r.body.length), statuses: responses.map((r) => r.status) };
}

// The default filtered log view answers a forbidden file as a missing one (404).
const EXPECTED_STATUSES = [200, 200, 200, 404, 307, 200, 403, 200];

beforeAll(async () => {
  s3 = await startS3rver();
  active = await uploadDemoTable(s3.endpoint, 'lake', 'w/sales/');
});
afterAll(async () => {
  await s3?.stop();
});

describe('the local server: Prometheus text on metricsPort', () => {
  let proxy: ProxyInstance;
  let server: Awaited<ReturnType<typeof startNodeServer>>;
  let listener: Awaited<ReturnType<typeof startMetricsListener>>;
  let mix: MixResult;
  let text: string;
  let samples: Sample[];

  beforeAll(async () => {
    proxy = startMixProxy();
    server = await startNodeServer(proxy.handler, '127.0.0.1', 0);
    listener = await startMetricsListener(() => proxy.metrics.render(), '127.0.0.1', 0);
    mix = await runMix(server.url);
    const res = await fetch(listener.url, { signal: AbortSignal.timeout(10_000) });
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    text = await res.text();
    if (!prometheusParserMissing) samples = await parsePrometheusText(text);
  });
  afterAll(async () => {
    await server?.close();
    await listener?.close();
  });

  it('runs the mix with the answers it scripts', () => {
    expect(mix.statuses).toEqual(EXPECTED_STATUSES);
  });

  it.skipIf(prometheusParserMissing !== undefined)(
    withReason('carries the five specification metrics with the right values', prometheusParserMissing),
    () => {
      expect(sampleValue(samples, 'deltaproxy_queries_served_total')).toBe(8);
      expect(sampleValue(samples, 'deltaproxy_queries_proxied_total')).toBe(1);
      expect(sampleValue(samples, 'deltaproxy_unique_users_last_minute')).toBe(2);
      expect(sampleValue(samples, 'deltaproxy_average_message_size_bytes')).toBeCloseTo(
        sum(mix.bytes) / 8,
        6,
      );
      // The mean over every backend call of the last minute: the histogram's sum / count, each
      // call at least as slow as the backend was made to be.
      const calls = backendHistogram(samples);
      expect(calls.count).toBeGreaterThanOrEqual(5);
      const avg = sampleValue(samples, 'deltaproxy_backend_reply_latency_seconds_avg');
      expect(avg).toBeCloseTo(calls.sum / calls.count, 6);
      expect(avg).toBeGreaterThanOrEqual(BACKEND_DELAY_MS / 1000);
    },
  );

  it.skipIf(prometheusParserMissing !== undefined)(
    withReason(
      'breaks requests down by operation, status class, decision and reason class',
      prometheusParserMissing,
    ),
    () => {
      const requests = (operation: string, status_class: string) =>
        sampleValue(samples, 'deltaproxy_requests_total', { operation, status_class });
      expect(requests('ListObjectsV2', '2xx')).toBe(2);
      expect(requests('HeadObject', '2xx')).toBe(2);
      expect(requests('GetObject', '2xx')).toBe(1);
      expect(requests('GetObject', '3xx')).toBe(1);
      expect(requests('GetObject', '4xx')).toBe(2);
      const decisions = (decision: string, reason_class: string) =>
        sampleValue(samples, 'deltaproxy_decisions_total', { decision, reason_class });
      expect(decisions('allow', 'granted')).toBe(6);
      expect(decisions('deny', 'grant')).toBe(1);
      expect(decisions('deny', 'authentication')).toBe(1);
      expect(sampleValue(samples, 'deltaproxy_auth_failures_total', { code: 'SignatureDoesNotMatch' })).toBe(
        1,
      );
      expect(sampleValue(samples, 'deltaproxy_redirects_total')).toBe(1);
      expect(sampleValue(samples, 'deltaproxy_response_bytes_total')).toBe(sum(mix.bytes));
      // One cold load of the table's log, then the cache.
      expect(sampleValue(samples, 'deltaproxy_snapshot_cache_misses_total')).toBe(1);
      expect(sampleValue(samples, 'deltaproxy_snapshot_cache_hits_total')).toBeGreaterThanOrEqual(4);
      expect(
        sampleValue(samples, 'deltaproxy_snapshot_load_duration_seconds_count', {
          kind: 'load',
          result: 'ok',
        }),
      ).toBe(1);
      expect(sampleValue(samples, 'deltaproxy_snapshot_cache_tables')).toBe(1);
      expect(sampleValue(samples, 'deltaproxy_snapshot_cache_bytes')).toBeGreaterThan(0);
      expect(samples.some((s) => s.name === 'process_cpu_seconds_total')).toBe(true);
      expect(samples.some((s) => s.family === 'nodejs_eventloop_lag_seconds')).toBe(true);
    },
  );

  it.skipIf(prometheusParserMissing !== undefined)(
    withReason(
      'labels every series with the instance and its start, and nothing unbounded',
      prometheusParserMissing,
    ),
    () => {
      const ids = new Set(samples.map((s) => s.labels.instance_id));
      expect(ids.size).toBe(1);
      expect([...ids][0]).toMatch(/^[0-9a-f]{16}$/);
      expect(new Set(samples.map((s) => s.labels.instance_start)).size).toBe(1);
      const bounded = new Set([
        'instance_id',
        'instance_start',
        'operation',
        'status_class',
        'decision',
        'reason_class',
        'code',
        'result',
        'kind',
        'outcome',
        'le',
        // default process metrics
        'version',
        'major',
        'minor',
        'patch',
        'space',
        'type',
        'gc_type',
      ]);
      const ours = samples.filter((s) => s.name.startsWith('deltaproxy_'));
      for (const s of ours) for (const label of Object.keys(s.labels)) expect(bounded).toContain(label);
      for (const secret of [ANALYST.accessKeyId, AUDITOR.accessKeyId, ANALYST.principal, 'region=EU'])
        expect(text).not.toContain(secret);
    },
  );

  it.skipIf(prometheusParserMissing !== undefined)(
    withReason(
      "shows the filtered log view's cache: generated files served from it, and what it holds",
      prometheusParserMissing,
    ),
    async () => {
      const scrape = async () =>
        parsePrometheusText(
          await (await fetch(listener.url, { signal: AbortSignal.timeout(10_000) })).text(),
        );
      const at = async () => {
        const now = await scrape();
        const v = (name: string) => sampleValue(now, `deltaproxy_filtered_log_${name}`);
        return {
          hits: v('cache_hits_total'),
          misses: v('cache_misses_total'),
          bytes: v('cache_bytes'),
          listing: v('listing_bytes'),
          dropped: v('listings_dropped_total'),
        };
      };
      // The mix listed the table recursively: its filtered log files were generated then.
      const before = await at();
      expect(before.misses).toBeGreaterThan(0);
      const commit = `/datalake/${encodeKeyPath('sales/_delta_log/00000000000000000000.json')}`;
      for (let i = 0; i < 2; i++)
        expect((await signedFetch(server.url, 'GET', commit, '', {}, ANALYST)).status).toBe(200);
      const after = await at();
      expect(after.hits - before.hits).toBeGreaterThanOrEqual(2);
      expect(after.misses).toBe(before.misses);
      // Generated files and the held listing, within what the snapshots leave of the budget.
      expect(after.listing).toBeGreaterThan(0);
      expect(after.bytes).toBeGreaterThan(after.listing);
      expect(after.dropped).toBe(0);
    },
  );
});

describe('the Lambda adapter: EMF per invocation and /metrics behind a bearer token', () => {
  let proxy: ProxyInstance;
  let server: { url: string; close: () => Promise<void> };
  const emfLines: string[] = [];
  let mix: MixResult;

  beforeAll(async () => {
    proxy = startMixProxy(emfLines);
    const handler = createLambdaHandler(async () => proxy.handler, {
      afterResponse: () => proxy.emf!.flush(),
    });
    server = await startLambdaHttpServer(handler);
    mix = await runMix(server.url);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('writes EMF documents with the same counts as the mix', () => {
    expect(mix.statuses).toEqual(EXPECTED_STATUSES);
    const data = parseEmfLines(emfLines);
    expect(new Set(data.map((d) => d.namespace))).toEqual(new Set(['DeltaLakeS3Proxy']));
    // One write per invocation, holding the dimensionless document.
    expect(emfLines).toHaveLength(8);
    expect(emfValues(data, 'Requests')).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    expect(sum(emfValues(data, 'Proxied'))).toBe(1);
    expect(sum(emfValues(data, 'Redirected'))).toBe(1);
    expect(sum(emfValues(data, 'Denied'))).toBe(2);
    expect(sum(emfValues(data, 'AuthFailures'))).toBe(1);
    expect(sum(emfValues(data, 'ServerErrors'))).toBe(0);
    expect(emfValues(data, 'BytesOut')).toEqual(mix.bytes);
    const byOp = (Operation: string, StatusClass: string) =>
      sum(emfValues(data, 'Requests', { Operation, StatusClass }));
    expect(byOp('ListObjectsV2', '2xx')).toBe(2);
    expect(byOp('HeadObject', '2xx')).toBe(2);
    expect(byOp('GetObject', '2xx')).toBe(1);
    expect(byOp('GetObject', '3xx')).toBe(1);
    expect(byOp('GetObject', '4xx')).toBe(2);
    const latencies = emfValues(data, 'BackendLatency');
    expect(latencies.length).toBeGreaterThanOrEqual(5);
    expect(Math.min(...latencies)).toBeGreaterThanOrEqual(BACKEND_DELAY_MS - 1);
    expect(sum(emfValues(data, 'SnapshotLoads'))).toBe(1);
    expect(sum(emfValues(data, 'SnapshotLoadFailures'))).toBe(0);
    expect(sum(emfValues(data, 'SnapshotColdLoads'))).toBe(1);
    for (const d of data)
      expect(Object.keys(d.dimensions).every((k) => ['Operation', 'StatusClass'].includes(k))).toBe(true);
  });

  it.skipIf(prometheusParserMissing !== undefined)(
    withReason(
      'answers GET /metrics with the bearer token with this environment’s Prometheus text',
      prometheusParserMissing,
    ),
    async () => {
      const res = await fetch(`${server.url}/metrics`, {
        headers: { authorization: `Bearer ${METRICS_TOKEN}` },
        signal: AbortSignal.timeout(10_000),
      });
      expect(res.status).toBe(200);
      const samples = await parsePrometheusText(await res.text());
      expect(sampleValue(samples, 'deltaproxy_queries_served_total')).toBe(8);
      expect(sampleValue(samples, 'deltaproxy_queries_proxied_total')).toBe(1);
      expect(sampleValue(samples, 'deltaproxy_unique_users_last_minute')).toBe(2);
      // A scrape is not an S3 request and writes no EMF.
      const before = emfLines.length;
      await fetch(`${server.url}/metrics`, {
        headers: { authorization: `Bearer ${METRICS_TOKEN}` },
        signal: AbortSignal.timeout(10_000),
      }).then((r) => r.text());
      expect(emfLines.length).toBe(before);
    },
  );

  it('treats any other request to /metrics as an ordinary S3 request', async () => {
    const attempts: [string, RequestInit][] = [
      ['no token', {}],
      ['wrong token', { headers: { authorization: `Bearer ${METRICS_TOKEN}x` } }],
      ['token as another scheme', { headers: { authorization: `Basic ${METRICS_TOKEN}` } }],
      ['POST with the token', { method: 'POST', headers: { authorization: `Bearer ${METRICS_TOKEN}` } }],
    ];
    for (const [what, init] of attempts) {
      const res = await fetch(`${server.url}/metrics`, { ...init, signal: AbortSignal.timeout(10_000) });
      const body = await res.text();
      expect(res.status, what).toBeGreaterThanOrEqual(400);
      expect(res.status, what).toBeLessThan(500);
      expect(body, what).toMatch(/^<\?xml[^>]*>\s*<Error><Code>\w+<\/Code>/);
      expect(body, what).not.toContain('deltaproxy_');
    }
    // Signed with a real key, /metrics is the bucket "metrics", which does not exist.
    const signed = await signedFetch(server.url, 'GET', '/metrics', '', {}, ANALYST);
    expect(signed.text).toContain('<Code>NoSuchBucket</Code>');
  });
});

function backendHistogram(samples: Sample[]): { sum: number; count: number } {
  const of = (name: string) => sum(samples.filter((s) => s.name === name).map((s) => s.value));
  return {
    sum: of('deltaproxy_backend_request_duration_seconds_sum'),
    count: of('deltaproxy_backend_request_duration_seconds_count'),
  };
}
