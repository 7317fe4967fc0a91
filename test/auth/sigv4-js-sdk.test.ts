import {
  GetObjectCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StaticCredentialStore } from '../../lambda/auth/credential-store';
import { SigV4Authenticator } from '../../lambda/auth/sigv4-authenticator';
import { systemClock } from '../../lambda/core/types';
import { type AuthServer, startAuthServer } from './helpers/auth-server';
import { KEY } from './helpers/sign';
import { REGIONS, TRICKY_KEYS } from './keys-and-regions';

let server: AuthServer;

beforeAll(async () => {
  server = await startAuthServer(
    new SigV4Authenticator({
      credentials: new StaticCredentialStore([KEY]),
      clock: systemClock,
      allowAnonymous: false,
    }),
  );
});
afterAll(() => server.close());

function client(region: string, credentials = KEY): S3Client {
  return new S3Client({
    endpoint: server.endpoint,
    region,
    forcePathStyle: true,
    credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey },
    maxAttempts: 1,
  });
}

describe.each(REGIONS)('@aws-sdk/client-s3 signing for region %s', (region) => {
  it('lists buckets and gets, heads and lists every tricky key', async () => {
    const s3 = client(region);
    const before = server.seen.length;
    const buckets = await s3.send(new ListBucketsCommand({}));
    expect(buckets.Buckets?.[0]?.Name).toBe('datalake');
    for (const Key of TRICKY_KEYS) {
      const got = await s3.send(new GetObjectCommand({ Bucket: 'datalake', Key, Range: 'bytes=0-4' }));
      expect(await got.Body?.transformToString()).toBe('hello');
      const head = await s3.send(new HeadObjectCommand({ Bucket: 'datalake', Key }));
      expect(head.ContentLength).toBe(5);
      const listed = await s3.send(
        new ListObjectsV2Command({
          Bucket: 'datalake',
          Prefix: Key,
          Delimiter: '/',
          StartAfter: Key,
          MaxKeys: 10,
        }),
      );
      expect(listed.KeyCount).toBe(1);
    }
    const mine = server.seen.slice(before);
    expect(mine).toHaveLength(1 + 3 * TRICKY_KEYS.length);
    for (const seen of mine) {
      expect(seen.error).toBeUndefined();
      expect(seen.principal).toEqual({ name: 'analyst-eu', accessKeyId: KEY.accessKeyId, anonymous: false });
      expect(seen.request.headers.authorization).toContain(`/${region}/s3/aws4_request`);
    }
    // The key reached us encoded once, exactly as signed: "%" travels as %25, "=" as %3D.
    expect(mine.some((s) => s.request.rawPath === '/datalake/hive%253A/col%3Da%252Fb/100%25.parquet')).toBe(
      true,
    );
    s3.destroy();
  });

  it('verifies repeated and empty query parameters added before signing', async () => {
    const s3 = client(region);
    s3.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { query: Record<string, string | string[]> };
        request.query = {
          ...request.query,
          'x-rep': ['zeta', 'alpha', 'alpha'],
          'x-empty': '',
          'x-sp ace': 'a+b c',
        };
        return next(args);
      },
      { step: 'build', name: 'addQueryParams' },
    );
    const before = server.seen.length;
    await s3.send(new ListObjectsV2Command({ Bucket: 'datalake', Prefix: 'year=2024/' }));
    const [seen] = server.seen.slice(before);
    expect(seen?.error).toBeUndefined();
    expect(seen?.request.rawQuery).toContain('x-rep=zeta&x-rep=alpha&x-rep=alpha');
    expect(seen?.request.rawQuery).toContain('x-empty=&');
    s3.destroy();
  });

  it('verifies presigned GetObject URLs from @aws-sdk/s3-request-presigner', async () => {
    const s3 = client(region);
    for (const Key of TRICKY_KEYS) {
      const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'datalake', Key }), {
        expiresIn: 300,
      });
      expect(url).toContain('X-Amz-Signature=');
      const res = await fetch(url);
      expect(res.status, await res.clone().text()).toBe(200);
      expect(res.headers.get('x-auth-principal')).toBe('analyst-eu');
      expect(await res.text()).toBe('hello');
    }
    s3.destroy();
  });
});

describe('@aws-sdk/client-s3 refusals surface as S3 errors', () => {
  it('a wrong secret is SignatureDoesNotMatch and an unknown key InvalidAccessKeyId', async () => {
    const wrong = client('eu-west-3', { ...KEY, secretAccessKey: 'not-the-secret' });
    await expect(wrong.send(new ListObjectsV2Command({ Bucket: 'datalake' }))).rejects.toMatchObject({
      name: 'SignatureDoesNotMatch',
      $metadata: { httpStatusCode: 403 },
    });
    const unknown = client('eu-west-3', { ...KEY, accessKeyId: 'AKIDUNKNOWN' });
    await expect(unknown.send(new ListObjectsV2Command({ Bucket: 'datalake' }))).rejects.toMatchObject({
      name: 'InvalidAccessKeyId',
      $metadata: { httpStatusCode: 403 },
    });
    wrong.destroy();
    unknown.destroy();
  });

  it('a tampered presigned URL is refused', async () => {
    const s3 = client('us-east-1');
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'datalake', Key: 'plain/a.parquet' }), {
      expiresIn: 60,
    });
    const res = await fetch(url.replace('plain/a.parquet', 'plain/b.parquet'));
    expect(res.status).toBe(403);
    const body = await res.text();
    expect(body).toContain('<Code>SignatureDoesNotMatch</Code>');
    expect(body).not.toContain(new URL(url).searchParams.get('X-Amz-Signature')!);
    expect(body).not.toContain(KEY.secretAccessKey);
    s3.destroy();
  });
});
