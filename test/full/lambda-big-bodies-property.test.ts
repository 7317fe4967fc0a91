/**
 * Property: big and streamed bodies through both fronts (node:http, and the Lambda Function URL
 * adapter behind the runtime shim, told it runs in Lambda, with SMALL streaming caps). Objects
 * sized around the cap; generated Range forms, conditions, partNumber, response-* overrides,
 * HEAD and GET, proxy and presigned modes, proxyPartial on and off, redirected and other
 * User-Agents, a config whose time-based throttle binds. Required for every request:
 * - node:http never answers 5xx; a 200/206 body is byte-identical (sha256) to the object's bytes
 *   its Content-Range names, and to what a simple single Range asks;
 * - the Lambda front answers the same where the body fits its cap; over it, a 307 (a client on
 *   redirectClients, an object of the table) or 400 InvalidRequest with no body but the error,
 *   never a 200/206 (a truncated body in a real Function URL).
 * Then requests with bodies (PUT/POST/DELETE, Content-Length 0 B..3 MB, chunked, aws-chunked as
 * the SDK signs PutObject, Expect: 100-continue): the same S3 error on both fronts, no hang. And a
 * client leaving mid-body on each front: the backend read stops, the next request works.
 * The seed is fixed; FUZZ_SEED and FUZZ_RUNS explore, FUZZ_PATH replays a report.
 */
import { createHash } from 'node:crypto';
import { type IncomingHttpHeaders, request } from 'node:http';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../lambda/config';
import { HEAD_ALLOWANCE_BYTES } from '../../lambda/s3/stream-limit';
import { writeSpecialTable } from '../helpers/fixture-tables';
import { serveThroughLambda } from '../helpers/lambda-transports';
import { NodeSha256 } from '../helpers/node-sha256';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { type RecordingRelay, startRecordingRelay } from '../helpers/recording-relay';
import { backendClient, createBucket, type S3Server, startS3rver, uploadDir } from '../helpers/s3-servers';
import { encodeKeyPath, signHeaders } from '../helpers/signed-fetch';
import { unhandledRejectionsPerTest } from '../helpers/unhandled-rejections';

const SEED = Number(process.env.FUZZ_SEED ?? 20261215);
const RUNS = Number(process.env.FUZZ_RUNS ?? 40);
const PATH = process.env.FUZZ_PATH;

const KiB = 1024;
/** The body the Lambda front may stream in the size-capped configs. */
const L = 256 * KiB;
const MAX_RESPONSE = L + HEAD_ALLOWANCE_BYTES;
/** The throttled config: unthrottled bytes end THROTTLE_GAP below L; 1 B/s adds < 40 bytes. */
const THROTTLE_GAP = 100;
const FOLLOWER = 'delta-proxy-client/0.1.0 Boto3/1.43.11';
const AGENTS = [FOLLOWER, 'aws-cli/2.15.0', 'polars/0.55.1', ''];
const SIZES = [0, 1, L - 1, L, L + 1, 3 * L + 17];
const REGIONS = SIZES.map((_, i) => `R${i}`);
/** For the disconnect cases: streamed by a Lambda front with its cap lifted. */
const BIG = 16 * 1024 * KiB;

interface Obj {
  key: string;
  bytes: Buffer;
  etag: string;
  lastModified: string;
  /** A file of the filtered log (made by the proxy, never presigned). */
  generated: boolean;
}
const objects: Obj[] = [];
let bigKey = '';
let bigSha = '';

interface Mode {
  name: string;
  config: Partial<ConfigInput>;
  /** Lambda's body limit for this config: bodies up to lo must stream, over hi must not. */
  lo: number;
  hi: number;
}
const MODES: Mode[] = [
  { name: 'proxy', config: { getMode: 'proxy' }, lo: L, hi: L },
  { name: 'presigned', config: { getMode: 'presignedUrl' }, lo: L, hi: L },
  { name: 'presigned+partial', config: { getMode: 'presignedUrl', proxyPartial: true }, lo: L, hi: L },
  {
    name: 'proxy, throttle binds',
    config: {
      getMode: 'proxy',
      lambdaStreaming: {
        maxResponseBytes: 100 * MAX_RESPONSE,
        unthrottledBytes: MAX_RESPONSE - THROTTLE_GAP,
        throttledBytesPerSecond: 1,
      },
    },
    lo: L - THROTTLE_GAP,
    hi: L - THROTTLE_GAP + 40,
  },
];

let s3: S3Server;
let relay: RecordingRelay;
const fronts: { node: RunningProxy; lambda: RunningProxy }[] = [];
/** Cap lifted on the Lambda front: the disconnect cases stream BIG through it. */
let lifted: { node: RunningProxy; lambda: RunningProxy };

const baseConfig = (over: Partial<ConfigInput>): Omit<ConfigInput, 's3'> => ({
  tableMapping: { sales: 's3://lake/t' },
  logView: 'filtered',
  grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{}] }],
  lambdaStreaming: { maxResponseBytes: MAX_RESPONSE, unthrottledBytes: MAX_RESPONSE },
  ...over,
});

async function pair(over: Partial<ConfigInput>) {
  const config = { ...baseConfig(over), s3: { endpoint: relay.endpoint } };
  return {
    node: await startProxy(s3, config),
    lambda: await startProxy(s3, config, serveThroughLambda, { runtime: 'lambda' }),
  };
}

beforeAll(async () => {
  s3 = await startS3rver();
  relay = await startRecordingRelay(s3.endpoint);
  const c = backendClient(s3.endpoint);
  await createBucket(c, 'lake');
  const keys = await uploadDir(c, 'lake', 't/', await writeSpecialTable([...REGIONS, 'BIG'], ['2024-01-01']));
  for (const [i, size] of SIZES.entries()) {
    const key = keys.find((k) => k.includes(`region=${REGIONS[i]}/`) && k.endsWith('.parquet'))!;
    const bytes = Buffer.alloc(size);
    for (let j = 0; j + 4 <= size; j += 4) bytes.writeUInt32LE((j * 2654435761) >>> 0, j);
    if (size % 4) bytes.fill(7, size - (size % 4));
    await c.send(new PutObjectCommand({ Bucket: 'lake', Key: key, Body: bytes }));
    objects.push({ key: `sales/${key.slice(2)}`, bytes, etag: '', lastModified: '', generated: false });
  }
  const big = keys.find((k) => k.includes('region=BIG/') && k.endsWith('.parquet'))!;
  const bigBytes = Buffer.alloc(BIG, 3);
  bigSha = createHash('sha256').update(bigBytes).digest('hex');
  await c.send(new PutObjectCommand({ Bucket: 'lake', Key: big, Body: bigBytes }));
  bigKey = `sales/${big.slice(2)}`;
  c.destroy();
  for (const m of MODES) fronts.push(await pair(m.config));
  lifted = await pair({
    getMode: 'proxy',
    lambdaStreaming: { maxResponseBytes: 4 * BIG, unthrottledBytes: 4 * BIG },
  });
  // ETag and Last-Modified as the proxy states them; the filtered log's first commit as it serves it.
  for (const o of objects) {
    const head = await send(fronts[0]!.node.url, await signed('HEAD', o.key, '', {}));
    expect(head.status).toBe(200);
    o.etag = String(head.headers.etag);
    o.lastModified = String(head.headers['last-modified']);
  }
  const commitKey = 'sales/_delta_log/00000000000000000000.json';
  const commit = await send(fronts[0]!.node.url, await signed('GET', commitKey, '', {}));
  expect(commit.status).toBe(200);
  objects.push({
    key: commitKey,
    bytes: commit.body,
    etag: String(commit.headers.etag),
    lastModified: String(commit.headers['last-modified']),
    generated: true,
  });
}, 180_000);

afterAll(async () => {
  for (const f of [...fronts, lifted]) {
    await f?.node.stop();
    await f?.lambda.stop();
  }
  await relay?.stop();
  await s3?.stop();
});

// ---------------------------------------------------------------- wire

interface Wire {
  method: string;
  target: string;
  headers: Record<string, string>;
  body?: Buffer | Buffer[];
  expect100?: boolean;
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

const HOST = '127.0.0.1:9000';

/** Signed for HOST (sent as Host to both fronts, whatever their ports). */
async function signed(
  method: string,
  key: string,
  query: string,
  headers: Record<string, string>,
  payloadHash?: string,
): Promise<Wire> {
  const path = `/datalake/${encodeKeyPath(key)}`;
  let h: Record<string, string>;
  if (payloadHash) {
    const signer = new SignatureV4({
      credentials: ANALYST,
      region: 'us-east-1',
      service: 's3',
      sha256: NodeSha256,
      uriEscapePath: false,
    });
    const q: Record<string, string> = {};
    for (const p of query ? query.split('&') : []) {
      const eq = p.indexOf('=');
      q[decodeURIComponent(p.slice(0, eq < 0 ? p.length : eq))] =
        eq < 0 ? '' : decodeURIComponent(p.slice(eq + 1));
    }
    const s = await signer.sign({
      method,
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: 9000,
      path,
      query: q,
      headers: { ...headers, host: HOST, 'x-amz-content-sha256': payloadHash },
    });
    h = s.headers as Record<string, string>;
  } else {
    h = await signHeaders(`http://${HOST}`, method, path, query, headers, ANALYST);
  }
  return { method, target: query ? `${path}?${query}` : path, headers: h };
}

function send(base: string, w: Wire, timeoutMs = 15_000): Promise<Reply> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        method: w.method,
        path: w.target,
        headers: w.headers,
        setHost: false,
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
          if (!req.writableFinished) req.destroy();
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () =>
      req.destroy(new Error(`${base} ${w.method} ${w.target}: no answer within ${timeoutMs} ms (a hang)`)),
    );
    req.on('error', reject);
    const writeBody = () => {
      const parts = w.body === undefined ? [] : Array.isArray(w.body) ? w.body : [w.body];
      for (const p of parts) req.write(p);
      req.end();
    };
    if (w.expect100) req.on('continue', writeBody);
    else writeBody();
  });
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const codeOf = (r: Reply) => /<Code>([^<]*)<\/Code>/.exec(r.body.toString('utf8'))?.[1];
/** The body length the response states (the shim passes the function's Content-Length on). */
const statedLength = (r: Reply) => r.headers['content-length'];

// ---------------------------------------------------------------- reads

/** Points that matter for a range over an object of `size` bytes. */
const point = (size: number) =>
  fc
    .oneof(
      fc.constantFrom(0, 1, L - 1, L, L + 1, size - 1, size, size + 1, Math.floor(size / 2)),
      fc.nat({ max: size + 2 }),
    )
    .map((x) => Math.max(0, x));

const rangeArb = (size: number) =>
  fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) },
    {
      weight: 3,
      arbitrary: fc
        .tuple(point(size), point(size))
        .map(([a, b]) => `bytes=${Math.min(a, b)}-${Math.max(a, b)}`),
    },
    { weight: 2, arbitrary: point(size).map((a) => `bytes=${Math.max(0, a)}-`) },
    { weight: 2, arbitrary: point(size).map((n) => `bytes=-${Math.max(0, n)}`) },
    {
      weight: 1,
      arbitrary: fc.tuple(point(size), point(size)).map(([a, b]) => `bytes=0-${Math.max(0, a)},${b}-`),
    },
    { weight: 1, arbitrary: fc.constantFrom('bytes=3-1', 'items=0-1', 'bytes=x-', 'bytes=0-0') },
  );

const readArb = fc
  .record({
    mode: fc.nat({ max: MODES.length - 1 }),
    obj: fc.nat({ max: SIZES.length }),
    method: fc.constantFrom('GET', 'GET', 'GET', 'HEAD'),
    agent: fc.constantFrom(...AGENTS),
    partNumber: fc.constantFrom(undefined, undefined, undefined, '1', '2'),
    ifRange: fc.constantFrom(undefined, undefined, 'ETAG', '"other"', 'LASTMOD'),
    ifNoneMatch: fc.constantFrom(undefined, undefined, undefined, 'ETAG', '"other"'),
    ifMatch: fc.constantFrom(undefined, undefined, undefined, 'ETAG', '"other"'),
    override: fc.constantFrom(
      undefined,
      undefined,
      'response-content-type=text%2Fplain',
      'response-content-disposition=attachment%3B%20filename%3D%22x.bin%22&response-cache-control=no-cache',
    ),
    rangeSeed: fc.nat(),
  })
  .chain((r) => {
    const size = r.obj < SIZES.length ? SIZES[r.obj]! : 2048;
    // s3rver answers a Range on a zero-byte object 206 with Content-Length 1 and never sends the
    // byte (S3 answers 416): the backend's hang, not the proxy's. The empty object is read whole.
    if (size === 0) return fc.constant({ ...r, range: undefined as string | undefined });
    return rangeArb(size).map((range) => ({ ...r, range }));
  });
type Read = typeof readArb extends fc.Arbitrary<infer T> ? T : never;

/** [start, end] (inclusive) a single well-formed range selects on S3 and s3rver alike, 'unsat', or undefined (not modelled). */
function modelRange(range: string, size: number): [number, number] | 'unsat' | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(range);
  if (!m || size === 0) return undefined;
  const [a, b] = [m[1]!, m[2]!];
  if (a === '' && b === '') return undefined;
  // s3rver reads a suffix range `bytes=-n` as `bytes=0-n`: not modelled (both fronts still agree).
  if (a === '') return undefined;
  const start = Number(a);
  const end = b === '' ? size - 1 : Number(b);
  // s3rver reads a last-byte-pos of 0 as none (`bytes=0-0` is the whole object there): not modelled.
  if (end < start || b === '0') return undefined;
  if (start >= size) return 'unsat';
  return [start, Math.min(end, size - 1)];
}

async function readWire(r: Read): Promise<{ w: Wire; o: Obj }> {
  const o = objects[r.obj]!;
  const fill = (v: string) => v.replace('ETAG', o.etag).replace('LASTMOD', o.lastModified);
  const headers: Record<string, string> = {};
  if (r.agent) headers['user-agent'] = r.agent;
  if (r.range) headers.range = r.range;
  if (r.ifRange) headers['if-range'] = fill(r.ifRange);
  if (r.ifNoneMatch) headers['if-none-match'] = fill(r.ifNoneMatch);
  if (r.ifMatch) headers['if-match'] = fill(r.ifMatch);
  const query = [r.partNumber ? `partNumber=${r.partNumber}` : '', r.override ?? '']
    .filter(Boolean)
    .join('&');
  return { w: await signed(r.method, o.key, query, headers), o };
}

/** The node answer against the object's bytes; returns the body length it carried. */
function checkNode(r: Read, o: Obj, a: Reply, what: string): void {
  expect(a.status, what).toBeLessThan(500);
  if (r.method !== 'GET' || (a.status !== 200 && a.status !== 206)) return;
  expect(String(a.body.length), what).toBe(statedLength(a));
  let slice = o.bytes;
  const cr = a.headers['content-range'];
  if (a.status === 206) {
    const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(String(cr));
    expect(m, what).not.toBeNull();
    expect(Number(m![3]), what).toBe(o.bytes.length);
    slice = o.bytes.subarray(Number(m![1]), Number(m![2]) + 1);
  }
  expect(sha(a.body), what).toBe(sha(slice));
  // A simple single range, applied (no If-Range mismatch, no partNumber): the bytes it names.
  const simple = r.range && !r.partNumber && (r.ifRange === undefined || r.ifRange === 'ETAG');
  const model = simple ? modelRange(r.range!, o.bytes.length) : undefined;
  if (Array.isArray(model))
    expect([a.status, cr], what).toEqual([206, `bytes ${model[0]}-${model[1]}/${o.bytes.length}`]);
}

describe('big bodies through node:http and the Lambda Function URL adapter (property)', () => {
  const rejections = unhandledRejectionsPerTest();

  it('Lambda answers as node:http within its cap, and over it a 307 or an S3 error, never a cut body', async () => {
    const stats = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(readArb, async (r) => {
        const mode = MODES[r.mode]!;
        const { node, lambda } = fronts[r.mode]!;
        const { w, o } = await readWire(r);
        const a = await send(node.url, w).catch((e) => Promise.reject(new Error(`node:http: ${e}`)));
        const b = await send(lambda.url, w).catch((e) => Promise.reject(new Error(`Lambda: ${e}`)));
        const what = JSON.stringify({
          mode: mode.name,
          size: o.bytes.length,
          generated: o.generated,
          ...w,
          a: [a.status, codeOf(a), a.headers['content-range']],
          b: [b.status, codeOf(b)],
        });
        checkNode(r, o, a, what);
        const streamedOnNode = r.method === 'GET' && (a.status === 200 || a.status === 206);
        const len = a.body.length;
        let key: string;
        if (streamedOnNode && len > mode.hi) {
          // Over the cap: never a 2xx body from Lambda.
          const follower = r.agent === FOLLOWER && !o.generated;
          if (follower) {
            expect([b.status, b.headers.location === undefined], what).toEqual([307, false]);
          } else {
            expect([b.status, codeOf(b)], what).toEqual([400, 'InvalidRequest']);
          }
          key = `over ${b.status}`;
        } else if (streamedOnNode && len > mode.lo) {
          // In the throttle's window: either is right, never a cut body.
          if (b.status === 200 || b.status === 206) expect(sha(b.body), what).toBe(sha(a.body));
          else expect([400, 307], what).toContain(b.status);
          key = `window ${b.status}`;
        } else {
          expect([b.status, codeOf(b)], what).toEqual([a.status, codeOf(a)]);
          if (streamedOnNode) {
            expect(sha(b.body), what).toBe(sha(a.body));
            expect(b.headers['content-range'], what).toBe(a.headers['content-range']);
          }
          if (r.method === 'HEAD') expect(statedLength(b) ?? '0', what).toBe(statedLength(a) ?? '0');
          key = `${r.method} ${a.status} ${codeOf(a) ?? ''}`;
        }
        // Lambda's own 2xx: whole (its stated length) and within the cap.
        if (r.method === 'GET' && (b.status === 200 || b.status === 206)) {
          expect(String(b.body.length), what).toBe(statedLength(b));
          expect(b.body.length, what).toBeLessThanOrEqual(mode.hi);
        }
        stats.set(key, (stats.get(key) ?? 0) + 1);
      }),
      { numRuns: RUNS, seed: SEED, ...(PATH ? { path: PATH } : {}) },
    );
    if (process.env.FUZZ_STATS) console.log([...stats].sort());
    expect(rejections).toEqual([]);
  }, 600_000);

  // ---------------------------------------------------------------- request bodies

  const bodyArb = fc.record({
    method: fc.constantFrom('PUT', 'POST', 'DELETE', 'GET'),
    size: fc.oneof(
      fc.constantFrom(0, 1, 64 * KiB, 1024 * KiB, 3 * 1024 * KiB),
      fc.nat({ max: 2 * 1024 * KiB }),
    ),
    framing: fc.constantFrom('length', 'chunked', 'aws-chunked'),
    expect100: fc.boolean(),
    anonymous: fc.boolean(),
    existing: fc.boolean(),
    mode: fc.nat({ max: MODES.length - 1 }),
  });

  it('a request with a body gets the same S3 error from both fronts, without a hang', async () => {
    await fc.assert(
      fc.asyncProperty(bodyArb, async (c) => {
        const key = c.existing ? objects[2]!.key : 'sales/region=R0/new.parquet';
        const body = Buffer.alloc(c.size, 9);
        const headers: Record<string, string> = { 'user-agent': 'aws-sdk-js/3.1174.0' };
        let payloadHash: string | undefined;
        let parts: Buffer[] = [body];
        if (c.framing === 'aws-chunked') {
          // As the SDK frames PutObject: one signed chunk and the final empty one.
          payloadHash = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
          headers['content-encoding'] = 'aws-chunked';
          headers['x-amz-decoded-content-length'] = String(c.size);
          const sig = 'f'.repeat(64);
          parts = [
            Buffer.from(`${c.size.toString(16)};chunk-signature=${sig}\r\n`),
            body,
            Buffer.from(`\r\n0;chunk-signature=${sig}\r\n\r\n`),
          ];
        }
        const length = parts.reduce((n, p) => n + p.length, 0);
        if (c.framing !== 'chunked') headers['content-length'] = String(length);
        else headers['transfer-encoding'] = 'chunked';
        if (c.expect100) headers.expect = '100-continue';
        let w: Wire;
        if (c.anonymous) {
          w = {
            method: c.method,
            target: `/datalake/${encodeKeyPath(key)}`,
            headers: { ...headers, host: HOST },
          };
        } else {
          const toSign = { ...headers };
          delete toSign['transfer-encoding'];
          delete toSign.expect;
          w = await signed(c.method, key, '', toSign, payloadHash);
          if (c.framing === 'chunked') {
            delete w.headers['content-length'];
            w.headers['transfer-encoding'] = 'chunked';
          }
          if (c.expect100) w.headers.expect = '100-continue';
        }
        w.body = parts;
        w.expect100 = c.expect100;
        // A GET reads an object of L - 1 bytes: in a config whose cap holds it.
        const { node, lambda } = fronts[c.method === 'GET' ? c.mode % 3 : c.mode]!;
        const a = await send(node.url, w);
        const b = await send(lambda.url, w);
        const what = JSON.stringify({
          ...c,
          headers: w.headers,
          a: [a.status, codeOf(a)],
          b: [b.status, codeOf(b)],
        });
        expect([b.status, codeOf(b)], what).toEqual([a.status, codeOf(a)]);
        if (c.method === 'GET' && a.status === 200) {
          // A GET's body is ignored, as S3 ignores it: the object, whole, on both fronts.
          expect([sha(a.body), sha(b.body)], what).toEqual([sha(objects[2]!.bytes), sha(objects[2]!.bytes)]);
          return;
        }
        // Read-only: AccessDenied (403); aws-chunked signing: NotImplemented (501, S3's own answer).
        expect([403, 405, 400, 404, 501], what).toContain(a.status);
        if (a.status === 501) expect(codeOf(a), what).toBe('NotImplemented');
      }),
      { numRuns: Math.max(10, Math.round(RUNS / 2)), seed: SEED, ...(PATH ? { path: PATH } : {}) },
    );
    expect(rejections).toEqual([]);
  }, 600_000);

  // ---------------------------------------------------------------- clients that leave

  /** GETs `key` and drops the connection after `after` body bytes; resolves with the status. */
  function leaveAfter(base: string, w: Wire, after: number): Promise<number> {
    const u = new URL(base);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: u.hostname,
          port: u.port,
          method: w.method,
          path: w.target,
          headers: w.headers,
          setHost: false,
        },
        (res) => {
          let got = 0;
          res.on('data', (d: Buffer) => {
            got += d.length;
            if (got >= after) {
              req.destroy();
              resolve(res.statusCode ?? 0);
            }
          });
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', () => {});
        },
      );
      req.on('error', (e) => (req.destroyed ? undefined : reject(e)));
      req.end();
    });
  }

  it.each(['node', 'lambda'] as const)(
    'a client that leaves mid-body through %s: the backend read stops, the next request works',
    async (front) => {
      const proxy = lifted[front];
      const file = bigKey.split('/').at(-1)!;
      const before = relay.requests.length;
      const w = await signed('GET', bigKey, '', {});
      expect(await leaveAfter(proxy.url, w, 256 * KiB)).toBe(200);
      const backendGet = () =>
        relay.requests.slice(before).find((r) => r.method === 'GET' && r.path.endsWith(file));
      let settled = -1;
      for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
        await new Promise((r) => setTimeout(r, 200));
        const now = backendGet()?.bytes ?? 0;
        if (now === settled) break;
        settled = now;
      }
      await new Promise((r) => setTimeout(r, 500));
      expect(backendGet()!.bytes).toBe(settled);
      expect(settled).toBeLessThan(BIG / 2);
      if (process.env.FUZZ_STATS) console.log(`${front}: the backend sent ${settled} of ${BIG} bytes`);
      // A client leaving mid-request-body (a PUT it never finishes) harms nobody either.
      const put = await signed('PUT', objects[1]!.key, '', { 'content-length': String(2 * 1024 * KiB) });
      await new Promise<void>((resolve) => {
        const u = new URL(proxy.url);
        const req = request({
          host: u.hostname,
          port: u.port,
          method: 'PUT',
          path: put.target,
          headers: put.headers,
          setHost: false,
        });
        req.on('error', () => resolve());
        req.on('response', (res) => {
          res.resume();
          req.destroy();
          resolve();
        });
        req.write(Buffer.alloc(512 * KiB));
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 300);
      });
      // A fresh connection: the whole object, right bytes.
      const again = await send(proxy.url, await signed('GET', bigKey, '', {}), 60_000);
      expect([again.status, sha(again.body)]).toEqual([200, bigSha]);
      expect(rejections).toEqual([]);
    },
    120_000,
  );
});
