import { createHash, createHmac } from 'node:crypto';
import { getCanonicalHeaders, SignatureV4Base } from '@smithy/signature-v4';
import type { HttpRequest } from '@smithy/types';
import { type QueryParam, toSmithyQuery } from '../core/raw-query';
import type { Headers } from '../core/types';
import { NodeSha256 } from './node-sha256';

export const ALGORITHM = 'AWS4-HMAC-SHA256';

/** Everything a SigV4 signature covers, taken from the request as received. */
export interface SignedParts {
  method: string;
  /** The path exactly as sent (S3 signs it as sent: encoded once by the client, never again). */
  rawPath: string;
  /** Decoded query parameters; X-Amz-Signature is left out of the canonical form. */
  query: readonly QueryParam[];
  /** Lower-case header names. */
  headers: Headers;
  /** The header names the client says it signed, lower-case. */
  signedHeaders: readonly string[];
  payloadHash: string;
}

/**
 * The canonicalization itself is @smithy/signature-v4's (the AWS SDK's own signer), with path
 * escaping off as for S3. Only the header set differs from what its `sign()` would choose: we
 * canonicalize exactly the headers the client listed, even ones the SDK never signs itself.
 */
class S3Canonicalizer extends SignatureV4Base {
  constructor() {
    super({
      service: 's3',
      region: 'unused',
      credentials: { accessKeyId: 'unused', secretAccessKey: 'unused' },
      sha256: NodeSha256,
      uriEscapePath: false,
    });
  }

  canonicalRequest(parts: SignedParts): string {
    const present: Record<string, string> = Object.create(null);
    for (const name of parts.signedHeaders) present[name] = parts.headers[name] ?? '';
    const request = {
      method: parts.method,
      path: parts.rawPath === '' ? '/' : parts.rawPath,
      query: toSmithyQuery(parts.query),
      headers: present,
      protocol: 'https:',
      hostname: parts.headers.host ?? '',
    } as HttpRequest;
    const canonicalHeaders = getCanonicalHeaders(request, undefined, new Set(parts.signedHeaders));
    return this.createCanonicalRequest(request, canonicalHeaders, parts.payloadHash);
  }
}

const canonicalizer = new S3Canonicalizer();

export function canonicalRequest(parts: SignedParts): string {
  return canonicalizer.canonicalRequest(parts);
}

/** `scope` is "yyyymmdd/region/service/aws4_request"; `longDate` is "yyyymmddThhmmssZ". */
export function stringToSign(longDate: string, scope: string, canonical: string): string {
  const hashed = createHash('sha256').update(canonical, 'utf8').digest('hex');
  return `${ALGORITHM}\n${longDate}\n${scope}\n${hashed}`;
}

export function signatureOf(signingKey: Uint8Array, toSign: string): string {
  return createHmac('sha256', signingKey).update(toSign, 'utf8').digest('hex');
}
