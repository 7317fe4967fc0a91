/**
 * Starts a server under load in its own process (load-target-main.ts) and talks to it over IPC:
 * the generator and the server must not share an event loop, and the server's memory and
 * event-loop delay are only its own in a process of its own. Stopped by its PID, bounded waits.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import type { ConfigInput } from '../../lambda/config';
import { START_NODE_FLAGS } from './start-command';

export type LoadTargetMode = 'node' | 'lambda' | 'bare';

/** One fixed answer of the bare server: the answer to the request with that `x-load-case`. */
export interface FixedAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export interface LoadTargetStart {
  type: 'start';
  mode: LoadTargetMode;
  config: ConfigInput;
  backendCredentials: { accessKeyId: string; secretAccessKey: string };
  answers: FixedAnswer[];
}

export interface LoadTargetStats {
  rssMB: number;
  /** Highest RSS sampled (every 100 ms) since the last reset. */
  peakRssMB: number;
  heapUsedMB: number;
  externalMB: number;
  /** CPU time over wall time since the last reset (100 = one core). */
  cpuPercent: number;
  /** How late a 10 ms timer fired, since the last reset. */
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  /** RSS (no forced GC) sampled once a second since the last reset, thinned to 12 points. */
  rssTimelineMB: number[];
  unhandledRejections: number;
  uncaughtExceptions: number;
  errorLogLines: number;
  warnLogLines: number;
}

export type TargetMessage =
  | LoadTargetStart
  | { type: 'ready'; url: string }
  | { type: 'failed'; message: string }
  | { type: 'get-stats'; id: number; reset: boolean }
  | { type: 'stats'; id: number; stats: LoadTargetStats }
  | { type: 'stop' };

export interface LoadTarget {
  url: string;
  pid: number;
  /** Memory after a forced GC, peak RSS, CPU and event-loop delay; `reset` starts a new window. */
  stats(reset?: boolean): Promise<LoadTargetStats>;
  /** Set if the process ended before stop() (a crash under load). */
  exited(): { code: number | null; signal: string | null } | undefined;
  stop(): Promise<void>;
}

const REPO_ROOT = join(import.meta.dirname, '../..');
const MAIN = join(REPO_ROOT, 'test/helpers/load-target-main.ts');

/** Unsigned, ignored by the proxy: tells the bare baseline server which fixed answer to give. */
export const LOAD_CASE_HEADER = 'x-load-case';

export async function startLoadTarget(
  start: Omit<LoadTargetStart, 'type' | 'config' | 'backendCredentials' | 'answers'> &
    Partial<LoadTargetStart>,
  { timeoutMs = 30_000, nodeArgs = [] }: { timeoutMs?: number; nodeArgs?: string[] } = {},
): Promise<LoadTarget> {
  const child: ChildProcess = fork(MAIN, [], {
    cwd: REPO_ROOT,
    // nodeArgs: e.g. --cpu-prof to see where a server's time goes under load.
    // The node server as `npm start` runs it (its V8 flags); Lambda's runtime and the bare
    // baseline run on node's defaults.
    execArgv: [
      ...(start.mode === 'node' ? START_NODE_FLAGS : ['--import', 'tsx']),
      '--expose-gc',
      ...nodeArgs,
    ],
    // The proxy's audit lines (stdout) go nowhere; its error lines stay visible.
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    serialization: 'advanced',
    env: {
      ...process.env,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_EMF_ENVIRONMENT: 'Local',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
  });
  let exit: { code: number | null; signal: string | null } | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve();
    }),
  );
  const waitFor = <T extends TargetMessage['type']>(
    type: T,
    match: (m: Extract<TargetMessage, { type: T }>) => boolean,
    what: string,
    ms: number,
  ) =>
    new Promise<Extract<TargetMessage, { type: T }>>((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`load target: no ${what} within ${ms} ms`)), ms);
      const onMessage = (m: TargetMessage) => {
        if (m.type === 'failed') done(new Error(`load target failed: ${m.message}`));
        else if (m.type === type && match(m as Extract<TargetMessage, { type: T }>))
          done(undefined, m as Extract<TargetMessage, { type: T }>);
      };
      const onExit = () => done(new Error(`load target exited (${JSON.stringify(exit)}) before ${what}`));
      const done = (err?: Error, value?: Extract<TargetMessage, { type: T }>) => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
        err ? reject(err) : resolve(value!);
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });

  const stop = async () => {
    if (exit) return;
    if (child.connected) child.send({ type: 'stop' } satisfies TargetMessage);
    const timer = setTimeout(() => child.kill('SIGKILL'), 8_000);
    await exited;
    clearTimeout(timer);
  };

  const ready = waitFor('ready', () => true, 'ready message', timeoutMs);
  child.send({
    type: 'start',
    config: { tableMapping: {} },
    backendCredentials: { accessKeyId: '', secretAccessKey: '' },
    answers: [],
    ...start,
  } satisfies TargetMessage);
  let url: string;
  try {
    ({ url } = await ready);
  } catch (e) {
    await stop();
    throw e;
  }
  let nextId = 0;
  return {
    url,
    pid: child.pid!,
    exited: () => exit,
    stop,
    async stats(reset = false) {
      const id = nextId++;
      const reply = waitFor('stats', (m) => m.id === id, 'stats', 15_000);
      child.send({ type: 'get-stats', id, reset } satisfies TargetMessage);
      return (await reply).stats;
    },
  };
}
