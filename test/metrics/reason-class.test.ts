/** Every refusal lands in one reason class of a fixed set, decided by stage and S3 error code. */
import { describe, expect, it } from 'vitest';
import { S3Error, type S3ErrorCode, S3ErrorCodes } from '../../lambda/core/s3-error';
import { reasonClassOf, type Stage } from '../../lambda/pipeline/reason-class';

const err = (code: S3ErrorCode) => new S3Error(code);

describe('reasonClassOf', () => {
  it.each([
    ['authenticate', 'SignatureDoesNotMatch', 'authentication'],
    ['authenticate', 'InvalidAccessKeyId', 'authentication'],
    ['authenticate', 'RequestTimeTooSkewed', 'authentication'],
    ['authenticate', 'AccessDenied', 'authentication'],
    ['authenticate', 'SlowDown', 'unavailable'],
    ['receive', 'InvalidURI', 'request'],
    ['receive', 'RequestHeaderSectionTooLarge', 'request'],
    ['route', 'AccessDenied', 'request'],
    ['route', 'MethodNotAllowed', 'request'],
    ['route', 'InvalidArgument', 'request'],
    ['route', 'NotImplemented', 'request'],
    ['serve', 'NoSuchBucket', 'not-found'],
    ['serve', 'NoSuchKey', 'not-found'],
    ['serve', 'PreconditionFailed', 'condition'],
    ['serve', 'InvalidRange', 'condition'],
    ['serve', 'ServiceUnavailable', 'unavailable'],
    ['serve', 'InternalError', 'internal'],
    ['authorize', 'AccessDenied', 'grant'],
    ['authorize', 'NoSuchKey', 'not-found'],
    ['authorize', 'SlowDown', 'unavailable'],
  ] as [Stage, S3ErrorCode, string][])('%s + %s → %s', (stage, code, expected) => {
    expect(reasonClassOf(stage, err(code), false)).toBe(expected);
  });

  it('is granted without an error and internal when the body broke after the status', () => {
    expect(reasonClassOf('serve', undefined, false)).toBe('granted');
    expect(reasonClassOf('serve', undefined, true)).toBe('internal');
  });

  it('never answers outside the fixed set, whatever the code and stage', () => {
    const classes = new Set([
      'granted',
      'authentication',
      'grant',
      'not-found',
      'request',
      'condition',
      'unavailable',
      'internal',
    ]);
    for (const stage of ['receive', 'authenticate', 'route', 'authorize', 'serve'] as Stage[])
      for (const code of Object.keys(S3ErrorCodes) as S3ErrorCode[])
        expect(classes).toContain(reasonClassOf(stage, err(code), false));
  });
});
