/**
 * The region of a DynamoDB target given none: the environment's (AWS_REGION, else the AWS CLI's
 * AWS_DEFAULT_REGION; an empty value is unset), else us-east-1 for a local endpoint (DynamoDB
 * Local and dynalite ignore it, but the SDK refuses to sign without one). The proxy and the admin
 * CLI both use it, so that they read and write the same table. A module of its own: the config
 * must not load the DynamoDB SDK.
 */
export function defaultDynamoRegion(
  env: Readonly<Record<string, string | undefined>>,
  endpoint: string | undefined,
): string | undefined {
  return env.AWS_REGION || env.AWS_DEFAULT_REGION || (endpoint ? 'us-east-1' : undefined);
}
