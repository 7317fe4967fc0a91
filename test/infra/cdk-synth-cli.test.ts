import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { withReason } from '../helpers/skips';

const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
// A network namespace with no interfaces proves synth needs no network at all.
const isolationMissing =
  spawnSync('unshare', ['-rn', 'true']).status === 0
    ? undefined
    : 'needs unshare -rn (an unprivileged user and network namespace)';

function cdkSynth(args: string[]) {
  return spawnSync(
    'unshare',
    ['-rn', 'npx', '--no-install', 'cdk', 'synth', '--quiet', '--no-notices', ...args],
    {
      cwd: REPO_ROOT,
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

describe('cdk synth through the CLI', () => {
  it.skipIf(isolationMissing !== undefined)(
    withReason('synthesizes the stack from cdk.json with no network (unshare -rn)', isolationMissing),
    () => {
      const out = mkdtempSync(path.join(tmpdir(), 'cdk-out-'));
      try {
        const run = cdkSynth(['--output', out]);
        expect(run.status, run.stderr).toBe(0);
        const template = JSON.parse(readFileSync(path.join(out, 'DeltaLakeS3Proxy.template.json'), 'utf8'));
        const types = Object.values(template.Resources as Record<string, { Type: string }>).map(
          (r) => r.Type,
        );
        expect(types).toEqual(
          expect.arrayContaining(['AWS::Lambda::Url', 'AWS::DynamoDB::Table', 'AWS::CloudWatch::Dashboard']),
        );
        expect(existsSync(path.join(out, 'validation-report.json'))).toBe(true);
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    },
    150_000,
  );

  it.skipIf(isolationMissing !== undefined)(
    withReason(
      'fails on a mistyped key of -c deltaProxy, naming it (never synthesizes the default)',
      isolationMissing,
    ),
    () => {
      const out = mkdtempSync(path.join(tmpdir(), 'cdk-out-'));
      try {
        const context = { tableMapping: { trades: 's3://lake-bucket/gold/trades' }, getmode: 'proxy' };
        const run = cdkSynth(['--output', out, '-c', `deltaProxy=${JSON.stringify(context)}`]);
        expect(run.status).not.toBe(0);
        expect(run.stderr).toContain(
          'deltaProxy settings: getmode: unknown setting (did you mean "getMode"?)',
        );
        expect(existsSync(path.join(out, 'DeltaLakeS3Proxy.template.json'))).toBe(false);
        // A typo in the context key itself would have left cdk.json's deltaProxy in force.
        const misnamed = cdkSynth([
          '--output',
          out,
          '-c',
          `deltaproxy=${JSON.stringify({ tableMapping: {} })}`,
        ]);
        expect(misnamed.status).not.toBe(0);
        expect(misnamed.stderr).toContain('context deltaproxy: unknown (did you mean "deltaProxy"?)');
        expect(existsSync(path.join(out, 'DeltaLakeS3Proxy.template.json'))).toBe(false);
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    },
    150_000,
  );
});
