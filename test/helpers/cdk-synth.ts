/**
 * `cdk synth` as a user runs it, inside a network namespace with no interfaces (unshare -rn),
 * which proves synth needs no network at all; skipped with its reason where that is not allowed.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');

export const isolationMissing =
  spawnSync('unshare', ['-rn', 'true']).status === 0
    ? undefined
    : 'needs unshare -rn (an unprivileged user and network namespace)';

/** `cwd`: the project directory (its cdk.json); this repository's CDK CLI runs it. */
export function cdkSynth(args: string[], cwd = REPO_ROOT) {
  return spawnSync(
    'unshare',
    ['-rn', path.join(REPO_ROOT, 'node_modules/.bin/cdk'), 'synth', '--quiet', '--no-notices', ...args],
    {
      cwd,
      encoding: 'utf8',
      timeout: 120_000,
      env: {
        ...process.env,
        CDK_DISABLE_VERSION_CHECK: 'true',
        CDK_DISABLE_CLI_TELEMETRY: 'true',
        AWS_EC2_METADATA_DISABLED: 'true',
      },
    },
  );
}
