/**
 * SECURITY.md gap 18: the deployed function's environment names its secrets (ARNs), and the
 * function reads their values from Secrets Manager at cold start. The real Lambda entry
 * (lambda/index.ts, behind the Function URL stand-in) in processes of their own, against moto's
 * Secrets Manager on loopback: two instances given the same secret ARN seal listing tokens with the
 * same key, /metrics opens to the token in its secret, and a secret that cannot be read, is not a
 * valid key, or holds key/value pairs (JSON, as the console's default secret type stores them: its
 * whole text would be the token) fails the start (no request is served with a random key or an
 * unintended token), without the value in a log.
 */
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envName } from '../../lambda/config';
import { ListingTokens } from '../../lambda/s3/listing-token';
import { uploadDemoTable } from '../helpers/fixture-tables';
import { ANALYST } from '../helpers/proxy-harness';
import { spawnProxy } from '../helpers/proxy-run';
import { motoUnavailableReason, type S3Server, startMoto, startS3rver } from '../helpers/s3-servers';
import { signedFetch } from '../helpers/signed-fetch';
import { withReason } from '../helpers/skips';

const LISTING_KEY = 'listing-key-from-secrets-manager-0123456789abcdef';
const METRICS_TOKEN = 'metrics-token-from-secrets-manager-42';
const SHORT_KEY = 'too-short-listing-key-0042';
const KV_TOKEN = 'metrics-token-in-a-key-value-secret-7';
const KV_SECRET = JSON.stringify({ token: KV_TOKEN });
const MOTO_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };

interface Instance {
  url: string;
  /** All it printed, stdout then stderr. */
  stop(): Promise<string>;
}

/** The Lambda entry in a process of its own, its environment as the stack sets it. */
async function startInstance(env: Record<string, string>): Promise<Instance> {
  const run = await spawnProxy(
    [],
    ['test/helpers/lambda-entry-main.ts'],
    env,
    /LISTENING (http:\/\/127\.0\.0\.1:\d+)/,
  );
  return {
    url: run.url,
    stop: async () => {
      const { stdout, stderr } = await run.stop();
      return `${stdout}${stderr}`;
    },
  };
}

const reason = motoUnavailableReason();

describe.skipIf(reason)(withReason('the Lambda entry reading its secrets at cold start', reason), () => {
  let s3: S3Server;
  let moto: S3Server;
  let secrets: SecretsManagerClient;
  const arns: Record<string, string> = {};
  const running: Instance[] = [];
  const outputs: string[] = [];

  const environment = (secretEnv: Record<string, string>): Record<string, string> => {
    const settings = {
      tableMapping: { sales: 's3://lake/w/sales' },
      getMode: 'proxy',
      s3: { endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1' },
      auth: { keys: [ANALYST] },
      grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{ region: 'EU' }] }],
    };
    const env: Record<string, string> = { AWS_ENDPOINT_URL_SECRETS_MANAGER: moto.endpoint, ...secretEnv };
    for (const [field, value] of Object.entries(settings))
      env[envName(field)] = typeof value === 'string' ? value : JSON.stringify(value);
    return env;
  };
  const start = async (secretEnv: Record<string, string>) => {
    const instance = await startInstance(environment(secretEnv));
    running.push(instance);
    return instance;
  };
  const list = (url: string, token: string) =>
    signedFetch(
      url,
      'GET',
      '/datalake',
      `continuation-token=${encodeURIComponent(token)}&list-type=2&prefix=sales%2F`,
      {},
      ANALYST,
    );

  beforeAll(async () => {
    [s3, moto] = await Promise.all([startS3rver(), startMoto()]);
    await uploadDemoTable(s3.endpoint, 'lake', 'w/sales/');
    secrets = new SecretsManagerClient({
      endpoint: moto.endpoint,
      region: 'us-east-1',
      credentials: MOTO_CREDENTIALS,
    });
    for (const [name, value] of [
      ['listing-key', LISTING_KEY],
      ['metrics-token', METRICS_TOKEN],
      ['short-key', SHORT_KEY],
      ['key-value', KV_SECRET],
    ] as const) {
      const created = await secrets.send(
        new CreateSecretCommand({ Name: `delta-proxy/${name}`, SecretString: value }),
      );
      arns[name] = created.ARN!;
    }
  }, 90_000);

  afterAll(async () => {
    for (const instance of running) outputs.push(await instance.stop());
    secrets?.destroy();
    await moto?.stop();
    await s3?.stop();
  });

  it('seals listing tokens with the secret: two instances open the same token, /metrics takes its token', async () => {
    const secretEnv = {
      [envName('listingTokenKeySecret')]: arns['listing-key']!,
      [envName('metricsTokenSecret')]: arns['metrics-token']!,
    };
    const [a, b] = await Promise.all([start(secretEnv), start(secretEnv)]);
    const sealed = new ListingTokens(LISTING_KEY).seal({ after: 'sales/region=EU/', examined: true });
    for (const instance of [a!, b!]) {
      const resumed = await list(instance.url, sealed);
      expect(resumed.status, resumed.text).toBe(200);
      expect(resumed.text).toContain('<Key>sales/region=EU/');
      // Sealed with any other key, the token is refused: the instance's key is the secret's value.
      const foreign = await list(
        instance.url,
        new ListingTokens('x'.repeat(48)).seal({ after: 'sales/region=EU/', examined: true }),
      );
      expect(foreign.status).toBe(400);
      const scrape = await fetch(`${instance.url}/metrics`, {
        headers: { authorization: `Bearer ${METRICS_TOKEN}` },
        signal: AbortSignal.timeout(10_000),
      });
      expect(scrape.status).toBe(200);
      expect(await scrape.text()).toContain('deltaproxy_');
    }
  }, 60_000);

  it.each([
    ['a secret that does not exist', () => `${arns['listing-key']!.slice(0, -6)}NoSuch`],
    ['a secret whose value is too short for a key', () => arns['short-key']!],
  ])(
    'fails the cold start on %s: nothing is served',
    async (_, arn) => {
      const instance = await start({ [envName('listingTokenKeySecret')]: arn() });
      const sealed = new ListingTokens(LISTING_KEY).seal({ after: 'sales/region=EU/', examined: true });
      for (const response of [await list(instance.url, sealed), await list(instance.url, sealed)]) {
        expect(response.status).toBe(500);
        expect(response.text).toContain('<Code>InternalError</Code>');
        expect(response.text).not.toContain('<Key>');
      }
      const output = await instance.stop();
      outputs.push(output);
      expect(output).toMatch(/listingTokenKeySecret/);
    },
    60_000,
  );

  it('fails the cold start on a key/value secret for the metrics token: /metrics opens to neither text', async () => {
    const instance = await start({ [envName('metricsTokenSecret')]: arns['key-value']! });
    for (const token of [KV_SECRET, KV_TOKEN]) {
      const scrape = await fetch(`${instance.url}/metrics`, {
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(10_000),
      });
      expect(scrape.status).not.toBe(200);
      expect(await scrape.text()).not.toContain('deltaproxy_');
    }
    const output = await instance.stop();
    outputs.push(output);
    expect(output).toMatch(/metricsTokenSecret: .* key\/value pairs/);
  }, 60_000);

  it('never writes a secret value to any output', async () => {
    for (const instance of running.splice(0)) outputs.push(await instance.stop());
    const everything = outputs.join('\n');
    expect(everything.length).toBeGreaterThan(0);
    for (const value of [LISTING_KEY, METRICS_TOKEN, SHORT_KEY, KV_TOKEN])
      expect(everything).not.toContain(value);
  });
});
