/**
 * Alarms and a dashboard for the proxy function: errors, throttles, 5xx answers (the Function
 * URL's own Url5xxCount, plus a metric filter on the adapter's error log lines), and p99
 * duration. Every alarm notifies one SNS topic.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';

export const METRIC_NAMESPACE = 'DeltaLakeS3Proxy';

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

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(3),
    });
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
