/**
 * Starts test/helpers/proxy-child.ts as a child process and watches it from outside: its audit
 * events and its resident memory (Linux /proc). Stopped by its PID.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConfigInput } from '../../lambda/config';
import type { RequestEvent } from '../../lambda/core/observer';
import { REPO_ROOT } from './s3-servers';
import { START_NODE_FLAGS } from './start-command';

export interface ProxyProcess {
  url: string;
  pid: number;
  events: RequestEvent[];
  /** Resident set size in bytes, now. */
  rss(): number;
  stop(): Promise<void>;
}

/** Why resident memory of another process cannot be read here, or undefined when it can. */
export function rssUnavailableReason(): string | undefined {
  return existsSync(`/proc/${process.pid}/status`) ? undefined : 'no /proc/PID/status (Linux only)';
}

export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!kb) throw new Error(`no VmRSS for ${pid}`);
  return Number(kb[1]) * 1024;
}

export async function startProxyProcess(
  config: ConfigInput,
  transport: 'node' | 'lambda',
  options: {
    timeoutMs?: number;
    audit?: 'line' | 'events';
    /** The node transport without `npm start`'s V8 flags (a bench's baseline). */
    plainNode?: boolean;
  } = {},
): Promise<ProxyProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      // Extra node flags for the child only, e.g. PROXY_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/p"
      // (profiling a bench's proxy; NODE_OPTIONS refuses --cpu-prof).
      ...(process.env.PROXY_NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
      // The node server as `npm start` runs it (its V8 flags); Lambda's runtime passes none.
      ...(transport === 'node' && !options.plainNode ? START_NODE_FLAGS : ['--import', 'tsx']),
      join(REPO_ROOT, 'test/helpers/proxy-child.ts'),
      JSON.stringify({ config, transport, ...options }),
    ],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const events: RequestEvent[] = [];
  let buffered = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('proxy process did not start within 30 s')), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      const lines = (buffered + d.toString()).split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        if (line.startsWith('READY ')) {
          clearTimeout(timer);
          resolve(line.slice(6));
        } else if (line.startsWith('EVENT ')) events.push(JSON.parse(line.slice(6)));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`proxy process exited with ${code}`));
    });
  });
  return {
    url,
    pid: child.pid!,
    events,
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
