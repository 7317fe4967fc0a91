import { timingSafeEqual } from 'node:crypto';
import { ANONYMOUS, type Principal } from '../core/principal';
import { parseRawQuery, type QueryParam } from '../core/raw-query';
import { isS3Error, S3Error } from '../core/s3-error';
import type { Clock, ProxyRequest } from '../core/types';
import { isoSeconds } from './amz-date';
import type { Authenticator } from './authenticator';
import { parseAuthorizationHeader } from './authorization-header';
import {
  ALGORITHM,
  canonicalRequest,
  type SignedParts,
  signatureOf,
  stringToSign,
} from './canonical-request';
import { scopeString } from './credential-scope';
import type { AccessKey, CredentialStore } from './credential-store';
import { refusePayloadSigning } from './payload-hash';
import { parsePresignedQuery } from './presigned-query';
import type { SignatureClaim } from './signature-claim';
import { requireSigned } from './signed-headers';
import { SigningKeyCache } from './signing-key-cache';

/** S3 refuses a request whose time is more than 15 minutes from its own. */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

export interface SigV4AuthenticatorOptions {
  credentials: CredentialStore;
  clock: Clock;
  /** Requests carrying no signature at all get the ANONYMOUS principal instead of AccessDenied. */
  allowAnonymous: boolean;
  /** Bound on cached derived signing keys (one per key, day and region in use). */
  signingKeyCacheSize?: number;
}

const ONE_MECHANISM =
  'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified';
const SIGV2_REFUSED =
  'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.';
/** The methods the proxy serves; every other one is refused by routing without reading a body. */
const READ_METHODS = new Set(['GET', 'HEAD']);
const PRESIGN_PARAMS = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature'];
const SIGV2_PARAMS = ['AWSAccessKeyId', 'Signature'];

/**
 * Verifies AWS Signature V4, in the Authorization header or in a presigned query, the way S3
 * does: the signature is recomputed from the raw path and raw query as received (never from
 * re-encoded parsed values) with the secret of the access key it names, and compared in
 * constant time. Secrets and signatures never leave this class, in errors or otherwise.
 */
export class SigV4Authenticator implements Authenticator {
  private readonly credentials: CredentialStore;
  private readonly clock: Clock;
  private readonly allowAnonymous: boolean;
  private readonly signingKeys: SigningKeyCache;

  constructor(options: SigV4AuthenticatorOptions) {
    this.credentials = options.credentials;
    this.clock = options.clock;
    this.allowAnonymous = options.allowAnonymous;
    this.signingKeys = new SigningKeyCache(options.signingKeyCacheSize);
  }

  async authenticate(req: ProxyRequest): Promise<Principal> {
    const query = parseRawQuery(req.rawQuery);
    const authorization = req.headers.authorization;
    const presigned = query.some((p) => PRESIGN_PARAMS.includes(p.name));
    const sigV2Query = query.some((p) => SIGV2_PARAMS.includes(p.name));

    if (authorization !== undefined && (presigned || sigV2Query)) {
      throw new S3Error('InvalidArgument', ONE_MECHANISM, { ArgumentName: 'Authorization' });
    }
    let claim: SignatureClaim;
    if (authorization !== undefined) {
      if (authorization.startsWith(ALGORITHM)) {
        claim = parseAuthorizationHeader(authorization, req.headers);
      } else if (authorization.startsWith('AWS ')) {
        throw new S3Error('InvalidRequest', SIGV2_REFUSED, {}, 'signature version 2 header');
      } else {
        throw new S3Error('InvalidArgument', 'Unsupported Authorization Type', {
          ArgumentName: 'Authorization',
        });
      }
    } else if (presigned) {
      if (sigV2Query) {
        throw new S3Error('InvalidArgument', ONE_MECHANISM, { ArgumentName: 'X-Amz-Algorithm' });
      }
      claim = parsePresignedQuery(query, req.headers);
    } else if (sigV2Query) {
      throw new S3Error('InvalidRequest', SIGV2_REFUSED, {}, 'signature version 2 query');
    } else {
      if (this.allowAnonymous) return ANONYMOUS;
      throw new S3Error('AccessDenied', undefined, {}, 'unsigned request');
    }

    requireSigned(req.headers, claim.signedHeaders);
    const key = await this.lookup(claim.scope.accessKeyId);
    this.checkTime(claim);
    this.checkSignature(claim, key, {
      method: req.method,
      rawPath: req.rawPath,
      query,
      headers: req.headers,
      repeatedHeaders: req.repeatedHeaders,
      signedHeaders: claim.signedHeaders,
      payloadHash: claim.payloadHash,
    });
    // The proxy's keys are long-term: no session token belongs to any of them, and S3 answers a
    // long-term key that brings one the same way. Checked once the signature holds, so that a
    // mismatch still shows its (redacted) canonical request.
    if (req.headers['x-amz-security-token'] !== undefined || query.some(isSecretParam))
      throw new S3Error('InvalidToken', undefined, {}, 'session token with a long-term key');
    // A write is refused by routing (403 on a read-only proxy, else 405) whatever its payload, and
    // that is the answer an SDK upload (sent aws-chunked) should get, not a 501 counted as a server error.
    if (READ_METHODS.has(req.method.toUpperCase())) refusePayloadSigning(claim.payloadHash);
    const principal: Principal = { name: key.principal, accessKeyId: key.accessKeyId, anonymous: false };
    if (claim.form === 'query') principal.validUntil = claim.requestTime + (claim.expiresSeconds ?? 0) * 1000;
    return principal;
  }

  private async lookup(accessKeyId: string): Promise<AccessKey> {
    let key: AccessKey | undefined;
    try {
      key = await this.credentials.lookup(accessKeyId);
    } catch (e) {
      if (isS3Error(e)) throw e;
      // Fail closed: a store that cannot answer is not a "no such key".
      const why = e instanceof Error ? e.message : String(e);
      throw new S3Error('ServiceUnavailable', undefined, {}, `credential store unavailable: ${why}`);
    }
    if (!key || key.status === 'revoked') {
      throw new S3Error(
        'InvalidAccessKeyId',
        undefined,
        { AWSAccessKeyId: accessKeyId },
        'unknown access key',
      );
    }
    return key;
  }

  private checkTime(claim: SignatureClaim): void {
    const now = this.clock.now();
    if (claim.form === 'header') {
      if (Math.abs(now - claim.requestTime) > MAX_CLOCK_SKEW_MS) {
        throw new S3Error('RequestTimeTooSkewed', undefined, {
          RequestTime: claim.longDate,
          ServerTime: isoSeconds(now),
          MaxAllowedSkewMilliseconds: String(MAX_CLOCK_SKEW_MS),
        });
      }
      return;
    }
    if (claim.requestTime - now > MAX_CLOCK_SKEW_MS) {
      throw new S3Error('AccessDenied', 'Request is not valid yet', {
        'X-Amz-Date': claim.longDate,
        ServerTime: isoSeconds(now),
      });
    }
    const expiresAt = claim.requestTime + (claim.expiresSeconds ?? 0) * 1000;
    if (now > expiresAt) {
      throw new S3Error('AccessDenied', 'Request has expired', {
        'X-Amz-Expires': String(claim.expiresSeconds),
        Expires: isoSeconds(expiresAt),
        ServerTime: isoSeconds(now),
      });
    }
  }

  private checkSignature(claim: SignatureClaim, key: AccessKey, parts: SignedParts): void {
    const { scope } = claim;
    const canonical = canonicalRequest(parts);
    const toSign = stringToSign(claim.longDate, scopeString(scope), canonical);
    const signingKey = this.signingKeys.hmacKey(
      key.accessKeyId,
      key.secretAccessKey,
      scope.shortDate,
      scope.region,
      scope.service,
    );
    const expected = Buffer.from(signatureOf(signingKey, toSign), 'utf8');
    const provided = Buffer.from(claim.signature, 'utf8');
    if (provided.length === expected.length && timingSafeEqual(provided, expected)) return;
    throw new S3Error(
      'SignatureDoesNotMatch',
      undefined,
      {
        AWSAccessKeyId: scope.accessKeyId,
        StringToSign: stringToSign(claim.longDate, scopeString(scope), forDisplay(canonical, parts)),
        CanonicalRequest: forDisplay(canonical, parts),
      },
      'signature mismatch',
    );
  }
}

const REDACTED = 'REDACTED';
/** Signed values that are secrets: a signature, a session token, SSE-C encryption keys. */
const SECRET_HEADERS = [
  'authorization',
  'x-amz-security-token',
  'x-amz-server-side-encryption-customer-key',
  'x-amz-copy-source-server-side-encryption-customer-key',
];
const isSecretParam = (p: QueryParam) => p.name.toLowerCase() === 'x-amz-security-token';

/**
 * S3 returns the canonical request with SignatureDoesNotMatch so a client can find its mistake.
 * It holds no secret unless the client signed its session token, an SSE-C key or (absurdly) its
 * own Authorization header: those values are blanked, so the copy can go into logs and errors.
 */
function forDisplay(canonical: string, parts: SignedParts): string {
  const secretHeader = parts.signedHeaders.some((h) => SECRET_HEADERS.includes(h));
  const secretParam = parts.query.some(isSecretParam);
  if (!secretHeader && !secretParam) return canonical;
  const headers = { ...parts.headers };
  for (const h of SECRET_HEADERS) if (h in headers) headers[h] = REDACTED;
  const repeatedHeaders = redactedRepeats(parts.repeatedHeaders);
  const query: QueryParam[] = parts.query.map((p) =>
    isSecretParam(p) ? { name: p.name, value: REDACTED } : p,
  );
  return canonicalRequest({ ...parts, headers, repeatedHeaders, query });
}

/** Repeated headers with a secret one's values replaced by one REDACTED. */
function redactedRepeats(
  repeated: ReadonlyMap<string, readonly string[]> | undefined,
): ReadonlyMap<string, readonly string[]> | undefined {
  if (repeated === undefined || !SECRET_HEADERS.some((h) => repeated.has(h))) return repeated;
  const out = new Map(repeated);
  for (const h of SECRET_HEADERS) if (out.has(h)) out.set(h, [REDACTED]);
  return out;
}
