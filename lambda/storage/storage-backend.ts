/**
 * The storage seam: the four reads the proxy needs from an object store. Small on purpose so a
 * test or a future backend can implement it in a page. Keys here are backend keys (bucket +
 * key), never virtual `datalake/alias/...` keys.
 */

export interface ObjectRef {
  bucket: string;
  key: string;
}

export interface ObjectMeta {
  size: number;
  etag: string;
  lastModified: Date;
  contentType?: string;
  /** Representation headers S3 stores with the object, passed through to clients. */
  contentEncoding?: string;
  contentDisposition?: string;
  contentLanguage?: string;
  cacheControl?: string;
  expires?: string;
  /** The storage class, which S3 sends (`x-amz-storage-class`) for any class but STANDARD. */
  storageClass?: string;
  /**
   * An archived object's restore state (`x-amz-restore`: `ongoing-request="false", expiry-date=…`),
   * which clients read to know when a GET will succeed.
   */
  restore?: string;
  /** User metadata (`x-amz-meta-NAME`, keyed by NAME in lower case), passed through like S3. */
  metadata?: Record<string, string>;
  /** Checksum headers (`x-amz-checksum-crc32`, …, `x-amz-checksum-type`), when asked for. */
  checksums?: Record<string, string>;
  /**
   * Told only to a read that named a part (`partNumber`), and only for an object uploaded in
   * parts: how many it has (S3's `x-amz-mp-parts-count`).
   */
  partsCount?: number;
  /** A HEAD that named a part: the part's bytes within the object, where the backend said. */
  partRange?: { start: number; end: number; total: number };
}

/** An HTTP byte range as the client asked for it; validated by the caller. */
export type ByteRange = { start: number; end?: number } | { suffix: number };

export interface Conditions {
  ifMatch?: string;
  ifNoneMatch?: string;
  ifModifiedSince?: Date;
  ifUnmodifiedSince?: Date;
}

/** SSE-C parameters as the client sent them (checked: AES256, a base64 key, its base64 MD5). */
export interface SseCustomer {
  algorithm: string;
  key: string;
  keyMd5: string;
}

export interface HeadOptions extends Conditions {
  /** Ask for the object's checksum headers (the client sent `x-amz-checksum-mode: ENABLED`). */
  checksumMode?: boolean;
  /** The object's customer-provided key (SSE-C), which S3 needs to read it. */
  sseCustomer?: SseCustomer;
  /**
   * S3's `partNumber` (1-10000): one part of an object uploaded in parts, read like a range (an
   * object in one piece has part 1 only). Never together with `range`.
   */
  partNumber?: number;
  signal?: AbortSignal;
}

export interface GetOptions extends HeadOptions {
  range?: ByteRange;
}

export interface GetResult {
  meta: ObjectMeta;
  /** Present when a range was served: the first and last byte (inclusive) and the total size. */
  range?: { start: number; end: number; total: number };
  /** Length of `body` in bytes; undefined when the backend did not say (a chunked answer). */
  contentLength?: number;
  body: AsyncIterable<Uint8Array>;
}

export interface ListParams {
  bucket: string;
  prefix: string;
  delimiter?: string;
  /** Exclusive lower bound on keys (S3 StartAfter). */
  startAfter?: string;
  /** The backend's own continuation token (never shown to clients as is). */
  continuationToken?: string;
  maxKeys: number;
  signal?: AbortSignal;
}

export interface ListedObject {
  key: string;
  size: number;
  etag: string;
  lastModified: Date;
  storageClass?: string;
}

export interface ListPage {
  objects: ListedObject[];
  commonPrefixes: string[];
  isTruncated: boolean;
  nextContinuationToken?: string;
}

/**
 * GetObject query parameters a presigned URL may sign besides its own, so that the client that
 * follows it gets what the same request proxied would: S3's `response-*` header overrides,
 * `x-amz-checksum-mode` (a header, carried in the query as the AWS SDKs' presigners carry it),
 * and the part asked for.
 */
export const PRESIGNED_GET_PARAMS = [
  'response-cache-control',
  'response-content-disposition',
  'response-content-encoding',
  'response-content-language',
  'response-content-type',
  'response-expires',
  'x-amz-checksum-mode',
  'partNumber',
] as const;
export type PresignedGetParam = (typeof PRESIGNED_GET_PARAMS)[number];

export interface PresignOptions {
  expiresInSeconds: number;
  /** Parameters the URL signs, unencoded; absent in the common case (no override, no checksums). */
  query?: Partial<Record<PresignedGetParam, string>>;
  /**
   * SSE-C: signed as headers (not in the URL: the key is a secret), which the URL's follower
   * must then send with the same values.
   */
  sseCustomer?: SseCustomer;
}

export interface StorageBackend {
  get(ref: ObjectRef, options?: GetOptions): Promise<GetResult>;
  head(ref: ObjectRef, options?: HeadOptions): Promise<ObjectMeta>;
  list(params: ListParams): Promise<ListPage>;
  presign(ref: ObjectRef, options: PresignOptions): Promise<string>;
}

/**
 * What a backend throws. `kind` is the proxy's vocabulary; the S3 layer maps it to an S3 error.
 * Anything else thrown by a backend is treated as an internal error.
 */
export type StorageErrorKind =
  | 'NotFound'
  | 'NotModified'
  | 'PreconditionFailed'
  | 'InvalidRange'
  | 'Throttled'
  | 'Unavailable'
  | 'AccessDenied'
  | 'Aborted'
  /** The backend's 400 (a request it found malformed: the proxy's fault unless SseCustomer). */
  | 'BadRequest'
  /** An object read refused for its SSE-C parameters: none for an SSE-C object, or unfitting. */
  | 'SseCustomer'
  | 'Internal';

export class StorageError extends Error {
  constructor(
    readonly kind: StorageErrorKind,
    message: string,
    readonly details?: {
      etag?: string;
      lastModified?: Date;
      /** A 400 saying the object is stored with SSE-C and needs its key (S3's message). */
      sseCustomerRequired?: boolean;
      /** The object's size, where a 416 told it (S3's ActualObjectSize). */
      objectSize?: number;
      /** The object's part count, where a 416 to a part told it (S3's ActualPartCount). */
      partCount?: number;
      /**
       * A 403 InvalidObjectState: the object is in an archive class (GLACIER, DEEP_ARCHIVE, an
       * archive tier) and must be restored before it is read; its storage class, where S3 said.
       */
      archived?: { storageClass?: string };
    },
  ) {
    super(message);
    this.name = 'StorageError';
  }
}
