/**
 * Presigned redirects, beyond test/integration/presigned-redirect.test.ts: the Location of keys
 * with special characters (space, +, %, =, unicode) serves the proxied bytes on s3rver and moto;
 * SSE-C reads (signed by the SDK's presigner) sign overrides and checksum mode too; without
 * proxyPartial, HEAD is never redirected, Range and conditional GETs are, and the follower's
 * re-sent Range/If-None-Match get S3's 206/304; odd User-Agents choose sanely.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SPECIAL_REGIONS, uploadDemoTable, writeSpecialTable } from '../helpers/fixture-tables';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { type RecordingRelay, startRecordingRelay } from '../helpers/recording-relay';
import {
  BACKEND_CREDENTIALS,
  backendClient,
  createBucket,
  type S3Server,
  s3rverAndMoto,
  startS3rver,
  uploadDir,
} from '../helpers/s3-servers';
import { encodeKeyPath, signedFetch } from '../helpers/signed-fetch';
import { keyMd5, sseCustomerHeaders } from '../helpers/sse-customer-headers';

const FOLLOWER_UA = { 'user-agent': 'delta-proxy-client/0.1.0' };

describe.each(s3rverAndMoto())('redirects of special keys on %s', (_title, start, skip) => {
  let s3: S3Server;
  let relay: RecordingRelay;
  let proxy: RunningProxy;
  let dataKeys: string[];

  beforeAll(async () => {
    if (skip) return;
    s3 = await start();
    const c = backendClient(s3.endpoint);
    await createBucket(c, 'lake');
    const keys = await uploadDir(c, 'lake', 't/', await writeSpecialTable(SPECIAL_REGIONS, ['2024-01-01']));
    c.destroy();
    dataKeys = keys
      .filter((k) => k.endsWith('.parquet') && !k.includes('_delta_log'))
      .map((k) => `sales/${k.slice(2)}`);
    relay = await startRecordingRelay(s3.endpoint, { verifyPresigned: BACKEND_CREDENTIALS });
    proxy = await startProxy(
      { ...s3, endpoint: relay.endpoint },
      {
        tableMapping: { sales: 's3://lake/t' },
        getMode: 'presignedUrl',
        grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{}] }],
      },
    );
  }, 120_000);
  afterAll(async () => {
    await proxy?.stop();
    await relay?.stop();
    await s3?.stop();
  });

  it.skipIf(skip !== undefined)(
    'a follower of the Location gets the same bytes as the proxied read, for every key',
    async () => {
      expect(dataKeys.length).toBe(SPECIAL_REGIONS.length);
      for (const key of dataKeys) {
        const path = `/datalake/${encodeKeyPath(key)}`;
        const proxied = await signedFetch(proxy.url, 'GET', path, '', {}, ANALYST);
        expect(proxied.status, key).toBe(200);
        const redirected = await signedFetch(proxy.url, 'GET', path, '', FOLLOWER_UA, ANALYST);
        expect(redirected.status, key).toBe(307);
        const followed = await fetch(redirected.headers.location!, { signal: AbortSignal.timeout(10_000) });
        const bytes = Buffer.from(await followed.arrayBuffer());
        expect(followed.status, key).toBe(200);
        expect(relay.presignedRequests().at(-1)?.signatureRefused, key).toBeUndefined();
        expect(bytes.equals(proxied.body), key).toBe(true);
      }
    },
  );
});

describe('SSE-C redirects with overrides and checksum mode (the SDK signer path)', () => {
  const KEY = randomBytes(32);
  const SSE_C = sseCustomerHeaders(KEY);
  let s3: S3Server;
  let relay: RecordingRelay;
  let proxy: RunningProxy;
  let encrypted: string;

  beforeAll(async () => {
    s3 = await startS3rver();
    const active = (await uploadDemoTable(s3.endpoint, 'lake', 'w/sales/')).filter((p) =>
      p.startsWith('region=EU/'),
    );
    encrypted = `sales/${active[0]}`;
    relay = await startRecordingRelay(s3.endpoint, {
      verifyPresigned: BACKEND_CREDENTIALS,
      sseCustomer: { paths: new Set([`/lake/w/${encodeKeyPath(encrypted)}`]), keyMd5: keyMd5(KEY) },
    });
    proxy = await startProxy(
      { ...s3, endpoint: relay.endpoint },
      {
        tableMapping: { sales: 's3://lake/w/sales' },
        getMode: 'presignedUrl',
        grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{ region: 'EU' }] }],
      },
    );
  }, 60_000);
  afterAll(async () => {
    await proxy?.stop();
    await relay?.stop();
    await s3?.stop();
  });

  it('signs overrides and checksum mode next to the SSE-C headers; the follower gets the overridden headers', async () => {
    const path = `/datalake/${encodeKeyPath(encrypted)}`;
    const query =
      'response-content-type=text%2Fcsv&response-content-disposition=attachment%3B%20filename%3D%22a%20b.csv%22';
    const r = await signedFetch(
      proxy.url,
      'GET',
      path,
      query,
      { ...FOLLOWER_UA, ...SSE_C, 'x-amz-checksum-mode': 'ENABLED' },
      ANALYST,
    );
    expect(r.status).toBe(307);
    const location = new URL(r.headers.location!);
    expect(location.searchParams.get('response-content-type')).toBe('text/csv');
    expect(location.searchParams.get('x-amz-checksum-mode')).toBe('ENABLED');
    expect(location.search).not.toContain(
      encodeURIComponent(SSE_C['x-amz-server-side-encryption-customer-key']),
    );
    const followed = await fetch(location, { headers: SSE_C, signal: AbortSignal.timeout(10_000) });
    await followed.arrayBuffer();
    expect(relay.presignedRequests().at(-1)?.signatureRefused).toBeUndefined();
    expect(followed.status).toBe(200);
    expect(followed.headers.get('content-type')).toBe('text/csv');
    expect(followed.headers.get('content-disposition')).toBe('attachment; filename="a b.csv"');
  });
});

describe('presigned mode without proxyPartial: HEAD, Range, conditions, odd User-Agents', () => {
  let s3: S3Server;
  let proxy: RunningProxy;
  let key: string;

  beforeAll(async () => {
    s3 = await startS3rver();
    key = `sales/${(await uploadDemoTable(s3.endpoint, 'lake', 'w/sales/')).find((p) => p.startsWith('region=EU/'))}`;
    proxy = await startProxy(s3, {
      tableMapping: { sales: 's3://lake/w/sales' },
      getMode: 'presignedUrl',
      proxyPartial: false,
      grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{ region: 'EU' }] }],
    });
  }, 60_000);
  afterAll(async () => {
    await proxy?.stop();
    await s3?.stop();
  });

  it('never redirects HEAD; redirects Range and conditional GETs to a URL that answers them like the proxy', async () => {
    const path = `/datalake/${encodeKeyPath(key)}`;
    const head = await signedFetch(proxy.url, 'HEAD', path, '', FOLLOWER_UA, ANALYST);
    expect([head.status, head.headers.location]).toEqual([200, undefined]);
    const full = await signedFetch(proxy.url, 'GET', path, '', {}, ANALYST);
    expect(full.status).toBe(200);

    const ranged = await signedFetch(
      proxy.url,
      'GET',
      path,
      '',
      { ...FOLLOWER_UA, range: 'bytes=4-9' },
      ANALYST,
    );
    expect(ranged.status).toBe(307);
    const followedRange = await fetch(ranged.headers.location!, { headers: { range: 'bytes=4-9' } });
    expect(followedRange.status).toBe(206);
    expect(Buffer.from(await followedRange.arrayBuffer()).equals(full.body.subarray(4, 10))).toBe(true);

    const etag = head.headers.etag!;
    const cond = await signedFetch(
      proxy.url,
      'GET',
      path,
      '',
      { ...FOLLOWER_UA, 'if-none-match': etag },
      ANALYST,
    );
    expect(cond.status).toBe(307);
    const followedCond = await fetch(cond.headers.location!, { headers: { 'if-none-match': etag } });
    await followedCond.arrayBuffer();
    expect(followedCond.status).toBe(304);

    for (const ua of [
      '',
      'x'.repeat(4000),
      'delta-proxy-client/\u00fc\u00ff',
      `delta-proxy-client/${'y'.repeat(6000)}`,
    ]) {
      const r = await signedFetch(proxy.url, 'GET', path, '', { 'user-agent': ua }, ANALYST);
      expect(r.status, ua.slice(0, 30)).toBe(ua.startsWith('delta-proxy-client/') ? 307 : 200);
    }
  });
});
