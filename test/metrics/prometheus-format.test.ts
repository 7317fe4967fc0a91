/**
 * The exposition text as a scraper first sees it (nothing recorded yet: NaN means, families
 * without samples) and after every kind of figure: it parses with Python's prometheus_client,
 * and each family has its HELP and TYPE once.
 */
import { describe, expect, it } from 'vitest';
import type { RequestEvent } from '../../lambda/core/observer';
import { SnapshotCache } from '../../lambda/delta/snapshot-cache';
import { PrometheusMetrics } from '../../lambda/metrics/prometheus-metrics';
import { parsePrometheusText, prometheusParserMissing, sampleValue } from '../helpers/prometheus-text';
import { withReason } from '../helpers/skips';

const clock = { now: () => Date.parse('2026-01-01T00:00:00Z') };
const instance = { id: '0123456789abcdef', startedAt: new Date(clock.now()) };

function fullyRecorded(): PrometheusMetrics {
  const metrics = new PrometheusMetrics({
    clock,
    instance,
    processMetrics: true,
    snapshotStats: () => new SnapshotCache({ ttlMs: 1000, maxBytes: 1 << 20, clock }).stats(),
  });
  const event = (e: Partial<RequestEvent>) =>
    ({
      op: 'GetObject',
      status: 200,
      bytes: 10,
      decision: 'allow',
      reasonClass: 'granted',
      ...e,
    }) as RequestEvent;
  metrics.request(event({ accessKeyId: 'AKIAEXAMPLE', proxied: true }));
  metrics.request(
    event({ status: 403, decision: 'deny', reasonClass: 'authentication', code: 'SignatureDoesNotMatch' }),
  );
  metrics.request(event({ status: 499, decision: 'error', reasonClass: 'client-gone' }));
  metrics.backendCall({ operation: 'get', result: 'ok', ms: 12 });
  metrics.backendCall({ operation: 'list', result: 'Throttled', ms: 3 });
  metrics.snapshotLoad({ kind: 'load', ok: true, ms: 40 });
  return metrics;
}

function headerLinesOnce(text: string): void {
  for (const kind of ['HELP', 'TYPE']) {
    const names = text
      .split('\n')
      .filter((l) => l.startsWith(`# ${kind} `))
      .map((l) => l.split(' ')[2]);
    expect(names.length).toBeGreaterThan(10);
    expect(new Set(names).size, `each # ${kind} once`).toBe(names.length);
  }
}

describe('the Prometheus exposition text', () => {
  it('has HELP and TYPE once per family, before and after recording', async () => {
    headerLinesOnce((await new PrometheusMetrics({ clock, instance, processMetrics: false }).render()).body);
    const metrics = fullyRecorded();
    headerLinesOnce((await metrics.render()).body);
    // A second scrape re-registers nothing.
    headerLinesOnce((await metrics.render()).body);
  });

  it.skipIf(prometheusParserMissing !== undefined)(
    withReason(
      'parses with prometheus_client before anything was recorded (NaN means)',
      prometheusParserMissing,
    ),
    async () => {
      const text = (await new PrometheusMetrics({ clock, instance, processMetrics: false }).render()).body;
      const samples = await parsePrometheusText(text);
      expect(sampleValue(samples, 'deltaproxy_queries_served_total')).toBe(0);
      expect(sampleValue(samples, 'deltaproxy_average_message_size_bytes')).toBeNaN();
      expect(sampleValue(samples, 'deltaproxy_backend_reply_latency_seconds_avg')).toBeNaN();
    },
  );

  it.skipIf(prometheusParserMissing !== undefined)(
    withReason('parses with prometheus_client after every kind of figure', prometheusParserMissing),
    async () => {
      const samples = await parsePrometheusText((await fullyRecorded().render()).body);
      expect(sampleValue(samples, 'deltaproxy_queries_served_total')).toBe(3);
      expect(
        sampleValue(samples, 'deltaproxy_decisions_total', {
          decision: 'error',
          reason_class: 'client-gone',
        }),
      ).toBe(1);
      expect(
        sampleValue(samples, 'deltaproxy_requests_total', { operation: 'GetObject', status_class: '4xx' }),
      ).toBe(2);
      expect(sampleValue(samples, 'deltaproxy_snapshot_refreshes_total', { outcome: 'unchanged' })).toBe(0);
      expect(
        sampleValue(samples, 'deltaproxy_backend_request_duration_seconds_count', {
          operation: 'list',
          result: 'Throttled',
        }),
      ).toBe(1);
      expect(samples.some((s) => s.name === 'process_cpu_seconds_total')).toBe(true);
    },
  );
});
