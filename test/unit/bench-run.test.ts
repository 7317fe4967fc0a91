/** `npm run bench -- NAME`: a name that is no benchmark gets the usage line and the names, not a stack trace. */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/s3-servers';

const run = promisify(execFile);

it.each([['nosuch'], ['../lambda/index'], ['']])(
  'refuses the benchmark name %j with the names it knows',
  async (name) => {
    const failure = await run(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench/run.ts'), name], {
      cwd: REPO_ROOT,
      timeout: 30_000,
    }).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toMatch(/^usage: npm run bench -- <name>/m);
    expect(failure?.stderr).not.toMatch(/ERR_MODULE_NOT_FOUND|\n\s+at /);
    const names = readdirSync(join(REPO_ROOT, 'bench')).filter((f) => f.endsWith('.ts') && f !== 'run.ts');
    for (const f of names) expect(failure?.stderr).toContain(f.slice(0, -3));
  },
);
