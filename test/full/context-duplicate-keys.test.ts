/**
 * `-c deltaProxy='{…}'` reaches the app as JSON text. A key written twice in one of its objects
 * was silently resolved by JSON.parse (the last wins), while the proxy refuses the same text in a
 * config file or a PROXY_* variable: `{"region":"EU","region":"US"}` in allowedPartitions deployed
 * a grant of region=US to every caller.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { appContext } from '../../infra/proxy-settings';
import { cdkSynth, isolationMissing } from '../helpers/cdk-synth';
import { withReason } from '../helpers/skips';
import { tempDir } from '../helpers/temp-dir';

const TEXT =
  '{"tableMapping":{"trades":"s3://lake-bucket/gold/trades"},"allowedPartitions":{"trades":[{"region":"EU","region":"US"}]}}';

describe('-c deltaProxy with a key written twice', () => {
  it('is refused, naming the key, before any stack is built', () => {
    expect(() => appContext({ deltaProxy: TEXT })).toThrow(
      /context deltaProxy: allowedPartitions\.trades\[0\]\.region: written twice in one object/,
    );
    expect(() => appContext({ deltaProxy: '{"tableMapping":{}, getMode: "proxy"}' })).toThrow(
      /^context deltaProxy: not valid JSON \(line 1, column \d+\)$/,
    );
  });

  it.skipIf(isolationMissing !== undefined)(
    withReason('cdk synth fails on it and writes no template', isolationMissing),
    () => {
      const out = tempDir('cdk-out-');
      const run = cdkSynth(['--output', out, '-c', `deltaProxy=${TEXT}`]);
      const template = path.join(out, 'DeltaLakeS3Proxy.template.json');
      const deployed = existsSync(template)
        ? JSON.stringify(JSON.parse(readFileSync(template, 'utf8')).Resources).match(
            /PROXY_ALLOWED_PARTITIONS[^}]*}/,
          )?.[0]
        : undefined;
      expect(deployed).toBeUndefined();
      expect(run.status).not.toBe(0);
      expect(run.stderr).toContain('allowedPartitions.trades[0].region: written twice in one object');
    },
    150_000,
  );
});
