/** Builds the proxy stack in a fresh app, with cdk-nag's AwsSolutions checks attached. */
import { App, type Environment, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { ProxySettings } from '../../infra/proxy-settings';
import { ProxyStack } from '../../infra/proxy-stack';
import { tempDir } from '../helpers/temp-dir';

export const SETTINGS: ProxySettings = {
  tableMapping: {
    trades: 's3://lake-bucket/gold/trades',
    customers: 's3://lake-bucket/silver/customers',
    events: 's3://other-bucket/events',
  },
  getMode: 'proxy',
  logView: 'raw',
  grantsTableName: 'delta-proxy-grants-test',
  timeoutSeconds: 60,
  alarmEmails: ['ops@example.com'],
};

/** `env` {}: an environment-agnostic stack, as `cdk synth` makes without a configured region. */
export function buildStack(
  settings: ProxySettings = SETTINGS,
  env: Environment = { account: '123456789012', region: 'eu-west-1' },
): { app: App; stack: ProxyStack } {
  // Its own outdir, removed after the file: an App without one leaves a cdk.outXXXXXX in /tmp.
  const app = new App({ outdir: tempDir('cdk.out-') });
  const stack = new ProxyStack(app, 'ProxyUnderTest', { settings, env });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}
