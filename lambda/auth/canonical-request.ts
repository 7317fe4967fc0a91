import { createHmac, hash, type KeyObject } from 'node:crypto';
import type { QueryParam } from '../core/raw-query';
import type { Headers } from '../core/types';
import { uriEscape } from '../core/uri-escape';

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
  /** The values of each header sent more than once (ProxyRequest.repeatedHeaders). */
  repeatedHeaders?: ReadonlyMap<string, readonly string[]> | undefined;
  /** The header names the client says it signed, lower-case. */
  signedHeaders: readonly string[];
  payloadHash: string;
}

/**
 * The SigV4 canonical request, as @smithy/signature-v4 (the AWS SDK's signer) builds it with
 * path escaping off, as for S3: the raw path ("/" when empty); the query with names and values
 * RFC 3986-encoded, sorted by name then value, X-Amz-Signature (any case) left out; exactly the
 * headers the client listed, sorted and once each, values with CR/LF turned into spaces, runs of
 * spaces and tabs folded to one space and the ends trimmed (a listed header that is absent counts
 * as empty; one sent more than once is its values, each so folded, joined with "," in the order
 * sent, as the aws-sig-v4-test-suite and botocore do); the sorted list of their names; the
 * payload hash. Written here rather than called from @smithy because its generic version (header
 * maps, unsignable-header rules, regular expressions on every value) was most of a verification's
 * cost; test/auth/canonical-request checks the two agree on generated requests.
 */
export function canonicalRequest(parts: SignedParts): string {
  const names = sortedNames(parts.signedHeaders);
  const lines: string[] = [];
  const repeated = parts.repeatedHeaders;
  for (const name of names) {
    const values = repeated?.get(name);
    if (values !== undefined) {
      lines.push(`${name}:${values.map(canonicalHeaderValue).join(',')}`);
      continue;
    }
    const value = Object.hasOwn(parts.headers, name) ? parts.headers[name] : undefined;
    lines.push(`${name}:${typeof value === 'string' ? canonicalHeaderValue(value) : ''}`);
  }
  const path = parts.rawPath === '' ? '/' : parts.rawPath;
  return `${parts.method}\n${path}\n${canonicalQuery(parts.query)}\n${lines.join('\n')}\n\n${names.join(';')}\n${parts.payloadHash}`;
}

/** The names sorted and without repeats; SDKs send them sorted already, so that is checked first. */
function sortedNames(names: readonly string[]): readonly string[] {
  for (let i = 1; i < names.length; i++) {
    if (!(names[i - 1]! < names[i]!)) return [...new Set(names)].sort();
  }
  return names;
}

const NEEDS_FOLDING = /[\t\r\n]| {2}|^ | $/;

/** Header value whitespace as SigV4 canonicalizes it (most values need nothing). */
export function canonicalHeaderValue(value: string): string {
  if (!NEEDS_FOLDING.test(value)) return value;
  return value
    .replace(/[\r\n]/g, ' ')
    .replace(/[ \t]+/g, ' ')
    .replace(/^ | $/g, '');
}

const SIGNATURE_PARAM = 'x-amz-signature';

function canonicalQuery(query: readonly QueryParam[]): string {
  if (query.length === 0) return '';
  const pairs: [name: string, value: string][] = [];
  for (const p of query) {
    if (p.name.toLowerCase() === SIGNATURE_PARAM) continue;
    pairs.push([uriEscape(p.name), uriEscape(p.value)]);
  }
  // Encoded names and values are ASCII: code-unit order is byte order, as SigV4 asks.
  pairs.sort(([an, av], [bn, bv]) => (an < bn ? -1 : an > bn ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  let out = '';
  for (let i = 0; i < pairs.length; i++) {
    const [name, value] = pairs[i]!;
    out += `${i === 0 ? '' : '&'}${name}=${value}`;
  }
  return out;
}

/** `scope` is "yyyymmdd/region/service/aws4_request"; `longDate` is "yyyymmddThhmmssZ". */
export function stringToSign(longDate: string, scope: string, canonical: string): string {
  const hashed = hash('sha256', canonical, 'hex');
  return `${ALGORITHM}\n${longDate}\n${scope}\n${hashed}`;
}

export function signatureOf(signingKey: Uint8Array | KeyObject, toSign: string): string {
  return createHmac('sha256', signingKey).update(toSign, 'utf8').digest('hex');
}
