/**
 * The reason class of a finished request (see ReasonClass): from the stage that refused it and
 * the S3 error code, so that it stays a small fixed set whatever the free-text reason says.
 */
import type { ReasonClass } from '../core/observer';
import type { S3Error } from '../core/s3-error';

/**
 * Where in the pipeline a request was when it ended. `receive`: the request's size is checked,
 * before authentication (an oversized URL or header section is a refused request, not a failed
 * authentication).
 */
export type Stage = 'receive' | 'authenticate' | 'route' | 'authorize' | 'serve';

export function reasonClassOf(stage: Stage, error: S3Error | undefined, bodyFailed: boolean): ReasonClass {
  if (bodyFailed) return 'internal';
  if (!error) return 'granted';
  switch (error.code) {
    case 'SlowDown':
    case 'ServiceUnavailable':
      return 'unavailable';
    case 'InternalError':
      return 'internal';
    case 'PreconditionFailed':
    case 'InvalidRange':
    case 'InvalidPartNumber':
    case 'NotModified':
      return 'condition';
  }
  if (error.status >= 500 && error.code !== 'NotImplemented') return 'internal';
  if (stage === 'authenticate') return 'authentication';
  if (stage === 'authorize') return error.code === 'AccessDenied' ? 'grant' : 'not-found';
  if (error.code === 'NoSuchKey' || error.code === 'NoSuchBucket') return 'not-found';
  return 'request';
}
