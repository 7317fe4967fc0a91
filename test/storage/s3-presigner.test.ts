/**
 * The fast presigner must produce exactly the SDK's presigned GetObject URL (same endpoint, same
 * parameters, same signature) and a URL that an independent SigV4 verifier accepts.
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { describe, expect, it } from 'vitest';
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
  });
});
