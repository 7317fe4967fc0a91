import { describe, expect, it } from 'vitest';
import { StaticCredentialStore } from '../../lambda/auth/credential-store';
import { SigV4Authenticator } from '../../lambda/auth/sigv4-authenticator';
import { isS3Error, type S3ErrorCode } from '../../lambda/core/s3-error';
import type { ProxyRequest } from '../../lambda/core/types';
import { fixedClock, KEY, keyPath, presign, signHeader } from './helpers/sign';

const SIGNED_AT = new Date('2024-06-15T12:00:00Z');
const OTHER_HASH = 'a'.repeat(64);

const authenticator = new SigV4Authenticator({
  credentials: new StaticCredentialStore([KEY]),
  clock: fixedClock(SIGNED_AT.getTime() + 30_000),
  allowAnonymous: false,
});

type Mutation = [name: string, mutate: (req: ProxyRequest) => ProxyRequest, code: S3ErrorCode];

const withHeaders = (req: ProxyRequest, change: (h: Record<string, string>) => void): ProxyRequest => {
  const headers = { ...req.headers };
  change(headers);
  return { ...req, headers };
};
const withQuery = (req: ProxyRequest, change: (parts: string[]) => string[]): ProxyRequest => ({
  ...req,
  rawQuery: change(req.rawQuery.split('&')).join('&'),
});
const withAuthorization = (req: ProxyRequest, from: RegExp | string, to: string): ProxyRequest =>
  withHeaders(req, (h) => {
    const next = h.authorization!.replace(from, to);
    expect(next).not.toBe(h.authorization);
    h.authorization = next;
  });
const flipLastHex = (s: string) => s.slice(0, -1) + (s.endsWith('0') ? '1' : '0');

/** Refused with `code`, and nothing secret in what the client (or a log) would see. */
async function expectRefused(req: ProxyRequest, code: S3ErrorCode, signature: string): Promise<void> {
  const error = await authenticator.authenticate(req).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isS3Error(error), `expected ${code}, got ${String(error)}`).toBe(true);
  if (!isS3Error(error)) return;
  expect(error.code).toBe(code);
  const visible = JSON.stringify({ message: error.message, extra: error.extra, reason: error.reason });
  expect(visible).not.toContain(KEY.secretAccessKey);
  expect(visible).not.toContain(signature);
}

describe('every signed part of a header-signed request is bound by the signature', async () => {
  const base = await signHeader({
    method: 'GET',
    path: keyPath('datalake', 'sales/year=2024/part 0001 é.parquet'),
    query: { 'list-type': '2', prefix: 'year=2024/', rep: ['b', 'a'], empty: '' },
    headers: { range: 'bytes=0-9', 'x-amz-checksum-mode': 'ENABLED', 'x-custom': 'value' },
    region: 'eu-west-3',
    date: SIGNED_AT,
  });
  const signature = /Signature=([0-9a-f]{64})/.exec(base.headers.authorization!)![1]!;
  const queryParts = base.rawQuery.split('&');

  it('the unmodified request verifies', async () => {
    await expect(authenticator.authenticate(base)).resolves.toMatchObject({ name: 'analyst-eu' });
  });

  const mutations: Mutation[] = [
    ['method GET → HEAD', (r) => ({ ...r, method: 'HEAD' }), 'SignatureDoesNotMatch'],
    ['method GET → get', (r) => ({ ...r, method: 'get' }), 'SignatureDoesNotMatch'],
    [
      'path: another key',
      (r) => ({ ...r, rawPath: r.rawPath.replace('0001', '0002') }),
      'SignatureDoesNotMatch',
    ],
    [
      'path: "=" sent raw instead of %3D',
      (r) => ({ ...r, rawPath: r.rawPath.replace('%3D', '=') }),
      'SignatureDoesNotMatch',
    ],
    [
      'path: é sent in lower-case hex',
      (r) => ({ ...r, rawPath: r.rawPath.replace('%C3%A9', '%c3%a9') }),
      'SignatureDoesNotMatch',
    ],
    ['path: trailing slash', (r) => ({ ...r, rawPath: `${r.rawPath}/` }), 'SignatureDoesNotMatch'],
    [
      'path: double slash',
      (r) => ({ ...r, rawPath: r.rawPath.replace('/sales/', '/sales//') }),
      'SignatureDoesNotMatch',
    ],
    ...queryParts.flatMap((part, i): Mutation[] => [
      [
        `query "${part}": value changed`,
        (r) => withQuery(r, (p) => p.map((x, j) => (j === i ? `${x}x` : x))),
        'SignatureDoesNotMatch',
      ],
      [
        `query "${part}": name changed`,
        (r) => withQuery(r, (p) => p.map((x, j) => (j === i ? `z${x}` : x))),
        'SignatureDoesNotMatch',
      ],
      [
        `query "${part}": removed`,
        (r) => withQuery(r, (p) => p.filter((_, j) => j !== i)),
        'SignatureDoesNotMatch',
      ],
      [`query "${part}": repeated`, (r) => withQuery(r, (p) => [...p, p[i]!]), 'SignatureDoesNotMatch'],
    ]),
    [
      'query: a parameter added',
      (r) => withQuery(r, (p) => [...p, 'delimiter=%2F']),
      'SignatureDoesNotMatch',
    ],
    [
      'query: a bare parameter added',
      (r) => withQuery(r, (p) => [...p, 'fetch-owner']),
      'SignatureDoesNotMatch',
    ],
    [
      'header host changed',
      (r) => withHeaders(r, (h) => (h.host = '127.0.0.1:9001')),
      'SignatureDoesNotMatch',
    ],
    ['header host removed', (r) => withHeaders(r, (h) => delete h.host), 'SignatureDoesNotMatch'],
    ['header range changed', (r) => withHeaders(r, (h) => (h.range = 'bytes=0-99')), 'SignatureDoesNotMatch'],
    ['header range removed', (r) => withHeaders(r, (h) => delete h.range), 'SignatureDoesNotMatch'],
    [
      'header x-custom changed',
      (r) => withHeaders(r, (h) => (h['x-custom'] = 'other')),
      'SignatureDoesNotMatch',
    ],
    [
      'header x-amz-checksum-mode removed',
      (r) => withHeaders(r, (h) => delete h['x-amz-checksum-mode']),
      'SignatureDoesNotMatch',
    ],
    [
      'header x-amz-date one second later',
      (r) => withHeaders(r, (h) => (h['x-amz-date'] = '20240615T120001Z')),
      'SignatureDoesNotMatch',
    ],
    [
      'header x-amz-date another day',
      (r) => withHeaders(r, (h) => (h['x-amz-date'] = '20240616T120000Z')),
      'AuthorizationHeaderMalformed',
    ],
    ['header x-amz-date removed', (r) => withHeaders(r, (h) => delete h['x-amz-date']), 'AccessDenied'],
    [
      'payload hash: another sha256',
      (r) => withHeaders(r, (h) => (h['x-amz-content-sha256'] = OTHER_HASH)),
      'SignatureDoesNotMatch',
    ],
    [
      'payload hash: UNSIGNED-PAYLOAD',
      (r) => withHeaders(r, (h) => (h['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD')),
      'SignatureDoesNotMatch',
    ],
    [
      'payload hash removed',
      (r) => withHeaders(r, (h) => delete h['x-amz-content-sha256']),
      'InvalidRequest',
    ],
    [
      'an unsigned x-amz-* header added',
      (r) => withHeaders(r, (h) => (h['x-amz-request-payer'] = 'requester')),
      'AccessDenied',
    ],
    [
      'credential: region',
      (r) => withAuthorization(r, '/eu-west-3/', '/eu-west-1/'),
      'SignatureDoesNotMatch',
    ],
    [
      'credential: date',
      (r) => withAuthorization(r, '/20240615/', '/20240614/'),
      'AuthorizationHeaderMalformed',
    ],
    ['credential: service', (r) => withAuthorization(r, '/s3/', '/s4/'), 'AuthorizationHeaderMalformed'],
    [
      'credential: access key',
      (r) => withAuthorization(r, KEY.accessKeyId, 'AKIDOTHER'),
      'InvalidAccessKeyId',
    ],
    [
      'signed headers: x-custom left out',
      (r) => withAuthorization(r, ';x-custom', ''),
      'SignatureDoesNotMatch',
    ],
    ['signed headers: range left out', (r) => withAuthorization(r, 'range;', ''), 'SignatureDoesNotMatch'],
    [
      'signed headers: x-amz-checksum-mode left out',
      (r) => withAuthorization(r, 'x-amz-checksum-mode;', ''),
      'AccessDenied',
    ],
    ['signed headers: host left out', (r) => withAuthorization(r, 'host;', ''), 'AccessDenied'],
    [
      'signature: last digit',
      (r) => withAuthorization(r, signature, flipLastHex(signature)),
      'SignatureDoesNotMatch',
    ],
    [
      'signature: upper-case',
      (r) => withAuthorization(r, signature, signature.toUpperCase()),
      'SignatureDoesNotMatch',
    ],
    [
      'signature: truncated',
      (r) => withAuthorization(r, signature, signature.slice(0, 63)),
      'SignatureDoesNotMatch',
    ],
    [
      'a presigned signature added to the query',
      (r) => withQuery(r, (p) => [...p, `X-Amz-Signature=${signature}`]),
      'InvalidArgument',
    ],
  ];

  it.each(mutations)('%s is refused', async (_name, mutate, code) => {
    await expectRefused(mutate(base), code, signature);
  });
});

describe('every signed part of a presigned URL is bound by the signature', async () => {
  const base = await presign({
    method: 'GET',
    path: keyPath('datalake', 'c++/a+b=c d.txt'),
    query: { 'response-content-type': 'text/plain', 'x-id': 'GetObject' },
    region: 'garage',
    date: SIGNED_AT,
    expiresIn: 600,
  });
  const signature = /X-Amz-Signature=([0-9a-f]{64})/.exec(base.rawQuery)![1]!;
  const param = (name: string, change: (value: string) => string) => (r: ProxyRequest) =>
    withQuery(r, (parts) =>
      parts.map((p) => (p.startsWith(`${name}=`) ? `${name}=${change(p.slice(name.length + 1))}` : p)),
    );

  it('the unmodified URL verifies', async () => {
    await expect(authenticator.authenticate(base)).resolves.toMatchObject({ name: 'analyst-eu' });
  });

  const mutations: Mutation[] = [
    ['method GET → PUT', (r) => ({ ...r, method: 'PUT' }), 'SignatureDoesNotMatch'],
    [
      'path: another key',
      (r) => ({ ...r, rawPath: r.rawPath.replace('c%20d', 'c%20e') }),
      'SignatureDoesNotMatch',
    ],
    [
      'path: "+" sent raw instead of %2B',
      (r) => ({ ...r, rawPath: r.rawPath.replace('%2B', '+') }),
      'SignatureDoesNotMatch',
    ],
    ['host header', (r) => withHeaders(r, (h) => (h.host = 'evil.example')), 'SignatureDoesNotMatch'],
    ['response-content-type', param('response-content-type', () => 'text%2Fhtml'), 'SignatureDoesNotMatch'],
    ['x-id', param('x-id', () => 'PutObject'), 'SignatureDoesNotMatch'],
    ['X-Amz-Content-Sha256', param('X-Amz-Content-Sha256', () => OTHER_HASH), 'SignatureDoesNotMatch'],
    [
      'X-Amz-Algorithm',
      param('X-Amz-Algorithm', () => 'AWS4-HMAC-SHA512'),
      'AuthorizationQueryParametersError',
    ],
    [
      'X-Amz-Credential region',
      param('X-Amz-Credential', (v) => v.replace('garage', 'auto')),
      'SignatureDoesNotMatch',
    ],
    [
      'X-Amz-Credential key',
      param('X-Amz-Credential', (v) => v.replace(KEY.accessKeyId, 'AKIDOTHER')),
      'InvalidAccessKeyId',
    ],
    [
      'X-Amz-Credential date',
      param('X-Amz-Credential', (v) => v.replace('20240615', '20240614')),
      'AuthorizationQueryParametersError',
    ],
    ['X-Amz-Date one second later', param('X-Amz-Date', () => '20240615T120001Z'), 'SignatureDoesNotMatch'],
    ['X-Amz-Expires shorter', param('X-Amz-Expires', () => '599'), 'SignatureDoesNotMatch'],
    ['X-Amz-Expires longer', param('X-Amz-Expires', () => '601'), 'SignatureDoesNotMatch'],
    ['X-Amz-SignedHeaders', param('X-Amz-SignedHeaders', () => 'host%3Brange'), 'SignatureDoesNotMatch'],
    ['X-Amz-Signature', param('X-Amz-Signature', flipLastHex), 'SignatureDoesNotMatch'],
    [
      'X-Amz-Signature removed',
      (r) => withQuery(r, (p) => p.filter((x) => !x.startsWith('X-Amz-Signature='))),
      'AuthorizationQueryParametersError',
    ],
    [
      'X-Amz-Signature repeated',
      (r) => withQuery(r, (p) => [...p, `X-Amz-Signature=${signature}`]),
      'AuthorizationQueryParametersError',
    ],
    ['a parameter added', (r) => withQuery(r, (p) => [...p, 'partNumber=1']), 'SignatureDoesNotMatch'],
    [
      'an Authorization header added',
      (r) => withHeaders(r, (h) => (h.authorization = 'Bearer token')),
      'InvalidArgument',
    ],
    [
      'an unsigned x-amz-* header added',
      (r) => withHeaders(r, (h) => (h['x-amz-checksum-mode'] = 'ENABLED')),
      'AccessDenied',
    ],
  ];

  it.each(mutations)('%s is refused', async (_name, mutate, code) => {
    await expectRefused(mutate(base), code, signature);
  });
});
