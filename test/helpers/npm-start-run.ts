/** Runs `npm start`'s entry as a child process and watches it (test/integration/npm-start, test/full/npm-start-edges). */
import { type ChildProcess, spawn } from 'node:child_process';
import { REPO_ROOT } from './s3-servers';
import { START_ENTRY, START_NODE_FLAGS } from './start-command';

export function startMain(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [...START_NODE_FLAGS, START_ENTRY, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, PROXY_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** What a failed start wrote to stderr, a line each, without the AWS SDK's Node version notice. */
export function errorLines(io: { err: () => string }): string[] {
  return io
    .err()
    .trim()
    .split('\n')
    .filter((l) => !l.includes('NodeVersionSupportWarning'));
}

// Bounds against a hang, not timings: each start transpiles the proxy's sources (tsx), which on a
// loaded 2-core machine took over 10 s.
export async function until(check: () => boolean, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function exited(child: ChildProcess, ms = 60_000): Promise<number | null> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('did not exit in time'));
    }, ms);
    child.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}
