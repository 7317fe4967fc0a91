/**
 * The proxy's real entry points (npm start's, the Lambda entry) in a process of their own, with
 * the environment a test gives them (explicit credentials, nothing reaching past 127.0.0.1), and
 * all they print kept for the test to read. Stopped by its PID.
 */
import { spawn } from 'node:child_process';
import { collect } from './child-output';
import { BACKEND_CREDENTIALS, REPO_ROOT } from './s3-servers';

export interface ProcessRun {
  url: string;
  metricsUrl?: string;
  stop(): Promise<{ stdout: string; stderr: string }>;
}

/**
 * Runs `args` (after node's `flags`) and resolves once stderr matches `ready`: its first group is
 * the proxy's URL, a second one the metrics URL.
 */
export function spawnProxy(
  flags: string[],
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
): Promise<ProcessRun> {
  const child = spawn(process.execPath, [...flags, '--import', 'tsx', ...args], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      AWS_ACCESS_KEY_ID: BACKEND_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: BACKEND_CREDENTIALS.secretAccessKey,
      AWS_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_EMF_ENVIRONMENT: 'Local',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const io = collect(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`proxy process did not start: ${io.err()}`));
    }, 30_000);
    const check = () => {
      const m = ready.exec(io.err());
      if (!m) return;
      clearTimeout(timer);
      child.stderr!.off('data', check);
      resolve({
        url: m[1]!,
        metricsUrl: m[2],
        stop: async () => {
          child.kill('SIGTERM');
          const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(killer);
          return { stdout: io.out(), stderr: io.err() };
        },
      });
    };
    child.stderr!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`proxy process exited with ${code}: ${io.err()}`));
    });
  });
}
