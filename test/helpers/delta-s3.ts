/**
 * A throwaway S3 for Delta tests and the benchmark: s3rver on 127.0.0.1 (port chosen at run
 * time, data in a directory), and a tiny StorageBackend over @aws-sdk/client-s3 so the Delta
 * module is exercised through `deltaStorageFromBackend` exactly as in production.
 */
import type { AddressInfo } from 'node:net';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  NotFound,
  S3Client,
} from '@aws-sdk/client-s3';
import type { StorageBackend } from '../../lambda/storage/storage-backend';
import { StorageError } from '../../lambda/storage/storage-backend';

export interface LocalS3 {
  endpoint: string;
  client: S3Client;
  /** Counts of requests and body bytes received through the backend. */
  traffic: { requests: number; bytes: number };
  backend: StorageBackend;
  close(): Promise<void>;
}

export async function startLocalS3(directory: string, buckets: string[]): Promise<LocalS3> {
  const { default: S3rver } = (await import('s3rver' as string)) as {
    default: new (o: object) => { run(): Promise<AddressInfo>; close(): Promise<void> };
  };
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  const addr = await server.run();
  const endpoint = `http://127.0.0.1:${addr.port}`;
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  const traffic = { requests: 0, bytes: 0 };
  return {
    endpoint,
    client,
    traffic,
    backend: s3Backend(client, traffic),
    async close() {
      client.destroy();
      await server.close();
    },
  };
}

function notFound(e: unknown): boolean {
  return e instanceof NoSuchKey || e instanceof NotFound || (e as { name?: string }).name === 'NoSuchKey';
}

export function s3Backend(client: S3Client, traffic: { requests: number; bytes: number }): StorageBackend {
  return {
    async get(ref, options) {
      const r = options?.range;
      const range = r
        ? 'suffix' in r
          ? `bytes=-${r.suffix}`
          : `bytes=${r.start}-${r.end ?? ''}`
        : undefined;
      traffic.requests++;
      try {
        const out = await client.send(
          new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key, Range: range, IfMatch: options?.ifMatch }),
        );
        const bytes = await out.Body!.transformToByteArray();
        traffic.bytes += bytes.byteLength;
        // As the StorageBackend contract says: the whole object's size, also for a range.
        const total = /\/(\d+)$/.exec(out.ContentRange ?? '')?.[1];
        return {
          meta: {
            size: total === undefined ? bytes.byteLength : Number(total),
            etag: out.ETag ?? '',
            lastModified: out.LastModified ?? new Date(0),
          },
          contentLength: bytes.byteLength,
          body: (async function* () {
            yield bytes;
          })(),
        };
      } catch (e) {
        if (notFound(e)) throw new StorageError('NotFound', `${ref.key} not found`);
        throw e;
      }
    },
    async head(ref) {
      traffic.requests++;
      try {
        const out = await client.send(new HeadObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
        return {
          size: out.ContentLength ?? 0,
          etag: out.ETag ?? '',
          lastModified: out.LastModified ?? new Date(0),
        };
      } catch (e) {
        if (notFound(e)) throw new StorageError('NotFound', `${ref.key} not found`);
        throw e;
      }
    },
    async list(p) {
      traffic.requests++;
      const out = await client.send(
        new ListObjectsV2Command({
          Bucket: p.bucket,
          Prefix: p.prefix,
          Delimiter: p.delimiter,
          StartAfter: p.startAfter,
          ContinuationToken: p.continuationToken,
          MaxKeys: p.maxKeys,
        }),
      );
      return {
        objects: (out.Contents ?? []).map((o) => ({
          key: o.Key!,
          size: o.Size ?? 0,
          etag: o.ETag ?? '',
          lastModified: o.LastModified ?? new Date(0),
        })),
        commonPrefixes: (out.CommonPrefixes ?? []).map((c) => c.Prefix!),
        isTruncated: out.IsTruncated ?? false,
        ...(out.NextContinuationToken ? { nextContinuationToken: out.NextContinuationToken } : {}),
      };
    },
    async presign() {
      throw new Error('not needed by the Delta tests');
    },
  };
}
