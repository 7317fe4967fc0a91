/**
 * SECURITY.md gap 18: the function's environment is readable by anyone with
 * lambda:GetFunctionConfiguration (AWS ReadOnlyAccess). It must carry only the secrets' ARNs or
 * names, never a value nor a {{resolve:secretsmanager:…}} reference that CloudFormation turns into
 * one; the role reads exactly those secrets, and nothing else of Secrets Manager.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildStack, SETTINGS } from './stack-fixture';

const METRICS_ARN =
  'arn:aws:secretsmanager:eu-west-1:123456789012:secret:delta-proxy/metrics-bearer-token-AbCdEf';

type Statement = { Action: string | string[]; Resource: unknown };
const actionsOf = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

function functionOf(template: Template) {
  const [fn] = Object.values(template.findResources('AWS::Lambda::Function')) as {
    Properties: { Environment: { Variables: Record<string, unknown> } };
  }[];
  return fn!.Properties.Environment.Variables;
}

function secretStatements(template: Template): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .flatMap(
      (p) =>
        (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument
          .Statement,
    )
    .filter((s) => actionsOf(s).some((a) => a.startsWith('secretsmanager:')));
}

describe.each([
  ['a secret ARN', METRICS_ARN, METRICS_ARN],
  [
    'a secret name',
    'delta-proxy/metrics-token',
    'arn:aws:secretsmanager:eu-west-1:123456789012:secret:delta-proxy/metrics-token-??????',
  ],
])('the function with the /metrics token given as %s', (_, metricsTokenSecret, policyArn) => {
  let template: Template;
  let listingSecretId: string;
  let assemblyDir: string;
  beforeAll(() => {
    const { app, stack } = buildStack({ ...SETTINGS, metricsTokenSecret });
    template = Template.fromStack(stack);
    assemblyDir = app.synth().directory;
    listingSecretId = Object.keys(template.findResources('AWS::SecretsManager::Secret'))[0]!;
  });

  it('holds no secret value and no reference resolved into one, only the secrets ARN or name', () => {
    const vars = functionOf(template);
    expect(JSON.stringify(vars)).not.toMatch(/resolve:secretsmanager/);
    expect(vars.PROXY_LISTING_TOKEN_KEY).toBeUndefined();
    expect(vars.PROXY_METRICS_TOKEN).toBeUndefined();
    // Ref of an AWS::SecretsManager::Secret is its ARN.
    expect(vars.PROXY_LISTING_TOKEN_KEY_SECRET).toEqual({ Ref: listingSecretId });
    expect(vars.PROXY_METRICS_TOKEN_SECRET).toBe(metricsTokenSecret);
  });

  it('lets the role read exactly those two secrets (GetSecretValue), nothing else of Secrets Manager', () => {
    const statements = secretStatements(template);
    expect(statements.flatMap(actionsOf)).toEqual(['secretsmanager:GetSecretValue']);
    expect(statements.flatMap((s) => [s.Resource].flat())).toEqual([{ Ref: listingSecretId }, policyArn]);
  });

  it('passes cdk-nag with that grant (no new finding)', () => {
    const report = JSON.parse(readFileSync(path.join(assemblyDir, 'validation-report.json'), 'utf8')) as {
      pluginReports: { pluginName: string; violations: unknown[] }[];
    };
    expect(report.pluginReports.find((r) => r.pluginName === 'AwsSolutions')?.violations).toEqual([]);
  });
});
