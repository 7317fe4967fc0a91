import { paramValues, type QueryParam } from '../core/raw-query';
import { S3Error } from '../core/s3-error';
import type { Headers } from '../core/types';
import { parseAmzDate } from './amz-date';
import { ALGORITHM } from './canonical-request';
import { checkScopeDate, parseCredentialScope } from './credential-scope';
import { checkPayloadHash, UNSIGNED_PAYLOAD } from './payload-hash';
import type { SignatureClaim } from './signature-claim';
import { parseSignedHeaders } from './signed-headers';

/** The longest a SigV4 presigned URL may live (seven days), as S3 enforces it. */
export const MAX_PRESIGNED_EXPIRES_SECONDS = 604_800;

const REQUIRED = [
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Signature',
  'X-Amz-Date',
  'X-Amz-SignedHeaders',
  'X-Amz-Expires',
] as const;

function queryError(message: string): S3Error {
  return new S3Error('AuthorizationQueryParametersError', message);
}

/** Parses the X-Amz-* parameters of a presigned URL. */
export function parsePresignedQuery(query: readonly QueryParam[], headers: Headers): SignatureClaim {
  const value: Partial<Record<(typeof REQUIRED)[number], string>> = {};
  for (const name of REQUIRED) {
    const values = paramValues(query, name);
    if (values.length !== 1) {
      throw queryError(
        'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
      );
    }
    value[name] = values[0];
  }
  const v = value as Record<(typeof REQUIRED)[number], string>;
  if (v['X-Amz-Algorithm'] !== ALGORITHM) throw queryError(`X-Amz-Algorithm only supports "${ALGORITHM}"`);

  const scope = parseCredentialScope(v['X-Amz-Credential'], 'query');
  const longDate = v['X-Amz-Date'];
  const requestTime = parseAmzDate(longDate);
  if (requestTime === undefined) {
    throw queryError(`X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'"`);
  }
  checkScopeDate(scope, longDate, 'query');

  const expires = v['X-Amz-Expires'];
  if (/^-\d+$/.test(expires)) throw queryError('X-Amz-Expires must be non-negative');
  if (!/^\d+$/.test(expires)) throw queryError('X-Amz-Expires should be a number');
  const expiresSeconds = Number(expires);
  if (expiresSeconds > MAX_PRESIGNED_EXPIRES_SECONDS) {
    throw queryError(
      `X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than ${MAX_PRESIGNED_EXPIRES_SECONDS} seconds`,
    );
  }

  const signedHeaders = parseSignedHeaders(v['X-Amz-SignedHeaders'], 'query');
  // A presigned URL signs no body unless the signer put a hash in the query (or a signed header).
  const claimedHash =
    query.find((p) => p.name.toLowerCase() === 'x-amz-content-sha256')?.value ??
    headers['x-amz-content-sha256'];
  const payloadHash = claimedHash === undefined ? UNSIGNED_PAYLOAD : checkPayloadHash(claimedHash);
  return {
    form: 'query',
    scope,
    longDate,
    requestTime,
    signedHeaders,
    signature: v['X-Amz-Signature'],
    payloadHash,
    expiresSeconds,
  };
}
