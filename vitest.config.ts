import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

// Two tiers of one suite. `npm test` runs test/** except test/full/; `npm run test:full`
// (TEST_TIER=full) runs only test/full/: the matrix points of the heavy suites that `npm test`
// leaves out, so the two together are the whole matrix and neither repeats the other.
const full = process.env.TEST_TIER === 'full';

/**
 * The longest files start first, longest first, so that none is the last one left running on one
 * core. vitest orders by the last run's durations, which a fresh clone does not have (and, without
 * them, by file size: the heavy ones are short wrappers of suites in test/helpers/). Measured time
 * per file, both tiers, 2026-12-05 (a name matches a path segment's start: `/load.test` is not
 * `/load-early-disconnect`).
 */
const LONGEST = [
  'authz-corpus',
  'authz-listing',
  's3-conformance',
  'listing-tokens',
  'filtered-log-corpus',
  'big-commit-loop',
  'big-reads',
  'refresh-loop',
  'big-commit-replay-loop',
  'history-corpus',
  'sigv4-python-clients',
  'sigv4-aws-cli-regions',
  'load.test',
  'load-node',
  'client-helper',
  'secrets-cold-start',
  'fault-injection',
  'cdk-synth',
  'proxy-stack',
  'history-rewrite',
  'buffered-idle-client',
  'refresh-agreement',
  'listing-edges',
  'audit-truth',
  'checkpoint-rewrite',
  'log-shapes',
  'cdc-listing-loop',
  'allowed-set-loop',
  'npm-start',
  'admin/cli.test',
];
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => {
      const i = LONGEST.findIndex((name) => f.moduleId.includes(`/${name}`));
      return i < 0 ? LONGEST.length : i;
    };
    const sorted = await super.sort(files);
    return sorted
      .map((f, i) => ({ f, i }))
      .sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i)
      .map(({ f }) => f);
  }
}

export default defineConfig({
  test: {
    include: full ? ['test/full/**/*.test.ts'] : ['test/**/*.test.ts'],
    exclude: full ? [] : ['test/full/**'],
    globalSetup: ['test/helpers/global-setup.ts'],
    setupFiles: ['test/helpers/safe-env.ts', 'test/helpers/temp-dir-cleanup.ts'],
    // Bounds against hangs, not performance checks: on a 2-core machine shared with other work a
    // slow test is not a failing one.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Files run one after another in a worker's process and module graph, instead of a fresh one
    // each: importing the SDKs and the proxy again for every file was ~130 s of the suite's
    // worker time on a 2-core machine. Tests therefore leave no state behind: what they change
    // (process.env, spies, timers) they restore, and they hand the SDK copies of shared objects
    // (it writes into a credentials object).
    isolate: false,
    // vitest's default is one worker per core less one: a single worker on a 2-core machine, so
    // files ran one after another. Most of a file's time is spent waiting on its servers (s3rver,
    // moto, dynalite run as child processes), so three files at once keep both cores busy.
    maxWorkers: 3,
    sequence: { sequencer: LongestFirst },
    reporters: ['default', 'json'],
    outputFile: { json: full ? '.test-results-full.json' : '.test-results.json' },
  },
});
