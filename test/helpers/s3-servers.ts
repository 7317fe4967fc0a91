/**
 * Real S3-compatible servers on loopback for tests: s3rver always (child process), moto where
 * python3 has it. Ports are chosen at run time; every process is stopped by its PID.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { CreateBucketCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { motoMissing, withReason } from './skips';

export const REPO_ROOT = resolve(import.meta.dirname, '../..');
export const BACKEND_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface S3Server {
  kind: 's3rver' | 'moto';
  endpoint: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => res(port));
    });
  });
}

function stopChild(child: ChildProcess, timeoutMs = 5_000): Promise<void> {
  return new Promise((res) => {
    if (child.exitCode !== null || child.signalCode !== null) return res();
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      res();
    }, timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      res();
    });
    child.kill('SIGTERM');
  });
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not start within ${timeoutMs} ms`);
}

/**
 * s3rver in a child process. Its data lives in a fresh temporary directory removed on stop, or in
 * `dir` when given (created if missing, kept on stop: a benchmark's tables are written once).
 */
export async function startS3rver(options: { dir?: string } = {}): Promise<S3Server> {
  const persistent = options.dir !== undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 's3rver-'));
  if (persistent) mkdirSync(dir, { recursive: true });
  const child = spawn(
    process.execPath,
    ['--openssl-legacy-provider', '--import', 'tsx', join(REPO_ROOT, 'test/helpers/s3rver-main.ts'), dir],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((res, rej) => {
    const timer = setTimeout(() => rej(new Error('s3rver did not start within 60 s')), 60_000);
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /READY (\d+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        res(Number(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`s3rver exited with ${code}`));
    });
  });
  return {
    kind: 's3rver',
    endpoint: `http://127.0.0.1:${port}`,
    stop: async () => {
      await stopChild(child);
      if (!persistent) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Why moto cannot run here, or undefined when it can (the skip reason; see skips.ts). */
export const motoUnavailableReason = motoMissing;

/** A row of a backend matrix for `describe.each`: title, how to start the server, skip reason. */
export type BackendRow = [title: string, start: () => Promise<S3Server>, skipReason: string | undefined];

/** s3rver always, and moto, skipped with the reason in its title where it cannot run here. */
export function s3rverAndMoto(): BackendRow[] {
  const reason = motoUnavailableReason();
  return [
    ['s3rver', startS3rver, undefined],
    [withReason('moto', reason), startMoto, reason],
  ];
}

export async function startMoto(): Promise<S3Server> {
  const port = await freePort();
  const child = spawn('python3', ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'ignore'],
    env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true' },
  });
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitFor(async () => (await fetch(`${endpoint}/moto-api/`)).status < 500, 'moto', 60_000);
  } catch (e) {
    await stopChild(child);
    throw e;
  }
  return { kind: 'moto', endpoint, stop: () => stopChild(child) };
}

export function backendClient(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: BACKEND_CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** Whether bucket/key can be read (any error, a missing key among them, counts as no). */
export async function objectExists(client: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch {
    return false;
  }
}

export async function createBucket(client: S3Client, bucket: string): Promise<void> {
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
}

/** Creates `bucket` on the server at `endpoint` and writes `objects` (key to body) into it, in order. */
export async function writeBucket(
  endpoint: string,
  bucket: string,
  objects: Record<string, string>,
): Promise<void> {
  const client = backendClient(endpoint);
  try {
    await createBucket(client, bucket);
    for (const [key, body] of Object.entries(objects))
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  } finally {
    client.destroy();
  }
}

/** Uploads every file below `dir` to bucket/prefix, keeping relative paths as keys. */
export async function uploadDir(
  client: S3Client,
  bucket: string,
  prefix: string,
  dir: string,
): Promise<string[]> {
  const keys: string[] = [];
  const walk = (d: string): string[] =>
    readdirSync(d).flatMap((name) => {
      const p = join(d, name);
      return statSync(p).isDirectory() ? walk(p) : [p];
    });
  const files = walk(dir);
  // Bounded parallelism keeps s3rver happy.
  for (let i = 0; i < files.length; i += 16) {
    await Promise.all(
      files.slice(i, i + 16).map(async (file) => {
        const key = prefix + relative(dir, file).split('\\').join('/');
        keys.push(key);
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: readFileSync(file) }));
      }),
    );
  }
  return keys.sort();
}
