/** Turns the storage vocabulary into what an S3 client expects. */
import { S3Error } from '../core/s3-error';
import { StorageError } from '../storage/storage-backend';
import { httpDate } from './s3-encoding';

export interface NotModified {
  notModified: true;
  headers: Record<string, string>;
}

/** 304 is not an error for S3 clients: it is answered with headers and no body. */
export function notModifiedOf(err: unknown): NotModified | undefined {
  if (!(err instanceof StorageError) || err.kind !== 'NotModified') return undefined;
  const headers: Record<string, string> = {};
  if (err.details?.etag) headers.etag = err.details.etag;
  if (err.details?.lastModified && !Number.isNaN(err.details.lastModified.getTime()))
    headers['last-modified'] = httpDate(err.details.lastModified);
  return { notModified: true, headers };
}

/** S3's answer for a key that is not there (`reason`: why, for the audit line). */
export function noSuchKey(key: string, reason?: string): S3Error {
  return new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: key }, reason);
}

/**
 * A storage failure as the S3 error a client can act on. Messages and reasons name no backend
 * bucket or prefix: the StorageError's own message carries only the backend's error name.
 * Without a `key`, NotFound is the proxy's problem (a mapped bucket or a file the log names is
 * gone), not the client's.
 */
export function toS3Error(err: unknown, key?: string): S3Error | unknown {
  if (!(err instanceof StorageError)) return err;
  switch (err.kind) {
    case 'NotFound':
      if (key === undefined)
        return new S3Error(
          'InternalError',
          undefined,
          {},
          `backend object or bucket missing: ${err.message}`,
        );
      return noSuchKey(key);
    case 'PreconditionFailed':
      return new S3Error(
        'PreconditionFailed',
        'At least one of the pre-conditions you specified did not hold',
        {
          Condition: 'If-Match',
        },
      );
    case 'InvalidRange':
      return new S3Error('InvalidRange', 'The requested range is not satisfiable');
    case 'Throttled':
      return new S3Error(
        'SlowDown',
        'Please reduce your request rate.',
        {},
        `backend throttled: ${err.message}`,
      );
    case 'Unavailable':
      return new S3Error('ServiceUnavailable', 'Service is unable to handle request.', {}, err.message);
    case 'AccessDenied':
      // Not the caller's grants: the proxy's own access to storage (IAM, bucket or key policy).
      return new S3Error(
        'AccessDenied',
        'Access Denied: the storage behind this proxy refused the read; ask its operator.',
        {},
        err.message,
      );
    case 'SseCustomer':
      // S3's 400 to a read whose SSE-C parameters do not fit the object: the client's to fix.
      if (key === undefined)
        return new S3Error('InternalError', undefined, {}, `backend refused SSE-C: ${err.message}`);
      return new S3Error(
        'InvalidRequest',
        'The storage refused to read this object with the SSE-C parameters given: an object stored with a customer-provided key (SSE-C) is read only with its x-amz-server-side-encryption-customer-* headers, and any other object only without them.',
        {},
        err.message,
      );
    case 'NotModified':
      return new S3Error('NotModified');
    default:
      return new S3Error(
        'InternalError',
        'We encountered an internal error. Please try again.',
        {},
        err.message,
      );
  }
}
