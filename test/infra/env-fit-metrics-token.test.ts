/**
 * The stack refuses settings whose function environment cannot fit in Lambda's 4 KB, counting what
 * CloudFormation resolves at deploy time at its least, so that a deployment that fits is never
 * refused. The /metrics token's Secrets Manager reference is such a value: it must count as the
 * shortest token the proxy accepts (16 characters), not as the reference's own text.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import type { ProxySettings } from '../../infra/proxy-settings';
import { buildStack, SETTINGS } from '../infra/stack-fixture';

const SECRET_ARN =
  'arn:aws:secretsmanager:eu-west-1:123456789012:secret:delta-proxy/metrics-bearer-token-AbCdEf';

/** The environment as Lambda holds it after the deploy: tokens resolved to their shortest values. */
function deployedBytes(settings: ProxySettings): number {
  const fn = Object.values(
    Template.fromStack(buildStack(settings).stack).findResources('AWS::Lambda::Function'),
  )[0] as {
    Properties: { Environment: { Variables: Record<string, unknown> } };
  };
  const vars = Object.fromEntries(
    Object.entries(fn.Properties.Environment.Variables).map(([name, value]) => [
      name,
      name === 'PROXY_DATABASE'
        ? JSON.stringify({ type: 'dynamodb', tableName: settings.grantsTableName })
        : name === 'PROXY_LISTING_TOKEN_KEY'
          ? 'k'.repeat(48)
          : (value as string),
    ]),
  );
  return Buffer.byteLength(JSON.stringify(vars));
}

describe('the 4 KB check with a /metrics token secret', () => {
  it('accepts settings whose deployed environment, with a 16-character token, is exactly 4 KB', () => {
    const token = Buffer.byteLength(
      `,${JSON.stringify('PROXY_METRICS_TOKEN')}:${JSON.stringify('t'.repeat(16))}`,
    );
    const table = (pad: number) => ({
      ...SETTINGS,
      tableMapping: {
        ...SETTINGS.tableMapping,
        // A prefix is a key prefix (at most 1,024 bytes): several long ones fill the environment.
        ...Object.fromEntries(
          [0, 1, 2, 3].map((i) => [`long-${i}`, `s3://lake-bucket/${String(i).repeat(700)}`]),
        ),
        wide: `s3://lake-bucket/${'p'.repeat(pad)}`,
      },
    });
    const pad = 4096 - token - (deployedBytes(table(1)) - 1);
    expect(pad).toBeGreaterThan(0);
    expect(deployedBytes(table(pad)) + token).toBe(4096);
    // Lambda would take this function; synth refused it, counting the reference's ~110 characters.
    expect(() => buildStack({ ...table(pad), metricsTokenSecret: SECRET_ARN })).not.toThrow();
    // One byte more does not fit, whatever the token.
    expect(() => buildStack({ ...table(pad + 1), metricsTokenSecret: SECRET_ARN })).toThrow(
      /over Lambda's 4 KB/,
    );
  });
});
