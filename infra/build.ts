/** `npm run build`: bundles the Lambda entry to dist/lambda/index.mjs (+ .map, + meta.json). */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { esbuildOptions, LAMBDA_ENTRY, REPO_ROOT } from './bundle-options';

export const OUTFILE = path.join(REPO_ROOT, 'dist', 'lambda', 'index.mjs');

export async function buildLambda(entry = LAMBDA_ENTRY, outfile = OUTFILE): Promise<{ bytes: number }> {
  const result = await build(esbuildOptions(entry, outfile));
  const metafile = result.metafile!;
  writeFileSync(outfile.replace(/\.mjs$/, '.meta.json'), JSON.stringify(metafile));
  const output = metafile.outputs[path.relative(process.cwd(), outfile)];
  return { bytes: output?.bytes ?? 0 };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { bytes } = await buildLambda();
  console.log(`${path.relative(REPO_ROOT, OUTFILE)}: ${(bytes / 1024).toFixed(1)} KiB`);
}
