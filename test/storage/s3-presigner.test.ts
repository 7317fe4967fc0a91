/**
 * The fast presigner must produce exactly the SDK's presigned GetObject URL (same endpoint, same
 * parameters, same signature), with the client's `response-*` overrides and checksum mode signed
 * into it as the SDK signs GetObjectCommand's ResponseContentType… and ChecksumMode, and a URL
 * that an independent SigV4 verifier accepts.
 */
import { GetObjectCommand, type GetObjectCommandInput, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { StaticCredentialStore } from '../../lambda/auth/credential-store';
import { SigV4Authenticator } from '../../lambda/auth/sigv4-authenticator';
import { S3Presigner } from '../../lambda/storage/s3-presigner';

const AT = Date.parse('2026-01-02T03:04:05Z');
const KEYS = [
  'plain.parquet',
  'sales/region=EU/date=2024-01-01/part-0.snappy.parquet',
  'a b/ü+x/😈(1)!*.parquet',
  "q'uote/~tilde",
  'odd/%2F%/empty//segment',
];

const EXPIRES = new Date(Date.parse('2027-03-04T05:06:07Z'));
/** Values that need encoding: spaces, quotes, unicode, `;`, `=`, `&`, `+`, `/`, `*`, `'`, `(`. */
const ALL_OVERRIDES: [Partial<GetObjectCommandInput>, Record<string, string>][] = [
  [
    {
      ResponseContentType: 'text/csv; charset="utf-8"',
      ResponseContentDisposition: `attachment; filename="Q1 report ü 😈.csv"; a=b&c=d+e/f*(g)'h'`,
      ResponseCacheControl: 'max-age=0, no-store',
      ResponseContentLanguage: 'de-CH',
      ResponseExpires: EXPIRES,
      ResponseContentEncoding: 'gzip',
      ChecksumMode: 'ENABLED',
    },
    {
      'response-content-type': 'text/csv; charset="utf-8"',
      'response-content-disposition': `attachment; filename="Q1 report ü 😈.csv"; a=b&c=d+e/f*(g)'h'`,
      'response-cache-control': 'max-age=0, no-store',
      'response-content-language': 'de-CH',
      'response-expires': EXPIRES.toUTCString(),
      'response-content-encoding': 'gzip',
      'x-amz-checksum-mode': 'ENABLED',
    },
  ],
];
const OVERRIDE_SETS: [string, Partial<GetObjectCommandInput>, Record<string, string>][] = [
  ['all six overrides and checksum mode', ...ALL_OVERRIDES[0]!],
  [
    'content-disposition only',
    { ResponseContentDisposition: 'inline; filename="a;b=c&d.csv"' },
    {
      'response-content-disposition': 'inline; filename="a;b=c&d.csv"',
    },
  ],
  ['an empty content-type', { ResponseContentType: '' }, { 'response-content-type': '' }],
  ['checksum mode only', { ChecksumMode: 'ENABLED' }, { 'x-amz-checksum-mode': 'ENABLED' }],
  ['a part', { PartNumber: 3 }, { partNumber: '3' }],
  [
    'a part, an override and checksum mode',
    { PartNumber: 10000, ResponseContentType: 'text/plain', ChecksumMode: 'ENABLED' },
    { partNumber: '10000', 'response-content-type': 'text/plain', 'x-amz-checksum-mode': 'ENABLED' },
  ],
];

function client(options: {
  endpoint?: string;
  forcePathStyle?: boolean;
  sessionToken?: string;
  region?: string;
}) {
  return new S3Client({
    region: options.region ?? 'eu-west-1',
    endpoint: options.endpoint,
    forcePathStyle: options.forcePathStyle,
    credentials: {
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
      sessionToken: options.sessionToken,
    },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

describe('fast presigned GetObject URLs', () => {
  it.each([
    ['AWS, virtual-host style', {}],
    ['AWS, temporary credentials (as in Lambda)', { sessionToken: 'FwoGZXIvYXdzE/token+with=chars' }],
    ['AWS us-east-1', { region: 'us-east-1' }],
    ['custom endpoint, path style', { endpoint: 'http://127.0.0.1:9000', forcePathStyle: true }],
  ])('are the SDK URL byte for byte: %s', async (_name, options) => {
    const c = client(options);
    const presigner = new S3Presigner(c, () => AT);
    await presigner.presign({ bucket: 'my-delta-lake', key: 'warm-up' }, 60); // learns the endpoint
    for (const key of KEYS) {
      const ref = { bucket: 'my-delta-lake', key };
      const sdk = await getSignedUrl(c, new GetObjectCommand({ Bucket: ref.bucket, Key: key }), {
        expiresIn: 300,
        signingDate: new Date(AT),
      });
      expect(await presigner.presign(ref, 300)).toBe(sdk);
    }
  });

  it.each([
    ['AWS, virtual-host style', {}],
    ['AWS, temporary credentials (as in Lambda)', { sessionToken: 'FwoGZXIvYXdzE/token+with=chars' }],
    ['custom endpoint, path style', { endpoint: 'http://127.0.0.1:9000', forcePathStyle: true }],
  ])('sign the overrides and checksum mode as the SDK signs them: %s', async (_name, options) => {
    const c = client(options);
    // The first URL of a bucket comes from the SDK (learning the endpoint), signed at the
    // system time; later ones from the fast path at the presigner's clock. Both are AT here.
    vi.useFakeTimers({ toFake: ['Date'] });
    onTestFinished(() => {
      vi.useRealTimers();
    });
    for (const [, input, query] of OVERRIDE_SETS) {
      vi.setSystemTime(AT);
      const presigner = new S3Presigner(c, () => AT);
      for (const key of KEYS) {
        const ref = { bucket: 'my-delta-lake', key };
        // Once the endpoint is learned, the SDK would sign another time: equal URLs are the fast path's.
        if (key !== KEYS[0]) vi.setSystemTime(AT + 3_600_000);
        const sdk = await getSignedUrl(c, new GetObjectCommand({ Bucket: ref.bucket, Key: key, ...input }), {
          expiresIn: 300,
          signingDate: new Date(AT),
        });
        expect(await presigner.presign(ref, 300, query)).toBe(sdk);
      }
      // Without overrides, the same presigner still writes the plain URL.
      const plain = await getSignedUrl(c, new GetObjectCommand({ Bucket: 'my-delta-lake', Key: 'x' }), {
        expiresIn: 300,
        signingDate: new Date(AT),
      });
      expect(await presigner.presign({ bucket: 'my-delta-lake', key: 'x' }, 300)).toBe(plain);
    }
  });

  it('never outlive the temporary credentials that sign them (S3 refuses them from then on)', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    onTestFinished(() => {
      vi.useRealTimers();
    });
    vi.setSystemTime(AT);
    let expiration = new Date(AT + 90_500);
    const c = new S3Client({
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:9000',
      forcePathStyle: true,
      credentials: async () => ({
        accessKeyId: 'ASIAEXAMPLE',
        secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
        sessionToken: 'FwoGZXIvYXdzE/token',
        expiration,
      }),
    });
    const presigner = new S3Presigner(c, () => AT);
    const expiresOf = async (key: string, seconds: number) =>
      new URL(await presigner.presign({ bucket: 'lake', key }, seconds)).searchParams.get('X-Amz-Expires');
    // The first URL of a bucket (the SDK's) and the later ones (the fast path) alike.
    expect(await expiresOf('first', 300)).toBe('90');
    expect(await expiresOf('second', 300)).toBe('90');
    expect(await expiresOf('short', 60)).toBe('60');
    expiration = new Date(AT + 20 * 3_600_000);
    expect(await expiresOf('renewed', 300)).toBe('300');
  });

  it('signs what a SigV4 verifier accepts, and a changed key or expiry breaks it', async () => {
    const c = client({ endpoint: 'http://127.0.0.1:9000', forcePathStyle: true });
    const presigner = new S3Presigner(c, () => AT);
    await presigner.presign({ bucket: 'lake', key: 'x' }, 60);
    const verifier = new SigV4Authenticator({
      credentials: new StaticCredentialStore([
        {
          accessKeyId: 'AKIDEXAMPLE',
          secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
          principal: 'p',
        },
      ]),
      clock: { now: () => AT + 10_000 },
      allowAnonymous: false,
    });
    const asRequest = (url: string) => {
      const u = new URL(url);
      return { method: 'GET', rawPath: u.pathname, rawQuery: u.search.slice(1), headers: { host: u.host } };
    };
    const url = await presigner.presign({ bucket: 'lake', key: 'sales/region=EU/a b.parquet' }, 60);
    await expect(verifier.authenticate(asRequest(url))).resolves.toMatchObject({ name: 'p' });
    await expect(verifier.authenticate(asRequest(url.replace('a%20b', 'a%20c')))).rejects.toThrow(
      /signature/i,
    );
    await expect(verifier.authenticate(asRequest(url.replace('Expires=60', 'Expires=600')))).rejects.toThrow(
      /signature/i,
    );
    // Overrides are signed: the follower cannot change or add one.
    const [, query] = ALL_OVERRIDES[0]!;
    const overridden = await presigner.presign({ bucket: 'lake', key: 'sales/a b.parquet' }, 60, query);
    await expect(verifier.authenticate(asRequest(overridden))).resolves.toMatchObject({ name: 'p' });
    await expect(
      verifier.authenticate(asRequest(overridden.replace('content-language=de-CH', 'content-language=fr'))),
    ).rejects.toThrow(/signature/i);
    await expect(
      verifier.authenticate(asRequest(url.replace('&x-id=', '&response-content-type=text%2Fhtml&x-id='))),
    ).rejects.toThrow(/signature/i);
  });
});
