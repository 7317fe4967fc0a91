/**
 * `-c stackName=…` names a second deployment. An empty value (`-c stackName=$STAGE` with STAGE
 * unset) fell back to the default stack, DeltaLakeS3Proxy: the deploy meant for another stack
 * replaced the first deployment's settings. It is refused, as an empty PROXY_CONFIG_FILE is.
 */
import { existsSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { appContext } from '../../infra/proxy-settings';
import { cdkSynth, isolationMissing } from '../helpers/cdk-synth';
import { withReason } from '../helpers/skips';
import { tempDir } from '../helpers/temp-dir';

const SETTINGS = { tableMapping: { trades: 's3://lake-bucket/gold/trades' } };

describe('an empty stackName', () => {
  it('is refused, naming it', () => {
    expect(() => appContext({ deltaProxy: SETTINGS, stackName: '' })).toThrow(/context stackName: .*empty/);
    expect(appContext({ deltaProxy: SETTINGS, stackName: 'Second' }).stackName).toBe('Second');
    expect(appContext({ deltaProxy: SETTINGS }).stackName).toBeUndefined();
  });

  it.skipIf(isolationMissing !== undefined)(
    withReason('cdk synth -c stackName= writes no template of the default stack', isolationMissing),
    () => {
      const out = tempDir('cdk-out-');
      const run = cdkSynth(['--output', out, '-c', 'stackName=']);
      const templates = existsSync(out) ? readdirSync(out).filter((f) => f.endsWith('.template.json')) : [];
      expect(templates).toEqual([]);
      expect(run.status).not.toBe(0);
      expect(run.stderr).toContain('context stackName');
    },
    150_000,
  );
});
