/**
 * An object the proxy makes itself instead of reading it from the backend (a file of the filtered
 * `_delta_log/` view): its whole body, with the ETag and Last-Modified that listings report for it.
 */
export interface GeneratedObject {
  body: Uint8Array;
  /** Quoted, like S3's: the MD5 of the body, so the same content always has the same ETag. */
  etag: string;
  lastModified: Date;
  contentType: string;
}

/** What a listing shows of a generated object. */
export interface GeneratedObjectMeta {
  size: number;
  etag: string;
  lastModified: Date;
}
