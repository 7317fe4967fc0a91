/**
 * The fleet view in the template: a dashboard with the specification's five figures for the whole
 * fleet (EMF metrics, unique users from the audit lines), alarms on a denial spike and on failing
 * snapshot loads, and the metric names they read are the ones the function writes.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { UNIQUE_USERS_QUERY } from '../../infra/proxy-monitoring';
import { proxyEnvironment } from '../../infra/proxy-settings';
import { ProxyStack } from '../../infra/proxy-stack';
import type { RequestEvent } from '../../lambda/core/observer';
import { EMF_NAMESPACE, EmfMetrics } from '../../lambda/metrics/emf-metrics';
import { parseEmfLines } from '../helpers/emf';
import { tempDir } from '../helpers/temp-dir';
import { SETTINGS } from './stack-fixture';

type Json = Record<string, unknown>;

/** The dashboard body with CloudFormation tokens (log group, region) replaced by placeholders. */
function dashboardWidgets(template: Template): Json[] {
  const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard')) as {
    Properties: { DashboardBody: { 'Fn::Join': [string, unknown[]] } };
  }[];
  const parts = dashboard!.Properties.DashboardBody['Fn::Join'][1];
  const body = parts.map((p) => (typeof p === 'string' ? p : 'TOKEN')).join('');
  return (JSON.parse(body) as { widgets: Json[] }).widgets;
}

function proxyAlarms(template: Template): Map<string, Json> {
  const alarms = Object.entries(template.findResources('AWS::CloudWatch::Alarm')) as [
    string,
    { Properties: Json },
  ][];
  return new Map(
    alarms
      .filter(([, a]) => Array.isArray(a.Properties.Metrics))
      .map(([id, a]) => [id.replace(/^Monitoring|[0-9A-F]{8}$/g, ''), a.Properties]),
  );
}

/** Metric names the function's EMF lines actually carry, from a mix of answers and a snapshot load. */
function namesWritten(): Set<string> {
  const lines: string[] = [];
  const emf = new EmfMetrics({ write: (l) => lines.push(l) });
  const event = (e: Partial<RequestEvent>) =>
    emf.request({ op: 'GetObject', status: 200, bytes: 10, reasonClass: 'granted', ...e } as RequestEvent);
  event({ proxied: true });
  event({ status: 307, redirected: true });
  event({ status: 403, reasonClass: 'authentication', code: 'SignatureDoesNotMatch' });
  event({ status: 503, reasonClass: 'unavailable' });
  emf.backendCall({ operation: 'get', result: 'ok', ms: 3 });
  emf.snapshotLoad({ kind: 'load', ok: true, ms: 40 });
  emf.snapshotLoad({ kind: 'refresh', ok: false, ms: 5 });
  emf.snapshotLoad({ kind: 'refresh', ok: false, ms: 5, stale: true });
  emf.flush();
  return new Set(parseEmfLines(lines).map((d) => d.metric));
}

describe('fleet view', () => {
  let template: Template;
  let widgets: Json[];

  beforeAll(() => {
    // No bundling: the function's code is not what this file is about (proxy-stack.test.ts).
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, outdir: tempDir('cdk.out-') });
    const stack = new ProxyStack(app, 'FleetView', {
      settings: SETTINGS,
      env: { account: '123456789012', region: 'eu-west-1' },
    });
    template = Template.fromStack(stack);
    widgets = dashboardWidgets(template);
  });

  it('shows the five specification metrics for the whole fleet', () => {
    const titled = (title: string) => {
      const w = widgets.find((x) => (x.properties as Json).title === title);
      if (!w) throw new Error(`no widget "${title}"`);
      return w.properties as Json;
    };
    const metricsOf = (title: string) => JSON.stringify(titled(title).metrics);
    expect(metricsOf('Queries served')).toContain(`"${EMF_NAMESPACE}","Requests"`);
    expect(metricsOf('Queries proxied (and redirected)')).toContain(`"${EMF_NAMESPACE}","Proxied"`);
    // Average is the widgets' default statistic, so the dashboard JSON names no other.
    for (const [title, name] of [
      ['Average backend latency (ms)', 'BackendLatency'],
      ['Average message size (bytes)', 'BytesOut'],
    ]) {
      expect(metricsOf(title!)).toContain(`"${EMF_NAMESPACE}","${name}"`);
      expect(metricsOf(title!)).not.toMatch(/"stat":"(?!Average)/);
    }
    const users = titled('Unique users per minute (distinct access key ids)');
    expect(users.query).toContain("SOURCE 'TOKEN'");
    expect(users.query).toContain('count_distinct(accessKeyId)');
    expect(users.query).toContain('filter type = "audit"');
  });

  it('reads only metric names the function writes', () => {
    const written = namesWritten();
    const referenced = new Set<string>();
    const body = JSON.stringify(widgets);
    for (const m of body.matchAll(new RegExp(`"${EMF_NAMESPACE}","(\\w+)"`, 'g'))) referenced.add(m[1]!);
    // The one name in the namespace that is not EMF: the metric filter on the adapter's error lines.
    referenced.delete('AdapterErrors');
    for (const alarm of proxyAlarms(template).values())
      for (const m of alarm.Metrics as { MetricStat?: { Metric: { MetricName: string } } }[])
        if (m.MetricStat) referenced.add(m.MetricStat.Metric.MetricName);
    expect(referenced.size).toBeGreaterThanOrEqual(10);
    for (const name of referenced) expect(written, name).toContain(name);
    // Unique users come from the audit line's field of that name.
    expect(UNIQUE_USERS_QUERY.join(' ')).toContain('accessKeyId');
  });

  it('alarms on a denial spike and on a snapshot-load failure rate', () => {
    const alarms = proxyAlarms(template);
    const spike = alarms.get('DenialSpike')!;
    const failures = alarms.get('SnapshotLoadFailureRate')!;
    expect(spike).toBeDefined();
    expect(failures).toBeDefined();
    const expression = (a: Json) =>
      (a.Metrics as { Expression?: string; ReturnData?: boolean }[]).find((m) => m.Expression)!;
    expect(expression(spike).Expression).toMatch(/IF\(requests >= 20, 100 \* denied \/ requests, 0\)/);
    expect(spike.Threshold).toBe(25);
    expect(expression(failures).Expression).toMatch(/100 \* failures \/ loads/);
    expect(failures.Threshold).toBe(20);
    for (const a of [spike, failures]) {
      expect(a.ComparisonOperator).toBe('GreaterThanOrEqualToThreshold');
      expect(a.TreatMissingData).toBe('notBreaching');
      expect(a.AlarmActions).toHaveLength(1);
    }
  });

  it('passes the /metrics bearer token as the name of its secret, never as a value', () => {
    const env = proxyEnvironment({ ...SETTINGS, metricsTokenSecret: 'delta-proxy/metrics-token' }, 'table');
    expect(env.PROXY_METRICS_TOKEN_SECRET).toBe('delta-proxy/metrics-token');
    expect(env.PROXY_METRICS_TOKEN).toBeUndefined();
    const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0] as {
      Properties: { Environment: { Variables: Record<string, unknown> } };
    };
    expect(fn.Properties.Environment.Variables.PROXY_METRICS_TOKEN_SECRET).toBeUndefined();
    expect(() => proxyEnvironment({ ...SETTINGS, metricsTokenSecret: 'not a secret name' }, 'table')).toThrow(
      /metricsTokenSecret/,
    );
  });
});
