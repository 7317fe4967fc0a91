/**
 * `npm run build`: bundles the Lambda entry into dist/lambda/ (index.mjs, its chunks, their .map
 * files, meta.json). `node --import tsx infra/build.ts DIR` builds into DIR instead: the stack's
 * asset runs it so (proxy-stack.ts), and only the deployable files land there.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { type BundleParts, bundleParts, esbuildOptions, LAMBDA_ENTRY, REPO_ROOT } from './bundle-options';

export const OUTDIR = path.join(REPO_ROOT, 'dist', 'lambda');

/**
 * Builds in a fresh directory at a fixed place in the repository, then copies the files to
 * `outdir`. The source maps name their sources relative to where they are written, and the chunk
 * names carry a hash of the output: built in place, the same sources would give other file names
 * in every directory (and on every machine). Staged so, they are the same wherever they go.
 */
export async function buildLambda(
  outdir = OUTDIR,
  { entry = LAMBDA_ENTRY, writeMeta = false }: { entry?: string; writeMeta?: boolean } = {},
): Promise<BundleParts> {
  const stages = path.join(REPO_ROOT, 'dist', 'stage');
  mkdirSync(stages, { recursive: true });
  const stage = mkdtempSync(path.join(stages, 'lambda-'));
  try {
    const result = await build(esbuildOptions(entry, stage));
    const metafile = result.metafile!;
    // dist/lambda is ours to replace; any other directory must be new or empty (the stack's is).
    if (outdir === OUTDIR) rmSync(outdir, { recursive: true, force: true });
    else if (existsSync(outdir) && readdirSync(outdir).length > 0)
      throw new Error(`${outdir} is not empty: the Lambda bundle goes to a new or empty directory`);
    cpSync(stage, outdir, { recursive: true });
    if (writeMeta) writeFileSync(path.join(outdir, 'meta.json'), JSON.stringify(metafile));
    return bundleParts(metafile);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const target = process.argv[2];
  const outdir = target ? path.resolve(target) : OUTDIR;
  const parts = await buildLambda(outdir, { writeMeta: !target });
  const where = path.relative(REPO_ROOT, outdir) || outdir;
  console.log(
    `${where}: module init loads ${kib(parts.initialBytes)} (${parts.initial.map((f) => f.file).join(', ')}); ` +
      `lazy chunks ${kib(parts.totalBytes - parts.initialBytes)} (${parts.lazy.map((f) => `${f.file} ${kib(f.bytes)}`).join(', ')})`,
  );
}
