/**
 * The stack refuses settings whose function environment cannot fit in Lambda's 4 KB, counting what
 * CloudFormation resolves at deploy time at its least, so that a deployment that fits is never
 * refused. With a /metrics token secret the environment holds its ARN as given (the function reads
 * the token at cold start), and the generated listing-key secret's ARN, counted at its shortest.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import type { ProxySettings } from '../../infra/proxy-settings';
import { buildStack, SETTINGS } from '../infra/stack-fixture';

const SECRET_ARN =
  'arn:aws:secretsmanager:eu-west-1:123456789012:secret:delta-proxy/metrics-bearer-token-AbCdEf';
/** The shortest ARN the generated listing-key secret can have: a 9-character region, a 1-character name. */
const SHORTEST_SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:L-AbCdEf';

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
        : name === 'PROXY_LISTING_TOKEN_KEY_SECRET'
          ? SHORTEST_SECRET_ARN
          : (value as string),
    ]),
  );
  return Buffer.byteLength(JSON.stringify(vars));
}

describe('the 4 KB check with a /metrics token secret', () => {
  it('accepts settings whose deployed environment is exactly 4 KB, and refuses one byte more', () => {
    expect(SHORTEST_SECRET_ARN).toHaveLength(61);
    const table = (pad: number): ProxySettings => ({
      ...SETTINGS,
      metricsTokenSecret: SECRET_ARN,
      tableMapping: {
        ...SETTINGS.tableMapping,
        // A prefix is a key prefix (at most 1,024 bytes): several long ones fill the environment.
        ...Object.fromEntries(
          [0, 1, 2, 3].map((i) => [`long-${i}`, `s3://lake-bucket/${String(i).repeat(700)}`]),
        ),
        wide: `s3://lake-bucket/${'p'.repeat(pad)}`,
      },
    });
    const pad = 4096 - (deployedBytes(table(1)) - 1);
    expect(pad).toBeGreaterThan(0);
    expect(deployedBytes(table(pad))).toBe(4096);
    expect(() => buildStack(table(pad))).not.toThrow();
    expect(() => buildStack(table(pad + 1))).toThrow(/over Lambda's 4 KB/);
  });
});
