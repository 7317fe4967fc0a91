import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Metafile } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildLambda } from '../../infra/build';
import { BUNDLE_BUDGET_BYTES, bundleParts } from '../../infra/bundle-options';
import { loadConfig } from '../../lambda/config';
import { tempDir } from '../helpers/temp-dir';
import { buildStack, SETTINGS } from './stack-fixture';

type Statement = {
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
};

function statements(template: Template): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
    (p) =>
      (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument
        .Statement,
  );
}
const actionsOf = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

/** A variable's value as Lambda gets it: the stack's tokens (table name, secret ARN) resolved. */
function resolvedValue(name: string, value: unknown): string {
  if (typeof value === 'string') return value;
  return name === 'PROXY_LISTING_TOKEN_KEY_SECRET'
    ? 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ListingTokenKey-AbCdEf'
    : '{"type":"dynamodb","tableName":"resolved-table"}';
}

describe('proxy stack template', () => {
  let template: Template;
  let assemblyDir: string;

  beforeAll(() => {
    const { app, stack } = buildStack();
    template = Template.fromStack(stack);
    assemblyDir = app.synth().directory;
  });

  it('grants s3:GetObject only under the mapped table prefixes', () => {
    const s3 = statements(template).filter((s) => actionsOf(s).some((a) => a.startsWith('s3:')));
    const get = s3.filter((s) => actionsOf(s).includes('s3:GetObject'));
    expect(get.flatMap((s) => s.Resource as string[]).sort()).toEqual([
      'arn:aws:s3:::lake-bucket/gold/trades/*',
      'arn:aws:s3:::lake-bucket/silver/customers/*',
      'arn:aws:s3:::other-bucket/events/*',
    ]);
    expect(new Set(s3.flatMap(actionsOf))).toEqual(new Set(['s3:GetObject', 's3:ListBucket']));
  });

  it('allows s3:ListBucket per bucket only for s3:prefix values inside the mapped prefixes', () => {
    const list = statements(template).filter((s) => actionsOf(s).includes('s3:ListBucket'));
    expect(list.map((s) => [s.Resource, s.Condition])).toEqual(
      expect.arrayContaining([
        [
          'arn:aws:s3:::lake-bucket',
          { StringLike: { 's3:prefix': ['gold/trades/*', 'silver/customers/*'] } },
        ],
        ['arn:aws:s3:::other-bucket', { StringLike: { 's3:prefix': ['events/*'] } }],
      ]),
    );
    expect(list).toHaveLength(2);
  });

  it('lets the function only read the grants table and use its key, nothing else', () => {
    const all = statements(template).flatMap(actionsOf);
    expect(
      all.filter((a) => a.startsWith('dynamodb:')).every((a) => !/Put|Update|Delete|Write/.test(a)),
    ).toBe(true);
    expect(all.filter((a) => a.startsWith('kms:')).sort()).toEqual(['kms:Decrypt', 'kms:DescribeKey']);
    expect(all.some((a) => a.includes('*'))).toBe(false);
    template.resourceCountIs('AWS::IAM::ManagedPolicy', 0);
    template.hasResourceProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.absent() });
  });

  it('reads the grants table only as the proxy does (GetItem, Query): no Scan returning every secret', () => {
    const dynamo = statements(template).filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
    expect(dynamo.flatMap(actionsOf).sort()).toEqual(['dynamodb:GetItem', 'dynamodb:Query']);
    expect(dynamo.flatMap((s) => [s.Resource].flat())).toEqual([
      { 'Fn::GetAtt': [expect.stringMatching(/^GrantsTable/), 'Arn'] },
    ]);
  });

  it('exposes a response-streaming Function URL with auth NONE (the proxy verifies SigV4)', () => {
    template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'NONE', InvokeMode: 'RESPONSE_STREAM' });
    template.hasOutput('ProxyEndpoint', {});
  });

  it('runs Node 22 on arm64 with a configuration the proxy itself accepts', () => {
    const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0] as {
      Properties: {
        Runtime: string;
        Architectures: string[];
        Handler: string;
        Environment: { Variables: Record<string, unknown> };
      };
    };
    expect(fn.Properties.Runtime).toBe('nodejs22.x');
    expect(fn.Properties.Architectures).toEqual(['arm64']);
    expect(fn.Properties.Handler).toBe('index.handler');
    const vars = fn.Properties.Environment.Variables;
    expect(vars.PROXY_DATABASE).toEqual({
      'Fn::Join': [
        '',
        ['{"type":"dynamodb","tableName":"', { Ref: expect.stringMatching(/^GrantsTable/) }, '"}'],
      ],
    });
    const env = Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, resolvedValue(k, v)]));
    expect(env.NODE_OPTIONS).toBeUndefined();
    const config = loadConfig({ env });
    expect(config.tableMapping).toEqual(SETTINGS.tableMapping);
    expect(config.getMode).toBe('proxy');
    expect(config.logView).toBe('raw');
    expect(config.databaseEnabled).toBe(true);
    expect(config.readOnly).toBe(true);
    expect(config.database?.tableName).toBe('resolved-table');
  });

  it('ships a minified ESM bundle split into chunks, SDK inside, source maps beside, module init within the size budget', async () => {
    const bundleDir = readdirSync(assemblyDir)
      .filter((d) => d.startsWith('asset.'))
      .map((d) => path.join(assemblyDir, d))
      .find((d) => existsSync(path.join(d, 'index.mjs')));
    expect(bundleDir).toBeDefined();
    const shipped = readdirSync(bundleDir!).sort();
    const modules = shipped.filter((f) => f.endsWith('.mjs'));
    expect(modules).toContain('index.mjs');
    // Only the modules and their maps: no metafile, no package.json, no node_modules.
    expect(shipped).toEqual(modules.flatMap((f) => [f, `${f}.map`]).sort());
    for (const file of modules) {
      const code = readFileSync(path.join(bundleDir!, file), 'utf8');
      expect(code.startsWith("import{createRequire as __bundleCreateRequire}from'node:module';")).toBe(true);
      // Real imports only: the SDK's own error messages mention `require("@aws-sdk/...")` in text.
      expect(code).not.toMatch(
        /(^|[;}\n])\s*import[^;'"]*from\s*["']@aws-sdk\/|[=(,]\s*require\(["']@aws-sdk\/[^"']*["']\)/,
      );
      expect(code).toContain(`sourceMappingURL=${file}.map`);
      // No comments but the source-map link.
      expect(code).not.toMatch(/@license|@preserve|^\s*\/\/(?!# sourceMappingURL=)/m);
    }
    const all = modules.map((f) => readFileSync(path.join(bundleDir!, f), 'utf8')).join('\n');
    // Minified: esbuild leaves newlines only inside template literals, so lines run to thousands
    // of characters (readable code averages under 40).
    expect(all.length / all.split('\n').length).toBeGreaterThan(1000);
    // The bundle alias took effect: the SDK's default credential chain is environment-only.
    expect(all).toContain('@aws-sdk/credential-provider-env - fromEnv');
    expect(all).not.toContain('defaultProvider::fromSSO');
    // hyparquet ships as patched (patches/): hostile run lengths in a checkpoint are bounded.
    expect(all).toContain('parquet rle/bit-packed hybrid at offset');

    // What `npm run build` makes (and the bench measures) is byte for byte what ships.
    const outdir = path.join(tempDir('bundle-'), 'lambda');
    await buildLambda(outdir, { writeMeta: true });
    const metafile = JSON.parse(readFileSync(path.join(outdir, 'meta.json'), 'utf8')) as Metafile;
    expect(readdirSync(outdir).sort()).toEqual([...shipped, 'meta.json'].sort());
    for (const file of shipped)
      expect(readFileSync(path.join(outdir, file)).equals(readFileSync(path.join(bundleDir!, file)))).toBe(
        true,
      );

    // The cold-start budget: module init is dominated by parsing, which grows with the bytes it
    // loads (the entry and the chunks it imports statically).
    const parts = bundleParts(metafile);
    expect(parts.initialBytes).toBeLessThanOrEqual(BUNDLE_BUDGET_BYTES);
    // What only some requests need is not among them: the filtered log view with its Parquet
    // writer, and the DynamoDB client (both loaded on first use, test/lambda/lambda-bundle.test.ts).
    const initInputs = parts.initial.flatMap((f) => Object.keys(f.inputs));
    expect(initInputs.some((i) => i.includes('lambda/log-view/filtered-log-view.ts'))).toBe(false);
    expect(initInputs.some((i) => i.includes('node_modules/hyparquet-writer/'))).toBe(false);
    expect(initInputs.some((i) => i.includes('node_modules/@aws-sdk/client-dynamodb/'))).toBe(false);
    // Only the schemas of the S3 operations the proxy sends remain (the literal-trait-keys plugin).
    expect(all).not.toContain('PutBucketLifecycleConfiguration');
  });

  it('keeps grants and keys in one on-demand pk/sk table with PITR and a rotating customer key', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      TableName: 'delta-proxy-grants-test',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: Match.anyValue() },
      DeletionProtectionEnabled: true,
    });
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain' });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  it('keeps logs for a bounded time and alarms on errors, throttles, 5xx and p99 duration', () => {
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: Match.anyValue() });
    template.hasResourceProperties('AWS::Logs::MetricFilter', { FilterPattern: '{ $.level = "error" }' });
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map(
      (a) => (a as { Properties: Record<string, unknown> }).Properties,
    );
    // Alarms on one metric each (the proxy's own metric-math alarms: proxy-monitoring.test.ts).
    const byMetric = new Map(alarms.filter((a) => a.MetricName).map((a) => [a.MetricName as string, a]));
    expect([...byMetric.keys()].sort()).toEqual([
      'AdapterErrors',
      'Duration',
      'Errors',
      'Throttles',
      'Url5xxCount',
    ]);
    expect(byMetric.get('Duration')?.ExtendedStatistic).toBe('p99');
    expect(byMetric.get('Duration')?.Threshold).toBe(48_000);
    for (const alarm of alarms) expect(alarm.AlarmActions).toHaveLength(1);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
  });

  it('passes cdk-nag AwsSolutions with only the acknowledged, justified findings', () => {
    const report = JSON.parse(readFileSync(path.join(assemblyDir, 'validation-report.json'), 'utf8')) as {
      pluginReports: {
        pluginName: string;
        conclusion: string;
        violations: unknown[];
        suppressedViolations: { ruleName: string }[];
      }[];
    };
    const nag = report.pluginReports.find((r) => r.pluginName === 'AwsSolutions');
    expect(nag?.conclusion).toBe('success');
    expect(nag?.violations).toEqual([]);
    expect(nag?.suppressedViolations.map((v) => v.ruleName).sort()).toEqual([
      'AwsSolutions-IAM5[Resource::arn:aws:s3:::lake-bucket/gold/trades/*]',
      'AwsSolutions-IAM5[Resource::arn:aws:s3:::lake-bucket/silver/customers/*]',
      'AwsSolutions-IAM5[Resource::arn:aws:s3:::other-bucket/events/*]',
      'AwsSolutions-L1',
      'AwsSolutions-SMG4',
    ]);
  });

  it('gives every instance the same generated listing-token key, by its ARN only', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0] as {
      Properties: { Environment: { Variables: Record<string, unknown> } };
    };
    const vars = fn.Properties.Environment.Variables;
    // The secret's ARN (Ref); the function reads the value at cold start (test/lambda/secrets-cold-start.test.ts).
    expect(vars.PROXY_LISTING_TOKEN_KEY_SECRET).toEqual({ Ref: expect.stringMatching(/^ListingTokenKey/) });
    expect(vars.PROXY_LISTING_TOKEN_KEY).toBeUndefined();
  });
});

/** The function's environment as Lambda would see it: tokens resolved, AWS_REGION set. */
function lambdaEnv(template: Template, region: string): Record<string, string> {
  const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0] as {
    Properties: { Environment: { Variables: Record<string, unknown> } };
  };
  const vars = Object.entries(fn.Properties.Environment.Variables).map(([k, v]) => [k, resolvedValue(k, v)]);
  return { ...Object.fromEntries(vars), AWS_REGION: region };
}

describe('deploying next to real buckets', () => {
  const KEY_EU = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
  const KEY_US = 'arn:aws:kms:us-west-2:444455556666:key/0987dcba-09fe-87dc-65ba-ab0987654321';
  let template: Template;
  beforeAll(() => {
    const { stack } = buildStack({ ...SETTINGS, backendRegion: 'us-west-2', kmsKeyArns: [KEY_EU, KEY_US] });
    template = Template.fromStack(stack);
  });

  it("reads the buckets in the stack's own region by default, or in the region the settings name", () => {
    const { stack } = buildStack();
    const byDefault = loadConfig({ env: lambdaEnv(Template.fromStack(stack), stack.region) });
    expect(byDefault.s3.region).toBe('eu-west-1');
    expect(loadConfig({ env: lambdaEnv(template, 'eu-west-1') }).s3.region).toBe('us-west-2');
  });

  it('may decrypt with the listed KMS keys of SSE-KMS buckets, only through S3 in the key’s region', () => {
    const kms = statements(template).filter((s) => actionsOf(s).includes('kms:Decrypt'));
    const forBuckets = kms.filter((s) => s.Condition?.StringEquals?.['kms:ViaService'] !== undefined);
    expect(forBuckets.map((s) => [s.Resource, s.Condition])).toEqual(
      expect.arrayContaining([
        [KEY_EU, { StringEquals: { 'kms:ViaService': 's3.eu-west-1.amazonaws.com' } }],
        [KEY_US, { StringEquals: { 'kms:ViaService': 's3.us-west-2.amazonaws.com' } }],
      ]),
    );
    expect(forBuckets).toHaveLength(2);
    for (const s of forBuckets) expect(actionsOf(s)).toEqual(['kms:Decrypt']);
  });

  it('refuses a key alias or a malformed ARN, and a region that is not one', () => {
    expect(() =>
      buildStack({ ...SETTINGS, kmsKeyArns: ['arn:aws:kms:eu-west-1:111122223333:alias/lake'] }),
    ).toThrow(/kmsKeyArns\[0\]/);
    expect(() => buildStack({ ...SETTINGS, backendRegion: 'Europe' })).toThrow(/backendRegion/);
  });
});

describe("the mapped buckets' ARNs in the partition the stack is deployed to", () => {
  const s3Resources = (template: Template) =>
    statements(template)
      .filter((s) => actionsOf(s).some((a) => a.startsWith('s3:')))
      .flatMap((s) => [s.Resource].flat());

  it('names them in aws-cn for a China region (cdk.json targets aws and aws-cn)', () => {
    const { stack } = buildStack(SETTINGS, { account: '123456789012', region: 'cn-north-1' });
    expect((s3Resources(Template.fromStack(stack)) as string[]).sort()).toEqual([
      'arn:aws-cn:s3:::lake-bucket',
      'arn:aws-cn:s3:::lake-bucket/gold/trades/*',
      'arn:aws-cn:s3:::lake-bucket/silver/customers/*',
      'arn:aws-cn:s3:::other-bucket',
      'arn:aws-cn:s3:::other-bucket/events/*',
    ]);
  });

  it('names them with AWS::Partition when the region is known only at deploy time, cdk-nag passing', () => {
    const { stack } = buildStack(SETTINGS, {});
    // Template.fromStack runs the validation plugins: an unacknowledged finding would throw.
    const resources = s3Resources(Template.fromStack(stack));
    expect(resources).toContainEqual({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::lake-bucket/gold/trades/*']],
    });
    expect(resources.every((r) => typeof r !== 'string')).toBe(true);
  });
});

describe('proxy stack options and refusals', () => {
  it('puts the URL on a provisioned alias and reserves concurrency when asked', () => {
    const { stack } = buildStack({ ...SETTINGS, provisionedConcurrency: 2, reservedConcurrency: 20 });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: 20 });
    template.hasResourceProperties('AWS::Lambda::Alias', {
      Name: 'live',
      ProvisionedConcurrencyConfig: { ProvisionedConcurrentExecutions: 2 },
    });
    template.hasResourceProperties('AWS::Lambda::Url', { Qualifier: 'live', InvokeMode: 'RESPONSE_STREAM' });
  });

  it('lists a whole-bucket mapping without an s3:prefix condition and reads bucket/*', () => {
    const { stack } = buildStack({ ...SETTINGS, tableMapping: { all: 's3://whole-bucket' } });
    const s3 = statements(Template.fromStack(stack)).filter((s) =>
      actionsOf(s).some((a) => a.startsWith('s3:')),
    );
    expect(s3.find((s) => actionsOf(s).includes('s3:GetObject'))?.Resource).toBe(
      'arn:aws:s3:::whole-bucket/*',
    );
    expect(s3.find((s) => actionsOf(s).includes('s3:ListBucket'))?.Condition).toBeUndefined();
  });

  it('refuses a setting the proxy would refuse, naming it', () => {
    expect(() => buildStack({ ...SETTINGS, getMode: 'bogus' as never })).toThrow(/PROXY_GET_MODE|getMode/);
    expect(() => buildStack({ ...SETTINGS, tableMapping: { t: 's3://Bad_Bucket/x' } })).toThrow(
      /tableMapping\.t/,
    );
    expect(() => buildStack({ ...SETTINGS, logView: 'partial' as never })).toThrow(/logView/);
    // Settings built in code are held to the same rules as cdk.json's (no silent default).
    expect(() => buildStack({ ...SETTINGS, getmode: 'proxy' } as never)).toThrow(
      /getmode: unknown setting \(did you mean "getMode"\?\)/,
    );
  });

  it('fails synth, not the deploy, when the function environment cannot fit in Lambda’s 4 KB', () => {
    const tableMapping = Object.fromEntries(
      Array.from({ length: 80 }, (_, i) => [
        `table-${i}`,
        `s3://lake-bucket/gold/some/longer/path/table-${i}`,
      ]),
    );
    expect(() => buildStack({ ...SETTINGS, tableMapping })).toThrow(
      /^deltaProxy settings: the function environment is at least \d+ bytes, over Lambda's 4 KB \(PROXY_TABLE_MAPPING: \d+\)/,
    );
    // 20 such tables fit.
    const fits = Object.fromEntries(Object.entries(tableMapping).slice(0, 20));
    expect(() => buildStack({ ...SETTINGS, tableMapping: fits })).not.toThrow();
  });

  it('fails synth when a grant wider than the mapped prefixes is added (cdk-nag is enforced)', () => {
    const { stack } = buildStack();
    stack.fn.role!.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] }));
    expect(() => Template.fromStack(stack)).toThrow(/AwsSolutions-IAM5\[Action::s3:\*\]/);
  });
});
