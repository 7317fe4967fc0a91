/**
 * Proxy mode stays lean: a big object streams to a slow reader with the right sha256 while the
 * proxy's resident memory stays within 64 MB of its idle level, and a client that goes away stops
 * the backend read. Both through node:http and through the Lambda adapter (runtime shim), the
 * proxy running in a process of its own so its memory is measured alone. The same for the client
 * helper following the presigned-mode proxy's redirects.
 *
 * One suite, two sizes: `npm test` streams 96 MB (BIG_READ_MB to change it) and also drops
 * downloads early; `npm run test:full` streams the 1 GiB (test/full/big-reads-1gib.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { download, putBigObject } from './big-object';
import { writeSpecialTable } from './fixture-tables';
import { type HelperProcess, startHelperProcess } from './helper-process';
import { ANALYST } from './proxy-harness';
import { type ProxyProcess, rssUnavailableReason, startProxyProcess } from './proxy-process';
import { type RecordingRelay, startRecordingRelay } from './recording-relay';
import { backendClient, createBucket, type S3Server, startS3rver, uploadDir } from './s3-servers';
import { encodeKeyPath, signHeaders } from './signed-fetch';
import { withReason } from './skips';

const MB = 1024 * 1024;
const RSS_BUDGET = 64 * MB;
const noRss = rssUnavailableReason();

/**
 * The suite at one size. `leaveEarly`: also the client-goes-away cases (they read 2 MB whatever
 * the size, so one tier runs them).
 */
export function bigReadsSuite(sizeMB: number, options: { leaveEarly: boolean }): void {
  const SIZE = sizeMB * MB;
  let s3: S3Server;
  let relay: RecordingRelay;
  let bigKey: string;
  let smallKey: string;
  let sha: string;

  beforeAll(async () => {
    s3 = await startS3rver();
    relay = await startRecordingRelay(s3.endpoint);
    const c = backendClient(s3.endpoint);
    await createBucket(c, 'lake');
    const keys = await uploadDir(c, 'lake', 't/', await writeSpecialTable(['EU', 'US'], ['2024-01-01']));
    const data = keys.filter((k) => k.endsWith('.parquet') && !k.includes('_delta_log'));
    // One data file becomes big, in place (same key: the snapshot still lists it).
    sha = await putBigObject(c, 'lake', data[0]!, SIZE);
    bigKey = `sales/${data[0]!.slice(2)}`;
    smallKey = `sales/${data[1]!.slice(2)}`;
    c.destroy();
  }, 300_000);
  afterAll(async () => {
    await relay?.stop();
    await s3?.stop();
  });

  const config = () => ({
    tableMapping: { sales: 's3://lake/t' },
    getMode: 'proxy' as const,
    s3: { endpoint: relay.endpoint, forcePathStyle: true, region: 'us-east-1' },
    auth: { keys: [ANALYST] },
    grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{}] }],
    // In the Lambda transport, lift Lambda's limits: this suite measures the streaming path itself.
    lambdaStreaming: { maxResponseBytes: 8 * 1024 * MB, throttledBytesPerSecond: 1024 * MB },
  });

  async function signedGet(endpoint: { url: string }, key: string) {
    const path = `/datalake/${encodeKeyPath(key)}`;
    return {
      url: `${endpoint.url}${path}`,
      headers: await signHeaders(endpoint.url, 'GET', path, '', {}, ANALYST),
    };
  }

  /** A slow reader: whatever streams to it must hold back (backpressure), not buffer. */
  const PACE_MBPS = 80;

  /**
   * Streams the big object from `endpoint` to a slow reader while sampling the serving process's
   * RSS; checks the bytes and returns idle and peak RSS.
   */
  async function streamWatchingRss(endpoint: { url: string; rss(): number }, label: string) {
    // Idle: started, SDK loaded, snapshot cached, one small object served.
    const warm = await signedGet(endpoint, smallKey);
    expect((await download(warm.url, warm.headers)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 200));
    const idle = endpoint.rss();
    let peak = idle;
    const sampler = setInterval(() => {
      peak = Math.max(peak, endpoint.rss());
    }, 20);
    try {
      const { url, headers } = await signedGet(endpoint, bigKey);
      const got = await download(url, headers, { timeoutMs: 600_000, paceMBps: PACE_MBPS });
      expect(got.status).toBe(200);
      expect(got.bytes).toBe(SIZE);
      expect(got.sha256).toBe(sha);
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, endpoint.rss());
    console.log(
      `[${label}] idle RSS ${(idle / MB).toFixed(1)} MB, peak ${(peak / MB).toFixed(1)} MB while streaming ${SIZE / MB} MB`,
    );
    expect(peak - idle).toBeLessThanOrEqual(RSS_BUDGET);
  }

  /** Drops a download after 2 MB; returns how many bytes the backend then sent for it in all. */
  async function leaveEarly(endpoint: { url: string }, presigned: boolean): Promise<number> {
    const { url, headers } = await signedGet(endpoint, bigKey);
    const before = relay.requests.length;
    const got = await download(url, headers, { stopAfter: 2 * MB });
    expect(got.status).toBe(200);
    // The backend GET serving this download, as the relay in front of the backend saw it.
    const file = bigKey.split('/').at(-1)!;
    const backendGet = () =>
      relay.requests
        .slice(before)
        .find((r) => r.method === 'GET' && r.presigned === presigned && r.path.endsWith(file));
    let settled = -1;
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 250));
      const now = backendGet()?.bytes ?? 0;
      if (now === settled) break;
      settled = now;
    }
    await new Promise((r) => setTimeout(r, 1_000));
    // Nothing more was read after the client left, and far less than the object was.
    expect(backendGet()!.bytes).toBe(settled);
    expect(settled).toBeLessThan(Math.min(SIZE / 2, 64 * MB));
    return settled;
  }

  describe.each(['node', 'lambda'] as const)('big reads through the %s adapter', (transport) => {
    let proxy: ProxyProcess;
    beforeAll(async () => {
      proxy = await startProxyProcess(config(), transport);
    });
    afterAll(async () => {
      await proxy?.stop();
    });

    it.skipIf(noRss !== undefined)(
      withReason(
        `streams ${SIZE / MB} MB to a slow reader with the right sha256 while RSS stays within 64 MB of idle`,
        noRss,
      ),
      () => streamWatchingRss(proxy, transport),
      600_000,
    );

    if (options.leaveEarly)
      it('stops reading from the backend when the client goes away', async () => {
        await leaveEarly(proxy, false);
        const deadline = Date.now() + 10_000;
        while (!proxy.events.some((e) => e.reason?.includes('body stream failed')) && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 50));
        const event = proxy.events.at(-1)!;
        expect(event).toMatchObject({ op: 'GetObject', decision: 'error' });
        expect(event.bytes).toBeLessThan(SIZE / 2);
      });
  });

  describe('big reads through the client helper, every GET redirected', () => {
    let proxy: ProxyProcess;
    let helper: HelperProcess;
    beforeAll(async () => {
      proxy = await startProxyProcess({ ...config(), getMode: 'presignedUrl' }, 'node');
      helper = await startHelperProcess(['--target', proxy.url, '--port', '0']);
    });
    afterAll(async () => {
      await helper?.stop();
      await proxy?.stop();
    });

    it.skipIf(noRss !== undefined)(
      withReason(
        `streams ${SIZE / MB} MB from S3 to a slow reader with the right sha256, the helper within 64 MB of idle`,
        noRss,
      ),
      async () => {
        await streamWatchingRss(helper, 'helper');
        expect(proxy.events.filter((e) => e.op === 'GetObject').every((e) => e.status === 307)).toBe(true);
      },
      600_000,
    );

    if (options.leaveEarly)
      it('stops reading from S3 when the client goes away', async () => {
        await leaveEarly(helper, true);
      });
  });
}
