import { describe, expect, it } from 'vitest';
import {
  HELPER_AGENT,
  headersForProxy,
  headersForRedirect,
  parseTarget,
  redirectTarget,
  upstreamFor,
} from '../../client/upstream';

const target = parseTarget('https://abc.lambda-url.eu-west-1.on.aws');
const AUTH =
  'AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=ab';

describe('client helper: where requests go', () => {
  it('accepts an http(s) origin as target and nothing else', () => {
    expect(parseTarget('http://127.0.0.1:18080').host).toBe('127.0.0.1:18080');
    expect(() => parseTarget('ftp://x')).toThrow(/http\(s\)/);
    expect(() => parseTarget('https://x/prefix')).toThrow(/origin only/);
    expect(() => parseTarget('not a url')).toThrow(/must be a URL/);
  });

  it('maps a path onto the target, and an absolute http URL only when it names the target host', () => {
    expect(upstreamFor('/datalake/k?x=1', target)).toEqual({
      origin: target,
      path: '/datalake/k?x=1',
      mode: 'endpoint',
    });
    expect(upstreamFor('http://abc.lambda-url.eu-west-1.on.aws/datalake/k', target)).toEqual({
      origin: target,
      path: '/datalake/k',
      mode: 'http-proxy',
    });
    // A path that a URL parser would read as another host, or resolve, stays a path on the target.
    expect(upstreamFor('//evil.example/k', target)).toMatchObject({
      origin: target,
      path: '//evil.example/k',
    });
    expect(
      upstreamFor('http://abc.lambda-url.eu-west-1.on.aws//evil.example/a/../k?q', target),
    ).toMatchObject({
      origin: target,
      path: '//evil.example/a/../k?q',
    });
    expect(upstreamFor('http://abc.lambda-url.eu-west-1.on.aws?list-type=2', target)).toMatchObject({
      path: '/?list-type=2',
    });
    expect(upstreamFor('http://evil.example/datalake/k', target)).toEqual({
      refused: 'this helper forwards only to abc.lambda-url.eu-west-1.on.aws',
    });
    expect(upstreamFor('http://abc.lambda-url.eu-west-1.on.aws:8080/k', target)).toHaveProperty('refused');
  });
});

describe('client helper: headers', () => {
  it('forwards Host and the signature untouched, drops hop-by-hop headers, announces itself', () => {
    const sent = headersForProxy(
      [
        'Host',
        '127.0.0.1:18090',
        'Authorization',
        AUTH,
        'User-Agent',
        'Boto3/1.43',
        'Connection',
        'keep-alive',
      ],
      '/datalake/k',
    );
    expect(sent).toEqual([
      'Host',
      '127.0.0.1:18090',
      'Authorization',
      AUTH,
      'User-Agent',
      `${HELPER_AGENT} Boto3/1.43`,
    ]);
  });

  it('leaves a signed User-Agent alone (the signature must stay valid)', () => {
    const signedAgent = AUTH.replace('host;x-amz-date', 'host;user-agent;x-amz-date');
    const sent = headersForProxy(['Authorization', signedAgent, 'User-Agent', 'aws-sdk-cpp/1.11'], '/k');
    expect(sent).toContain('aws-sdk-cpp/1.11');
    const presigned = headersForProxy(['User-Agent', 'x'], '/k?X-Amz-SignedHeaders=host%3Buser-agent');
    expect(presigned).toEqual(['User-Agent', 'x']);
  });

  it('sends a redirected GET without any credential, keeping Range and conditions', () => {
    const location = new URL('https://bucket.s3.eu-west-1.amazonaws.com/k?X-Amz-Signature=s');
    const follow = headersForRedirect(
      [
        'Host',
        '127.0.0.1:18090',
        'Authorization',
        AUTH,
        'X-Amz-Date',
        '20260101T000000Z',
        'X-Amz-Security-Token',
        'token',
        'Cookie',
        'c=1',
        'Range',
        'bytes=0-3',
        'If-Match',
        '"e"',
        'User-Agent',
        'Boto3/1.43',
      ],
      location,
    );
    expect(follow).toEqual([
      'Host',
      'bucket.s3.eu-west-1.amazonaws.com',
      'Range',
      'bytes=0-3',
      'If-Match',
      '"e"',
      'User-Agent',
      'Boto3/1.43',
    ]);
  });

  it("forwards the client's SSE-C headers only to a URL that signs them", () => {
    const sse = [
      'X-Amz-Server-Side-Encryption-Customer-Algorithm',
      'AES256',
      'X-Amz-Server-Side-Encryption-Customer-Key',
      'a2V5',
      'X-Amz-Server-Side-Encryption-Customer-Key-MD5',
      'bWQ1',
    ];
    const headers = ['Authorization', AUTH, 'X-Amz-Date', '20260101T000000Z', ...sse];
    const signing = new URL(
      'https://s3.example/k?X-Amz-SignedHeaders=host%3Bx-amz-server-side-encryption-customer-algorithm%3Bx-amz-server-side-encryption-customer-key%3Bx-amz-server-side-encryption-customer-key-md5&X-Amz-Signature=s',
    );
    expect(headersForRedirect(headers, signing)).toEqual(['Host', 's3.example', ...sse]);
    const hostOnly = new URL('https://s3.example/k?X-Amz-SignedHeaders=host&X-Amz-Signature=s');
    expect(headersForRedirect(headers, hostOnly)).toEqual(['Host', 's3.example']);
  });

  it('follows redirects of GET and HEAD only, to http(s) locations only', () => {
    const base = new URL('http://127.0.0.1:1/datalake/k');
    expect(redirectTarget('GET', 307, 'https://s3.example/k?sig', base)?.host).toBe('s3.example');
    expect(redirectTarget('HEAD', 301, '/other', base)?.href).toBe('http://127.0.0.1:1/other');
    expect(redirectTarget('PUT', 307, 'https://s3.example/k', base)).toBeUndefined();
    expect(redirectTarget('GET', 200, 'https://s3.example/k', base)).toBeUndefined();
    expect(redirectTarget('GET', 307, 'file:///etc/passwd', base)).toBeUndefined();
    expect(redirectTarget('GET', 307, undefined, base)).toBeUndefined();
  });
});
