/**
 * One set of esbuild settings for the Lambda bundle, used by `npm run build` (esbuild API)
 * and by the CDK stack (NodejsFunction, local esbuild), so what is benchmarked is what ships.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const LAMBDA_ENTRY = path.join(REPO_ROOT, 'lambda', 'index.ts');

/**
 * Cold-start budgets (issue 8): held by test/infra (size) and reported by `npm run bench -- coldstart`.
 * 600 KiB before the filtered log view (hyparquet-writer, ~50 KiB) and the metrics (prom-client,
 * aws-embedded-metrics, ~50 KiB); raised to 720 KiB until the lazily needed parts (the checkpoint
 * writer, the DynamoDB client) load as separate chunks.
 */
export const BUNDLE_BUDGET_BYTES = 720 * 1024;
export const INIT_BUDGET_MS = 120;

/** Node 22 is the Lambda runtime (and the oldest runtime all pinned deps support there). */
export const NODE_TARGET = 'node22';

/**
 * ESM output has no `require`; some bundled CommonJS packages call it for Node built-ins.
 * The alias keeps the banner from colliding with names in the bundle.
 */
export const CREATE_REQUIRE_BANNER =
  "import{createRequire as __bundleCreateRequire}from'node:module';const require=__bundleCreateRequire(import.meta.url);";

/** `module` first: the AWS SDK's ES builds tree-shake far better than its CommonJS ones. */
export const MAIN_FIELDS = ['module', 'main'];

/** Everything, the AWS SDK included, is bundled: a pinned SDK, and no slow resolution at init. */
export const EXTERNAL_MODULES: string[] = [];

/**
 * Packages swapped for a smaller module in the Lambda bundle only (tests and `npm start` run the
 * originals). The SDK's default credential chain becomes environment-only: in Lambda the role's
 * credentials are always in the environment (see lambda/adapters/lambda-credentials.ts); and
 * OpenTelemetry's API, which prom-client loads, becomes a two-line stand-in.
 */
export const BUNDLE_ALIASES: Record<string, string> = {
  '@aws-sdk/credential-provider-node': path.join(REPO_ROOT, 'lambda', 'adapters', 'lambda-credentials.ts'),
  // prom-client reads the active span only for exemplars, which the proxy never enables.
  '@opentelemetry/api': path.join(REPO_ROOT, 'lambda', 'metrics', 'no-opentelemetry.ts'),
};

/** The same aliases as esbuild command-line flags (CDK's NodejsFunction runs the esbuild CLI). */
export function aliasArgs(): Record<string, string> {
  return Object.fromEntries(Object.entries(BUNDLE_ALIASES).map(([from, to]) => [`--alias:${from}`, to]));
}

/** Options for the esbuild JavaScript API (`infra/build.ts`, `bench/coldstart.ts`). */
export function esbuildOptions(entry: string, outfile: string) {
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node' as const,
    format: 'esm' as const,
    target: NODE_TARGET,
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    legalComments: 'none' as const,
    mainFields: MAIN_FIELDS,
    external: EXTERNAL_MODULES,
    alias: BUNDLE_ALIASES,
    banner: { js: CREATE_REQUIRE_BANNER },
    metafile: true,
    logLevel: 'warning' as const,
  };
}
