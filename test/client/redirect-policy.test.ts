/** Which Locations the client helper follows (client/redirect-policy.ts). */
import { describe, expect, it } from 'vitest';
import { redirectPolicy } from '../../client/redirect-policy';

const PRESIGNED =
  'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=abab';
const at = (origin: string) => new URL(`${origin}/bucket/k?${PRESIGNED}`);

describe('client helper: redirect policy', () => {
  it('follows only SigV4 presigned URLs', () => {
    const policy = redirectPolicy(new URL('http://127.0.0.1:18080'));
    expect(() => policy.check(at('http://127.0.0.1:9000'))).not.toThrow();
    expect(() => policy.check(new URL('http://127.0.0.1:9000/admin'))).toThrow(/not a presigned S3 URL/);
    expect(() =>
      policy.check(new URL(`http://127.0.0.1:9000/k?${PRESIGNED.replace('AWS4-HMAC-SHA256', 'X')}`)),
    ).toThrow(/not a presigned/);
  });

  it('refuses loopback (and 0.0.0.0, localhost) when the proxy is not on loopback', () => {
    const policy = redirectPolicy(new URL('https://abc.lambda-url.eu-west-1.on.aws'));
    for (const origin of [
      'https://127.0.0.1:9000',
      'https://localhost:9000',
      'https://0.0.0.0',
      'https://[::1]',
    ]) {
      expect(() => policy.check(at(origin)), origin).toThrow(/loopback/);
    }
    expect(() => policy.check(at('https://bucket.s3.eu-west-1.amazonaws.com'))).not.toThrow();
    expect(() => policy.check(at('https://10.1.2.3'))).not.toThrow(); // PrivateLink
  });

  it('refuses link-local and metadata addresses whatever the proxy, and http behind an https proxy', () => {
    for (const target of ['http://127.0.0.1:18080', 'https://abc.lambda-url.eu-west-1.on.aws']) {
      const policy = redirectPolicy(new URL(target));
      expect(() => policy.check(at('https://169.254.169.254'))).toThrow(/link-local/);
      expect(() => policy.check(at('https://[fd00:ec2::254]'))).toThrow(/link-local/);
    }
    const https = redirectPolicy(new URL('https://abc.lambda-url.eu-west-1.on.aws'));
    expect(() => https.check(at('http://bucket.s3.eu-west-1.amazonaws.com'))).toThrow(/https/);
    // No network between a local https front and a local S3 stand-in: http is fine there.
    expect(() =>
      redirectPolicy(new URL('https://127.0.0.1:8443')).check(at('http://127.0.0.1:9000')),
    ).not.toThrow();
  });

  it('--allow-redirect-host exempts a host from the address rules, not from the presigned check', () => {
    const policy = redirectPolicy(new URL('https://abc.lambda-url.eu-west-1.on.aws'), [
      '169.254.10.10',
      'LocalHost',
      '[::1]',
    ]);
    expect(() => policy.check(at('http://169.254.10.10'))).not.toThrow();
    expect(() => policy.check(at('http://localhost:9000'))).not.toThrow();
    expect(() => policy.check(at('http://[::1]:9000'))).not.toThrow();
    expect(() => policy.check(new URL('http://localhost:9000/b/k'))).toThrow(/not a presigned/);
  });

  it('checks the addresses a name resolves to', async () => {
    const resolveTo =
      (address: string) => (_name: string, _options: unknown, callback: (...a: unknown[]) => void) =>
        callback(null, [{ address, family: 4 }]);
    const lookupOf = (address: string, allow: string[] = []) =>
      new Promise<string>((resolve) =>
        redirectPolicy(
          new URL('https://abc.lambda-url.eu-west-1.on.aws'),
          allow,
          resolveTo(address) as never,
        ).lookup('s3.example', {}, (err, addr) => resolve(err ? err.message : String(addr))),
      );
    expect(await lookupOf('52.1.2.3')).toBe('52.1.2.3');
    expect(await lookupOf('169.254.169.254')).toMatch(/s3\.example refused: .*link-local/);
    expect(await lookupOf('127.0.0.1')).toMatch(/loopback/);
    expect(await lookupOf('127.0.0.1', ['s3.example'])).toBe('127.0.0.1');
  });
});
