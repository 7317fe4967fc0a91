/**
 * `npm run admin` runs the CLI in the repository's root, whatever directory it was typed in: a
 * relative `--config` must still name the file in that directory (npm's INIT_CWD), as the user's
 * shell sees it, not one of the same name in the checkout.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/s3-servers';
import { tempDir } from '../helpers/temp-dir';

function npmRunAdmin(cwd: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['--prefix', REPO_ROOT, 'run', '-s', 'admin', '--', ...args], {
      cwd,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        AWS_EC2_METADATA_DISABLED: 'true',
        npm_config_update_notifier: 'false',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000); // a bound against a hang
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe('npm run admin from another directory', { timeout: 120_000 }, () => {
  it('edits the relative --config of the directory it was typed in', async () => {
    const dir = tempDir('npm-run-admin-');
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ tableMapping: { trades: 's3://bucket/gold/trades' } }), {
      mode: 0o600,
    });
    const r = await npmRunAdmin(dir, ['keys', 'create', '--principal', 'analyst', '--config', 'config.json']);
    expect(r.stderr).not.toContain('cannot read');
    expect(r.code).toBe(0);
    const written = JSON.parse(readFileSync(file, 'utf8'));
    expect(written.auth.keys).toEqual([expect.objectContaining({ principal: 'analyst' })]);
  });
});
