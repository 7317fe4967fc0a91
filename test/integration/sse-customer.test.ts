/**
 * Objects stored with a customer-provided key (SSE-C): a GET or HEAD needs the
 * x-amz-server-side-encryption-customer-* headers, through the proxy and on the presigned URL the
 * client helper follows. Neither s3rver nor moto implements SSE-C, so the recording relay in
 * front of s3rver answers as S3 does for one object "stored with" a key (refusing a read without
 * that key, or with another, and refusing the headers for any other object), and verifies every
 * presigned signature, the signed SSE-C headers included. What reaches "S3" is checked there;
 * the bytes themselves are s3rver's, unencrypted.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClientHelper, startClientHelper } from '../../client/helper';
import { clientEnv, unavailable } from '../auth/helpers/python-env';
import { uploadDemoTable } from '../helpers/fixture-tables';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { type RecordingRelay, startRecordingRelay } from '../helpers/recording-relay';
import { BACKEND_CREDENTIALS, type S3Server, startS3rver } from '../helpers/s3-servers';
import { encodeKeyPath, signedFetch } from '../helpers/signed-fetch';
import { withReason } from '../helpers/skips';
import { keyMd5, sseCustomerHeaders } from '../helpers/sse-customer-headers';

const run = promisify(execFile);
const boto3Missing = await unavailable('python3', ['-c', 'import boto3']);

/** boto3's get_object and head_object with SSECustomerKey: the body's sha256 and the length. */
const BOTO3_SSE_C = `
import boto3, hashlib, json, sys
a = json.loads(sys.argv[1])
s3 = boto3.client("s3", endpoint_url=a["endpoint"], config=boto3.session.Config(s3={"addressing_style": "path"}))
sse = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": bytes.fromhex(a["key"])}
head = s3.head_object(Bucket="datalake", Key=a["object"], **sse)
body = s3.get_object(Bucket="datalake", Key=a["object"], **sse)["Body"].read()
print(json.dumps({"length": head["ContentLength"], "sha256": hashlib.sha256(body).hexdigest()}))
`;

const KEY = randomBytes(32);
const SSE_C = sseCustomerHeaders(KEY);
const OTHER_KEY = randomBytes(32);
const OTHER = sseCustomerHeaders(OTHER_KEY);

let s3: S3Server;
let relay: RecordingRelay;
let proxy: RunningProxy;
let helper: ClientHelper;
let encrypted: string;
let plain: string;
let bytes: Buffer;

beforeAll(async () => {
  s3 = await startS3rver();
  const active = (await uploadDemoTable(s3.endpoint, 'lake', 'w/sales/')).filter((p) =>
    p.startsWith('region=EU/'),
  );
  [encrypted, plain] = active.map((p) => `sales/${p}`) as [string, string];
  relay = await startRecordingRelay(s3.endpoint, {
    verifyPresigned: BACKEND_CREDENTIALS,
    sseCustomer: { paths: new Set([`/lake/w/${encodeKeyPath(encrypted)}`]), keyMd5: keyMd5(KEY) },
  });
  proxy = await startProxy(
    { ...s3, endpoint: relay.endpoint },
    {
      tableMapping: { sales: 's3://lake/w/sales' },
      getMode: 'presignedUrl',
      proxyPartial: false,
      grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{ region: 'EU' }] }],
    },
  );
  helper = await startClientHelper({ target: proxy.url });
  const direct = await fetch(`${s3.endpoint}/lake/w/${encodeKeyPath(encrypted)}`);
  bytes = Buffer.from(await direct.arrayBuffer());
});
afterAll(async () => {
  await helper?.close();
  await proxy?.stop();
  await relay?.stop();
  await s3?.stop();
});

const path = (key: string) => `/datalake/${encodeKeyPath(key)}`;

describe('SSE-C objects through the client helper (presigned mode)', () => {
  it('a GET with the key is redirected to a URL that signs the SSE-C headers, and the helper sends them', async () => {
    const before = relay.requests.length;
    const r = await signedFetch(helper.url, 'GET', path(encrypted), '', SSE_C, ANALYST);
    expect(r.status).toBe(200);
    expect(r.body.equals(bytes)).toBe(true);
    expect(proxy.events.at(-1)).toMatchObject({ status: 307 });
    const followed = relay.requests.slice(before).filter((q) => q.presigned);
    expect(followed).toHaveLength(1);
    expect(followed[0]).toMatchObject({
      status: 200,
      authorization: false,
      signatureRefused: undefined,
      unsignedAmzHeaders: [],
      sseCustomer: { algorithm: 'AES256', keyMd5: keyMd5(KEY) },
    });
  });

  it("the proxy's Location signs the three headers and carries neither the key nor its MD5", async () => {
    const r = await signedFetch(
      proxy.url,
      'GET',
      path(encrypted),
      '',
      { ...SSE_C, 'user-agent': 'delta-proxy-client/0.1.0' },
      ANALYST,
    );
    expect(r.status).toBe(307);
    const location = new URL(r.headers.location!);
    expect(location.searchParams.get('X-Amz-SignedHeaders')?.split(';')).toEqual(
      expect.arrayContaining(Object.keys(SSE_C)),
    );
    const decoded = decodeURIComponent(r.headers.location!);
    expect(decoded).not.toContain(SSE_C['x-amz-server-side-encryption-customer-key']);
    expect(decoded).not.toContain(SSE_C['x-amz-server-side-encryption-customer-key-md5']);
  });

  it.skipIf(boto3Missing !== undefined)(
    withReason('boto3 with SSECustomerKey reads the object through the helper', boto3Missing),
    async () => {
      const before = relay.requests.length;
      const { stdout } = await run(
        'python3',
        [
          '-c',
          BOTO3_SSE_C,
          JSON.stringify({ endpoint: helper.url, object: encrypted, key: KEY.toString('hex') }),
        ],
        { env: clientEnv('us-east-1', ANALYST), timeout: 60_000 },
      );
      expect(JSON.parse(stdout)).toEqual({
        length: bytes.length,
        sha256: createHash('sha256').update(bytes).digest('hex'),
      });
      const followed = relay.requests.slice(before).filter((q) => q.presigned);
      expect(followed).toHaveLength(1);
      expect(followed[0]).toMatchObject({ status: 200, signatureRefused: undefined, unsignedAmzHeaders: [] });
    },
  );

  it('a HEAD with the key gets the object head', async () => {
    const r = await signedFetch(helper.url, 'HEAD', path(encrypted), '', SSE_C, ANALYST);
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe(String(bytes.length));
  });

  it('a GET without the key gets S3 400 InvalidRequest; with another key, 403', async () => {
    const none = await signedFetch(helper.url, 'GET', path(encrypted), '', {}, ANALYST);
    expect(none.status).toBe(400);
    expect(none.text).toContain('<Code>InvalidRequest</Code>');
    const other = await signedFetch(helper.url, 'GET', path(encrypted), '', OTHER, ANALYST);
    expect(other.status).toBe(403);
  });

  it('an object without SSE-C is still read without the headers', async () => {
    const r = await signedFetch(helper.url, 'GET', path(plain), '', {}, ANALYST);
    expect(r.status).toBe(200);
  });
});

describe('SSE-C objects read through the proxy (a client not on redirectClients)', () => {
  it('GetObject and HeadObject with SSECustomerKey get the object', async () => {
    const client = proxy.client();
    const sse = { SSECustomerAlgorithm: 'AES256', SSECustomerKey: KEY.toString('base64') };
    const head = await client.send(new HeadObjectCommand({ Bucket: 'datalake', Key: encrypted, ...sse }));
    expect(head.ContentLength).toBe(bytes.length);
    const got = await client.send(new GetObjectCommand({ Bucket: 'datalake', Key: encrypted, ...sse }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(bytes)).toBe(true);
  });

  it("a read without the key gets 400 InvalidRequest (the client's mistake), not a 5xx", async () => {
    const r = await signedFetch(proxy.url, 'GET', path(encrypted), '', {}, ANALYST);
    expect(r.status).toBe(400);
    expect(r.text).toContain('<Code>InvalidRequest</Code>');
    const head = await signedFetch(proxy.url, 'HEAD', path(encrypted), '', {}, ANALYST);
    expect(head.status).toBe(400);
  });

  it.each([
    ['a key without its MD5', { ...SSE_C, 'x-amz-server-side-encryption-customer-key-md5': '' }],
    [
      'an MD5 that is not the key’s',
      { ...SSE_C, 'x-amz-server-side-encryption-customer-key-md5': keyMd5(OTHER_KEY) },
    ],
    [
      'an algorithm S3 does not know',
      { ...SSE_C, 'x-amz-server-side-encryption-customer-algorithm': 'AES128' },
    ],
    ['a key that is not 256 bits', { ...SSE_C, 'x-amz-server-side-encryption-customer-key': 'c2hvcnQ=' }],
  ])('%s is refused with 400 before any redirect', async (_what, headers) => {
    const before = relay.requests.length;
    for (const endpoint of [helper.url, proxy.url]) {
      const r = await signedFetch(endpoint, 'GET', path(encrypted), '', headers, ANALYST);
      expect(r.status, endpoint).toBe(400);
      expect(r.text).toMatch(/<Code>(InvalidArgument|InvalidEncryptionAlgorithmError)<\/Code>/);
    }
    expect(relay.requests.length).toBe(before);
  });
});

describe('SSE-C keys stay secret', () => {
  it('no audit event or log line carries a key', () => {
    const everything = [...proxy.events.map((e) => JSON.stringify(e)), ...proxy.logs].join('\n');
    expect(proxy.events.length).toBeGreaterThan(0);
    for (const key of [KEY, OTHER_KEY]) {
      expect(everything).not.toContain(key.toString('base64'));
      expect(everything).not.toContain(encodeURIComponent(key.toString('base64')));
    }
  });
});
