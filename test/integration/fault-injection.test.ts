/**
 * Fault injection through the real proxy: a backend (test/helpers/misbehaving-s3.ts in front of
 * s3rver) that answers 500/503, resets connections, stalls, hangs, cuts bodies short or serves
 * corrupt log files. Invariants, for every fault:
 * - the client gets S3 XML with a 5xx status (503 where a retry can help), never a 200 for a file
 *   it may not read, never a stack trace or a backend name;
 * - backend reads are retried a bounded number of times (the backend counts the attempts);
 * - a request is answered within its time budget (`requestTimeoutMs`, or before the Lambda
 *   invocation's deadline), whatever the backend does;
 * - other tables keep being served while one table's storage is broken;
 * - once the fault ends, the next request is served (no failure is cached);
 * - no unhandled rejection (the process would end).
 * The data-read faults run through node:http and through the Lambda adapter (runtime shim).
 * Faults already covered elsewhere are not repeated: failed prefetches, unparsable commits and
 * backend refusals (backend-faults.test.ts), listing and presigning errors (backend-errors.test.ts).
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MIN_PENDING_REQUESTS } from '../../lambda/config';
import { ManualClock } from '../helpers/authz-harness';
import { type TestTable, writeTable } from '../helpers/fault-tables';
import { startProxyThroughLambda } from '../helpers/lambda-http-server';
import { TRANSPORTS } from '../helpers/lambda-transports';
import { commitKey } from '../helpers/log-text';
import { type BackendRequest, type MisbehavingS3, startMisbehavingS3 } from '../helpers/misbehaving-s3';
import { ANALYST, type RunningProxy, serveWithNode, startProxy } from '../helpers/proxy-harness';
import { backendClient, createBucket, type S3Server, startS3rver } from '../helpers/s3-servers';
import { encodeKeyPath, type RawResponse, signedFetch } from '../helpers/signed-fetch';

const BUCKET = 'fault-bucket';
const code = (text: string) => /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let upstream: S3Server;
let backend: MisbehavingS3;
let client: S3Client;
let alpha: TestTable;
let beta: TestTable;
/** alpha's files: [EU, US]; beta's files: [EU, US]. ANALYST is granted region=EU on both. */
let alphaFiles: string[];
let betaFiles: string[];

let unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => {
  unhandled.push(reason);
};

beforeAll(async () => {
  upstream = await startS3rver();
  backend = await startMisbehavingS3(upstream);
  client = backendClient(upstream.endpoint);
  await createBucket(client, BUCKET);
  alpha = await writeTable(client, BUCKET, 'alpha', 'warehouse/alpha/');
  alphaFiles = await alpha.commitFiles('EU', 'US');
  beta = await writeTable(client, BUCKET, 'beta', 'warehouse/beta/');
  betaFiles = await beta.commitFiles('EU', 'US');
});
afterAll(async () => {
  client?.destroy();
  await backend?.stop();
  await upstream?.stop();
});
beforeEach(() => {
  unhandled = [];
  process.on('unhandledRejection', onUnhandled);
});
afterEach(async () => {
  backend.onRequest = () => undefined;
  // A rejection lands a turn or two after the request that caused it.
  await sleep(20);
  process.off('unhandledRejection', onUnhandled);
  expect(unhandled).toEqual([]);
});

const tablesConfig = () => ({
  tableMapping: { alpha: alpha.uri, beta: beta.uri },
  getMode: 'proxy' as const,
  grants: [
    { principal: ANALYST.principal, table: 'alpha', partitions: [{ region: 'EU' }] },
    { principal: ANALYST.principal, table: 'beta', partitions: [{ region: 'EU' }] },
  ],
});

const get = (proxy: { url: string }, table: TestTable, file: string): Promise<RawResponse> =>
  signedFetch(proxy.url, 'GET', `/datalake/${encodeKeyPath(`${table.alias}/${file}`)}`, '', {}, ANALYST);

const list = (proxy: { url: string }, table: TestTable): Promise<RawResponse> =>
  signedFetch(proxy.url, 'GET', '/datalake', `list-type=2&prefix=${table.alias}%2F`, {}, ANALYST);

/** The answer is an S3 error document with this status and code, naming nothing of the backend. */
function expectS3Error(r: RawResponse, status: number, errorCode: string): void {
  expect([r.status, code(r.text)]).toEqual([status, errorCode]);
  expect(r.headers['content-type']).toBe('application/xml');
  expect(r.text).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error>/);
  expect(r.text).not.toContain(BUCKET);
  expect(r.text).not.toContain('warehouse/');
  expect(r.text).not.toMatch(/\bat .*\.(ts|js):\d+/);
}

const isKey = (key: string) => (r: BackendRequest) => r.method === 'GET' && r.key === key;
const attempts = (match: (r: BackendRequest) => boolean, from: number) =>
  backend.seen.slice(from).filter(match).length;

describe.each(TRANSPORTS)('a failing backend under data reads, via %s', (_name, serve) => {
  let proxy: RunningProxy;
  beforeAll(async () => {
    // Backend calls give up after 1 s without an answer; the request's budget is far longer.
    // The snapshot stays fresh for the whole describe (faults here are about data reads; a
    // refusal must come from the cached snapshot, not from a reload the failing backend breaks).
    proxy = await startProxy(
      backend,
      {
        ...tablesConfig(),
        requestTimeoutMs: 15_000,
        s3: { requestTimeoutMs: 1_000 },
        snapshotTtlMs: 600_000,
      },
      serve,
    );
    expect((await get(proxy, alpha, alphaFiles[0]!)).status).toBe(200);
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  it.each([
    ['503 ServiceUnavailable', { status: 503, code: 'ServiceUnavailable' }, 503, 'ServiceUnavailable'],
    ['503 SlowDown', { status: 503, code: 'SlowDown' }, 503, 'SlowDown'],
    ['500 InternalError', { status: 500, code: 'InternalError' }, 500, 'InternalError'],
    ['a connection reset', { reset: true as const }, 503, 'ServiceUnavailable'],
    ['no answer at all', { hang: true as const }, 503, 'ServiceUnavailable'],
  ])(
    'answers %s with S3 XML after 3 attempts, and serves again once it ends',
    async (_f, fault, status, errorCode) => {
      const key = alpha.prefix + alphaFiles[0];
      backend.onRequest = (r) => (isKey(key)(r) ? fault : undefined);
      const from = backend.seen.length;
      const r = await get(proxy, alpha, alphaFiles[0]!);
      expectS3Error(r, status, errorCode);
      expect(attempts(isKey(key), from)).toBe(3);
      backend.onRequest = () => undefined;
      const again = await get(proxy, alpha, alphaFiles[0]!);
      expect(again.status).toBe(200);
      expect(again.body.subarray(0, 4).toString()).toBe('PAR1');
    },
  );

  it('cuts the response, never completes it, when the backend drops the connection mid-body', async () => {
    const key = alpha.prefix + alphaFiles[0];
    backend.onRequest = (r) => (isKey(key)(r) ? { cutAfter: 100 } : undefined);
    const outcome = await get(proxy, alpha, alphaFiles[0]!).then(
      (r) => r,
      (e: Error) => e,
    );
    // The status was sent before the body failed: the only honest signal left is a broken
    // connection (fetch rejects), never a complete-looking 200.
    expect(outcome).toBeInstanceOf(Error);
    backend.onRequest = () => undefined;
    expect((await get(proxy, alpha, alphaFiles[0]!)).status).toBe(200);
  });

  it('passes a body the backend sends without Content-Length whole, never framed as empty', async () => {
    // S3 always sizes a GetObject; a gateway in front of another store may stream it chunked.
    const whole = await get(proxy, alpha, alphaFiles[0]!);
    backend.onRequest = (r) => (isKey(alpha.prefix + alphaFiles[0])(r) ? { unsized: true } : undefined);
    const r = await get(proxy, alpha, alphaFiles[0]!);
    expect([r.status, r.body.length]).toEqual([200, whole.body.length]);
    expect(r.body.equals(whole.body)).toBe(true);
    expect(r.headers['content-length']).not.toBe('0');
  });

  it('still refuses a file of a partition not granted while the backend fails', async () => {
    backend.onRequest = (r) => (r.method === 'GET' ? { status: 503, code: 'SlowDown' } : undefined);
    const r = await get(proxy, alpha, alphaFiles[1]!);
    expect(r.status).toBe(403);
  });
});

describe('a log throttled for a while, data reads passing (node:http)', () => {
  // S3 can answer SlowDown to a busy _delta_log/ prefix while the data files still read: the
  // snapshot the proxy holds keeps serving (snapshotStaleIfErrorMs) instead of failing every read.
  const clock = new ManualClock();
  let proxy: RunningProxy;
  beforeAll(async () => {
    proxy = await startProxy(
      backend,
      // One attempt per backend call: the SDK's retry backoff would only slow the test down.
      { ...tablesConfig(), snapshotTtlMs: 5_000, snapshotStaleIfErrorMs: 60_000, s3: { maxAttempts: 1 } },
      serveWithNode,
      { clock },
    );
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  it('serves and refuses from the snapshot it has, needs the log for a file it does not know, and gives up after the limit', async () => {
    expect((await get(proxy, beta, betaFiles[0]!)).status).toBe(200);
    const isLogListing = (r: BackendRequest) =>
      r.key === '' && (r.query.get('prefix') ?? '').includes('_delta_log/');
    backend.onRequest = (r) => (isLogListing(r) ? { status: 503, code: 'SlowDown' } : undefined);
    clock.advance(5_000);
    const from = backend.seen.length;
    const granted = await get(proxy, beta, betaFiles[0]!);
    expect([granted.status, granted.body.subarray(0, 4).toString()]).toEqual([200, 'PAR1']);
    expect(attempts(isLogListing, from)).toBeGreaterThan(0); // the refresh was tried
    expect((await get(proxy, beta, betaFiles[1]!)).status).toBe(403); // known, not granted
    // A file the snapshot does not know may be in a commit it cannot read: not refused, 503.
    expectS3Error(await get(proxy, beta, 'region=EU/part-99999-unknown.parquet'), 503, 'SlowDown');
    // 65 s after the last good read of the log: the snapshot is too old to serve.
    clock.advance(60_000);
    expectS3Error(await get(proxy, beta, betaFiles[0]!), 503, 'SlowDown');
    backend.onRequest = () => undefined;
    expect((await get(proxy, beta, betaFiles[0]!)).status).toBe(200);
  });
});

describe('one table whose storage stalls (node:http)', () => {
  let proxy: RunningProxy;
  beforeAll(async () => {
    // The request's budget (2 s) is far shorter than the backend timeout (10 s).
    proxy = await startProxy(backend, {
      ...tablesConfig(),
      requestTimeoutMs: 2_000,
      s3: { requestTimeoutMs: 10_000 },
    });
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  it('answers 503 within the budget, serves the other table meanwhile, and recovers', async () => {
    let release!: () => void;
    const stalled = new Promise<void>((r) => {
      release = r;
    });
    const fallback = setTimeout(release, 15_000);
    backend.onRequest = (r) =>
      r.key.startsWith(alpha.prefix) || r.query.get('prefix')?.startsWith(alpha.prefix)
        ? { after: stalled }
        : undefined;
    try {
      const [a, b, bList] = await Promise.all([
        get(proxy, alpha, alphaFiles[0]!),
        get(proxy, beta, betaFiles[0]!),
        list(proxy, beta),
      ]);
      expectS3Error(a, 503, 'ServiceUnavailable');
      expect(b.status).toBe(200);
      expect(bList.status).toBe(200);
      expect(bList.text).toContain(`<Key>beta/${betaFiles[0]}</Key>`);
      // Listing the stalled table is bounded by the same budget.
      expectS3Error(await list(proxy, alpha), 503, 'ServiceUnavailable');
      const event = proxy.events.find((e) => e.table === 'alpha' && e.status === 503);
      expect(event?.reason).toMatch(/requestTimeoutMs/);
    } finally {
      backend.onRequest = () => undefined;
      release();
      clearTimeout(fallback);
    }
    // The stalled snapshot load finishes for the next request; nothing failed is remembered.
    expect((await get(proxy, alpha, alphaFiles[0]!)).status).toBe(200);
    expect((await get(proxy, alpha, alphaFiles[1]!)).status).toBe(403);
  });

  it('closes a stalled backend read when the budget runs out', async () => {
    const key = beta.prefix + betaFiles[0];
    let closed = false;
    backend.onRequest = (r) => (isKey(key)(r) ? { hang: true } : undefined);
    const from = backend.seen.length;
    const r = await get(proxy, beta, betaFiles[0]!);
    expectS3Error(r, 503, 'ServiceUnavailable');
    // The abandoned read is aborted, not retried: one attempt reached the backend.
    await sleep(100);
    closed = attempts(isKey(key), from) === 1;
    expect(closed).toBe(true);
  });
});

describe('the Lambda invocation deadline', () => {
  let proxy: RunningProxy;
  beforeAll(async () => {
    // A 2.5 s function timeout; the proxy's own budget (30 s) is longer.
    proxy = await startProxy(backend, { ...tablesConfig(), s3: { requestTimeoutMs: 10_000 } }, (handler) =>
      startProxyThroughLambda(async () => handler, { timeoutMs: 2_500 }),
    );
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  it('answers 503 S3 XML before the deadline when the backend hangs', async () => {
    const key = alpha.prefix + alphaFiles[0];
    backend.onRequest = (r) => (isKey(key)(r) ? { hang: true } : undefined);
    const r = await get(proxy, alpha, alphaFiles[0]!);
    expectS3Error(r, 503, 'ServiceUnavailable');
  });
});

describe('corrupt and truncated log files (node:http)', () => {
  let proxy: RunningProxy;
  let table: TestTable;
  let files: string[];
  let n = 0;

  beforeAll(async () => {
    proxy = await startProxy(backend, { ...tablesConfig(), s3: { requestTimeoutMs: 1_000 } });
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  let writerNow: () => number = Date.now;

  const proxyConfig = () => ({
    tableMapping: { [table.alias]: table.uri, beta: beta.uri },
    getMode: 'proxy' as const,
    grants: [
      { principal: ANALYST.principal, table: table.alias, partitions: [{ region: 'EU' }] },
      { principal: ANALYST.principal, table: 'beta', partitions: [{ region: 'EU' }] },
    ],
    requestTimeoutMs: 5_000,
    s3: { requestTimeoutMs: 1_000 },
  });

  /** A fresh table (and a proxy that has not loaded it): EU, EU, US files, one commit each. */
  async function freshTable(options: { checkpoint?: boolean } = {}) {
    const alias = `t${++n}`;
    table = await writeTable(client, BUCKET, alias, `warehouse/${alias}/`, { now: () => writerNow() });
    files = await table.commitFiles('EU', 'EU', 'US');
    if (options.checkpoint) await table.writer.checkpoint();
    return startProxy(backend, proxyConfig());
  }

  it('answers 503 when a commit is cut short on the wire, and loads it once the fault ends', async () => {
    const p = await freshTable();
    try {
      const key = commitKey(2, table.prefix);
      backend.onRequest = (r) => (isKey(key)(r) ? { cutAfter: 40 } : undefined);
      for (const file of [files[0]!, files[2]!])
        expectS3Error(await get(p, table, file), 503, 'ServiceUnavailable');
      backend.onRequest = () => undefined;
      expect((await get(p, table, files[0]!)).status).toBe(200);
      expect((await get(p, table, files[2]!)).status).toBe(403);
    } finally {
      await p.stop();
    }
  });

  it('never serves a file whose removal was cut from a commit that still parses', async () => {
    // Commit 4 removes an EU file; its removal is long past the retention period (7 days).
    const p = await freshTable();
    try {
      writerNow = () => Date.now() - 30 * 24 * 3600 * 1000;
      const removed = table.writer.activeFiles().find((f) => decodeURIComponent(f.path) === files[1]);
      await table.writer.commit({ remove: [removed!.path], operation: 'DELETE' });
      writerNow = Date.now;
      // Whole, the log refuses the removed file: its removal is past the retention period.
      const whole = await startProxy(backend, proxyConfig());
      expect((await get(whole, table, files[1]!)).status).toBe(403);
      await whole.stop();
      const key = commitKey(4, table.prefix);
      // The backend serves commit 4 without its last line: valid JSON lines, one action short.
      backend.onRequest = (r) =>
        isKey(key)(r)
          ? {
              rewrite: (body) => {
                const lines = body.toString('utf8').split('\n').filter(Boolean);
                return Buffer.from(`${lines.slice(0, -1).join('\n')}\n`);
              },
            }
          : undefined;
      const r = await get(p, table, files[1]!);
      expect(r.status).not.toBe(200);
      expect(r.status).toBeGreaterThanOrEqual(500);
      backend.onRequest = () => undefined;
      expect((await get(p, table, files[0]!)).status).toBe(200);
    } finally {
      await p.stop();
    }
  });

  it('falls back to the commits when a checkpoint is corrupt, and never allows more', async () => {
    const p = await freshTable({ checkpoint: true });
    try {
      backend.onRequest = (r) =>
        r.method === 'GET' && r.key.startsWith(`${table.prefix}_delta_log/`) && r.key.endsWith('.parquet')
          ? {
              rewrite: (body) =>
                Buffer.from(body.map((b, i) => (i > 4 && i < body.length - 8 ? b ^ 0x5a : b))),
            }
          : undefined;
      expect((await get(p, table, files[0]!)).status).toBe(200);
      expect((await get(p, table, files[2]!)).status).toBe(403);
    } finally {
      await p.stop();
    }
  });

  it('answers 503 when a checkpoint is cut short on the wire, and never allows', async () => {
    const p = await freshTable({ checkpoint: true });
    try {
      backend.onRequest = (r) =>
        r.method === 'GET' && r.key.startsWith(`${table.prefix}_delta_log/`) && r.key.endsWith('.parquet')
          ? { cutAfter: 10 }
          : undefined;
      const r = await get(p, table, files[2]!);
      expect(r.status).not.toBe(200);
      expect(r.status).toBe(503);
      backend.onRequest = () => undefined;
      expect((await get(p, table, files[0]!)).status).toBe(200);
      expect((await get(p, table, files[2]!)).status).toBe(403);
    } finally {
      await p.stop();
    }
  });

  it('answers 412, not the new bytes, when an object changed after the client saw its ETag', async () => {
    const listed = await list(proxy, beta);
    const entry = listed.text.split('<Contents>').find((c) => c.includes(`<Key>beta/${betaFiles[0]}</Key>`));
    const etag = /<ETag>([^<]*)<\/ETag>/.exec(entry?.replace(/&quot;/g, '"') ?? '')?.[1];
    expect(etag).toBeDefined();
    const key = beta.prefix + betaFiles[0];
    const original = (await get(proxy, beta, betaFiles[0]!)).body;
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'changed under the reader' }));
    try {
      const r = await signedFetch(
        proxy.url,
        'GET',
        `/datalake/${encodeKeyPath(`beta/${betaFiles[0]}`)}`,
        '',
        { 'if-match': etag! },
        ANALYST,
      );
      expectS3Error(r, 412, 'PreconditionFailed');
    } finally {
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: original }));
    }
  });
});

describe('bounded backend concurrency (node:http)', () => {
  let proxy: RunningProxy;
  beforeAll(async () => {
    // The fewest backend calls that may await an answer at once (a snapshot load alone may hold
    // 64); one more is refused rather than queued.
    proxy = await startProxy(backend, {
      ...tablesConfig(),
      s3: { maxPendingRequests: MIN_PENDING_REQUESTS },
    });
    expect((await get(proxy, alpha, alphaFiles[0]!)).status).toBe(200);
    expect((await get(proxy, beta, betaFiles[0]!)).status).toBe(200);
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  it('answers 503 SlowDown at once beyond maxPendingRequests, and serves the held ones', async () => {
    const key = alpha.prefix + alphaFiles[0];
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    const fallback = setTimeout(release, 10_000);
    let arrived = 0;
    let allArrived!: () => void;
    const allHeld = new Promise<void>((r) => {
      allArrived = r;
    });
    backend.onRequest = (r) => {
      if (!isKey(key)(r)) return undefined;
      if (++arrived === MIN_PENDING_REQUESTS) allArrived();
      return { after: held };
    };
    const from = backend.seen.length;
    const first = Array.from({ length: MIN_PENDING_REQUESTS }, () => get(proxy, alpha, alphaFiles[0]!));
    await allHeld;
    // The limit of backend calls are pending: the next ones are shed, on any table, without a backend call.
    const shed = await Promise.all([get(proxy, alpha, alphaFiles[0]!), get(proxy, beta, betaFiles[0]!)]);
    for (const r of shed) expectS3Error(r, 503, 'SlowDown');
    release();
    clearTimeout(fallback);
    for (const r of await Promise.all(first)) expect(r.status).toBe(200);
    expect(attempts(isKey(key), from)).toBe(MIN_PENDING_REQUESTS);
    expect(attempts(isKey(beta.prefix + betaFiles[0]), from)).toBe(0);
    expect(proxy.events.filter((e) => e.code === 'SlowDown').at(-1)?.reason).toMatch(/maxPendingRequests/);
    // The slots were given back.
    expect((await get(proxy, beta, betaFiles[0]!)).status).toBe(200);
  });
});
