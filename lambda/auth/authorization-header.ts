import { S3Error } from '../core/s3-error';
import type { Headers } from '../core/types';
import { formatAmzDate, parseAmzDate, parseHttpDate } from './amz-date';
import { ALGORITHM } from './canonical-request';
import { checkScopeDate, malformed, parseCredentialScope } from './credential-scope';
import { checkPayloadHash } from './payload-hash';
import type { SignatureClaim } from './signature-claim';
import { parseSignedHeaders } from './signed-headers';

const THREE_COMPONENTS =
  'the authorization header requires three components: Credential, SignedHeaders, and Signature.';

/**
 * Parses `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` and the
 * headers it depends on (x-amz-date or Date, x-amz-content-sha256).
 */
export function parseAuthorizationHeader(authorization: string, headers: Headers): SignatureClaim {
  const rest = authorization.slice(ALGORITHM.length);
  if (!/^\s/.test(rest)) throw malformed('header', THREE_COMPONENTS);
  const components = new Map<string, string>();
  for (const raw of rest.split(',')) {
    const part = raw.trim();
    const eq = part.indexOf('=');
    if (eq <= 0) throw malformed('header', THREE_COMPONENTS);
    const name = part.slice(0, eq);
    if (components.has(name)) throw malformed('header', THREE_COMPONENTS);
    components.set(name, part.slice(eq + 1));
  }
  const credential = components.get('Credential');
  const signedHeadersText = components.get('SignedHeaders');
  const signature = components.get('Signature');
  if (
    credential === undefined ||
    signedHeadersText === undefined ||
    signature === undefined ||
    components.size !== 3
  ) {
    throw malformed('header', THREE_COMPONENTS);
  }
  const scope = parseCredentialScope(credential, 'header');
  const signedHeaders = parseSignedHeaders(signedHeadersText, 'header');

  const { longDate, requestTime } = requestDate(headers);
  checkScopeDate(scope, longDate, 'header');

  const contentSha = headers['x-amz-content-sha256'];
  if (contentSha === undefined) {
    throw new S3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  }
  const payloadHash = checkPayloadHash(contentSha);
  return { form: 'header', scope, longDate, requestTime, signedHeaders, signature, payloadHash };
}

/** x-amz-date wins over Date; the string to sign always carries the basic ISO 8601 form. */
function requestDate(headers: Headers): { longDate: string; requestTime: number } {
  const amzDate = headers['x-amz-date'];
  if (amzDate !== undefined) {
    const ms = parseAmzDate(amzDate);
    if (ms !== undefined) return { longDate: amzDate, requestTime: ms };
  } else if (headers.date !== undefined) {
    const ms = parseHttpDate(headers.date);
    if (ms !== undefined) return { longDate: formatAmzDate(ms), requestTime: ms };
  }
  throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
}
