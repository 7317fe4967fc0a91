/**
 * Runs the admin CLI for tests: its main in this process (what both entry points call), or a
 * process of its own as `npm run admin` starts it, with no AWS settings in its environment.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { main } from '../../lambda/admin/cli';
import { collect } from './child-output';
import { REPO_ROOT } from './s3-servers';

export interface AdminResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI's main with captured output. */
export async function adminInProcess(args: string[]): Promise<AdminResult & { code: number }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { stdout: (l) => out.push(l), stderr: (l) => err.push(l), env: {} });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

export interface AdminProcess {
  child: ChildProcess;
  /** Its stderr so far. */
  stderr(): string;
  /** Its end (killed after 60 s). */
  done: Promise<AdminResult>;
}

/**
 * Why user `id` (not root, in no group of ours) cannot run `node` from this checkout, or undefined:
 * every folder down to the node binary and to the checkout must let others through (the Node 22
 * pass of .ci/run installs node under a temporary folder).
 */
export function otherUserCannotRun(): string | undefined {
  for (const target of [process.execPath, REPO_ROOT]) {
    for (let p = path.resolve(target); ; p = path.dirname(p)) {
      if ((statSync(p).mode & 0o001) === 0)
        return `another user cannot run node here: ${p} is closed to others`;
      if (p === path.dirname(p)) break;
    }
  }
  return undefined;
}

/**
 * A CLI process (`node --import tsx lambda/admin/cli.ts`), optionally as user and group `id` (no
 * other groups) or under a umask.
 */
export function startAdmin(args: string[], options: { id?: number; umask?: string } = {}): AdminProcess {
  const node = ['--import', 'tsx', 'lambda/admin/cli.ts', ...args];
  const [file, argv] =
    options.umask === undefined
      ? [process.execPath, node]
      : ['/bin/sh', ['-c', `umask ${options.umask} && exec "$0" "$@"`, process.execPath, ...node]];
  const child = spawn(file, argv, {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, AWS_EC2_METADATA_DISABLED: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.id === undefined ? {} : { uid: options.id, gid: options.id }),
  });
  const io = collect(child);
  const done = new Promise<AdminResult>((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: io.out(), stderr: io.err() });
    });
    // Not started (EACCES: node where user `id` may not run it): no 'exit' follows.
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
  done.catch(() => {}); // observed here; awaiting `done` still throws
  return { child, stderr: io.err, done };
}
