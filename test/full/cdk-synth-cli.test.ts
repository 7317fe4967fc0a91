// The stack from cdk.json through the cdk CLI with no network (~25 s): `npm run test:full` only;
// npm test synthesizes the same stack in-process (test/infra/proxy-stack.test.ts, validation report included).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cdkSynth, isolationMissing } from '../helpers/cdk-synth';
import { withReason } from '../helpers/skips';

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
});
