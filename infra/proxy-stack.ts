/**
 * The deployed proxy: one Lambda behind a streaming Function URL (auth NONE: the function
 * verifies SigV4 itself), a DynamoDB table for grants and access keys encrypted with a rotated
 * customer-managed key, read-only IAM on the mapped prefixes only, logs, alarms, a dashboard.
 */

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  ArnFormat,
  AssetHashType,
  Aws,
  CfnOutput,
  DockerImage,
  Duration,
  RemovalPolicy,
  Stack,
  type StackProps,
  Token,
} from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import type { Construct } from 'constructs';
import { ConfigError, envName } from '../lambda/config';
import { REPO_ROOT } from './bundle-options';
import { ProxyMonitoring } from './proxy-monitoring';
import {
  acknowledgeListingKeyRotation,
  acknowledgePinnedRuntime,
  acknowledgeTablePrefixWildcards,
} from './proxy-nag';
import {
  DEFAULT_MEMORY_MB,
  kmsKeysByRegion,
  mappedPrefixes,
  type ProxySettings,
  proxyEnvironment,
} from './proxy-settings';
import { checkSettings } from './settings-schema';

export interface ProxyStackProps extends StackProps {
  settings: ProxySettings;
}

export class ProxyStack extends Stack {
  readonly fn: lambda.Function;
  readonly table: dynamodb.Table;
  readonly key: kms.Key;
  readonly url: lambda.FunctionUrl;
  readonly monitoring: ProxyMonitoring;

  constructor(scope: Construct, id: string, props: ProxyStackProps) {
    super(scope, id, props);
    // Settings written in code get the checks of cdk.json's: an unknown key fails, never ignored.
    const settings = checkSettings(props.settings);
    const timeout = Duration.seconds(settings.timeoutSeconds ?? 120);

    this.key = new kms.Key(this, 'DataKey', {
      description: 'Encrypts the Delta proxy grants/keys table and its alarm topic',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
      policy: this.dataKeyPolicy(),
    });

    this.table = new dynamodb.Table(this, 'GrantsTable', {
      tableName: settings.grantsTableName,
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.key,
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // Validated against the proxy's own schema before anything is derived from the settings.
    const environment = proxyEnvironment(settings, this.table.tableName);
    // Every instance seals listing continuation tokens with the same key, so a paged listing can
    // resume on any instance. Generated here; the environment (readable with
    // lambda:GetFunctionConfiguration) holds only its ARN, the function reads it at cold start.
    const listingTokenKey = new secretsmanager.Secret(this, 'ListingTokenKey', {
      description: 'Delta proxy: key of sealed listing continuation tokens',
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
    });
    acknowledgeListingKeyRotation(listingTokenKey);
    environment[envName('listingTokenKeySecret')] = listingTokenKey.secretArn;

    const logGroup = new logs.LogGroup(this, 'ProxyLogs', {
      retention: settings.logRetentionDays ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // A role of our own: log writing scoped to this log group instead of the broad managed policy.
    const role = new iam.Role(this, 'ProxyRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Delta proxy: read mapped table prefixes, read grants/keys, write its logs',
    });
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'WriteOwnLogs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn],
      }),
    );
    assertOnePartition(this.knownPartition(), this.region, settings);
    this.grantMappedPrefixes(role, settings.tableMapping);
    this.grantBucketKeys(role, settings.kmsKeyArns);
    // Grants and keys are only read by the function, as the proxy reads them: a key by GetItem, a
    // principal's grants by Query. No Scan (it would return every secret at once), no BatchGetItem;
    // the admin CLI writes and lists with its own credentials.
    this.table.grant(role, 'dynamodb:GetItem', 'dynamodb:Query');
    // The secrets the function reads at cold start, and no other. Both are encrypted with the
    // account's aws/secretsmanager key (a customer key on the metrics secret needs its own grant).
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadOwnSecrets',
        actions: ['secretsmanager:GetSecretValue'],
        resources: [
          listingTokenKey.secretArn,
          ...(settings.metricsTokenSecret ? [this.secretArnForPolicy(settings.metricsTokenSecret)] : []),
        ],
      }),
    );
    this.key.grant(role, 'kms:Decrypt', 'kms:DescribeKey');

    const functionEnvironment = {
      ...environment,
      ...(settings.enableSourceMaps ? { NODE_OPTIONS: '--enable-source-maps' } : {}),
    };
    assertEnvironmentFits(functionEnvironment, settings);

    this.fn = new lambda.Function(this, 'ProxyFunction', {
      code: lambdaBundle(),
      handler: 'index.handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: settings.memorySize ?? DEFAULT_MEMORY_MB,
      timeout,
      role,
      logGroup,
      reservedConcurrentExecutions: settings.reservedConcurrency,
      environment: functionEnvironment,
    });

    const target: lambda.IFunction =
      settings.provisionedConcurrency !== undefined
        ? this.fn.addAlias('live', { provisionedConcurrentExecutions: settings.provisionedConcurrency })
        : this.fn;
    this.url = new lambda.FunctionUrl(this, 'ProxyUrl', {
      function: target,
      authType: lambda.FunctionUrlAuthType.NONE,
      invokeMode: lambda.InvokeMode.RESPONSE_STREAM,
    });

    const topic = new sns.Topic(this, 'AlarmTopic', { masterKey: this.key, enforceSSL: true });
    // CloudWatch alarms can only publish to an encrypted topic if the key lets CloudWatch use it;
    // for this account's alarms only, not another's naming this topic (confused deputy).
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsOfThisAccount',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: {
          StringEquals: { 'aws:SourceAccount': this.account },
          ArnLike: {
            'aws:SourceArn': this.formatArn({
              service: 'cloudwatch',
              resource: 'alarm',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
    for (const email of settings.alarmEmails ?? [])
      topic.addSubscription(new subscriptions.EmailSubscription(email));

    this.monitoring = new ProxyMonitoring(this, 'Monitoring', { fn: this.fn, logGroup, topic, timeout });

    new CfnOutput(this, 'ProxyEndpoint', { value: this.url.url, description: 'S3 endpoint URL for clients' });
    new CfnOutput(this, 'GrantsTableName', { value: this.table.tableName });
    new CfnOutput(this, 'FunctionName', { value: this.fn.functionName });
    new CfnOutput(this, 'LogGroupName', { value: logGroup.logGroupName });
    new CfnOutput(this, 'DashboardName', { value: this.monitoring.dashboard.dashboardName });
    new CfnOutput(this, 'AlarmTopicArn', { value: topic.topicArn });

    acknowledgePinnedRuntime(this.fn);
  }

  /**
   * Instead of CDK's default (the account root may do kms:*, so any principal whose IAM policy
   * says kms:Decrypt may decrypt directly): the account administers the key (never locked out: a
   * key no one may administer cannot be repaired) but uses it only through DynamoDB, as the
   * function and the admin CLI read the table; IAM still decides which of its principals may.
   */
  private dataKeyPolicy(): iam.PolicyDocument {
    const account = new iam.AccountRootPrincipal();
    return new iam.PolicyDocument({
      statements: [
        new iam.PolicyStatement({
          sid: 'AccountAdministersKey',
          principals: [account],
          // AWS's default key-administrator actions, but CreateAlias for kms:Create*: a grant
          // (CreateGrant) would let its holder decrypt outside DynamoDB.
          actions: [
            'kms:CreateAlias',
            'kms:Describe*',
            'kms:Enable*',
            'kms:List*',
            'kms:Put*',
            'kms:Update*',
            'kms:Revoke*',
            'kms:Disable*',
            'kms:Get*',
            'kms:Delete*',
            'kms:TagResource',
            'kms:UntagResource',
            'kms:ScheduleKeyDeletion',
            'kms:CancelKeyDeletion',
            'kms:RotateKeyOnDemand',
          ],
          resources: ['*'],
        }),
        new iam.PolicyStatement({
          sid: 'AccountUsesKeyThroughDynamoDB',
          principals: [account],
          actions: [
            'kms:Encrypt',
            'kms:Decrypt',
            'kms:ReEncrypt*',
            'kms:GenerateDataKey*',
            'kms:CreateGrant',
            'kms:DescribeKey',
          ],
          resources: ['*'],
          conditions: {
            StringEquals: {
              'kms:ViaService': viaService('dynamodb', this.region),
              'kms:CallerAccount': this.account,
            },
          },
        }),
      ],
    });
  }

  /**
   * Reading an SSE-KMS object needs kms:Decrypt on its key; S3 makes that call in the key's
   * region on the function's behalf, so the grant holds only through S3 (kms:ViaService).
   */
  private grantBucketKeys(role: iam.Role, arns: string[] | undefined): void {
    for (const [region, keys] of kmsKeysByRegion(arns)) {
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: `DecryptMappedBuckets${region.replace(/-/g, '')}`,
          actions: ['kms:Decrypt'],
          resources: keys,
          conditions: { StringEquals: { 'kms:ViaService': viaService('s3', region) } },
        }),
      );
    }
  }

  /**
   * A secret named by name or ARN, as a policy resource: Secrets Manager appends "-" and six
   * random characters to a secret's name in its ARN, which a name or partial ARN lacks.
   */
  private secretArnForPolicy(secret: string): string {
    if (/^arn:.*-[A-Za-z0-9]{6}$/.test(secret)) return secret;
    if (secret.startsWith('arn:')) return `${secret}-??????`;
    return this.formatArn({
      partition: this.knownPartition() ?? Aws.PARTITION,
      service: 'secretsmanager',
      resource: 'secret',
      resourceName: `${secret}-??????`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }

  /**
   * The partition of the stack's region (aws, aws-cn, aws-us-gov): an S3 ARN of another partition
   * matches nothing there. A literal when the region is known at synth, else AWS::Partition.
   */
  private knownPartition(): string | undefined {
    return Token.isUnresolved(this.region) ? undefined : RegionInfo.get(this.region).partition;
  }

  private s3ArnPrefix(): { arn: string; nagArn: string } {
    const partition = this.knownPartition();
    // cdk-nag names a finding by the resolved resource, with `<AWS::Partition>` for the pseudo parameter.
    return partition
      ? { arn: `arn:${partition}:s3:::`, nagArn: `arn:${partition}:s3:::` }
      : { arn: `arn:${Aws.PARTITION}:s3:::`, nagArn: 'arn:<AWS::Partition>:s3:::' };
  }

  /** GetObject under each mapped prefix; ListBucket only with an s3:prefix inside them. */
  private grantMappedPrefixes(role: iam.Role, tableMapping: Record<string, string>): void {
    const s3 = this.s3ArnPrefix();
    for (const [bucket, prefixes] of mappedPrefixes(tableMapping)) {
      const objects = prefixes.map((prefix) => `${bucket}/${prefix}*`);
      role.addToPolicy(
        new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: objects.map((o) => s3.arn + o) }),
      );
      acknowledgeTablePrefixWildcards(
        role,
        objects.map((o) => s3.nagArn + o),
      );
      const listStatement = new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [`${s3.arn}${bucket}`],
      });
      // A whole-bucket mapping ("" prefix) needs no condition; otherwise listing stays inside.
      if (!prefixes.includes('')) {
        listStatement.addCondition('StringLike', { 's3:prefix': prefixes.map((prefix) => `${prefix}*`) });
      }
      role.addToPolicy(listStatement);
    }
  }
}

/**
 * A service's endpoint in a region as kms:ViaService names it: the domain is the partition's
 * (amazonaws.com.cn in China), known at synth for a known region, else the stack's AWS::URLSuffix
 * (a role uses keys of its own partition only).
 */
function viaService(service: string, region: string): string {
  const suffix = Token.isUnresolved(region) ? undefined : RegionInfo.get(region).domainSuffix;
  return `${service}.${region}.${suffix ?? Aws.URL_SUFFIX}`;
}

/**
 * A role's credentials and policies hold in the partition of its region only: buckets read in
 * another (backendRegion) refuse every call, and IAM refuses a policy naming another's key.
 */
function assertOnePartition(partition: string | undefined, region: string, settings: ProxySettings): void {
  if (partition === undefined) return;
  const refuse = (field: string, other: string) =>
    new ConfigError(
      `deltaProxy settings: ${field}: in partition ${other}, but the stack's region ${region} is in ${partition}`,
    );
  const backend = settings.backendRegion && RegionInfo.get(settings.backendRegion).partition;
  if (backend && backend !== partition) throw refuse('backendRegion', backend);
  for (const [i, arn] of (settings.kmsKeyArns ?? []).entries()) {
    const key = /^arn:([^:]+):/.exec(arn)?.[1];
    if (key && key !== partition) throw refuse(`kmsKeyArns[${i}]`, key);
  }
}

/** Lambda refuses a function whose environment variables (as JSON) exceed 4 KB: at deploy, after the build. */
const LAMBDA_ENVIRONMENT_BYTES = 4096;

/**
 * Fails synth when the environment cannot fit, counting what CloudFormation resolves at deploy
 * time at its least (the table name as set, else 3 characters; the listing-token key secret's ARN
 * at its shortest), so a deployment that fits is never refused.
 */
function assertEnvironmentFits(env: Record<string, string>, settings: ProxySettings): void {
  const atLeast: Record<string, string> = {
    [envName('database')]: JSON.stringify({ type: 'dynamodb', tableName: settings.grantsTableName ?? 'xxx' }),
    // The generated secret's ARN at its shortest: arn:aws:secretsmanager:, a 9-character region,
    // the account, ":secret:", a 1-character name and its "-" with 6 random characters.
    [envName('listingTokenKeySecret')]: 'x'.repeat(61),
  };
  const resolved = Object.fromEntries(
    Object.entries(env).map(([name, value]) => [
      name,
      Token.isUnresolved(value) ? (atLeast[name] ?? '') : value,
    ]),
  );
  const bytes = Buffer.byteLength(JSON.stringify(resolved));
  if (bytes <= LAMBDA_ENVIRONMENT_BYTES) return;
  const largest = Object.entries(resolved).sort((a, b) => b[1].length - a[1].length)[0]!;
  throw new ConfigError(
    `deltaProxy settings: the function environment is at least ${bytes} bytes, over Lambda's 4 KB (${largest[0]}: ${Buffer.byteLength(largest[1])})`,
  );
}

/**
 * The function's code: infra/build.ts run at synth (the esbuild options of bundle-options.ts,
 * which `npm run build` and the cold-start bench use too), offline, without Docker. A directory,
 * not one file: index.mjs and the chunks it loads on demand, each with its source map.
 * NodejsFunction cannot ship it: it runs the esbuild CLI, which takes no plugins and one outfile.
 */
function lambdaBundle(): lambda.Code {
  return lambda.Code.fromAsset(REPO_ROOT, {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Never pulled: local bundling always succeeds or fails the synth.
      image: DockerImage.fromRegistry('dummy'),
      local: {
        tryBundle(outputDir: string): boolean {
          for (const [name, bytes] of builtOnce()) writeFileSync(path.join(outputDir, name), bytes);
          return true;
        },
      },
    },
  });
}

let built: Map<string, Buffer> | undefined;

/** One build per synth process, however many stacks (or tests) it makes: the files, by name. */
function builtOnce(): Map<string, Buffer> {
  if (built) return built;
  const stages = path.join(REPO_ROOT, 'dist', 'stage');
  mkdirSync(stages, { recursive: true });
  const stage = mkdtempSync(path.join(stages, 'synth-'));
  try {
    const dir = path.join(stage, 'lambda');
    const build = spawnSync(process.execPath, ['--import', 'tsx', 'infra/build.ts', dir], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (build.status !== 0)
      throw new Error(`Lambda bundle build failed: ${build.stderr || build.error?.message}`);
    built = new Map(readdirSync(dir).map((name) => [name, readFileSync(path.join(dir, name))]));
    return built;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}
