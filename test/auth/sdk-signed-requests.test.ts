/**
 * Requests as real SDKs sign them with many headers and query parameters at once (conditions,
 * response overrides with quotes and UTF-8, checksum mode, requester pays, SSE-C), header-signed
 * and presigned, verify against the proxy's SigV4 authenticator. boto3 where installed.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StaticCredentialStore } from '../../lambda/auth/credential-store';
import { SigV4Authenticator } from '../../lambda/auth/sigv4-authenticator';
import { systemClock } from '../../lambda/core/types';
import { pythonPackageMissing, withReason } from '../helpers/skips';
import { sseCustomerHeaders } from '../helpers/sse-customer-headers';
import { type AuthServer, startAuthServer } from './helpers/auth-server';
import { clientEnv } from './helpers/python-env';
import { KEY } from './helpers/sign';

const run = promisify(execFile);
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

function client(region = 'eu-west-3'): S3Client {
  return new S3Client({
    endpoint: server.endpoint,
    region,
    forcePathStyle: true,
    credentials: { accessKeyId: KEY.accessKeyId, secretAccessKey: KEY.secretAccessKey },
    maxAttempts: 1,
  });
}

const DISPOSITION = `attachment; filename="a b+c'(1)*.txt"; filename*=UTF-8''%C3%A9t%C3%A9.txt`;
const SSE_KEY = Buffer.alloc(32, 9);

describe('real SDK requests with many signed headers and overrides verify', () => {
  it('JS SDK GetObject with conditions, overrides, checksum mode, payer, owner, SSE-C', async () => {
    const s3 = client();
    const before = server.seen.length;
    const got = await s3.send(
      new GetObjectCommand({
        Bucket: 'datalake',
        Key: 'year=2024/a b+c.parquet',
        Range: 'bytes=0-4',
        IfMatch: '"5d41402abc4b2a76b9719d911017c592"',
        IfModifiedSince: new Date('2020-01-01T00:00:00Z'),
        ResponseContentDisposition: DISPOSITION,
        ResponseContentType: 'text/plain; charset=utf-8',
        ResponseCacheControl: 'no-cache, max-age=0',
        ChecksumMode: 'ENABLED',
        RequestPayer: 'requester',
        ExpectedBucketOwner: '123456789012',
        SSECustomerAlgorithm: 'AES256',
        SSECustomerKey: SSE_KEY.toString('base64'),
      }),
    );
    await got.Body?.transformToString();
    const head = await s3.send(
      new HeadObjectCommand({
        Bucket: 'datalake',
        Key: 'x/y.parquet',
        IfNoneMatch: '"abc"',
      }),
    );
    expect(head.ContentLength).toBe(5);
    const mine = server.seen.slice(before);
    for (const s of mine) expect(s.error, JSON.stringify(s.error)).toBeUndefined();
    s3.destroy();
  });

  it('JS SDK presigned GetObject with overrides and SSE-C headers', async () => {
    const s3 = client();
    const url = await getSignedUrl(
      s3,
      new GetObjectCommand({
        Bucket: 'datalake',
        Key: 'year=2024/a b+c.parquet',
        ResponseContentDisposition: DISPOSITION,
        SSECustomerAlgorithm: 'AES256',
        SSECustomerKey: SSE_KEY.toString('base64'),
      }),
      { expiresIn: 60 },
    );
    const res = await fetch(url, {
      headers: sseCustomerHeaders(SSE_KEY),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    s3.destroy();
  });

  it('JS SDK listing with a prefix holding spaces, plus and unicode, and a continuation token', async () => {
    const s3 = client('us-east-1');
    const before = server.seen.length;
    await s3.send(
      new ListObjectsV2Command({
        Bucket: 'datalake',
        Prefix: 'a b+c/é=1/',
        Delimiter: '/',
        ContinuationToken: 'abc+/=def',
        EncodingType: 'url',
        FetchOwner: true,
      }),
    );
    for (const s of server.seen.slice(before)) expect(s.error, JSON.stringify(s.error)).toBeUndefined();
    s3.destroy();
  });

  const boto3Missing = pythonPackageMissing('boto3');
  it.skipIf(boto3Missing !== undefined)(
    withReason('boto3 presigned URLs with overrides and a listing with odd characters', boto3Missing),
    async () => {
      const script = `
import json, sys, boto3
from botocore.config import Config
a = json.loads(sys.argv[1])
c = boto3.client("s3", endpoint_url=a["endpoint"], region_name="eu-west-3",
  aws_access_key_id=a["id"], aws_secret_access_key=a["secret"],
  config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
urls = [
  c.generate_presigned_url("get_object", Params={"Bucket": "datalake", "Key": "year=2024/a b+c.parquet",
     "ResponseContentDisposition": a["disp"], "ResponseContentType": "text/plain; charset=utf-8"}, ExpiresIn=60),
  c.generate_presigned_url("head_object", Params={"Bucket": "datalake", "Key": "x/y"}, ExpiresIn=60, HttpMethod="HEAD"),
  c.generate_presigned_url("list_objects_v2", Params={"Bucket": "datalake", "Prefix": "a b+c/é=1/", "StartAfter": "x~y*z"}, ExpiresIn=60),
]
c.list_objects_v2(Bucket="datalake", Prefix="a b+c/é=1/", StartAfter="x~y*z'()!", Delimiter="/")
c.get_object(Bucket="datalake", Key="year=2024/a b+c.parquet", Range="bytes=0-4", IfMatch='"x"',
  ResponseContentDisposition=a["disp"], ChecksumMode="ENABLED", RequestPayer="requester")["Body"].read()
print(json.dumps(urls))
`;
      const { stdout } = await run(
        'python3',
        [
          '-c',
          script,
          JSON.stringify({
            endpoint: server.endpoint,
            id: KEY.accessKeyId,
            secret: KEY.secretAccessKey,
            disp: DISPOSITION,
          }),
        ],
        { env: clientEnv('eu-west-3', KEY), timeout: 60_000 },
      );
      const urls = JSON.parse(stdout) as string[];
      for (const [i, url] of urls.entries()) {
        const res = await fetch(url, { method: i === 1 ? 'HEAD' : 'GET' });
        expect(res.status, `${url}\n${await res.clone().text()}`).toBe(200);
      }
    },
    60_000,
  );
});
