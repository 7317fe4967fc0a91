/**
 * `npm run build`: bundles the Lambda entry into dist/lambda/ (index.mjs, its chunks, their .map
 * files, meta.json). `node --import tsx infra/build.ts DIR` builds into DIR instead: the stack's
 * asset runs it so (proxy-stack.ts), and only the deployable files land there.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { type BundleParts, bundleParts, esbuildOptions, LAMBDA_ENTRY, REPO_ROOT } from './bundle-options';

export const OUTDIR = path.join(REPO_ROOT, 'dist', 'lambda');

export async function buildLambda(
  outdir = OUTDIR,
  { entry = LAMBDA_ENTRY, writeMeta = true }: { entry?: string; writeMeta?: boolean } = {},
): Promise<BundleParts> {
  const result = await build(esbuildOptions(entry, outdir));
  const metafile = result.metafile!;
  if (writeMeta) writeFileSync(path.join(outdir, 'meta.json'), JSON.stringify(metafile));
  return bundleParts(metafile, outdir);
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
