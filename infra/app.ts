/**
 * CDK app: `npx cdk synth` / `npx cdk deploy`. Deployment settings come from the cdk.json
 * context key `deltaProxy` (override with `-c deltaProxy='{"tableMapping":{...}}'`).
 * AwsSolutions checks (cdk-nag) run on every synth; an unjustified finding fails it.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { appContext, refuseDuplicateKeysInCdkJson } from './proxy-settings';
import { ProxyStack } from './proxy-stack';

refuseDuplicateKeysInCdkJson();
const app = new App();
const { settings, stackName } = appContext(app.node.getAllContext());
new ProxyStack(app, stackName ?? 'DeltaLakeS3Proxy', {
  settings,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: 'Delta Lake S3 proxy: partition-level read access to Delta tables through an S3 endpoint',
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
app.synth();
