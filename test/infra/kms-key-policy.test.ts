/**
 * The key of the grants/keys table (and the alarm topic). CDK's default key policy lets the
 * account root do `kms:*`, so any principal of the account whose IAM policy says kms:Decrypt (or
 * kms:CreateGrant) may use the key directly, outside DynamoDB; and CloudWatch may use it for any
 * account's alarms (confused deputy). The account must keep administering it: a key policy
 * without an administrator cannot be repaired.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildStack, SETTINGS } from './stack-fixture';

type Statement = {
  Effect: string;
  Action: string | string[];
  Principal: Record<string, unknown>;
  Condition?: Record<string, Record<string, unknown>>;
};

function keyStatements(template: Template): Statement[] {
  const keys = Object.values(template.findResources('AWS::KMS::Key'));
  expect(keys).toHaveLength(1);
  return (keys[0] as { Properties: { KeyPolicy: { Statement: Statement[] } } }).Properties.KeyPolicy
    .Statement;
}

const actionsOf = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
/** Whether a policy action (with * wildcards) covers an API operation. */
const covers = (action: string, op: string) =>
  new RegExp(`^${action.replace(/\*/g, '.*')}$`, 'i').test(`kms:${op}`);
const allows = (s: Statement, op: string) => s.Effect === 'Allow' && actionsOf(s).some((a) => covers(a, op));
const isAccountRoot = (s: Statement) =>
  JSON.stringify(s.Principal.AWS ?? '').endsWith(':iam::123456789012:root"]]}');

/** Every operation that yields plaintext or lets its caller obtain that right. */
const USE = ['Decrypt', 'Encrypt', 'GenerateDataKey', 'ReEncryptFrom', 'ReEncryptTo', 'CreateGrant'];

describe('the key policy of the grants table key', () => {
  let statements: Statement[];
  beforeAll(() => {
    statements = keyStatements(Template.fromStack(buildStack().stack));
  });

  it('lets no principal use the key without a condition', () => {
    for (const op of USE)
      for (const s of statements.filter((s) => allows(s, op)))
        expect({ op, principal: s.Principal, condition: s.Condition }).toEqual({
          op,
          principal: s.Principal,
          condition: expect.any(Object),
        });
  });

  it("lets the account's principals (IAM deciding which) use it only through DynamoDB, in this account", () => {
    const byAccount = statements.filter((s) => isAccountRoot(s) && allows(s, 'Decrypt'));
    expect(byAccount).toHaveLength(1);
    expect(byAccount[0]!.Condition).toEqual({
      StringEquals: {
        'kms:ViaService': 'dynamodb.eu-west-1.amazonaws.com',
        'kms:CallerAccount': '123456789012',
      },
    });
  });

  it('keeps the account its administrator, without conditions (never locked out)', () => {
    for (const op of ['PutKeyPolicy', 'DescribeKey', 'EnableKey', 'CancelKeyDeletion', 'RevokeGrant']) {
      const admin = statements.filter((s) => isAccountRoot(s) && allows(s, op) && !s.Condition);
      expect({ op, admin: admin.length }).toEqual({ op, admin: 1 });
    }
  });

  it("lets CloudWatch use it only for this account's alarms in this region", () => {
    const cloudwatch = statements.filter((s) => s.Principal.Service === 'cloudwatch.amazonaws.com');
    expect(cloudwatch).toHaveLength(1);
    const s = cloudwatch[0]!;
    expect(actionsOf(s).sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey*']);
    expect(s.Condition?.StringEquals).toEqual({ 'aws:SourceAccount': '123456789012' });
    expect(JSON.stringify(s.Condition?.ArnLike?.['aws:SourceArn'])).toMatch(
      /:cloudwatch:eu-west-1:123456789012:alarm:\*"\]\]\}$/,
    );
  });
});

describe('the DynamoDB endpoint the key policy names, in every partition', () => {
  const viaDynamo = (template: Template) =>
    keyStatements(template).find((s) => allows(s, 'Decrypt') && s.Principal.AWS)?.Condition?.StringEquals?.[
      'kms:ViaService'
    ];

  it('is dynamodb.REGION.amazonaws.com.cn in China', () => {
    const { stack } = buildStack(SETTINGS, { account: '123456789012', region: 'cn-north-1' });
    expect(viaDynamo(Template.fromStack(stack))).toBe('dynamodb.cn-north-1.amazonaws.com.cn');
  });

  it("is the stack's AWS::Region and AWS::URLSuffix when the region is known only at deploy time", () => {
    const { stack } = buildStack(SETTINGS, {});
    expect(viaDynamo(Template.fromStack(stack))).toEqual({
      'Fn::Join': ['', ['dynamodb.', { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' }]],
    });
  });
});
