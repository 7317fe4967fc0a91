import { getCanonicalHeaders, SignatureV4Base } from '@smithy/signature-v4';
import type { HttpRequest } from '@smithy/types';
import { describe, expect, it } from 'vitest';
import { canonicalRequest, type SignedParts } from '../../lambda/auth/canonical-request';
import { parseRawQuery } from '../../lambda/core/raw-query';
import { NodeSha256 } from '../helpers/node-sha256';

/**
 * The reference: the canonical request exactly as the AWS SDK's own signer (@smithy/signature-v4)
 * builds it for S3 (no path escaping), over exactly the headers the client listed. This is what
 * the proxy called before it had its own builder.
 */
class SmithyCanonicalizer extends SignatureV4Base {
  constructor() {
    super({
      service: 's3',
      region: 'unused',
      credentials: { accessKeyId: 'unused', secretAccessKey: 'unused' },
      sha256: NodeSha256,
      uriEscapePath: false,
    });
  }

  canonical(parts: SignedParts): string {
    const present: Record<string, string> = Object.create(null);
    for (const name of parts.signedHeaders) present[name] = parts.headers[name] ?? '';
    const query: Record<string, string | string[]> = Object.create(null);
    for (const { name, value } of parts.query) {
      const prior = query[name];
      if (prior === undefined) query[name] = value;
      else if (Array.isArray(prior)) prior.push(value);
      else query[name] = [prior, value];
    }
    const request = {
      method: parts.method,
      path: parts.rawPath === '' ? '/' : parts.rawPath,
      query,
      headers: present,
      protocol: 'https:',
      hostname: parts.headers.host ?? '',
    } as HttpRequest;
    const headers = getCanonicalHeaders(request, undefined, new Set(parts.signedHeaders));
    return this.createCanonicalRequest(request, headers, parts.payloadHash);
  }
}
const smithy = new SmithyCanonicalizer();

/** A small deterministic PRNG (mulberry32): the same cases on every run. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Characters chosen for what canonicalization treats specially: reserved and sub-delims,
// !'()* (which encodeURIComponent leaves alone), "%" and "+", whitespace of every kind, non-ASCII.
const VALUE_CHARS = [
  'a',
  'Z',
  '0',
  '-',
  '_',
  '.',
  '~',
  ' ',
  '  ',
  '\t',
  '\r\n',
  '\n',
  '!',
  "'",
  '(',
  ')',
  '*',
  '%',
  '%2F',
  '+',
  '=',
  '&',
  '/',
  '?',
  '#',
  ';',
  ':',
  ',',
  '@',
  '$',
  'é',
  '€',
  '😀',
  'x-amz-',
];
const NAME_POOL = [
  'a',
  'A',
  'b',
  'B',
  'list-type',
  'prefix',
  'x-id',
  'X-Amz-Signature',
  'x-amz-signature',
  'X-AMZ-SIGNATURE',
  'Zed',
  'z',
  '1',
  '10',
  '2',
  '-',
  '_',
  '~',
  'é',
  'a b',
  "a'b",
  'a*',
];
const HEADER_POOL = [
  'host',
  'range',
  'x-amz-date',
  'x-amz-content-sha256',
  'x-amz-meta-a',
  'content-type',
  'a',
  'b1',
  '1',
  '10',
  '9',
  'x-custom',
  'user-agent',
  'authorization',
  'proxy-x',
  'sec-x',
  'if-match',
  'missing-one',
];

describe('the canonical request agrees with the AWS SDK signer (@smithy/signature-v4)', () => {
  const random = prng(20261204);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const text = (max: number) => {
    let s = '';
    const n = Math.floor(random() * max);
    for (let i = 0; i < n; i++) s += pick(VALUE_CHARS);
    return s;
  };

  function generated(): SignedParts {
    const headers: Record<string, string> = {};
    for (const name of HEADER_POOL) if (name !== 'missing-one' && random() < 0.5) headers[name] = text(8);
    const signedHeaders: string[] = [];
    const count = 1 + Math.floor(random() * 6);
    for (let i = 0; i < count; i++) signedHeaders.push(pick(HEADER_POOL));
    // Mostly sorted and distinct, as SDKs send them; sometimes neither.
    if (random() < 0.7) signedHeaders.sort();
    const rawQuery: string[] = [];
    const params = Math.floor(random() * 6);
    for (let i = 0; i < params; i++) {
      const name = random() < 0.7 ? encodeURIComponent(pick(NAME_POOL)) : pick(NAME_POOL);
      // Raw as clients send it: encoded, not encoded, bare names, malformed escapes.
      const value = random() < 0.6 ? encodeURIComponent(text(6)) : text(4).replace(/[&#\r\n]/g, '');
      rawQuery.push(random() < 0.15 ? name : `${name}=${value}`);
    }
    return {
      method: pick(['GET', 'HEAD', 'PUT']),
      rawPath: pick(['', '/', '/datalake/sales/a%20b.parquet', '/b/k%2Fk/', '/b/é', "/b/it's(1)*"]),
      query: parseRawQuery(rawQuery.join('&')),
      headers,
      signedHeaders,
      payloadHash: pick([
        'UNSIGNED-PAYLOAD',
        'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
        'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      ]),
    };
  }

  it('on 2,000 generated requests: query encoding and order, repeats, whitespace folding, absent headers', () => {
    for (let i = 0; i < 2_000; i++) {
      const parts = generated();
      expect(canonicalRequest(parts), JSON.stringify(parts)).toBe(smithy.canonical(parts));
    }
  });

  it('folds header whitespace the way SigV4 does', () => {
    const parts: SignedParts = {
      method: 'GET',
      rawPath: '/b/k',
      query: [],
      headers: { host: 'h', 'x-amz-meta-a': '  one \t two\r\n  three  ', 'x-amz-meta-b': '\tx' },
      signedHeaders: ['host', 'x-amz-meta-a', 'x-amz-meta-b'],
      payloadHash: 'UNSIGNED-PAYLOAD',
    };
    expect(canonicalRequest(parts)).toBe(
      'GET\n/b/k\n\nhost:h\nx-amz-meta-a:one two three\nx-amz-meta-b:x\n\nhost;x-amz-meta-a;x-amz-meta-b\nUNSIGNED-PAYLOAD',
    );
    expect(canonicalRequest(parts)).toBe(smithy.canonical(parts));
  });

  it('binds a query parameter named __proto__ to its value (the SDK signer would print "[object Object]")', () => {
    const parts = (value: string): SignedParts => ({
      method: 'GET',
      rawPath: '/b/k',
      query: parseRawQuery(`__proto__=${value}&a=1`),
      headers: { host: 'h' },
      signedHeaders: ['host'],
      payloadHash: 'UNSIGNED-PAYLOAD',
    });
    expect(canonicalRequest(parts('x'))).toContain('\n__proto__=x&a=1\n');
    expect(canonicalRequest(parts('x'))).not.toBe(canonicalRequest(parts('y')));
  });
});
