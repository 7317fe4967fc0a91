// The CLI's refusals of mistyped settings (two more synths, ~17 s): `npm run test:full` only;
// the same checks run in-process in test/infra/proxy-settings.test.ts.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cdkSynth, isolationMissing } from '../helpers/cdk-synth';
import { withReason } from '../helpers/skips';

describe('cdk synth through the CLI, mistyped settings', () => {
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
