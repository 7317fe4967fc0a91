import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { awsCliMissing, pythonPackageMissing } from '../../helpers/skips';

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

/**
 * Why a command cannot be used here, or undefined when it can. Python imports and the aws cli
 * answer with skips.ts's reasons, which name the pip package (.ci/run fails on a skip for a
 * package it installed).
 */
export async function unavailable(file: string, args: string[]): Promise<string | undefined> {
  const module =
    file === 'python3' && args[0] === '-c' ? /^import ([\w.]+)$/.exec(args[1] ?? '')?.[1] : undefined;
  if (module) return pythonPackageMissing(module.split('.')[0]!, module);
  if (file === 'aws') return awsCliMissing();
  try {
    await run(file, args, { timeout: 30_000 });
    return undefined;
  } catch (e) {
    return `needs ${file} (${file} ${args.join(' ')}: ${(e as Error).message.split('\n')[0]})`;
  }
}
