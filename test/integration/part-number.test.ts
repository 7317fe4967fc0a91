/**
 * GetObject and HeadObject with `partNumber`, the way the Java SDK v2's multipart download and the
 * Go transfer manager read an object: part 1 first, then the rest if the answer counts parts.
 * On real servers (s3rver always, moto where installed) behind a backend front that can answer a
 * part of a multipart object itself, as S3 does and neither server does for a GET.
 */
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadDemoTable } from '../helpers/fixture-tables';
import { type MisbehavingS3, startMisbehavingS3 } from '../helpers/misbehaving-s3';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { backendClient, type S3Server, s3rverAndMoto } from '../helpers/s3-servers';
import { encodeKeyPath, signedFetch } from '../helpers/signed-fetch';

const BACKENDS = s3rverAndMoto();
const FOLLOWER = { 'user-agent': 'delta-proxy-client/1.0' };
/** S3's smallest part but the last. */
const PART = 5 * 1024 * 1024;

describe.each(BACKENDS)('partNumber over %s', (kind, start, skipReason) => {
  let backend: S3Server;
  let front: MisbehavingS3;
  let proxy: RunningProxy;
  let redirecting: RunningProxy;
  /** Presigned mode with proxyPartial: partial reads (Range, a part) stay proxied. */
  let partial: RunningProxy;
  let client: S3Client;
  /** Virtual keys: an EU file in one piece, an EU file uploaded in two parts, a US file. */
  let whole: string;
  let parted: string;
  let us: string;
  let wholeBytes: Buffer;
  let partedBytes: Buffer;

  beforeAll(async () => {
    if (skipReason) return;
    backend = await start();
    const active = await uploadDemoTable(backend.endpoint, 'lake', 'w/sales/');
    const eu = active.filter((p) => p.startsWith('region=EU/'));
    whole = `sales/${eu[0]}`;
    parted = `sales/${eu[1]}`;
    us = `sales/${active.find((p) => p.startsWith('region=US/'))}`;
    // A data file rewritten as a multipart upload of two parts (its bytes need not be Parquet here).
    const direct = backendClient(backend.endpoint);
    partedBytes = Buffer.alloc(PART + 100, 7);
    const Key = `w/${parted}`;
    const { UploadId } = await direct.send(new CreateMultipartUploadCommand({ Bucket: 'lake', Key }));
    const parts = [];
    for (const [i, body] of [partedBytes.subarray(0, PART), partedBytes.subarray(PART)].entries()) {
      const { ETag } = await direct.send(
        new UploadPartCommand({ Bucket: 'lake', Key, UploadId, PartNumber: i + 1, Body: body }),
      );
      parts.push({ ETag, PartNumber: i + 1 });
    }
    await direct.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'lake',
        Key,
        UploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
    const got = await direct.send(new GetObjectCommand({ Bucket: 'lake', Key: `w/${whole}` }));
    wholeBytes = Buffer.from(await got.Body!.transformToByteArray());
    direct.destroy();
    front = await startMisbehavingS3(backend);
    const config = {
      tableMapping: { sales: 's3://lake/w/sales' },
      logView: 'filtered' as const,
      grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{ region: 'EU' }] }],
    };
    const behindFront = { kind: backend.kind, endpoint: front.endpoint, stop: async () => {} };
    proxy = await startProxy(behindFront, { ...config, getMode: 'proxy' });
    redirecting = await startProxy(behindFront, { ...config, getMode: 'presignedUrl' });
    partial = await startProxy(behindFront, { ...config, getMode: 'presignedUrl', proxyPartial: true });
    client = proxy.client();
  }, 120_000);
  afterAll(async () => {
    client?.destroy();
    await proxy?.stop();
    await redirecting?.stop();
    await partial?.stop();
    await front?.stop();
    await backend?.stop();
  });

  const run = it.skipIf(skipReason !== undefined);
  const path = (key: string) => `/datalake/${encodeKeyPath(key)}`;

  run('part 1 of an object in one piece is all of it: 206 with the whole range, no parts count', async () => {
    const got = await client.send(new GetObjectCommand({ Bucket: 'datalake', Key: whole, PartNumber: 1 }));
    const n = wholeBytes.byteLength;
    expect([got.ContentRange, got.ContentLength, got.PartsCount]).toEqual([
      `bytes 0-${n - 1}/${n}`,
      n,
      undefined,
    ]);
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(wholeBytes)).toBe(true);
    // The backend was asked for the part (it decides what a part is), not for the whole object.
    const reads = front.seen.filter((r) => r.key === `w/${whole}`);
    expect(reads.at(-1)?.query.get('partNumber')).toBe('1');

    const head = await signedFetch(proxy.url, 'HEAD', path(whole), 'partNumber=1', {}, ANALYST);
    expect([head.status, head.headers['content-length'], head.headers['content-range']]).toEqual([
      206,
      String(n),
      `bytes 0-${n - 1}/${n}`,
    ]);
  });

  // Audited and counted like a range past the end (416 InvalidRange): a condition, not a bad request.
  const CONDITION = { status: 416, code: 'InvalidPartNumber', decision: 'deny', reasonClass: 'condition' };

  run('part 2 of an object in one piece: 416 InvalidPartNumber, for GET and HEAD', async () => {
    const get = await signedFetch(proxy.url, 'GET', path(whole), 'partNumber=2', {}, ANALYST);
    expect(get.status).toBe(416);
    expect(get.text).toContain('<Code>InvalidPartNumber</Code>');
    expect(get.text).toContain('<PartNumberRequested>2</PartNumberRequested>');
    expect(proxy.events.at(-1)).toMatchObject(CONDITION);
    const head = await signedFetch(proxy.url, 'HEAD', path(whole), 'partNumber=2', {}, ANALYST);
    expect([head.status, head.body.byteLength]).toEqual([416, 0]);
    expect(proxy.events.at(-1)).toMatchObject(CONDITION);
  });

  run("a part of an object in parts: the backend's range and parts count reach the client", async () => {
    const n = partedBytes.byteLength;
    const backendKey = `w/${parted}`;
    // S3's answer to part 2 (neither s3rver nor moto answers a part's GET this way).
    front.onRequest = (r) =>
      r.key === backendKey && r.query.get('partNumber') === '2'
        ? {
            serve: {
              status: 206,
              headers: {
                'content-range': `bytes ${PART}-${n - 1}/${n}`,
                'x-amz-mp-parts-count': '2',
                etag: '"0123456789abcdef0123456789abcdef-2"',
                'last-modified': new Date().toUTCString(),
                'content-type': 'application/octet-stream',
              },
              body: partedBytes.subarray(PART),
            },
          }
        : undefined;
    try {
      const got = await client.send(new GetObjectCommand({ Bucket: 'datalake', Key: parted, PartNumber: 2 }));
      expect([got.ContentRange, got.ContentLength, got.PartsCount]).toEqual([
        `bytes ${PART}-${n - 1}/${n}`,
        100,
        2,
      ]);
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(partedBytes.subarray(PART))).toBe(
        true,
      );
      const head = await client.send(
        new HeadObjectCommand({ Bucket: 'datalake', Key: parted, PartNumber: 2 }),
      );
      expect([head.ContentRange, head.ContentLength, head.PartsCount]).toEqual([
        `bytes ${PART}-${n - 1}/${n}`,
        100,
        2,
      ]);
    } finally {
      front.onRequest = () => undefined;
    }
  });

  // Only moto keeps an object's parts (s3rver joins them): the s3rver row has no such test.
  if (kind === 'moto')
    run(
      "HEAD of part 1 of an object in parts tells the part's length and the count (moto keeps parts)",
      async () => {
        const head = await client.send(
          new HeadObjectCommand({ Bucket: 'datalake', Key: parted, PartNumber: 1 }),
        );
        expect([head.ContentLength, head.PartsCount]).toEqual([PART, 2]);
      },
    );

  run('a part of a file outside the grant is refused like any read of it, before the backend', async () => {
    const seen = front.seen.length;
    for (const method of ['GET', 'HEAD']) {
      // The filtered view answers 404: outside the grant, the file is not in the caller's table.
      const r = await signedFetch(proxy.url, method, path(us), 'partNumber=1', {}, ANALYST);
      expect([method, r.status]).toEqual([method, 404]);
    }
    expect(front.seen.slice(seen).filter((r) => r.key.endsWith(us.slice('sales/'.length)))).toEqual([]);
  });

  run('a file of the filtered log (made by the proxy) has one part: 1 is all of it, 2 is 416', async () => {
    const commit = path('sales/_delta_log/00000000000000000000.json');
    const whole = await signedFetch(proxy.url, 'GET', commit, '', {}, ANALYST);
    expect(whole.status).toBe(200);
    const n = whole.body.byteLength;
    const one = await signedFetch(proxy.url, 'GET', commit, 'partNumber=1', {}, ANALYST);
    expect([one.status, one.headers['content-range']]).toEqual([206, `bytes 0-${n - 1}/${n}`]);
    expect(one.body.equals(whole.body)).toBe(true);
    const two = await signedFetch(proxy.url, 'GET', commit, 'partNumber=2', {}, ANALYST);
    expect(two.status).toBe(416);
    expect(two.text).toContain('<Code>InvalidPartNumber</Code>');
    expect(proxy.events.at(-1)).toMatchObject(CONDITION);
  });

  // That the URL signs partNumber (S3 refuses it changed) is test/storage/s3-presigner.test.ts's.
  run(
    'presigned mode signs the part into the redirect, which downloads it without any auth header',
    async () => {
      const r = await signedFetch(redirecting.url, 'GET', path(whole), 'partNumber=1', FOLLOWER, ANALYST);
      expect(r.status).toBe(307);
      const location = new URL(r.headers.location!);
      expect(location.searchParams.get('partNumber')).toBe('1');
      const followed = await fetch(location);
      expect(followed.status).toBeLessThan(300);
      expect(Buffer.from(await followed.arrayBuffer()).equals(wholeBytes)).toBe(true);
    },
  );

  // SPEC: proxyPartial is for clients that do not handle a redirect of partial content well.
  run('with proxyPartial a part is a partial read: proxied (206 with its bytes), as a Range is', async () => {
    const ranged = await signedFetch(
      partial.url,
      'GET',
      path(whole),
      '',
      { ...FOLLOWER, range: 'bytes=0-9' },
      ANALYST,
    );
    expect(ranged.status).toBe(206);
    const part = await signedFetch(partial.url, 'GET', path(whole), 'partNumber=1', FOLLOWER, ANALYST);
    expect([part.status, part.headers.location]).toEqual([206, undefined]);
    expect(part.body.equals(wholeBytes)).toBe(true);
    expect(partial.events.at(-1)).toMatchObject({ status: 206, proxied: true, redirected: false });
  });

  run(
    "a bad partNumber, or one with a Range, is the client's mistake: 400 before any backend call",
    async () => {
      const seen = front.seen.length;
      for (const value of ['0', '10001', '1.5', '', '-1', '0x1', '%201']) {
        const r = await signedFetch(proxy.url, 'GET', path(whole), `partNumber=${value}`, {}, ANALYST);
        expect([value, r.status]).toEqual([value, 400]);
        expect(r.text).toContain('<Code>InvalidArgument</Code>');
        expect(r.text).toContain('<ArgumentName>partNumber</ArgumentName>');
      }
      const both = await signedFetch(
        proxy.url,
        'GET',
        path(whole),
        'partNumber=1',
        { range: 'bytes=0-9' },
        ANALYST,
      );
      expect(both.status).toBe(400);
      expect(both.text).toContain('<Code>InvalidRequest</Code>');
      // (A snapshot refresh may list the log meanwhile: only reads of the object count.)
      expect(front.seen.slice(seen).filter((r) => r.key === `w/${whole}`)).toEqual([]);
    },
  );
});
