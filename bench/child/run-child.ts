/**
 * The fresh child processes benches measure in (bench/snapshot.ts, bench/history.ts,
 * bench/filtered-log.ts): the bench file bundled by esbuild, as the Lambda runs one, then run in a
 * new node process that prints its figures (times, peak RSS, ...) as one JSON line.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * bench/NAME.ts bundled into .bench-cache/, one bundle per run: .bench-cache may be shared by
 * several worktrees benchmarking at once. The caller removes it.
 */
export async function bundleBench(name: string): Promise<string> {
  const repoRoot = path.resolve(import.meta.dirname, '../..');
  const out = path.join(repoRoot, '.bench-cache', `${name}-bench-${process.pid}.mjs`);
  const { build } = await import('esbuild');
  await build({
    entryPoints: [path.join(repoRoot, `bench/${name}.ts`)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['s3rver', 'esbuild'],
    outfile: out,
    logLevel: 'warning',
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
  });
  return out;
}

/**
 * Runs `script` with `args` in a fresh node process (`nodeArgs` before the script) and returns the
 * JSON of the last line it printed. Async on purpose: an s3rver in this process serves the child
 * from this event loop.
 */
export async function runBenchChild(
  script: string,
  args: readonly string[],
  options: { nodeArgs?: readonly string[]; timeoutMs?: number } = {},
): Promise<Record<string, number>> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [...(options.nodeArgs ?? []), script, ...args],
    {
      env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true', AWS_EMF_ENVIRONMENT: 'Local' },
      maxBuffer: 1 << 20,
      timeout: options.timeoutMs ?? 300_000,
    },
  );
  return JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, number>;
}
