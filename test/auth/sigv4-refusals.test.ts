import { describe, expect, it } from 'vitest';
import type { AccessKey, CredentialStore } from '../../lambda/auth/credential-store';
import { StaticCredentialStore } from '../../lambda/auth/credential-store';
import { MAX_CLOCK_SKEW_MS, SigV4Authenticator } from '../../lambda/auth/sigv4-authenticator';
import { ANONYMOUS } from '../../lambda/core/principal';
import { isS3Error, type S3Error } from '../../lambda/core/s3-error';
import type { ProxyRequest } from '../../lambda/core/types';
import { fixedClock, KEY, keyPath, presign, signHeader } from './helpers/sign';

const T = new Date('2024-06-15T12:00:00Z');
const store = new StaticCredentialStore([KEY]);

function authenticatorAt(
  ms: number,
  options: { allowAnonymous?: boolean; credentials?: CredentialStore } = {},
) {
  return new SigV4Authenticator({
    credentials: options.credentials ?? store,
    clock: fixedClock(ms),
    allowAnonymous: options.allowAnonymous ?? false,
  });
}
const atT = authenticatorAt(T.getTime());

async function refusal(auth: SigV4Authenticator, req: ProxyRequest): Promise<S3Error> {
  const e = await auth.authenticate(req).then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!isS3Error(e)) throw new Error(`expected an S3Error, got ${String(e)}`);
  return e;
}

const bare = (over: Partial<ProxyRequest> = {}): ProxyRequest => ({
  method: 'GET',
  rawPath: '/datalake/t/a.parquet',
  rawQuery: '',
  headers: { host: '127.0.0.1:9000' },
  ...over,
});
const signedGet = () => signHeader({ path: keyPath('datalake', 't/a.parquet'), date: T });
const presignedGet = (expiresIn = 300) =>
  presign({ path: keyPath('datalake', 't/a.parquet'), date: T, expiresIn });

describe('requests without a signature', () => {
  it('are refused with 403 AccessDenied by default', async () => {
    const e = await refusal(atT, bare());
    expect([e.status, e.code, e.message]).toEqual([403, 'AccessDenied', 'Access Denied']);
  });

  it('get the anonymous principal when the config allows anonymous access', async () => {
    await expect(authenticatorAt(T.getTime(), { allowAnonymous: true }).authenticate(bare())).resolves.toBe(
      ANONYMOUS,
    );
  });

  it('a signed request still has to verify when anonymous access is allowed', async () => {
    const req = await signedGet();
    req.headers.range = 'bytes=0-1';
    req.headers.authorization = req.headers.authorization!.replace(
      'SignedHeaders=host;',
      'SignedHeaders=host;range;',
    );
    const e = await refusal(authenticatorAt(T.getTime(), { allowAnonymous: true }), req);
    expect(e.code).toBe('SignatureDoesNotMatch');
  });
});

describe('unsupported and ambiguous mechanisms get S3 400 errors', () => {
  it.each([
    [
      'a SigV2 Authorization header',
      bare({ headers: { host: 'h', authorization: 'AWS AKIDTESTPROXY:c2lnbmF0dXJl' } }),
    ],
    [
      'a SigV2 presigned query',
      bare({ rawQuery: 'AWSAccessKeyId=AKIDTESTPROXY&Expires=1718452800&Signature=c2ln%3D' }),
    ],
  ])('%s is InvalidRequest', async (_name, req) => {
    const e = await refusal(atT, req);
    expect([e.status, e.code, e.message]).toEqual([
      400,
      'InvalidRequest',
      'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
    ]);
  });

  it('an Authorization header together with a presigned query is InvalidArgument, as S3 answers it', async () => {
    const p = await presignedGet();
    const s = await signedGet();
    const e = await refusal(atT, {
      ...p,
      headers: { ...p.headers, authorization: s.headers.authorization! },
    });
    expect([e.status, e.code]).toEqual([400, 'InvalidArgument']);
    expect(e.message).toMatch(/^Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter/);
    expect(JSON.stringify(e.extra)).not.toContain('Signature=');
  });

  it('an unknown Authorization scheme is InvalidArgument', async () => {
    const e = await refusal(atT, bare({ headers: { host: 'h', authorization: 'Bearer abc' } }));
    expect([e.status, e.code, e.message]).toEqual([400, 'InvalidArgument', 'Unsupported Authorization Type']);
  });
});

describe('malformed SigV4 is refused before any key lookup', () => {
  const header = (value: string, extra: Record<string, string> = {}) =>
    bare({
      headers: {
        host: 'h',
        'x-amz-date': '20240615T120000Z',
        'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
        authorization: value,
        ...extra,
      },
    });
  const good = 'Credential=AKIDTESTPROXY/20240615/us-east-1/s3/aws4_request';

  it.each([
    ['no Signature', `AWS4-HMAC-SHA256 ${good}, SignedHeaders=host`, 'requires three components'],
    ['nothing after the algorithm', 'AWS4-HMAC-SHA256', 'requires three components'],
    [
      'a short credential',
      'AWS4-HMAC-SHA256 Credential=AKID/20240615/s3/aws4_request, SignedHeaders=host, Signature=00',
      'the Credential is mal-formed',
    ],
    [
      'another service',
      'AWS4-HMAC-SHA256 Credential=AKID/20240615/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=00',
      'incorrect service "ec2". This endpoint belongs to "s3".',
    ],
    [
      'another terminal',
      'AWS4-HMAC-SHA256 Credential=AKID/20240615/us-east-1/s3/aws5_request, SignedHeaders=host, Signature=00',
      'incorrect terminal "aws5_request"',
    ],
    [
      'upper-case signed headers',
      `AWS4-HMAC-SHA256 ${good}, SignedHeaders=Host, Signature=00`,
      'SignedHeaders',
    ],
  ])('%s: AuthorizationHeaderMalformed', async (_name, value, detail) => {
    const e = await refusal(atT, header(value));
    expect([e.status, e.code]).toEqual([400, 'AuthorizationHeaderMalformed']);
    expect(e.message).toContain('The authorization header is malformed; ');
    expect(e.message).toContain(detail);
  });

  it('no x-amz-content-sha256 header: InvalidRequest', async () => {
    const req = header(`AWS4-HMAC-SHA256 ${good}, SignedHeaders=host, Signature=00`);
    delete req.headers['x-amz-content-sha256'];
    const e = await refusal(atT, req);
    expect([e.code, e.message]).toEqual([
      'InvalidRequest',
      'Missing required header for this request: x-amz-content-sha256',
    ]);
  });

  it('a nonsense x-amz-content-sha256 is InvalidArgument', async () => {
    const value = `AWS4-HMAC-SHA256 ${good}, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=00`;
    expect((await refusal(atT, header(value, { 'x-amz-content-sha256': 'abc' }))).code).toBe(
      'InvalidArgument',
    );
  });

  it('aws-chunked payloads are NotImplemented (501) only for an authenticated caller, never for free', async () => {
    const value = `AWS4-HMAC-SHA256 ${good}, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=00`;
    const streaming = { 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' };
    expect((await refusal(atT, header(value, streaming))).code).toBe('SignatureDoesNotMatch');
    const unknownKey = value.replace(KEY.accessKeyId, 'AKIDUNKNOWN00000');
    expect((await refusal(atT, header(unknownKey, streaming))).code).toBe('InvalidAccessKeyId');
    const signed = await signHeader({
      path: keyPath('datalake', 't/a.parquet'),
      date: T,
      payloadHash: streaming['x-amz-content-sha256'],
    });
    const e = await refusal(atT, signed);
    expect([e.status, e.code]).toEqual([501, 'NotImplemented']);
  });

  it('no usable date: AccessDenied', async () => {
    const req = header(`AWS4-HMAC-SHA256 ${good}, SignedHeaders=host, Signature=00`, {
      'x-amz-date': '2024-06-15',
    });
    const e = await refusal(atT, req);
    expect([e.code, e.message]).toEqual([
      'AccessDenied',
      'AWS authentication requires a valid Date or x-amz-date header',
    ]);
  });

  it.each([
    [
      'X-Amz-Algorithm missing',
      (q: string) => q.replace(/X-Amz-Algorithm=[^&]*&?/, ''),
      'requires the X-Amz-Algorithm',
    ],
    [
      'another algorithm',
      (q: string) => q.replace('AWS4-HMAC-SHA256', 'AWS4-ECDSA-P256-SHA256'),
      'only supports',
    ],
    [
      'X-Amz-Expires not a number',
      (q: string) => q.replace(/X-Amz-Expires=\d+/, 'X-Amz-Expires=soon'),
      'should be a number',
    ],
    [
      'X-Amz-Expires negative',
      (q: string) => q.replace(/X-Amz-Expires=\d+/, 'X-Amz-Expires=-1'),
      'must be non-negative',
    ],
    [
      'X-Amz-Expires over a week',
      (q: string) => q.replace(/X-Amz-Expires=\d+/, 'X-Amz-Expires=604801'),
      'less than a week',
    ],
    [
      'X-Amz-Date not ISO 8601 basic',
      (q: string) => q.replace(/X-Amz-Date=\w+/, 'X-Amz-Date=20240615'),
      'ISO8601 Long Format',
    ],
    [
      'an impossible X-Amz-Date',
      (q: string) => q.replace(/X-Amz-Date=\w+/, 'X-Amz-Date=20240231T120000Z'),
      'ISO8601',
    ],
  ])('presigned, %s: AuthorizationQueryParametersError', async (_name, change, detail) => {
    const p = await presignedGet();
    const e = await refusal(atT, { ...p, rawQuery: change(p.rawQuery) });
    expect([e.status, e.code]).toEqual([400, 'AuthorizationQueryParametersError']);
    expect(e.message).toContain(detail);
  });
});

describe('access keys', () => {
  it('an unknown key is InvalidAccessKeyId naming the key id', async () => {
    const req = await signHeader({
      path: '/datalake',
      date: T,
      key: { accessKeyId: 'AKIDNOBODY', secretAccessKey: 's' },
    });
    const e = await refusal(atT, req);
    expect([e.status, e.code, e.extra.AWSAccessKeyId]).toEqual([403, 'InvalidAccessKeyId', 'AKIDNOBODY']);
  });

  it('a revoked key is InvalidAccessKeyId even if the store returns it', async () => {
    const revoked: CredentialStore = { lookup: async () => ({ ...KEY, status: 'revoked' }) };
    const e = await refusal(authenticatorAt(T.getTime(), { credentials: revoked }), await signedGet());
    expect(e.code).toBe('InvalidAccessKeyId');
  });

  it('a store that cannot answer fails closed with 503 ServiceUnavailable', async () => {
    const broken: CredentialStore = {
      lookup: async (): Promise<AccessKey | undefined> => {
        throw new Error('ProvisionedThroughputExceededException');
      },
    };
    const e = await refusal(authenticatorAt(T.getTime(), { credentials: broken }), await signedGet());
    expect([e.status, e.code]).toEqual([503, 'ServiceUnavailable']);
    expect(e.reason).toContain('ProvisionedThroughputExceededException');
  });

  it('the principal is the key owner, with the key id that signed', async () => {
    await expect(atT.authenticate(await signedGet())).resolves.toEqual({
      name: 'analyst-eu',
      accessKeyId: KEY.accessKeyId,
      anonymous: false,
    });
  });

  it('SignatureDoesNotMatch carries the canonical request and string to sign, never the secret or signatures', async () => {
    const req = await signHeader({
      path: '/datalake',
      date: T,
      headers: { 'x-amz-security-token': 'session-token-secret' },
      key: { accessKeyId: KEY.accessKeyId, secretAccessKey: 'wrong-secret' },
    });
    const provided = /Signature=(\w+)/.exec(req.headers.authorization!)![1]!;
    const e = await refusal(atT, req);
    expect(e.code).toBe('SignatureDoesNotMatch');
    expect(e.extra.CanonicalRequest).toMatch(/^GET\n\/datalake\n\nhost:127\.0\.0\.1:9000\n/);
    expect(e.extra.StringToSign).toMatch(
      /^AWS4-HMAC-SHA256\n20240615T120000Z\n20240615\/us-east-1\/s3\/aws4_request\n/,
    );
    const visible = JSON.stringify(e) + e.message;
    for (const secret of [provided, KEY.secretAccessKey, 'wrong-secret', 'session-token-secret']) {
      expect(visible).not.toContain(secret);
    }
  });

  it('SignatureDoesNotMatch blanks every signed secret: SSE-C keys and a session token however its name is cased', async () => {
    const sseKey = Buffer.alloc(32, 7).toString('base64');
    const req = await signHeader({
      path: keyPath('datalake', 't/a.parquet'),
      date: T,
      query: { 'x-amz-security-token': 'lower-case-session-token' },
      headers: {
        'x-amz-server-side-encryption-customer-algorithm': 'AES256',
        'x-amz-server-side-encryption-customer-key': sseKey,
        'x-amz-copy-source-server-side-encryption-customer-key': sseKey,
      },
      key: { accessKeyId: KEY.accessKeyId, secretAccessKey: 'wrong-secret' },
    });
    const e = await refusal(atT, req);
    expect(e.code).toBe('SignatureDoesNotMatch');
    expect(e.extra.CanonicalRequest).toContain('x-amz-server-side-encryption-customer-algorithm:AES256\n');
    expect(e.extra.CanonicalRequest).toContain('x-amz-server-side-encryption-customer-key:REDACTED\n');
    expect(e.extra.CanonicalRequest).toContain('x-amz-security-token=REDACTED');
    const visible = JSON.stringify(e) + e.message;
    for (const secret of [sseKey, 'lower-case-session-token']) expect(visible).not.toContain(secret);
  });
});

describe('clock skew of header-signed requests, at ±1 s of 15 minutes', () => {
  it.each([
    ['15 min − 1 s behind the server', MAX_CLOCK_SKEW_MS - 1000, true],
    ['15 min + 1 s behind the server', MAX_CLOCK_SKEW_MS + 1000, false],
    ['15 min − 1 s ahead of the server', -(MAX_CLOCK_SKEW_MS - 1000), true],
    ['15 min + 1 s ahead of the server', -(MAX_CLOCK_SKEW_MS + 1000), false],
  ])('signed %s', async (_name, serverMinusRequest, accepted) => {
    const auth = authenticatorAt(T.getTime() + serverMinusRequest);
    const req = await signedGet();
    if (accepted) {
      await expect(auth.authenticate(req)).resolves.toMatchObject({ name: 'analyst-eu' });
    } else {
      const e = await refusal(auth, req);
      expect([e.status, e.code]).toEqual([403, 'RequestTimeTooSkewed']);
      expect(e.extra).toMatchObject({
        RequestTime: '20240615T120000Z',
        MaxAllowedSkewMilliseconds: '900000',
      });
    }
  });
});

describe('presigned expiry, at ±1 s', () => {
  it.each([
    ['1 s before it expires', 299_000, 'ok'],
    ['at its expiry second', 300_000, 'ok'],
    ['1 s after it expires', 301_000, 'Request has expired'],
    ['15 min − 1 s before its date', -(MAX_CLOCK_SKEW_MS - 1000), 'ok'],
    ['15 min + 1 s before its date', -(MAX_CLOCK_SKEW_MS + 1000), 'Request is not valid yet'],
  ])('used %s', async (_name, serverMinusDate, outcome) => {
    const auth = authenticatorAt(T.getTime() + serverMinusDate);
    const req = await presignedGet(300);
    if (outcome === 'ok') {
      await expect(auth.authenticate(req)).resolves.toMatchObject({ name: 'analyst-eu' });
    } else {
      const e = await refusal(auth, req);
      expect([e.status, e.code, e.message]).toEqual([403, 'AccessDenied', outcome]);
    }
  });

  it('X-Amz-Expires of exactly a week is accepted, one second more is refused', async () => {
    const week = await presignedGet(604_800);
    await expect(authenticatorAt(T.getTime() + 604_800_000).authenticate(week)).resolves.toMatchObject({
      name: 'analyst-eu',
    });
    const e = await refusal(atT, {
      ...week,
      rawQuery: week.rawQuery.replace('X-Amz-Expires=604800', 'X-Amz-Expires=604801'),
    });
    expect([e.status, e.code]).toEqual([400, 'AuthorizationQueryParametersError']);
    expect(e.message).toBe(
      'X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds',
    );
  });

  it('an expired URL reports when it expired and the server time', async () => {
    const e = await refusal(authenticatorAt(T.getTime() + 400_000), await presignedGet(300));
    expect(e.extra).toEqual({
      'X-Amz-Expires': '300',
      Expires: '2024-06-15T12:05:00Z',
      ServerTime: '2024-06-15T12:06:40Z',
    });
  });
});
