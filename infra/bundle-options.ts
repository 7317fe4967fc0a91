/**
 * One set of esbuild settings for the Lambda bundle, used by `npm run build` (esbuild API)
 * and by the CDK stack (NodejsFunction, local esbuild), so what is benchmarked is what ships.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const LAMBDA_ENTRY = path.join(REPO_ROOT, 'lambda', 'index.ts');

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
    banner: { js: CREATE_REQUIRE_BANNER },
    metafile: true,
    logLevel: 'warning' as const,
  };
}
