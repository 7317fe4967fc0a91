/**
 * Stands in for `@aws-sdk/credential-provider-node` in the Lambda bundle only: infra/bundle-options.ts
 * aliases that package to this module, so the bundled S3 and DynamoDB clients resolve their
 * default credentials from the environment and nothing else.
 *
 * Why: in Lambda the execution role's credentials are always in the environment
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, set before init), which is the
 * first link of the SDK's default chain anyway. The rest of that chain (SSO, ini files, process,
 * web identity, login, ECS/EC2 metadata, with the STS/SSO clients they embed) is ~100 KB of
 * minified bundle and module init that can never succeed earlier. Outside the bundle (tests,
 * `npm start`, the admin CLI) nothing is aliased and the SDK's full chain applies.
 * (Lambda SnapStart would hand credentials over a container endpoint instead; the stack does not
 * use SnapStart, which Node.js functions do not offer.)
 */
import { fromEnv } from '@aws-sdk/credential-provider-env';

export const defaultProvider = (init?: Parameters<typeof fromEnv>[0]) => fromEnv(init);
