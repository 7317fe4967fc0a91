import { defineConfig } from 'vitest/config';

// Two tiers of one suite. `npm test` runs test/** except test/full/; `npm run test:full`
// (TEST_TIER=full) runs only test/full/: the matrix points of the heavy suites that `npm test`
// leaves out, so the two together are the whole matrix and neither repeats the other.
const full = process.env.TEST_TIER === 'full';

export default defineConfig({
  test: {
    include: full ? ['test/full/**/*.test.ts'] : ['test/**/*.test.ts'],
    exclude: full ? [] : ['test/full/**'],
    globalSetup: ['test/helpers/global-setup.ts'],
    setupFiles: ['test/helpers/safe-env.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // vitest's default is one worker per core less one: a single worker on a 2-core machine, so
    // files ran one after another. Most of a file's time is spent waiting on its servers (s3rver,
    // moto, dynalite run as child processes), so three files at once keep both cores busy.
    maxWorkers: 3,
    reporters: ['default', 'json'],
    outputFile: { json: full ? '.test-results-full.json' : '.test-results.json' },
  },
});
