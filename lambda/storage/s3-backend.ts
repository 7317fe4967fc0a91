/**
 * StorageBackend on @aws-sdk/client-s3. Credentials come from the SDK's standard chain
 * (environment variables locally, the function's role in Lambda); the `s3` config block sets
 * endpoint, region and path style.
 */
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type S3ClientConfig,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { S3Presigner } from './s3-presigner';
import type {
  ByteRange,
  Conditions,
  GetOptions,
  GetResult,
  ListPage,
  ListParams,
  ObjectMeta,
  ObjectRef,
  StorageBackend,
} from './storage-backend';
import { StorageError } from './storage-backend';

export interface S3BackendOptions {
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
  /** Injected for tests that need explicit credentials; otherwise the default chain is used. */
  credentials?: S3ClientConfig['credentials'];
  requestTimeoutMs?: number;
}

export function formatRange(range: ByteRange): string {
  return 'suffix' in range ? `bytes=-${range.suffix}` : `bytes=${range.start}-${range.end ?? ''}`;
}

function parseContentRange(value: string | undefined): GetResult['range'] {
  const m = value && /^bytes (\d+)-(\d+)\/(\d+)$/.exec(value);
  if (!m) return undefined;
  return { start: Number(m[1]), end: Number(m[2]), total: Number(m[3]) };
}

function header(err: S3ServiceException, name: string): string | undefined {
  const headers = (err.$response as { headers?: Record<string, string> } | undefined)?.headers;
  return headers?.[name];
}

/** Maps an SDK failure to the proxy's storage vocabulary; the S3 layer turns that into XML. */
export function toStorageError(err: unknown, signal?: AbortSignal): StorageError {
  if (err instanceof StorageError) return err;
  if (signal?.aborted || (err as Error)?.name === 'AbortError')
    return new StorageError('Aborted', 'request aborted');
  if (err instanceof S3ServiceException) {
    const status = err.$metadata?.httpStatusCode ?? 500;
    const lm = header(err, 'last-modified');
    const details = { etag: header(err, 'etag'), lastModified: lm ? new Date(lm) : undefined };
    if (status === 304) return new StorageError('NotModified', 'not modified', details);
    if (status === 412) return new StorageError('PreconditionFailed', 'precondition failed', details);
    if (status === 416) return new StorageError('InvalidRange', 'range not satisfiable');
    if (status === 404) return new StorageError('NotFound', err.name);
    if (status === 403) return new StorageError('AccessDenied', `backend refused: ${err.name}`);
    if (status === 429 || err.name === 'SlowDown' || err.name === 'ThrottlingException')
      return new StorageError('Throttled', err.name);
    if (status === 503) return new StorageError('Unavailable', err.name);
    return new StorageError('Internal', `backend error ${status} ${err.name}`);
  }
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ETIMEDOUT' || code === 'EPIPE')
    return new StorageError('Unavailable', `backend unreachable (${code})`);
  if ((err as Error)?.name === 'TimeoutError') return new StorageError('Unavailable', 'backend timed out');
  return new StorageError('Internal', `backend failure: ${(err as Error)?.name ?? 'unknown'}`);
}

function metaOf(out: {
  ContentLength?: number;
  ETag?: string;
  LastModified?: Date;
  ContentType?: string;
  ContentEncoding?: string;
  ContentDisposition?: string;
  ContentLanguage?: string;
  CacheControl?: string;
  ExpiresString?: string;
}): ObjectMeta {
  return {
    size: out.ContentLength ?? 0,
    etag: out.ETag ?? '',
    lastModified: out.LastModified ?? new Date(0),
    contentType: out.ContentType,
    contentEncoding: out.ContentEncoding,
    contentDisposition: out.ContentDisposition,
    contentLanguage: out.ContentLanguage,
    cacheControl: out.CacheControl,
    expires: out.ExpiresString,
  };
}

function conditionParams(c: Conditions) {
  return {
    IfMatch: c.ifMatch,
    IfNoneMatch: c.ifNoneMatch,
    IfModifiedSince: c.ifModifiedSince,
    IfUnmodifiedSince: c.ifUnmodifiedSince,
  };
}

export class S3Backend implements StorageBackend {
  readonly client: S3Client;
  private readonly presigner: S3Presigner;

  constructor(options: S3BackendOptions = {}) {
    this.client = new S3Client({
      endpoint: options.endpoint,
      region: options.region ?? 'us-east-1',
      forcePathStyle: options.forcePathStyle,
      credentials: options.credentials,
      // Checksum validation would buffer or reject ranged reads; S3's ETag/length checks suffice.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { requestTimeout: options.requestTimeoutMs ?? 30_000, connectionTimeout: 5_000 },
    });
    this.presigner = new S3Presigner(this.client);
  }

  async get(ref: ObjectRef, options: GetOptions = {}): Promise<GetResult> {
    let out: GetObjectCommandOutput;
    try {
      out = await this.client.send(
        new GetObjectCommand({
          Bucket: ref.bucket,
          Key: ref.key,
          Range: options.range ? formatRange(options.range) : undefined,
          ...conditionParams(options),
        }),
        { abortSignal: options.signal },
      );
    } catch (err) {
      throw toStorageError(err, options.signal);
    }
    const range = parseContentRange(out.ContentRange);
    const meta = metaOf(out);
    if (range) meta.size = range.total;
    return {
      meta,
      range,
      contentLength: out.ContentLength ?? 0,
      body: out.Body as unknown as AsyncIterable<Uint8Array>,
    };
  }

  async head(ref: ObjectRef, options: Conditions & { signal?: AbortSignal } = {}): Promise<ObjectMeta> {
    try {
      const out = await this.client.send(
        new HeadObjectCommand({ Bucket: ref.bucket, Key: ref.key, ...conditionParams(options) }),
        { abortSignal: options.signal },
      );
      return metaOf(out);
    } catch (err) {
      throw toStorageError(err, options.signal);
    }
  }

  async list(params: ListParams): Promise<ListPage> {
    try {
      const out = await this.client.send(
        new ListObjectsV2Command({
          Bucket: params.bucket,
          Prefix: params.prefix || undefined,
          Delimiter: params.delimiter || undefined,
          StartAfter: params.startAfter || undefined,
          ContinuationToken: params.continuationToken,
          MaxKeys: params.maxKeys,
        }),
        { abortSignal: params.signal },
      );
      return {
        objects: (out.Contents ?? []).map((o) => ({
          key: o.Key ?? '',
          size: o.Size ?? 0,
          etag: o.ETag ?? '',
          lastModified: o.LastModified ?? new Date(0),
          storageClass: o.StorageClass,
        })),
        commonPrefixes: (out.CommonPrefixes ?? []).map((p) => p.Prefix ?? ''),
        isTruncated: out.IsTruncated === true,
        nextContinuationToken: out.NextContinuationToken,
      };
    } catch (err) {
      throw toStorageError(err, params.signal);
    }
  }

  async presign(ref: ObjectRef, options: { expiresInSeconds: number; range?: string }): Promise<string> {
    if (options.range === undefined) return this.presigner.presign(ref, options.expiresInSeconds);
    return getSignedUrl(
      this.client,
      new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key, Range: options.range }),
      {
        expiresIn: options.expiresInSeconds,
      },
    );
  }
}
