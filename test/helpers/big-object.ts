/**
 * Large objects for streaming tests and benchmarks: generated chunk by chunk, streamed into the
 * backend (never held whole in memory), and read back over HTTP into a sha256.
 */
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { Readable } from 'node:stream';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

const CHUNK = 1024 * 1024;

/** Deterministic for one process: a random 1 MiB block, each copy stamped with its index. */
function* chunks(size: number, block: Buffer): Generator<Buffer> {
  for (let offset = 0, i = 0; offset < size; offset += CHUNK, i++) {
    const chunk = Buffer.from(block.subarray(0, Math.min(CHUNK, size - offset)));
    if (chunk.length >= 8) chunk.writeBigUInt64LE(BigInt(i), 0);
    yield chunk;
  }
}

/** Streams `size` bytes into bucket/key; returns their sha256 (hex). */
export async function putBigObject(
  client: S3Client,
  bucket: string,
  key: string,
  size: number,
): Promise<string> {
  const block = randomBytes(CHUNK);
  const hash = createHash('sha256');
  const body = Readable.from(
    (function* () {
      for (const c of chunks(size, block)) {
        hash.update(c);
        yield c;
      }
    })(),
  );
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: size }));
  return hash.digest('hex');
}

export interface Download {
  status: number;
  bytes: number;
  sha256: string;
}

/**
 * GETs a URL and hashes the body as it streams. `stopAfter` drops the connection once that many
 * bytes arrived (a client going away mid-download); `paceMBps` reads no faster than that (a slow
 * client: whatever serves it must hold back, not buffer).
 */
export function download(
  url: string,
  headers: Record<string, string>,
  options: { stopAfter?: number; timeoutMs?: number; paceMBps?: number } = {},
): Promise<Download> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let bytes = 0;
    const req = request(
      {
        hostname: target.hostname,
        port: target.port,
        path: `${target.pathname}${target.search}`,
        headers,
        timeout: options.timeoutMs ?? 120_000,
      },
      (res) => {
        const done = () => resolve({ status: res.statusCode ?? 0, bytes, sha256: hash.digest('hex') });
        const started = performance.now();
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          hash.update(chunk);
          if (options.paceMBps) {
            const due = (bytes / (options.paceMBps * 1024 * 1024)) * 1000 - (performance.now() - started);
            if (due > 5) {
              res.pause();
              setTimeout(() => res.resume(), due);
            }
          }
          if (options.stopAfter !== undefined && bytes >= options.stopAfter) {
            req.destroy();
            done();
          }
        });
        res.on('end', done);
        res.on('error', () => undefined);
      },
    );
    req.on('timeout', () => req.destroy(new Error('download timed out')));
    req.on('error', (e) => (options.stopAfter !== undefined ? undefined : reject(e)));
    req.end();
  });
}
