import { S3Error } from '../core/s3-error';

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

const STREAMING = [
  'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
  'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD',
  'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER',
];

export function isStreamingPayload(value: string): boolean {
  return STREAMING.includes(value);
}

/**
 * Checks an `x-amz-content-sha256` value. It is the last line of the canonical request, so the
 * signature binds it; the body itself is never read here (the proxy serves reads and never
 * forwards a request body). aws-chunked (STREAMING-*) values are accepted here so that the
 * signature is checked first; the authenticator refuses them once the caller is known
 * (refusePayloadSigning), so an anonymous request can never draw a 5xx.
 */
export function checkPayloadHash(value: string): string {
  if (value === UNSIGNED_PAYLOAD || /^[0-9a-f]{64}$/.test(value) || isStreamingPayload(value)) return value;
  throw new S3Error(
    'InvalidArgument',
    `x-amz-content-sha256 must be ${UNSIGNED_PAYLOAD}, ${STREAMING.join(', ')} or a valid sha256 value.`,
    { ArgumentName: 'x-amz-content-sha256' },
  );
}

/**
 * aws-chunked uploads would need every chunk signature verified as the body streams in, which
 * nothing downstream does, so an authenticated request that announces one is refused rather
 * than half-checked.
 */
export function refusePayloadSigning(payloadHash: string): void {
  if (!isStreamingPayload(payloadHash)) return;
  throw new S3Error(
    'NotImplemented',
    'Chunked (aws-chunked, STREAMING-*) payload signing is not supported by this endpoint.',
    { Header: 'x-amz-content-sha256' },
  );
}
