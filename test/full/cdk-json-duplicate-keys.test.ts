/**
 * cdk.json is where the deployment's settings live. The CDK CLI parses it with JSON.parse, which
 * keeps the last of a key written twice: `"getMode": "proxy", …, "getMode": "presignedUrl"` in
 * deltaProxy synthesized presignedUrl without a word (the proxy refuses such text in its own
 * config file). The app reads cdk.json's text and refuses it, naming the key.
 */

import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { refuseDuplicateKeysInCdkJson } from '../../infra/proxy-settings';
import { cdkSynth, isolationMissing, REPO_ROOT } from '../helpers/cdk-synth';
import { withReason } from '../helpers/skips';
import { tempDir } from '../helpers/temp-dir';

/** A project directory whose cdk.json runs this repository's app with `deltaProxy` as written. */
function project(deltaProxy: string): string {
  const dir = tempDir('cdk-project-');
  const app = `node --import ${path.join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs')} ${path.join(REPO_ROOT, 'infra/app.ts')}`;
  writeFileSync(
    path.join(dir, 'cdk.json'),
    `{"app": ${JSON.stringify(app)}, "context": {"deltaProxy": ${deltaProxy}}}`,
  );
  return dir;
}

const TWICE =
  '{"tableMapping": {"trades": "s3://lake-bucket/gold/trades"}, "getMode": "proxy", "getMode": "presignedUrl"}';

describe('cdk.json with a key written twice', () => {
  it('is refused naming the key; a cdk.json without one, or none, is not', () => {
    expect(() => refuseDuplicateKeysInCdkJson(project(TWICE))).toThrow(
      /^cdk\.json: context\.deltaProxy\.getMode: written twice in one object/,
    );
    expect(() =>
      refuseDuplicateKeysInCdkJson(project('{"tableMapping": {"trades": "s3://lake-bucket/gold/trades"}}')),
    ).not.toThrow();
    expect(() => refuseDuplicateKeysInCdkJson(tempDir('no-cdk-json-'))).not.toThrow();
    expect(() => refuseDuplicateKeysInCdkJson(REPO_ROOT)).not.toThrow();
  });

  it.skipIf(isolationMissing !== undefined)(
    withReason('cdk synth fails on it and writes no template', isolationMissing),
    () => {
      const dir = project(TWICE);
      const out = path.join(dir, 'out');
      const run = cdkSynth(['--output', out], dir);
      const templates = existsSync(out) ? readdirSync(out).filter((f) => f.endsWith('.template.json')) : [];
      expect(templates).toEqual([]);
      expect(run.status).not.toBe(0);
      expect(run.stderr).toContain('context.deltaProxy.getMode: written twice in one object');
    },
    150_000,
  );
});
