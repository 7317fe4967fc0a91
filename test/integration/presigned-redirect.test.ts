/**
 * getMode "presignedUrl": clients known to follow a 307 without re-sending Authorization are
 * redirected to a short-lived presigned URL; every other client is proxied and still gets its
 * data; authorization happens before any redirect; the URL never reaches the audit line.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientEnv, unavailable } from '../auth/helpers/python-env';
import { uploadDemoTable } from '../helpers/fixture-tables';
import { TRANSPORTS } from '../helpers/lambda-transports';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { type S3Server, startS3rver } from '../helpers/s3-servers';
import { encodeKeyPath, signedFetch } from '../helpers/signed-fetch';
import { withReason } from '../helpers/skips';

const run = promisify(execFile);
const polarsMissing = await unavailable('python3', ['-c', 'import polars']);
if (polarsMissing) console.warn(`[skip] polars following the 307: ${polarsMissing}`);

const OBJECT_STORE_UA = { 'user-agent': 'object_store/0.12.3' };

// Once per front end: a 307 with its Location and XML body must survive the streaming prelude.
describe.each(TRANSPORTS)('presigned redirects via %s', (_transport, serve) => {
  let s3: S3Server;
  let proxy: RunningProxy;
  let active: string[];

  beforeAll(async () => {
    s3 = await startS3rver();
    active = await uploadDemoTable(s3.endpoint, 'lake', 'w/sales/');
    proxy = await startProxy(
      s3,
      {
        tableMapping: { sales: 's3://lake/w/sales' },
        getMode: 'presignedUrl',
        proxyPartial: true,
        grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{ region: 'EU' }] }],
      },
      serve,
    );
  });
  afterAll(async () => {
    await proxy?.stop();
    await s3?.stop();
  });

  const allowedKey = () => `sales/${active.find((p) => p.startsWith('region=EU/'))}`;
  const forbiddenKey = () => `sales/${active.find((p) => p.startsWith('region=US/'))}`;

  it('redirects a client that follows 307s to a presigned URL that serves the same bytes', async () => {
    const path = `/datalake/${encodeKeyPath(allowedKey())}`;
    const redirected = await signedFetch(proxy.url, 'GET', path, '', OBJECT_STORE_UA, ANALYST);
    expect(redirected.status).toBe(307);
    const location = redirected.headers.location!;
    expect(new URL(location).origin).toBe(s3.endpoint);
    expect(location).toMatch(/X-Amz-Signature=/);
    expect(redirected.text).toContain('<Code>TemporaryRedirect</Code>');
    const direct = await fetch(location, { signal: AbortSignal.timeout(10_000) });
    const proxied = await proxy
      .client()
      .send(new GetObjectCommand({ Bucket: 'datalake', Key: allowedKey() }));
    expect(
      Buffer.from(await direct.arrayBuffer()).equals(Buffer.from(await proxied.Body!.transformToByteArray())),
    ).toBe(true);
  });

  it('proxies SDK clients that do not follow redirects', async () => {
    const got = await proxy.client().send(new GetObjectCommand({ Bucket: 'datalake', Key: allowedKey() }));
    expect(got.$metadata.httpStatusCode).toBe(200);
  });

  it('keeps Range requests proxied with proxyPartial', async () => {
    const r = await signedFetch(
      proxy.url,
      'GET',
      `/datalake/${encodeKeyPath(allowedKey())}`,
      '',
      { ...OBJECT_STORE_UA, range: 'bytes=0-3' },
      ANALYST,
    );
    expect(r.status).toBe(206);
    expect(r.text).toBe('PAR1');
  });

  it('authorizes before redirecting', async () => {
    const r = await signedFetch(
      proxy.url,
      'GET',
      `/datalake/${encodeKeyPath(forbiddenKey())}`,
      '',
      OBJECT_STORE_UA,
      ANALYST,
    );
    expect(r.status).toBe(403);
    expect(r.headers.location).toBeUndefined();
  });

  it('never writes the presigned URL to the audit event', async () => {
    await signedFetch(
      proxy.url,
      'GET',
      `/datalake/${encodeKeyPath(allowedKey())}`,
      '',
      OBJECT_STORE_UA,
      ANALYST,
    );
    const event = proxy.events.findLast((e) => e.redirected);
    expect(event).toMatchObject({ status: 307, op: 'GetObject', decision: 'allow', proxied: false });
    expect(JSON.stringify(proxy.events)).not.toMatch(/X-Amz-Signature|X-Amz-Credential/);
  });

  it.skipIf(polarsMissing !== undefined)(
    withReason('polars follows redirects of its ranged reads and reads the data', polarsMissing),
    async () => {
      // polars reads with Range requests: with proxyPartial false they are redirected too.
      const ranged = await startProxy(
        s3,
        {
          tableMapping: { sales: 's3://lake/w/sales' },
          getMode: 'presignedUrl',
          proxyPartial: false,
          grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{ region: 'EU' }] }],
        },
        serve,
      );
      const script = `
import polars as pl, sys
opts = {'aws_endpoint_url': sys.argv[1], 'aws_access_key_id': sys.argv[2], 'aws_secret_access_key': sys.argv[3], 'aws_region': 'us-east-1', 'aws_allow_http': 'true'}
print(pl.read_parquet('s3://datalake/' + sys.argv[4], storage_options=opts).height)`;
      try {
        const { stdout } = await run(
          'python3',
          ['-c', script, ranged.url, ANALYST.accessKeyId, ANALYST.secretAccessKey, allowedKey()],
          {
            env: clientEnv('us-east-1', ANALYST),
            timeout: 60_000,
          },
        );
        expect(Number(stdout.trim())).toBeGreaterThan(0);
        expect(
          ranged.events.filter((e) => e.redirected && e.userAgent?.startsWith('polars/')).length,
        ).toBeGreaterThan(0);
      } finally {
        await ranged.stop();
      }
    },
  );
});
