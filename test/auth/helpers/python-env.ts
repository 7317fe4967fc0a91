import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

export const run = promisify(execFile);

/** An environment for Python clients: explicit keys, no profile, no metadata service, no user config. */
export function clientEnv(
  region: string,
  key: { accessKeyId: string; secretAccessKey: string },
): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AWS_ACCESS_KEY_ID: key.accessKeyId,
    AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
    AWS_DEFAULT_REGION: region,
    AWS_REGION: region,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_MAX_ATTEMPTS: '1',
    PYTHONIOENCODING: 'utf-8',
  };
}

/** Why a command cannot be used here, or undefined when it can. */
export async function unavailable(file: string, args: string[]): Promise<string | undefined> {
  try {
    await run(file, args, { timeout: 30_000 });
    return undefined;
  } catch (e) {
    return `${file} ${args.join(' ')} failed: ${(e as Error).message.split('\n')[0]}`;
  }
}
