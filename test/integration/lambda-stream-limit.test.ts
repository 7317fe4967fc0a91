/**
 * Inside Lambda a streamed response is bounded (200 MB; 2 MB/s after the first 6 MB until the
 * function times out). An object over the bound is never started and cut short: a client that
 * follows redirects gets a 307 even in proxy mode, any other client an S3 error before any body
 * byte. Run through the Lambda adapter and its runtime shim, with small limits from configuration.
 */
import { request } from 'node:http';
import { GetObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLambdaHandler } from '../../lambda/adapters/lambda';
import { createProxy } from '../../lambda/bootstrap';
import { type ConfigInput, parseConfig } from '../../lambda/config';
import type { RequestEvent } from '../../lambda/core/observer';
import { HEAD_ALLOWANCE_BYTES } from '../../lambda/s3/stream-limit';
import { writeSpecialTable } from '../helpers/fixture-tables';
import { startLambdaHttpServer } from '../helpers/lambda-http-server';
import { installLambdaRuntimeShim } from '../helpers/lambda-runtime-shim';
import { startMisbehavingS3 } from '../helpers/misbehaving-s3';
import { ANALYST, startProxy } from '../helpers/proxy-harness';
import {
  BACKEND_CREDENTIALS,
  backendClient,
  createBucket,
  type S3Server,
  startS3rver,
  uploadDir,
} from '../helpers/s3-servers';
import { encodeKeyPath, signedFetch, signHeaders } from '../helpers/signed-fetch';

const MB = 1_000_000;
const OBJECT_BYTES = 3 * MB;
const LIMIT = 2 * MB; // maxResponseBytes: the body may use LIMIT - HEAD_ALLOWANCE_BYTES
const code = (text: string) => /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
const FOLLOWER = { 'user-agent': 'delta-proxy-client/0.1.0 Boto3/1.43.11' };

let s3: S3Server;
let bigKey: string;
let content: Buffer;
interface RunningProxy {
  url: string;
  events: RequestEvent[];
  client(): S3Client;
  stop(): Promise<void>;
}
const running: RunningProxy[] = [];

const config = (over: Partial<ConfigInput> = {}): ConfigInput => ({
  tableMapping: { sales: 's3://lake/t' },
  getMode: 'proxy',
  grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{}] }],
  lambdaStreaming: { maxResponseBytes: LIMIT },
  ...over,
});

/**
 * The proxy behind the Lambda adapter, built by the factory the adapter calls: the adapter tells
 * the core it runs in Lambda, and each request carries the invocation's deadline.
 */
async function inLambda(
  over: Partial<ConfigInput> = {},
  timeoutMs = 30_000,
  endpoint = s3.endpoint,
): Promise<RunningProxy> {
  const events: RequestEvent[] = [];
  const parsed = parseConfig({
    ...config(over),
    s3: { endpoint, forcePathStyle: true, region: 'us-east-1' },
    auth: { keys: [ANALYST] },
  });
  installLambdaRuntimeShim();
  const handler = createLambdaHandler(
    async (runtime) =>
      createProxy(parsed, {
        runtime,
        backendCredentials: BACKEND_CREDENTIALS,
        audit: false,
        observers: [{ record: (e) => events.push(e) }],
      }).handler,
  );
  const server = await startLambdaHttpServer(handler, { timeoutMs });
  const proxy = {
    url: server.url,
    events,
    client: () =>
      new S3Client({
        endpoint: server.url,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: ANALYST.accessKeyId, secretAccessKey: ANALYST.secretAccessKey },
        maxAttempts: 1,
      }),
    stop: () => server.close(),
  };
  running.push(proxy);
  return proxy;
}

beforeAll(async () => {
  s3 = await startS3rver();
  const c = backendClient(s3.endpoint);
  await createBucket(c, 'lake');
  const keys = await uploadDir(c, 'lake', 't/', await writeSpecialTable(['EU'], ['2024-01-01']));
  // The table's one data file, made big in place: same key, so the snapshot still lists it.
  const data = keys.find((k) => k.endsWith('.parquet') && !k.includes('_delta_log'))!;
  content = Buffer.alloc(OBJECT_BYTES);
  for (let i = 0; i < content.length; i += 4) content.writeUInt32LE(i, i);
  await c.send(new PutObjectCommand({ Bucket: 'lake', Key: data, Body: content }));
  c.destroy();
  bigKey = `sales/${data.slice(2)}`;
});
afterAll(async () => {
  for (const p of running) await p.stop();
  await s3?.stop();
});

const path = () => `/datalake/${encodeKeyPath(bigKey)}`;

describe('an object over the Lambda streaming limit', () => {
  it('is refused with an S3 error before any body byte for a client that does not follow redirects', async () => {
    const proxy = await inLambda();
    const error = await proxy
      .client()
      .send(new GetObjectCommand({ Bucket: 'datalake', Key: bigKey }))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(S3ServiceException);
    const s3Error = error as S3ServiceException;
    expect(s3Error.name).toBe('InvalidRequest');
    expect(s3Error.$metadata.httpStatusCode).toBe(400);
    expect(s3Error.message).toMatch(/exceed what this proxy can stream from AWS Lambda/);
    expect(s3Error.message).toContain(String(OBJECT_BYTES));

    const event = proxy.events.at(-1)!;
    expect(event).toMatchObject({ op: 'GetObject', status: 400, code: 'InvalidRequest', proxied: false });
    expect(event.reason).toMatch(/over the Lambda streaming limit/);
  });

  it('is redirected, even in proxy mode, for a client that follows redirects, and the URL serves it all', async () => {
    const proxy = await inLambda();
    const r = await signedFetch(proxy.url, 'GET', path(), '', FOLLOWER, ANALYST);
    expect(r.status).toBe(307);
    expect(r.text).toContain('<Code>TemporaryRedirect</Code>');
    const direct = await fetch(r.headers.location!, { signal: AbortSignal.timeout(10_000) });
    expect(direct.status).toBe(200);
    expect(Buffer.from(await direct.arrayBuffer()).equals(content)).toBe(true);
    expect(proxy.events.at(-1)).toMatchObject({ status: 307, redirected: true, proxied: false });
  });

  it('still streams a byte range within the limit, and refuses one over it', async () => {
    const proxy = await inLambda();
    const within = await signedFetch(
      proxy.url,
      'GET',
      path(),
      '',
      { range: `bytes=1000-${1000 + MB - 1}` },
      ANALYST,
    );
    expect(within.status).toBe(206);
    expect(within.body.equals(content.subarray(1000, 1000 + MB))).toBe(true);

    const over = await signedFetch(proxy.url, 'GET', path(), '', { range: 'bytes=0-' }, ANALYST);
    expect(over.status).toBe(400);
    expect(over.text).toContain('<Code>InvalidRequest</Code>');
  });

  it('counts the function timeout: 2 MB/s after the first 6 MB bounds what one invocation can send', async () => {
    // 1 MB unthrottled + 0.1 MB/s × ~10 s left < the 3 MB object, although the size limit is far
    // (10 s, not less: the invocation must still answer within it on a loaded machine).
    const timed = {
      lambdaStreaming: {
        maxResponseBytes: 100 * MB,
        unthrottledBytes: MB,
        throttledBytesPerSecond: Math.round(MB / 10),
      },
    };
    const short = await inLambda(timed, 10_000);
    const refused = await signedFetch(short.url, 'GET', path(), '', {}, ANALYST);
    expect(refused.status).toBe(400);
    // With 60 s left (1 MB + 6 MB) the same object streams whole.
    const long = await inLambda(timed, 60_000);
    const served = await signedFetch(long.url, 'GET', path(), '', {}, ANALYST);
    expect(served.status).toBe(200);
    expect(served.body.equals(content)).toBe(true);
  });

  it('applies to a file of the filtered log too: an S3 error before any byte, never a redirect', async () => {
    // A generated file (made by the proxy, never presigned) over the limit would be cut short too.
    const proxy = await inLambda({ lambdaStreaming: { maxResponseBytes: HEAD_ALLOWANCE_BYTES + 100 } });
    const commit = '/datalake/sales/_delta_log/00000000000000000000.json';
    const head = await signedFetch(proxy.url, 'HEAD', commit, '', FOLLOWER, ANALYST);
    expect(head.status).toBe(200);
    expect(Number(head.headers['content-length'])).toBeGreaterThan(100);
    for (const agent of [FOLLOWER, {}]) {
      const over = await signedFetch(proxy.url, 'GET', commit, '', agent, ANALYST);
      expect([over.status, over.headers.location]).toEqual([400, undefined]);
      expect(over.text).toContain('<Code>InvalidRequest</Code>');
      expect(proxy.events.at(-1)).toMatchObject({ status: 400, proxied: false });
      expect(proxy.events.at(-1)!.reason).toMatch(/over the Lambda streaming limit/);
    }
    const within = await signedFetch(proxy.url, 'GET', commit, '', { range: 'bytes=0-99' }, ANALYST);
    expect([within.status, within.body.length]).toEqual([206, 100]);
  });

  it('counts a body the backend sends without Content-Length as over the limit: never cut short', async () => {
    const backend = await startMisbehavingS3(s3);
    try {
      backend.onRequest = (r) =>
        r.method === 'GET' && r.key.endsWith('.parquet') ? { unsized: true } : undefined;
      // Far more room than the object needs: only its unknown length stops it.
      const proxy = await inLambda(
        { lambdaStreaming: { maxResponseBytes: 100 * MB } },
        30_000,
        backend.endpoint,
      );
      const refused = await signedFetch(proxy.url, 'GET', path(), '', {}, ANALYST);
      expect([refused.status, code(refused.text)]).toEqual([400, 'InvalidRequest']);
      expect(proxy.events.at(-1)!.reason).toMatch(/Lambda streaming limit/);
      const followed = await signedFetch(proxy.url, 'GET', path(), '', FOLLOWER, ANALYST);
      expect(followed.status).toBe(307);
    } finally {
      await backend.stop();
    }
  });

  it('is streamed as usual where the proxy does not run in Lambda (node:http)', async () => {
    const proxy = await startProxy(s3, config());
    running.push(proxy);
    const got = await proxy.client().send(new GetObjectCommand({ Bucket: 'datalake', Key: bigKey }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(content)).toBe(true);
  });

  it('leaves objects within the limit streaming through Lambda', async () => {
    const proxy = await inLambda({
      lambdaStreaming: { maxResponseBytes: OBJECT_BYTES + HEAD_ALLOWANCE_BYTES },
    });
    const got = await proxy.client().send(new GetObjectCommand({ Bucket: 'datalake', Key: bigKey }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(content)).toBe(true);
    expect(proxy.events.at(-1)).toMatchObject({ status: 200, proxied: true, bytes: OBJECT_BYTES });
  });
});

// The message named a client that follows redirects as a way out where none would be redirected
// (a file of the filtered log is never presigned; an empty redirectClients redirects nobody): the
// client helper then got the same 400.
describe('the over-limit 400 names only ways out that work', () => {
  const message = (text: string) => /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? '';

  it('does not offer a redirecting client when redirectClients is empty', async () => {
    const { url } = await inLambda({ redirectClients: [] });
    for (const agent of [FOLLOWER, {}]) {
      const r = await signedFetch(url, 'GET', path(), '', agent, ANALYST);
      expect([r.status, r.headers.location]).toEqual([400, undefined]);
      expect(message(r.text)).toMatch(/Request byte ranges of at most \d+ bytes/);
      expect(message(r.text)).not.toMatch(/redirect|delta-proxy-client/);
    }
  });

  it('does not offer a redirecting client for a file of the filtered log (never presigned)', async () => {
    const { url } = await inLambda({
      logView: 'filtered',
      lambdaStreaming: { maxResponseBytes: HEAD_ALLOWANCE_BYTES + 100 },
    });
    const commit = '/datalake/sales/_delta_log/00000000000000000000.json';
    const r = await signedFetch(url, 'GET', commit, '', FOLLOWER, ANALYST);
    expect([r.status, r.headers.location]).toEqual([400, undefined]);
    expect(message(r.text)).toMatch(/Request byte ranges of at most 100 bytes/);
    expect(message(r.text)).not.toMatch(/redirect|delta-proxy-client/);
  });

  it('still offers it where a follower gets a 307', async () => {
    const { url } = await inLambda();
    const r = await signedFetch(url, 'GET', path(), '', {}, ANALYST);
    expect(r.status).toBe(400);
    expect(message(r.text)).toMatch(/client that follows redirects \(such as delta-proxy-client\)/);
    expect((await signedFetch(url, 'GET', path(), '', FOLLOWER, ANALYST)).status).toBe(307);
  });
});

// The allowance for the head was a fixed 64 KiB: a long response-* override, echoed back as a
// header, made head + body longer than the stream carries, so the body would have been cut off.
describe('a long response head counts against the limit', () => {
  it('refuses a body that fits only if the head were 64 KiB', async () => {
    const proxy = await startProxy(
      s3,
      {
        ...config({ lambdaStreaming: { maxResponseBytes: OBJECT_BYTES + HEAD_ALLOWANCE_BYTES } }),
        maxUrlBytes: 65_536,
      },
      undefined,
      { runtime: 'lambda' },
    );
    running.push(proxy);
    const disposition = `attachment; filename="${'a'.repeat(65_200)}"`;
    const query = `response-content-disposition=${encodeURIComponent(disposition)}`;
    // fetch refuses a head over 16 KiB: node:http with room for the 65 KB header.
    const long = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      void signHeaders(proxy.url, 'GET', path(), query, {}, ANALYST).then((headers) => {
        const req = request(`${proxy.url}${path()}?${query}`, { headers, maxHeaderSize: 1 << 20 }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode!, text: Buffer.concat(chunks).toString() }));
        });
        req.on('error', reject);
        req.end();
      }, reject);
    });
    expect([long.status, code(long.text)]).toEqual([400, 'InvalidRequest']);
    // The same object with an ordinary head still fits.
    const plain = await signedFetch(
      proxy.url,
      'GET',
      path(),
      'response-content-disposition=attachment',
      {},
      ANALYST,
    );
    expect(plain.status).toBe(200);
    expect(plain.headers['content-disposition']).toBe('attachment');
  });
});
