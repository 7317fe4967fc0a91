/** Runs the client helper as its users do (`bin/delta-proxy-client.mjs`), in a process of its own. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { rssOf } from './proxy-process';
import { REPO_ROOT } from './s3-servers';

export interface HelperProcess {
  url: string;
  pid: number;
  /** Everything it printed to stdout. */
  output(): string;
  rss(): number;
  stop(): Promise<void>;
}

export async function startHelperProcess(args: string[]): Promise<HelperProcess> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/delta-proxy-client.mjs'), ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('delta-proxy-client did not start within 30 s')), 30_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /delta-proxy-client on (\S+)/.exec(out);
      if (m && out.includes('\n', m.index)) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`delta-proxy-client exited with ${code}: ${out}`));
    });
  });
  return {
    url,
    pid: child.pid!,
    output: () => out,
    rss: () => rssOf(child.pid!),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}
