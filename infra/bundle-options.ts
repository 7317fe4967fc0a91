/**
 * One set of esbuild settings for the Lambda bundle, used by `npm run build`, by the CDK stack's
 * asset (which runs infra/build.ts) and by the cold-start bench, so what is benchmarked is what ships.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Metafile } from 'esbuild';
import { literalTraitKeysPlugin } from './literal-trait-keys';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const LAMBDA_ENTRY = path.join(REPO_ROOT, 'lambda', 'index.ts');

/**
 * Cold-start budgets (issue 8): held by test/infra (size) and reported by `npm run bench -- coldstart`.
 * The size budget is for what module init parses: the entry and the chunks it imports statically
 * (bundleParts().initialBytes); the lazily loaded chunks are reported beside it.
 */
export const BUNDLE_BUDGET_BYTES = 600 * 1024;
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

/**
 * Options for the esbuild JavaScript API (`infra/build.ts`, the stack's asset, `bench/coldstart.ts`).
 * ESM with code splitting: `outdir/index.mjs` is the handler; what only some requests or
 * configurations need is reached through dynamic `import()` (core/lazy-module.ts) and lands in
 * chunks of its own, which module init does not parse. Code the two share goes into `chunk-*.mjs`
 * files the entry imports statically.
 */
export function esbuildOptions(entry: string, outdir: string) {
  return {
    entryPoints: { index: entry },
    outdir,
    absWorkingDir: REPO_ROOT,
    bundle: true,
    splitting: true,
    chunkNames: '[name]-[hash]',
    outExtension: { '.js': '.mjs' },
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
    plugins: [literalTraitKeysPlugin],
    logLevel: 'warning' as const,
  };
}

export interface BundleFile {
  /** Path relative to the directory of index.mjs. */
  file: string;
  bytes: number;
  /** Bytes each source file (a path relative to the repository) takes in this file. */
  inputs: Record<string, number>;
}

export interface BundleParts {
  /** What module init parses: the entry and every chunk it imports statically, entry first. */
  initial: BundleFile[];
  /** Chunks reached only through a dynamic import(), parsed when first needed. */
  lazy: BundleFile[];
  initialBytes: number;
  totalBytes: number;
}

/** Splits a build's JavaScript outputs into what module init loads and what loads later. */
export function bundleParts(metafile: Metafile): BundleParts {
  const js = Object.entries(metafile.outputs).filter(([out]) => out.endsWith('.mjs'));
  const entry = js.find(([, o]) => o.entryPoint !== undefined);
  if (!entry) throw new Error('the build has no entry output');
  const initial = new Set<string>();
  const visit = (out: string) => {
    if (initial.has(out)) return;
    initial.add(out);
    for (const i of metafile.outputs[out]?.imports ?? [])
      if (i.kind === 'import-statement' && !i.external) visit(i.path);
  };
  visit(entry[0]);
  const dir = path.dirname(entry[0]);
  const file = ([out, o]: (typeof js)[number]): BundleFile => ({
    file: path.relative(dir, out),
    bytes: o.bytes,
    inputs: Object.fromEntries(
      Object.entries(o.inputs).map(([input, { bytesInOutput }]) => [input, bytesInOutput]),
    ),
  });
  const initialFiles = [...initial].map((out) => file([out, metafile.outputs[out]!]));
  const lazy = js
    .filter(([out]) => !initial.has(out))
    .map(file)
    .sort((a, b) => b.bytes - a.bytes);
  const sum = (files: BundleFile[]) => files.reduce((n, f) => n + f.bytes, 0);
  return {
    initial: initialFiles,
    lazy,
    initialBytes: sum(initialFiles),
    totalBytes: sum(initialFiles) + sum(lazy),
  };
}
