/**
 * Secrets named in the configuration (`listingTokenKeySecret`, `metricsTokenSecret`) are read from
 * Secrets Manager once, at start-up, so the deployed function's environment holds only their ARNs
 * (SECURITY.md gap 18). A secret that cannot be read, or whose value the plain field would refuse,
 * fails the start: no request is served with a random listing key or without the metrics token.
 * A secret of key/value pairs (a JSON object, the console's default secret type) is refused too:
 * its whole text would pass as a token, and which key was meant is a guess.
 * Errors name the field and the secret, never its value.
 */
import * as z from 'zod/mini';
import { type Config, ConfigError, ConfigSchema } from './config';

const SECRET_FIELDS = [
  ['listingTokenKeySecret', 'listingTokenKey'],
  ['metricsTokenSecret', 'metricsToken'],
] as const;

/** The config with each named secret's value in its plain field; the same config when none is named. */
export async function resolveSecrets(config: Config): Promise<Config> {
  const wanted = SECRET_FIELDS.filter(([from]) => config[from] !== undefined);
  if (wanted.length === 0) return config;
  // Loaded only here: a server without secrets never parses the SDK client (a chunk of its own in the bundle).
  const { GetSecretValueCommand, SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager');
  const clients = new Map<string | undefined, InstanceType<typeof SecretsManagerClient>>();
  const resolved = { ...config };
  try {
    await Promise.all(
      wanted.map(async ([from, to]) => {
        const id = config[from]!;
        // A full ARN is read in its own region (the function's AWS_REGION may be another).
        const region = /^arn:[^:]+:secretsmanager:([^:]+):/.exec(id)?.[1];
        let client = clients.get(region);
        if (!client) {
          client = new SecretsManagerClient({ ...(region ? { region } : {}), maxAttempts: 3 });
          clients.set(region, client);
        }
        let value: string | undefined;
        try {
          value = (await client.send(new GetSecretValueCommand({ SecretId: id }))).SecretString;
        } catch (e) {
          // The error's name only: the response it came from is not ours to echo.
          throw new ConfigError(`${from}: cannot read ${id} from Secrets Manager (${(e as Error).name})`);
        }
        if (value === undefined) throw new ConfigError(`${from}: ${id} holds no text (SecretString)`);
        if (isJsonObject(value))
          throw new ConfigError(
            `${from}: ${id} holds key/value pairs (JSON); store the ${to} as the secret's plain text`,
          );
        const checked = z.safeParse(ConfigSchema.shape[to], value);
        if (!checked.success)
          throw new ConfigError(`${from}: the value of ${id}: ${checked.error.issues[0]!.message}`);
        resolved[to] = value;
      }),
    );
  } finally {
    for (const client of clients.values()) client.destroy();
  }
  return resolved;
}

function isJsonObject(text: string): boolean {
  if (!text.trimStart().startsWith('{')) return false;
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null;
  } catch {
    return false;
  }
}
