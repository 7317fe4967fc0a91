/**
 * Alarms and a dashboard for the proxy function: errors, throttles, 5xx answers (the Function
 * URL's own Url5xxCount, plus a metric filter on the adapter's error log lines), p99 duration,
 * and from the proxy's own EMF metrics a denial spike and a snapshot-load failure rate. The
 * dashboard's first row shows the specification's five figures for the whole fleet (a Prometheus
 * scrape of the Function URL sees one execution environment only). Every alarm notifies one SNS
 * topic.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { EMF_NAMESPACE } from '../lambda/metrics/emf-metrics';

export const METRIC_NAMESPACE = EMF_NAMESPACE;

/** Alarm when this share of requests (in %) or more is refused by authentication or authorization… */
export const DENIAL_SPIKE_PERCENT = 25;
/** …in a 5-minute period with at least this many requests (a handful of typos is no spike). */
export const DENIAL_SPIKE_MIN_REQUESTS = 20;
/** Alarm when this share of snapshot loads and refreshes (in %) fails in a 5-minute period. */
export const SNAPSHOT_FAILURE_PERCENT = 20;

/** Logs Insights: distinct access key ids of the audit lines, per minute, over the whole fleet. */
export const UNIQUE_USERS_QUERY = [
  'filter type = "audit" and ispresent(accessKeyId)',
  'stats count_distinct(accessKeyId) as uniqueUsers by bin(1m)',
];

export interface ProxyMonitoringProps {
  fn: lambda.IFunction;
  logGroup: logs.ILogGroup;
  topic: sns.ITopic;
  timeout: Duration;
}

export class ProxyMonitoring extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: ProxyMonitoringProps) {
    super(scope, id);
    const { fn, logGroup } = props;
    const period = Duration.minutes(5);
    const urlMetric = (metricName: string, statistic = 'Sum') =>
      new cloudwatch.Metric({
        namespace: 'AWS/Lambda',
        metricName,
        dimensionsMap: { FunctionName: fn.functionName },
        statistic,
        period,
      });

    // The adapter logs one JSON line with level "error" for every failure it catches.
    const adapterErrors = new logs.MetricFilter(this, 'AdapterErrors', {
      logGroup,
      filterPattern: logs.FilterPattern.stringValue('$.level', '=', 'error'),
      metricNamespace: METRIC_NAMESPACE,
      metricName: 'AdapterErrors',
      metricValue: '1',
      defaultValue: 0,
    }).metric({ statistic: 'Sum', period });

    const alarm = (name: string, metric: cloudwatch.IMetric, threshold: number, description: string) => {
      const a = new cloudwatch.Alarm(this, name, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      a.addAlarmAction(new actions.SnsAction(props.topic));
      a.addOkAction(new actions.SnsAction(props.topic));
      this.alarms.push(a);
      return a;
    };

    alarm(
      'Errors',
      fn.metricErrors({ period, statistic: 'Sum' }),
      5,
      'Invocations that failed (includes responses cut short mid-stream).',
    );
    alarm(
      'Throttles',
      fn.metricThrottles({ period, statistic: 'Sum' }),
      1,
      'Requests refused for lack of concurrency.',
    );
    alarm(
      'Http5xx',
      urlMetric('Url5xxCount'),
      5,
      'Function URL answers with a 5xx status (InternalError, SlowDown, ...).',
    );
    alarm(
      'AdapterErrorLines',
      adapterErrors,
      5,
      'Errors logged by the Lambda adapter (start-up, core exceptions, broken streams).',
    );
    alarm(
      'DurationP99',
      fn.metricDuration({ period, statistic: 'p99' }),
      Math.round(props.timeout.toMilliseconds() * 0.8),
      'p99 duration above 80% of the function timeout.',
    );

    // The proxy's own figures (EMF, one document per invocation, no dimensions: the whole fleet).
    const proxyMetric = (metricName: string, statistic: string, label?: string) =>
      new cloudwatch.Metric({ namespace: METRIC_NAMESPACE, metricName, statistic, period, label });
    const requests = proxyMetric('Requests', 'Sum', 'queries served');
    const denied = proxyMetric('Denied', 'Sum', 'denied (authentication or grant)');
    const loads = proxyMetric('SnapshotLoads', 'Sum', 'snapshot loads');
    const loadFailures = proxyMetric('SnapshotLoadFailures', 'Sum', 'failed snapshot loads');

    alarm(
      'DenialSpike',
      new cloudwatch.MathExpression({
        expression: `IF(requests >= ${DENIAL_SPIKE_MIN_REQUESTS}, 100 * denied / requests, 0)`,
        usingMetrics: { requests, denied },
        period,
        label: 'denied, % of requests',
      }),
      DENIAL_SPIKE_PERCENT,
      `${DENIAL_SPIKE_PERCENT}% or more of at least ${DENIAL_SPIKE_MIN_REQUESTS} requests in 5 minutes refused by authentication or authorization (bad keys or signatures, probing for ungranted data).`,
    );
    alarm(
      'SnapshotLoadFailureRate',
      new cloudwatch.MathExpression({
        expression: 'IF(loads > 0, 100 * failures / loads, 0)',
        usingMetrics: { loads, failures: loadFailures },
        period,
        label: 'failed snapshot loads, %',
      }),
      SNAPSHOT_FAILURE_PERCENT,
      `At least ${SNAPSHOT_FAILURE_PERCENT}% of Delta snapshot loads or refreshes failed in 5 minutes (log unreadable, throttled or missing): data requests of those tables are refused.`,
    );

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown:
          '**The five specification metrics, whole fleet.** Prometheus `/metrics` on the Function URL answers for one execution environment only; these come from every environment (EMF, audit lines).',
        width: 24,
        height: 1,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Queries served',
        left: [requests],
        width: 5,
      }),
      new cloudwatch.GraphWidget({
        title: 'Queries proxied (and redirected)',
        left: [
          proxyMetric('Proxied', 'Sum', 'proxied'),
          proxyMetric('Redirected', 'Sum', 'redirected (307)'),
        ],
        width: 5,
      }),
      new cloudwatch.LogQueryWidget({
        title: 'Unique users per minute (distinct access key ids)',
        logGroupNames: [logGroup.logGroupName],
        queryLines: UNIQUE_USERS_QUERY,
        view: cloudwatch.LogQueryVisualizationType.LINE,
        width: 5,
      }),
      new cloudwatch.GraphWidget({
        title: 'Average backend latency (ms)',
        left: [proxyMetric('BackendLatency', 'Average', 'backend reply latency, mean')],
        width: 5,
      }),
      new cloudwatch.GraphWidget({
        title: 'Average message size (bytes)',
        left: [proxyMetric('BytesOut', 'Average', 'response body bytes, mean')],
        width: 4,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Requests by operation and status class',
        left: [
          new cloudwatch.MathExpression({
            expression: `SEARCH('{${METRIC_NAMESPACE},Operation,StatusClass} MetricName="Requests"', 'Sum', 300)`,
            label: '',
            period,
          }),
        ],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Refusals',
        left: [
          denied,
          proxyMetric('AuthFailures', 'Sum', 'authentication failures'),
          proxyMetric('ServerErrors', 'Sum', '5xx answers'),
        ],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Delta snapshots',
        left: [
          loads,
          loadFailures,
          proxyMetric('SnapshotColdLoads', 'Sum', 'first loads (cache misses)'),
          proxyMetric('SnapshotStaleServed', 'Sum', 'failed refreshes served stale'),
        ],
        right: [proxyMetric('SnapshotLoadTime', 'p99', 'load time p99 (ms)')],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Backend latency (ms)',
        left: [proxyMetric('BackendLatency', 'p50', 'p50'), proxyMetric('BackendLatency', 'p99', 'p99')],
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Requests and answers',
        left: [urlMetric('UrlRequestCount'), urlMetric('Url4xxCount'), urlMetric('Url5xxCount')],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Invocation errors and throttles',
        left: [fn.metricErrors({ period }), fn.metricThrottles({ period }), adapterErrors],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Duration (ms)',
        left: [
          fn.metricDuration({ period, statistic: 'p50' }),
          fn.metricDuration({ period, statistic: 'p99' }),
          urlMetric('UrlRequestLatency', 'p99'),
        ],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Concurrency',
        left: [urlMetric('ConcurrentExecutions', 'Maximum')],
        width: 12,
      }),
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24 }),
    );
  }
}
