/**
 * StorageBackend on @aws-sdk/client-s3. Credentials come from the SDK's standard chain
 * (environment variables locally, the function's role in Lambda); the `s3` config block sets
 * endpoint, region, path style and the size of the connection pool. One client per region in
 * use (see bucket-regions.ts), all sharing one pool of sockets.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Readable } from 'node:stream';
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type S3ClientConfig,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { concatBytes } from '../core/concat-bytes';
import { Lru } from '../core/lru';
import { BucketRegions } from './bucket-regions';
import { parseListPage } from './list-page-xml';
import { editRequest } from './request-edit';
import { S3Presigner } from './s3-presigner';
import { sseCustomerParams } from './sse-customer-params';
import type {
  ByteRange,
  Conditions,
  GetOptions,
  GetResult,
  HeadOptions,
  ListPage,
  ListParams,
  ObjectMeta,
  ObjectRef,
  PresignOptions,
  StorageBackend,
} from './storage-backend';
import { StorageError } from './storage-backend';

export interface S3BackendOptions {
  endpoint?: string;
  /** Region of the mapped buckets (a bucket elsewhere is found from S3's redirect). */
  region?: string;
  forcePathStyle?: boolean;
  /** Injected for tests that need explicit credentials; otherwise the default chain is used. */
  credentials?: S3ClientConfig['credentials'];
  /** Longest wait for a response's headers, a free socket included. */
  requestTimeoutMs?: number;
  /** Sockets to the backend shared by every request (the SDK's own default is 50). */
  maxSockets?: number;
  /** Attempts per backend call (the SDK retries throttling, 5xx, timeouts and resets; all are reads). */
  maxAttempts?: number;
  /**
   * Backend calls that may await an answer at once (waiting for a socket included); a call beyond
   * them fails at once as Throttled (503 SlowDown to the client) instead of queueing without end.
   */
  maxPendingRequests?: number;
}

/** Regional clients kept: a backend naming ever new regions must not grow them without end. */
const MAX_REGIONAL_CLIENTS = 16;

export function formatRange(range: ByteRange): string {
  return 'suffix' in range ? `bytes=-${range.suffix}` : `bytes=${range.start}-${range.end ?? ''}`;
}

function parseContentRange(value: string | undefined): GetResult['range'] {
  const m = value && /^bytes (\d+)-(\d+)\/(\d+)$/.exec(value);
  if (!m) return undefined;
  return { start: Number(m[1]), end: Number(m[2]), total: Number(m[3]) };
}

/**
 * The HTTP status of a backend's error answer: an S3 error, or an error answer whose body the
 * SDK could not read (a server or a proxy in front of it answering with HTML: moto's 416 for a
 * part it does not have). Undefined for anything that is not an answer of the backend.
 */
function answeredStatus(err: unknown): number | undefined {
  if (err instanceof S3ServiceException) return err.$metadata?.httpStatusCode ?? 500;
  const status = (err as { $metadata?: { httpStatusCode?: unknown } } | undefined)?.$metadata?.httpStatusCode;
  return typeof status === 'number' && status >= 300 ? status : undefined;
}

function header(err: S3ServiceException, name: string): string | undefined {
  const headers = (err.$response as { headers?: Record<string, string> } | undefined)?.headers;
  return headers?.[name];
}

/** S3's 400 for a GET of an SSE-C object without its key: "…stored using a form of Server Side Encryption…". */
const SSE_CUSTOMER_REQUIRED = /stored using a form of Server Side Encryption/i;

/**
 * A 400 answering an object read is about SSE-C when the read sent SSE-C parameters, when S3
 * says the object needs them, or for a HEAD (its 400 has no body to say more; S3 sends it for
 * exactly that), unless the HEAD named a part: that 400 may be the part's (the S3 layer tells).
 * Any other 400 stays the proxy's own fault.
 */
function sseCustomerRefusal(err: unknown, options: HeadOptions, head: boolean): unknown {
  if (!(err instanceof StorageError) || err.kind !== 'BadRequest') return err;
  const bareHead = head && options.partNumber === undefined;
  if (!options.sseCustomer && !bareHead && !err.details?.sseCustomerRequired) return err;
  return new StorageError('SseCustomer', err.message);
}

/** Maps an SDK failure to the proxy's storage vocabulary; the S3 layer turns that into XML. */
export function toStorageError(err: unknown, signal?: AbortSignal): StorageError {
  if (err instanceof StorageError) return err;
  if (signal?.aborted || (err as Error)?.name === 'AbortError')
    return new StorageError('Aborted', 'request aborted');
  const status = answeredStatus(err);
  if (status !== undefined) {
    const answer = err as S3ServiceException;
    const lm = header(answer, 'last-modified');
    const details = { etag: header(answer, 'etag'), lastModified: lm ? new Date(lm) : undefined };
    if (status === 304) return new StorageError('NotModified', 'not modified', details);
    if (status === 412) return new StorageError('PreconditionFailed', 'precondition failed', details);
    if (status === 416) {
      // The SDK copies the error document's fields onto the exception.
      const size = Number((answer as { ActualObjectSize?: unknown }).ActualObjectSize);
      // A part past the object's last (416 InvalidPartNumber) names the object's part count.
      const parts = Number((answer as { ActualPartCount?: unknown }).ActualPartCount);
      return new StorageError('InvalidRange', 'range not satisfiable', {
        objectSize: Number.isSafeInteger(size) && size >= 0 ? size : undefined,
        partCount: Number.isSafeInteger(parts) && parts > 0 ? parts : undefined,
      });
    }
    if (status === 404) return new StorageError('NotFound', answer.name);
    if (status === 403 && answer.name === 'InvalidObjectState') {
      // The SDK copies the error document's fields onto the exception.
      const storageClass = (answer as { StorageClass?: unknown }).StorageClass;
      return new StorageError('AccessDenied', `backend refused: ${answer.name}`, {
        archived: { storageClass: typeof storageClass === 'string' ? storageClass : undefined },
      });
    }
    if (status === 403) return new StorageError('AccessDenied', `backend refused: ${answer.name}`);
    if (status === 429 || answer.name === 'SlowDown' || answer.name === 'ThrottlingException')
      return new StorageError('Throttled', answer.name);
    if (status === 503) return new StorageError('Unavailable', answer.name);
    // A store that refuses a part past the last with 400 (Ceph, Ozone) means S3's 416.
    if (status === 400 && (answer.name === 'InvalidPart' || answer.name === 'InvalidPartNumber'))
      return new StorageError('InvalidRange', `part not satisfiable: ${answer.name}`);
    if (status === 400)
      return new StorageError('BadRequest', `backend error 400 ${answer.name}`, {
        sseCustomerRequired: SSE_CUSTOMER_REQUIRED.test(answer.message),
      });
    return new StorageError('Internal', `backend error ${status} ${answer.name}`);
  }
  if ((err as Error)?.name === 'CredentialsProviderError')
    return new StorageError('Unavailable', 'backend credentials unavailable');
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ETIMEDOUT' || code === 'EPIPE')
    return new StorageError('Unavailable', `backend unreachable (${code})`);
  if ((err as Error)?.name === 'TimeoutError') return new StorageError('Unavailable', 'backend timed out');
  return new StorageError('Internal', `backend failure: ${(err as Error)?.name ?? 'unknown'}`);
}

/**
 * A body whose connection fails mid-way (reset, cut short of its Content-Length) fails as a
 * StorageError like any other backend fault: Unavailable, which a log read answers with 503.
 * Closing the wrapper early closes the backend stream, also before its first chunk (a body the
 * proxy decides not to send: over Lambda's streaming limit, a failed condition). Not an async
 * generator: closing one that never started runs none of its code, and the backend response
 * would then hold its connection, unread, for good.
 */
function storageErrors(body: AsyncIterable<Uint8Array>, signal?: AbortSignal): AsyncIterable<Uint8Array> {
  return {
    [Symbol.asyncIterator]() {
      let source: AsyncIterator<Uint8Array> | undefined;
      return {
        async next() {
          source ??= body[Symbol.asyncIterator]();
          try {
            return await source.next();
          } catch (err) {
            const mapped = toStorageError(err, signal);
            throw mapped.kind === 'Internal' || mapped.kind === 'BadRequest'
              ? new StorageError('Unavailable', `backend body failed: ${mapped.message}`)
              : mapped;
          }
        },
        async return() {
          try {
            await source?.return?.();
          } finally {
            (body as { destroy?: () => void }).destroy?.();
          }
          return { done: true, value: undefined };
        },
      };
    },
  };
}

/** Checksum fields of a Get/HeadObject answer and the headers S3 sends them in. */
const CHECKSUM_HEADERS = [
  ['ChecksumCRC32', 'x-amz-checksum-crc32'],
  ['ChecksumCRC32C', 'x-amz-checksum-crc32c'],
  ['ChecksumCRC64NVME', 'x-amz-checksum-crc64nvme'],
  ['ChecksumSHA1', 'x-amz-checksum-sha1'],
  ['ChecksumSHA256', 'x-amz-checksum-sha256'],
  ['ChecksumType', 'x-amz-checksum-type'],
] as const;

type ObjectOutput = {
  ContentLength?: number;
  ETag?: string;
  LastModified?: Date;
  ContentType?: string;
  ContentEncoding?: string;
  ContentDisposition?: string;
  ContentLanguage?: string;
  CacheControl?: string;
  ExpiresString?: string;
  StorageClass?: string;
  Restore?: string;
  Metadata?: Record<string, string>;
  PartsCount?: number;
} & { [K in (typeof CHECKSUM_HEADERS)[number][0]]?: string };

function metaOf(out: ObjectOutput): ObjectMeta {
  const meta: ObjectMeta = {
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
  if (out.StorageClass && out.StorageClass !== 'STANDARD') meta.storageClass = out.StorageClass;
  if (out.Restore) meta.restore = out.Restore;
  if (out.Metadata && Object.keys(out.Metadata).length) meta.metadata = out.Metadata;
  const checksums: Record<string, string> = {};
  for (const [field, header] of CHECKSUM_HEADERS) {
    const value = out[field];
    if (value) checksums[header] = value;
  }
  if (Object.keys(checksums).length) meta.checksums = checksums;
  if (out.PartsCount !== undefined) meta.partsCount = out.PartsCount;
  return meta;
}

function conditionParams(c: Conditions) {
  return {
    IfMatch: c.ifMatch,
    IfNoneMatch: c.ifNoneMatch,
    IfModifiedSince: c.ifModifiedSince,
    IfUnmodifiedSince: c.ifUnmodifiedSince,
  };
}

/**
 * Asks S3 for the object's checksum headers (`x-amz-checksum-mode: ENABLED`) without the SDK's
 * own validation of the body: the bytes pass through unchanged and the client that asked for
 * the checksum verifies it end to end.
 */
function withChecksumMode<C extends GetObjectCommand | HeadObjectCommand>(command: C, enabled?: boolean): C {
  if (!enabled) return command;
  return editRequest(command, 'proxyChecksumMode', (request) => {
    if (request.headers) request.headers['x-amz-checksum-mode'] = 'ENABLED';
  });
}

export class S3Backend implements StorageBackend {
  private readonly regions: BucketRegions;
  private readonly clients = new Lru<string, S3Client>(MAX_REGIONAL_CLIENTS);
  private readonly clientConfig: S3ClientConfig;
  /** One fast presigner per regional client (see s3-presigner.ts). */
  private readonly presigners = new WeakMap<S3Client, S3Presigner>();
  private readonly maxPending: number;
  /** Backend calls awaiting their answer now. */
  private pending = 0;

  constructor(options: S3BackendOptions = {}) {
    this.regions = new BucketRegions(options.region ?? 'us-east-1');
    const maxSockets = options.maxSockets ?? 256;
    this.maxPending = options.maxPendingRequests ?? Number.POSITIVE_INFINITY;
    this.clientConfig = {
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle,
      credentials: options.credentials,
      maxAttempts: options.maxAttempts ?? 3,
      // Checksum validation would buffer or reject ranged reads; S3's ETag/length checks suffice.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        requestTimeout: options.requestTimeoutMs ?? 30_000,
        // Without it the SDK only logs a warning and a request queued for a socket waits forever.
        throwOnRequestTimeout: true,
        connectionTimeout: 5_000,
        httpAgent: new HttpAgent({ keepAlive: true, maxSockets }),
        httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
      },
    };
  }

  /** Closes every regional client's sockets (tests, benches; Lambda never needs it). */
  destroy(): void {
    for (const client of this.clients.values()) client.destroy();
    this.clients.clear();
  }

  /** How many regional clients are kept (tests). */
  get regionalClients(): number {
    return this.clients.size;
  }

  private presignerFor(client: S3Client): S3Presigner {
    let presigner = this.presigners.get(client);
    if (!presigner) {
      presigner = new S3Presigner(client);
      this.presigners.set(client, presigner);
    }
    return presigner;
  }

  private clientFor(region: string): S3Client {
    let client = this.clients.get(region);
    if (!client) {
      client = new S3Client({ ...this.clientConfig, region });
      this.clients.set(region, client);
    }
    return client;
  }

  /** Sends to the bucket's region; a wrong-region answer teaches the region and is retried once. */
  private async send<T>(
    bucket: string,
    call: (client: S3Client) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    if (this.pending >= this.maxPending) {
      throw new StorageError('Throttled', `${this.pending} backend calls pending (maxPendingRequests)`);
    }
    this.pending++;
    try {
      let region = this.regions.regionOf(bucket);
      for (let attempt = 0; ; attempt++) {
        try {
          const out = await call(this.clientFor(region));
          this.regions.confirm(bucket);
          return out;
        } catch (err) {
          const learned = attempt === 0 ? this.regions.learn(bucket, region, err) : undefined;
          if (learned === undefined) throw toStorageError(err, signal);
          region = learned;
        }
      }
    } finally {
      this.pending--;
    }
  }

  async get(ref: ObjectRef, options: GetOptions = {}): Promise<GetResult> {
    const out: GetObjectCommandOutput = await this.send(
      ref.bucket,
      (client) =>
        client.send(
          withChecksumMode(
            new GetObjectCommand({
              Bucket: ref.bucket,
              Key: ref.key,
              Range: options.range ? formatRange(options.range) : undefined,
              PartNumber: options.partNumber,
              ...conditionParams(options),
              ...sseCustomerParams(options.sseCustomer),
            }),
            options.checksumMode,
          ),
          { abortSignal: options.signal },
        ),
      options.signal,
    ).catch((err: unknown) => {
      throw sseCustomerRefusal(err, options, false);
    });
    const range = parseContentRange(out.ContentRange);
    const meta = metaOf(out);
    if (range) meta.size = range.total;
    return {
      meta,
      range,
      // Never made up: a body framed with a wrong length would reach the client cut short.
      contentLength: out.ContentLength ?? (range ? range.end - range.start + 1 : undefined),
      body: storageErrors(out.Body as unknown as AsyncIterable<Uint8Array>, options.signal),
    };
  }

  async head(ref: ObjectRef, options: HeadOptions = {}): Promise<ObjectMeta> {
    const out = await this.send(
      ref.bucket,
      (client) =>
        client.send(
          withChecksumMode(
            new HeadObjectCommand({
              Bucket: ref.bucket,
              Key: ref.key,
              PartNumber: options.partNumber,
              ...conditionParams(options),
              ...sseCustomerParams(options.sseCustomer),
            }),
            options.checksumMode,
          ),
          { abortSignal: options.signal },
        ),
      options.signal,
    ).catch((err: unknown) => {
      throw sseCustomerRefusal(err, options, true);
    });
    const meta = metaOf(out);
    const partRange = options.partNumber === undefined ? undefined : parseContentRange(out.ContentRange);
    if (partRange) {
      meta.partRange = partRange;
      meta.size = partRange.total;
    }
    return meta;
  }

  async list(params: ListParams): Promise<ListPage> {
    const command = new ListObjectsV2Command({
      Bucket: params.bucket,
      Prefix: params.prefix || undefined,
      Delimiter: params.delimiter || undefined,
      StartAfter: params.startAfter || undefined,
      ContinuationToken: params.continuationToken,
      MaxKeys: params.maxKeys,
    });
    // The page is read from the raw body a slice at a time (list-page-xml.ts), below the SDK's
    // deserializer, which is handed an empty result; errors and retries stay the SDK's.
    let page: ListPage | undefined;
    command.middlewareStack.add(
      (next) => async (args) => {
        const result = await next(args);
        const response = result.response as {
          statusCode?: number;
          body?: unknown;
          headers: Record<string, string>;
        };
        if (response.statusCode !== 200 || !(response.body instanceof Readable)) return result;
        page = await parseListPage(await bodyText(response.body));
        response.body = Readable.from([EMPTY_LIST_RESULT]);
        delete response.headers['content-length'];
        return result;
      },
      { step: 'deserialize', name: 'listPageInSlices', priority: 'low' },
    );
    const out = await this.send(
      params.bucket,
      (client) => client.send(command, { abortSignal: params.signal }),
      params.signal,
    );
    if (page) return page;
    // A body the middleware did not see (not a stream): the SDK's own reading of it.
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
  }

  /**
   * A URL signed for the bucket's region. Signing sends nothing to S3, so a bucket whose region
   * no answer has confirmed yet is asked first, with a HEAD of the very object (the read the
   * URL grants): a bucket elsewhere answers with its region.
   */
  async presign(ref: ObjectRef, options: PresignOptions): Promise<string> {
    if (!this.regions.isConfirmed(ref.bucket)) {
      await this.head(ref).catch((err: unknown) => {
        // Only an unanswered probe stops the redirect; S3 will give the client its own answer.
        if (err instanceof StorageError && (err.kind === 'Unavailable' || err.kind === 'Throttled'))
          throw err;
      });
    }
    const client = this.clientFor(this.regions.regionOf(ref.bucket));
    try {
      return await this.presignerFor(client).presign(
        ref,
        options.expiresInSeconds,
        options.query,
        options.sseCustomer,
      );
    } catch (err) {
      throw toStorageError(err);
    }
  }
}

/** What the SDK's deserializer is handed once the page has been read from the real body. */
const EMPTY_LIST_RESULT =
  '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></ListBucketResult>';

async function bodyText(body: Readable): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return new TextDecoder().decode(await concatBytes(chunks));
}
