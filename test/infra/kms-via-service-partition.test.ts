/**
 * kms:ViaService names the calling service's endpoint, whose domain is the partition's:
 * s3.cn-north-1.amazonaws.com.cn in China. A condition naming amazonaws.com there never matches,
 * so every read of an SSE-KMS object through the proxy is refused (403 from S3).
 */
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { buildStack, SETTINGS } from './stack-fixture';

type Statement = { Action: string | string[]; Resource: unknown; Condition?: Record<string, unknown> };

function bucketKeyConditions(template: Template): unknown[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .flatMap(
      (p) =>
        (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument
          .Statement,
    )
    .filter((s) => JSON.stringify(s.Condition ?? {}).includes('kms:ViaService'))
    .map((s) => s.Condition);
}

const KEY = (partition: string, region: string) =>
  `arn:${partition}:kms:${region}:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab`;

describe('bucket keys used through S3, in every partition', () => {
  it('names the China endpoint (amazonaws.com.cn) for a key in a China region', () => {
    const { stack } = buildStack(
      { ...SETTINGS, kmsKeyArns: [KEY('aws-cn', 'cn-north-1')] },
      { account: '123456789012', region: 'cn-north-1' },
    );
    expect(bucketKeyConditions(Template.fromStack(stack))).toEqual([
      { StringEquals: { 'kms:ViaService': 's3.cn-north-1.amazonaws.com.cn' } },
    ]);
  });

  it('names GovCloud and commercial endpoints (amazonaws.com) as before', () => {
    const { stack } = buildStack(
      { ...SETTINGS, kmsKeyArns: [KEY('aws-us-gov', 'us-gov-west-1')] },
      { account: '123456789012', region: 'us-gov-west-1' },
    );
    expect(bucketKeyConditions(Template.fromStack(stack))).toEqual([
      { StringEquals: { 'kms:ViaService': 's3.us-gov-west-1.amazonaws.com' } },
    ]);
  });

  it('names the China endpoint in a stack whose region is known only at deploy time', () => {
    const { stack } = buildStack({ ...SETTINGS, kmsKeyArns: [KEY('aws-cn', 'cn-northwest-1')] }, {});
    expect(bucketKeyConditions(Template.fromStack(stack))).toEqual([
      { StringEquals: { 'kms:ViaService': 's3.cn-northwest-1.amazonaws.com.cn' } },
    ]);
  });
});
