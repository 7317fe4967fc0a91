import { describe, expect, it } from 'vitest';
import { canonicalRequest, signatureOf, stringToSign } from '../../lambda/auth/canonical-request';
import { StaticCredentialStore } from '../../lambda/auth/credential-store';
import { deriveSigningKey } from '../../lambda/auth/signing-key-cache';
import { SigV4Authenticator } from '../../lambda/auth/sigv4-authenticator';
import { parseRawQuery } from '../../lambda/core/raw-query';
import type { ProxyRequest } from '../../lambda/core/types';

const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

// The worked examples of the S3 API reference ("Signature Calculations for the Authorization
// Header" and "Authenticating Requests: Using Query Parameters"), all signed at 20130524T000000Z.
describe('the S3 documentation examples verify through the authenticator', () => {
  const S3_KEY = {
    accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
    secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    principal: 'doc-example',
  };
  const HOST = 'examplebucket.s3.amazonaws.com';
  const authenticator = new SigV4Authenticator({
    credentials: new StaticCredentialStore([S3_KEY]),
    clock: { now: () => Date.UTC(2013, 4, 24, 0, 5, 0) },
    allowAnonymous: false,
  });
  const header = (signedHeaders: string, signature: string) =>
    `AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=${signedHeaders},Signature=${signature}`;

  const cases: Array<[string, ProxyRequest]> = [
    [
      'GET Object with a Range header',
      {
        method: 'GET',
        rawPath: '/test.txt',
        rawQuery: '',
        headers: {
          host: HOST,
          range: 'bytes=0-9',
          'x-amz-content-sha256': EMPTY,
          'x-amz-date': '20130524T000000Z',
          authorization: header(
            'host;range;x-amz-content-sha256;x-amz-date',
            'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
          ),
        },
      },
    ],
    [
      'PUT Object: a "$" in the key, a Date header and a signed payload',
      {
        method: 'PUT',
        rawPath: '/test%24file.text',
        rawQuery: '',
        headers: {
          date: 'Fri, 24 May 2013 00:00:00 GMT',
          host: HOST,
          'x-amz-date': '20130524T000000Z',
          'x-amz-storage-class': 'REDUCED_REDUNDANCY',
          'x-amz-content-sha256': '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072',
          authorization: header(
            'date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class',
            '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd',
          ),
        },
      },
    ],
    [
      'GET Bucket lifecycle: a parameter without "="',
      {
        method: 'GET',
        rawPath: '/',
        rawQuery: 'lifecycle',
        headers: {
          host: HOST,
          'x-amz-content-sha256': EMPTY,
          'x-amz-date': '20130524T000000Z',
          authorization: header(
            'host;x-amz-content-sha256;x-amz-date',
            'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543',
          ),
        },
      },
    ],
    [
      'GET Bucket (list objects): parameters sent out of order',
      {
        method: 'GET',
        rawPath: '/',
        rawQuery: 'prefix=J&max-keys=2',
        headers: {
          host: HOST,
          'x-amz-content-sha256': EMPTY,
          'x-amz-date': '20130524T000000Z',
          authorization: header(
            'host;x-amz-content-sha256;x-amz-date',
            '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7',
          ),
        },
      },
    ],
    [
      'a presigned GET valid for a day',
      {
        method: 'GET',
        rawPath: '/test.txt',
        rawQuery:
          'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404',
        headers: { host: HOST },
      },
    ],
  ];

  it.each(cases)('%s', async (_name, req) => {
    const presigned = req.rawQuery.includes('X-Amz-Signature=');
    await expect(authenticator.authenticate(req)).resolves.toEqual({
      name: 'doc-example',
      accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
      anonymous: false,
      // A presigned URL's credential ends with it: X-Amz-Date + X-Amz-Expires (a day).
      ...(presigned ? { validUntil: Date.UTC(2013, 4, 25, 0, 0, 0) } : {}),
    });
  });
});

// The generic aws-sig-v4-test-suite (service "service", 20150830T123600Z): exercises the
// canonical request and key derivation for cases that need no path normalization, the only
// difference between S3 and the other services.
describe('the aws-sig-v4-test-suite vectors give the published signatures', () => {
  const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
  const LONG_DATE = '20150830T123600Z';
  const SCOPE = '20150830/us-east-1/service/aws4_request';

  function sign(
    method: string,
    rawPath: string,
    rawQuery: string,
    extra: Record<string, string> = {},
    repeatedHeaders?: ReadonlyMap<string, readonly string[]>,
  ) {
    const headers = { host: 'example.amazonaws.com', 'x-amz-date': LONG_DATE, ...extra };
    const canonical = canonicalRequest({
      method,
      rawPath,
      query: parseRawQuery(rawQuery),
      headers,
      repeatedHeaders,
      signedHeaders: Object.keys(headers).sort(),
      payloadHash: EMPTY,
    });
    const key = deriveSigningKey(SECRET, '20150830', 'us-east-1', 'service');
    return signatureOf(key, stringToSign(LONG_DATE, SCOPE, canonical));
  }

  it.each([
    ['get-vanilla', 'GET', '/', '', {}, '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31'],
    ['post-vanilla', 'POST', '/', '', {}, '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b'],
    [
      'get-vanilla-query-order-key-case',
      'GET',
      '/',
      'Param2=value2&Param1=value1',
      {},
      'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500',
    ],
    [
      'get-utf8',
      'GET',
      '/%E1%88%B4',
      '',
      {},
      '8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85',
    ],
    [
      'get-space-unnormalized',
      'GET',
      '/example%20space/',
      '',
      {},
      '652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741',
    ],
    [
      'get-unreserved',
      'GET',
      '/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',
      '',
      {},
      '07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f',
    ],
    [
      'get-vanilla-utf8-query',
      'GET',
      '/',
      '%E1%88%B4=bar',
      {},
      '2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04',
    ],
    [
      'post-header-key-sort',
      'POST',
      '/',
      '',
      { 'my-header1': 'value1' },
      'c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c',
    ],
  ] as const)('%s', (_name, method, rawPath, rawQuery, extra, expected) => {
    expect(sign(method, rawPath, rawQuery, extra)).toBe(expected);
  });

  // A header sent more than once: its values joined with "," in the order sent (node:http hands
  // the proxy "value2, value2, value1"; the adapter passes the lines on as repeatedHeaders).
  it.each([
    [
      'get-header-key-duplicate',
      ['value2', 'value2', 'value1'],
      'c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea',
    ],
    [
      'get-header-value-order',
      ['value4', 'value1', 'value3', 'value2'],
      '08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01',
    ],
  ] as const)('%s', (_name, values, expected) => {
    const joined = { 'my-header1': values.join(', ') };
    expect(sign('GET', '/', '', joined, new Map([['my-header1', values]]))).toBe(expected);
  });

  it('derives the signing key of the SigV4 documentation example', () => {
    expect(deriveSigningKey(SECRET, '20120215', 'us-east-1', 'iam').toString('hex')).toBe(
      'f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d',
    );
  });
});
