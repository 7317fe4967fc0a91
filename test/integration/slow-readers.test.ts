/**
 * Slow readers must not starve everyone (local server, node:http). A proxied GET holds a backend
 * socket for as long as its client takes to read; clients that stop reading once they have the
 * headers must not make another principal's GET on another table fail or wait. Three rules keep
 * it so: a large shared backend pool, a bounded share of it per principal (503 SlowDown beyond
 * it, unless the pool still keeps a share free for others), and an idle-read timeout that cuts a
 * client that reads nothing for too long.
 */
import { randomBytes } from 'node:crypto';
import { type ClientRequest, type IncomingMessage, request } from 'node:http';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DeltaTableWriter } from '../../lambda/local/delta-writer';
import { uploadDemoTable } from '../helpers/fixture-tables';
import { type RunningProxy, startProxy, type TestKey } from '../helpers/proxy-harness';
import { backendClient, type S3Server, startS3rver } from '../helpers/s3-servers';
import { signHeaders } from '../helpers/signed-fetch';

const HOG: TestKey = {
  accessKeyId: 'AKIATESTHOG00000001',
  secretAccessKey: 'hog-secret-key-0001',
  principal: 'hog',
};
const VICTIM: TestKey = {
  accessKeyId: 'AKIATESTVICTIM00001',
  secretAccessKey: 'victim-secret-key-01',
  principal: 'victim',
};
/** Bigger than what loopback socket buffers absorb, so a paused reader really holds its stream. */
const BIG_BYTES = 16 * 1024 * 1024;

let s3: S3Server;
let smallKey: string;
const open: ClientRequest[] = [];

beforeAll(async () => {
  s3 = await startS3rver();
  const active = await uploadDemoTable(s3.endpoint, 'lake', 'w/small/');
  smallKey = `small/${active[0]}`;
  const client = backendClient(s3.endpoint);
  await client.send(
    new PutObjectCommand({ Bucket: 'lake', Key: 'w/big/big.bin', Body: randomBytes(BIG_BYTES) }),
  );
  const writer = new DeltaTableWriter(
    {
      put: async (rel, bytes) => {
        await client.send(new PutObjectCommand({ Bucket: 'lake', Key: `w/big/${rel}`, Body: bytes }));
      },
    },
    { schema: [{ name: 'id', type: 'long' }] },
  );
  await writer.create([
    { path: 'big.bin', partitionValues: {}, size: BIG_BYTES, modificationTime: Date.now(), dataChange: true },
  ]);
  client.destroy();
});
afterEach(() => {
  for (const req of open.splice(0)) req.destroy();
});
afterAll(async () => {
  await s3?.stop();
});

const config = (extra: object = {}) => ({
  tableMapping: { big: 's3://lake/w/big', small: 's3://lake/w/small' },
  getMode: 'proxy' as const,
  auth: { keys: [HOG, VICTIM] },
  grants: [
    { principal: 'hog', table: 'big', partitions: [{}] },
    { principal: 'victim', table: 'small', partitions: [{}] },
  ],
  ...extra,
});

interface Stalled {
  status: number;
  code?: string;
  /** The paused response (200 only). */
  res?: IncomingMessage;
}

/** A GET of the big file by the hog that reads the status line and headers, then nothing more. */
async function stalledGet(proxy: RunningProxy): Promise<Stalled> {
  const url = new URL(proxy.url);
  const headers = await signHeaders(proxy.url, 'GET', '/datalake/big/big.bin', '', {}, HOG);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: '/datalake/big/big.bin', headers, agent: false },
      (res: IncomingMessage) => {
        if (res.statusCode === 200) {
          res.pause();
          resolve({ status: 200, res });
          return;
        }
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, code: /<Code>(\w+)</.exec(body)?.[1] }));
      },
    );
    req.on('error', reject);
    req.setTimeout(20_000, () => req.destroy(new Error('no response headers within 20 s')));
    open.push(req);
    req.end();
  });
}

/** The victim's GET on the other table: must succeed, bounded so that a starved proxy fails the test. */
async function victimGet(proxy: RunningProxy): Promise<number> {
  const client = proxy.client(VICTIM);
  try {
    const out = await client.send(new GetObjectCommand({ Bucket: 'datalake', Key: smallKey }), {
      abortSignal: AbortSignal.timeout(10_000),
    });
    return (await out.Body!.transformToByteArray()).byteLength;
  } finally {
    client.destroy();
  }
}

/** The stream-share series of the proxy's /metrics. */
async function streamMetrics(
  proxy: RunningProxy,
): Promise<{ held: number; principals: number; refused: number }> {
  const text = (await proxy.proxy.metrics.render()).body;
  const value = (name: string) => Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1]);
  return {
    held: value('deltaproxy_proxied_streams'),
    principals: value('deltaproxy_proxied_stream_principals'),
    refused: value('deltaproxy_stream_share_refusals_total'),
  };
}

describe('slow readers', () => {
  let proxy: RunningProxy | undefined;
  afterEach(async () => {
    for (const req of open.splice(0)) req.destroy();
    await proxy?.stop();
    proxy = undefined;
  });

  it("60 stalled readers of one principal leave another principal's GET on another table unharmed (defaults)", async () => {
    proxy = await startProxy(s3, config());
    let answered = 0;
    const stalled = Array.from({ length: 60 }, () =>
      stalledGet(proxy!).then((s) => {
        answered++;
        return s;
      }),
    );
    for (const s of stalled) s.catch(() => {}); // observed here; awaited below when the victim got through
    // The SDK's own pool (50 sockets) would be full by now; the victim comes after that.
    const deadline = Date.now() + 15_000;
    while (answered < 50 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await victimGet(proxy)).toBeGreaterThan(0);
    // Every stalled reader got an answer: its stream, or SlowDown beyond its principal's share.
    for (const s of await Promise.all(stalled)) expect([200, 503]).toContain(s.status);
  });

  it("bounds one principal's share of backend streams: beyond it SlowDown, and others still get through", async () => {
    proxy = await startProxy(s3, config({ s3: { maxSockets: 8 }, streamsPerPrincipal: 3 }));
    const stalled = await Promise.all(Array.from({ length: 7 }, () => stalledGet(proxy!)));
    // Its share (3), then beyond it while a whole share of the 8 sockets stays free (2 more).
    expect(stalled.map((s) => s.status).sort()).toEqual([200, 200, 200, 200, 200, 503, 503]);
    expect(stalled.filter((s) => s.status === 503).map((s) => s.code)).toEqual(['SlowDown', 'SlowDown']);
    // What an operator sees meanwhile: five streams held by one principal, two GETs refused.
    expect(await streamMetrics(proxy)).toEqual({ held: 5, principals: 1, refused: 2 });
    expect(await victimGet(proxy)).toBeGreaterThan(0);
  });

  it('a lone principal uses an idle pool beyond its share, but not the last share of it', async () => {
    proxy = await startProxy(s3, config({ s3: { maxSockets: 64 }, streamsPerPrincipal: 4 }));
    const stalled = await Promise.all(Array.from({ length: 64 }, () => stalledGet(proxy!)));
    expect(stalled.filter((s) => s.status === 200)).toHaveLength(60);
    expect(stalled.filter((s) => s.status === 503).every((s) => s.code === 'SlowDown')).toBe(true);
    expect(await victimGet(proxy)).toBeGreaterThan(0);
  });

  it('cuts a client that reads nothing for clientIdleTimeoutMs, which frees its share', async () => {
    // Two sockets: one principal's share of 1, with nothing beyond it (that would leave less than a share).
    proxy = await startProxy(
      s3,
      config({ s3: { maxSockets: 2 }, streamsPerPrincipal: 1, clientIdleTimeoutMs: 300 }),
    );
    const first = await stalledGet(proxy);
    expect(first.status).toBe(200);
    const second = await stalledGet(proxy);
    expect([second.status, second.code]).toEqual([503, 'SlowDown']);
    // Once the proxy has hung up on the stalled reader, the principal may read again.
    let again = await stalledGet(proxy);
    for (let tries = 0; again.status !== 200 && tries < 100; tries++) {
      await new Promise((r) => setTimeout(r, 100));
      again = await stalledGet(proxy);
    }
    expect(again.status).toBe(200);
    // The stalled reader, reading again, finds its response cut short.
    const rest = await new Promise<{ bytes: number; complete: boolean }>((resolve) => {
      let bytes = 0;
      first.res!.on('data', (d: Buffer) => {
        bytes += d.byteLength;
      });
      first.res!.on('close', () => resolve({ bytes, complete: first.res!.complete }));
      first.res!.resume();
    });
    expect(rest.complete).toBe(false);
    expect(rest.bytes).toBeLessThan(BIG_BYTES);
  });
});
