/**
 * Presigned GetObject URLs at the cost of one SHA-256 and one HMAC. The SDK's getSignedUrl runs
 * the client's whole middleware stack (endpoint rules, serializers, the signer) for every URL:
 * about a millisecond, which would make the 307 path slower than streaming small objects. Here
 * the SDK is asked once per bucket; its URL gives the endpoint (scheme, host, path or virtual-host
 * style) and the signing scope (region, service) exactly as the SDK resolves them, and every
 * later URL is signed directly: SigV4 query authentication, SignedHeaders=host, UNSIGNED-PAYLOAD,
 * with the same query parameters the SDK writes (test/storage/s3-presigner.test.ts compares the
 * two byte for byte), including the GetObject parameters a request asks to be signed (its
 * `response-*` overrides, checksum mode). Credentials come from the client's provider each time
 * (cached there, and refreshed by it before temporary credentials expire).
 */
import { createHmac, createSecretKey, hash, type KeyObject } from 'node:crypto';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { secondsWithin } from '../core/lifetime';
import { uriEscape } from '../core/uri-escape';
import { editRequest } from './request-edit';
import { sseCustomerParams } from './sse-customer-params';
import {
  type ObjectRef,
  PRESIGNED_GET_PARAMS,
  type PresignOptions,
  type SseCustomer,
} from './storage-backend';

/** Where a bucket's objects live and how the SDK signs for them, learned from one SDK URL. */
export interface BucketEndpoint {
  /** `https://bucket.s3.eu-west-1.amazonaws.com` or `http://127.0.0.1:9000`. */
  origin: string;
  host: string;
  /** Path before the encoded key: `/` (virtual-host style) or `/bucket/` (path style). */
  pathPrefix: string;
  region: string;
  service: string;
}

export interface Identity {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** When temporary credentials expire (the SDK's AwsCredentialIdentity). */
  expiration?: Date;
}

/** S3's key encoding in a path: each segment RFC 3986-encoded, "/" kept (as the SDK does). */
export function encodeKey(key: string): string {
  return uriEscape(key).replaceAll('%2F', '/');
}

interface FixedParts extends Identity {
  shortDate: string;
  scope: string;
  /** A KeyObject: createHmac imports a raw key on every call otherwise. */
  key: KeyObject;
  /** Encoded query up to and including `X-Amz-Date=`. */
  head: string;
  /** `&X-Amz-Security-Token=…` or "". */
  token: string;
}

const SIGNED_HEADERS = '&X-Amz-SignedHeaders=host';
const X_ID = '&x-id=GetObject';
const TAIL = `${SIGNED_HEADERS}${X_ID}`;

/**
 * The GetObject parameters in SigV4's canonical order (by name, byte order; none needs encoding).
 * Every one sorts after X-Amz-SignedHeaders and before x-id, which is where they go.
 */
const CANONICAL_GET_PARAMS = [...PRESIGNED_GET_PARAMS].sort();

/** `&name=value` for each parameter given, RFC 3986-encoded, in canonical order. */
function canonicalExtra(query: NonNullable<PresignOptions['query']>): string {
  let out = '';
  for (const name of CANONICAL_GET_PARAMS) {
    const value = query[name];
    if (value !== undefined) out += `&${name}=${uriEscape(value)}`;
  }
  return out;
}

/** The query parameters (but the session token) of the SDK's presigned GetObject, in its order. */
const SDK_PARAMS = [
  'X-Amz-Algorithm',
  'X-Amz-Content-Sha256',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-Signature',
  'X-Amz-SignedHeaders',
  'x-id',
].join('&');

let lastSecond = -1;
let lastDate = '';

/** "yyyymmddThhmmssZ", computed once per second. */
function amzDate(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    lastDate = new Date(second * 1000)
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '');
    lastSecond = second;
  }
  return lastDate;
}

export class S3Presigner {
  private readonly endpoints = new Map<string, BucketEndpoint>();
  private readonly fixed = new WeakMap<BucketEndpoint, FixedParts>();

  constructor(
    private readonly client: S3Client,
    private readonly now: () => number = Date.now,
  ) {}

  async presign(
    ref: ObjectRef,
    expiresInSeconds: number,
    query?: PresignOptions['query'],
    sseCustomer?: SseCustomer,
  ): Promise<string> {
    const endpoint = this.endpoints.get(ref.bucket);
    const identity = (await this.client.config.credentials()) as Identity;
    const at = this.now();
    // S3 refuses a URL signed with temporary credentials once they expire, whatever X-Amz-Expires
    // says (the provider renews them minutes before: a long presignExpiresSeconds can outlive them).
    const expiresIn = secondsWithin(expiresInSeconds, identity.expiration?.getTime(), at);
    // SSE-C signs three headers besides host: rare enough to leave to the SDK's signer.
    if (!endpoint || sseCustomer) return this.learn(ref, expiresIn, query, sseCustomer);
    const extra = query ? canonicalExtra(query) : '';
    return this.sign(endpoint, identity, encodeKey(ref.key), expiresIn, at, extra);
  }

  /**
   * First URL of a bucket: the SDK's own, and the endpoint it reveals for the next ones. With
   * SSE-C the SDK's presigner signs the customer-key headers (never hoisted into the query, so
   * the key stays out of the URL); such a URL signs more than host and teaches nothing.
   */
  private async learn(
    ref: ObjectRef,
    expiresIn: number,
    query: PresignOptions['query'],
    sseCustomer?: SseCustomer,
  ): Promise<string> {
    const command = withQuery(
      new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key, ...sseCustomerParams(sseCustomer) }),
      query,
    );
    const url = await getSignedUrl(this.client, command, { expiresIn });
    const parsed = new URL(url);
    const encoded = encodeKey(ref.key);
    const scope = parsed.searchParams.get('X-Amz-Credential')?.split('/');
    const names = [...parsed.searchParams.keys()]
      .filter((n) => n !== 'X-Amz-Security-Token' && !(query && Object.hasOwn(query, n)))
      .join('&');
    // Only a shape we reproduce exactly is learned; anything else keeps using the SDK.
    if (
      names === SDK_PARAMS &&
      parsed.searchParams.get('X-Amz-SignedHeaders') === 'host' &&
      parsed.pathname.endsWith(encoded) &&
      scope?.length === 5
    ) {
      this.endpoints.set(ref.bucket, {
        origin: parsed.origin,
        host: parsed.host,
        pathPrefix: parsed.pathname.slice(0, parsed.pathname.length - encoded.length),
        region: scope[2]!,
        service: scope[3]!,
      });
    }
    return url;
  }

  /**
   * The signed URL (public for tests). `extra` is canonicalExtra's encoding of the GetObject
   * parameters to sign, "" when there are none.
   */
  sign(
    endpoint: BucketEndpoint,
    identity: Identity,
    encodedKey: string,
    expiresIn: number,
    at: number,
    extra = '',
  ): string {
    const longDate = amzDate(at);
    const fixed = this.fixedParts(endpoint, identity, longDate.slice(0, 8));
    // The query in SigV4's canonical (sorted) order, which is also the order the SDK writes.
    const middle = `${longDate}&X-Amz-Expires=${expiresIn}${fixed.token}`;
    const tail = extra === '' ? TAIL : `${SIGNED_HEADERS}${extra}${X_ID}`;
    const path = `${endpoint.pathPrefix}${encodedKey}`;
    const canonical = `GET\n${path}\n${fixed.head}${middle}${tail}\nhost:${endpoint.host}\n\nhost\nUNSIGNED-PAYLOAD`;
    const hashed = hash('sha256', canonical, 'hex');
    const toSign = `AWS4-HMAC-SHA256\n${longDate}\n${fixed.scope}\n${hashed}`;
    const signature = createHmac('sha256', fixed.key).update(toSign, 'utf8').digest('hex');
    return `${endpoint.origin}${path}?${fixed.head}${middle}&X-Amz-Signature=${signature}${tail}`;
  }

  /**
   * What stays the same for a day, a bucket endpoint and a set of credentials: the scope, the
   * derived signing key and the encoded query parameters around the date. One entry per bucket.
   */
  private fixedParts(endpoint: BucketEndpoint, identity: Identity, shortDate: string): FixedParts {
    const cached = this.fixed.get(endpoint);
    if (
      cached?.shortDate === shortDate &&
      cached.accessKeyId === identity.accessKeyId &&
      cached.secretAccessKey === identity.secretAccessKey &&
      cached.sessionToken === identity.sessionToken
    )
      return cached;
    const scope = `${shortDate}/${endpoint.region}/${endpoint.service}/aws4_request`;
    let key: Buffer = createHmac('sha256', `AWS4${identity.secretAccessKey}`).update(shortDate).digest();
    for (const part of [endpoint.region, endpoint.service, 'aws4_request'])
      key = createHmac('sha256', key).update(part).digest();
    const parts: FixedParts = {
      shortDate,
      accessKeyId: identity.accessKeyId,
      secretAccessKey: identity.secretAccessKey,
      sessionToken: identity.sessionToken,
      scope,
      key: createSecretKey(key),
      head: `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Content-Sha256=UNSIGNED-PAYLOAD&X-Amz-Credential=${uriEscape(`${identity.accessKeyId}/${scope}`)}&X-Amz-Date=`,
      token: identity.sessionToken ? `&X-Amz-Security-Token=${uriEscape(identity.sessionToken)}` : '',
    };
    this.fixed.set(endpoint, parts);
    return parts;
  }
}

/**
 * The SDK's command with the parameters added to its query before it is signed: as given (a
 * `response-expires` need not be a date the SDK's ResponseExpires could hold), signed and written
 * in canonical order by the SDK's signer like any other query parameter.
 */
function withQuery(command: GetObjectCommand, query: PresignOptions['query']): GetObjectCommand {
  if (!query) return command;
  return editRequest(command, 'presignedGetQuery', (request) => {
    if (request.query) Object.assign(request.query, query);
  });
}
