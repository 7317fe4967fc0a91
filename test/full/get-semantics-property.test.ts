/**
 * GET and HEAD of a data file by property, differential against moto: generated Range headers
 * (every form, junk and other units among them), conditional headers (right, wrong, weak, `*`,
 * lists, dates before/at/after Last-Modified, malformed dates, in combination), If-Range,
 * `partNumber` and `response-*` overrides are sent, signed, to the proxy (proxy mode, whole-table
 * grant) and to moto directly for the very object behind it. Status, S3 error code, body bytes,
 * Content-Range, Content-Length, ETag, Last-Modified, Content-Type, Cache-Control and Accept-Ranges
 * must agree.
 *
 * moto is the reference except where it is known to differ from S3; there the expected answer is
 * S3's, modelled here and named in `MOTO_DIFFERS`:
 * - conditional headers: moto checks If-Unmodified-Since before If-Match, lets If-Modified-Since
 *   answer 304 beside a non-matching If-None-Match, knows no `*`, lists or weak tags, and fails
 *   with 500 on a malformed date. S3 follows RFC 9110 §13.2.2 (its GetObject docs: If-Match true
 *   and If-Unmodified-Since false is 200; If-None-Match false (a match) is 304 whatever
 *   If-Modified-Since says). The model decides 304/412; otherwise moto is asked without them.
 * - If-Range: moto ignores it; S3 honours it (RFC 9110 §13.1.5): moto is asked without the Range
 *   when the validator does not hold.
 * - other range units: moto reads any `unit=a-b` as bytes; S3 ignores a unit it does not know.
 *   A Range moto fails on (500: several `=`) is one S3 cannot parse, so it is ignored.
 * - partNumber: moto does not validate it (500 on junk), names a missing part InvalidRange, and
 *   reads no part of a multipart object (that is test/integration/part-number.test.ts's, behind
 *   a front that answers as S3); S3 answers 400 InvalidArgument / InvalidRequest and 416
 *   InvalidPartNumber. Part 1 of an empty object (moto: "bytes 0--1/0") is left out.
 * - `response-*` overrides: moto ignores them; S3 sends the value asked for on a 2xx.
 * - a reversed range starting past the end (`bytes=156-0` of 155 bytes): moto answers 416, reports
 *   of S3 differ (200 for a reversed range, 416 for a start past the end): not compared.
 * - conditions moto judges otherwise than the model: the proxy forwards them and relays moto's
 *   verdict (behind S3, S3's): not compared.
 * - a weak tag in If-Match: RFC 9110 says strong comparison (never matches), S3's behaviour is
 *   undocumented: such cases are not compared.
 *
 * The seed is fixed; FUZZ_SEED and FUZZ_RUNS explore, FUZZ_PATH replays a report's path.
 */
import { request } from 'node:http';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeRegionFiles } from '../helpers/fixture-tables';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import {
  backendClient,
  createBucket,
  motoUnavailableReason,
  type S3Server,
  startMoto,
} from '../helpers/s3-servers';
import { encodeKeyPath, encodeQuery, signHeaders } from '../helpers/signed-fetch';
import { withReason } from '../helpers/skips';

const SEED = Number(process.env.FUZZ_SEED ?? 20261211);
const RUNS = Number(process.env.FUZZ_RUNS ?? 100);
const PATH = process.env.FUZZ_PATH;

const reason = motoUnavailableReason();
/** moto's smallest part but the last, lowered so a three-part object stays small. */
const PART_MIN = 2048;

interface Obj {
  /** Key below the table root. */
  rel: string;
  bytes: Buffer;
  etag: string;
  lastModified: Date;
  /** Part sizes of a multipart object. */
  parts?: number[];
}

interface Req {
  method: 'GET' | 'HEAD';
  obj: number;
  headers: Record<string, string>;
  query: Record<string, string>;
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

function send(
  endpoint: string,
  method: string,
  path: string,
  query: string,
  headers: Record<string, string>,
) {
  return new Promise<Answer>((resolve, reject) => {
    const u = new URL(endpoint);
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        method,
        path: query ? `${path}?${query}` : path,
        headers,
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => {
          const h: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h[k] = String(v);
          resolve({ status: res.statusCode ?? 0, headers: h, body: Buffer.concat(chunks) });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function signedSend(
  endpoint: string,
  method: string,
  path: string,
  query: Record<string, string>,
  headers: Record<string, string>,
  credentials: { accessKeyId: string; secretAccessKey: string },
): Promise<Answer> {
  const raw = encodeQuery(query);
  const signed = await signHeaders(endpoint, method, path, raw, headers, credentials);
  return send(endpoint, method, path, raw, signed);
}

const codeOf = (a: Answer) => /<Code>([^<]*)<\/Code>/.exec(a.body.toString('utf8'))?.[1];

// ---------------------------------------------------------------- S3's rules where moto differs

const opaque = (t: string) => t.trim().replace(/^W\//, '').replace(/^"|"$/g, '');
const tags = (v: string) => v.split(',').map((t) => t.trim());
const seconds = (d: Date) => Math.floor(d.getTime() / 1000);

/** RFC 9110 §5.6.7 dates (IMF-fixdate, RFC 850, asctime); undefined when malformed. */
function httpDateOf(v: string): Date | undefined {
  const imf = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;
  const rfc850 = /^[A-Z][a-z]+, \d{2}-[A-Z][a-z]{2}-\d{2} \d{2}:\d{2}:\d{2} GMT$/;
  const asctime = /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/;
  if (!imf.test(v) && !rfc850.test(v) && !asctime.test(v)) return undefined;
  const d = new Date(
    rfc850.test(v) ? v.replace(/-(\d{2}) /, (_, y) => `-20${y} `) : `${v}${asctime.test(v) ? ' GMT' : ''}`,
  );
  return Number.isNaN(d.getTime()) ? undefined : d;
}

type Verdict = { status: 304 | 412 } | 'ok' | 'unknown';

/** RFC 9110 §13.2.2, as S3 documents it for GetObject and HeadObject. */
function conditionsVerdict(h: Record<string, string>, o: Obj): Verdict {
  const current = opaque(o.etag);
  const lm = seconds(o.lastModified);
  const im = h['if-match'];
  const inm = h['if-none-match'];
  if (im !== undefined) {
    if (tags(im).some((t) => t.startsWith('W/') && opaque(t) === current)) return 'unknown';
    if (!tags(im).some((t) => t === '*' || opaque(t) === current)) return { status: 412 };
  } else if (h['if-unmodified-since'] !== undefined) {
    const d = httpDateOf(h['if-unmodified-since']);
    if (d && lm > seconds(d)) return { status: 412 };
  }
  if (inm !== undefined) {
    if (tags(inm).some((t) => t === '*' || opaque(t) === current)) return { status: 304 };
  } else if (h['if-modified-since'] !== undefined) {
    const d = httpDateOf(h['if-modified-since']);
    if (d && lm <= seconds(d)) return { status: 304 };
  }
  return 'ok';
}

/** If-Range (RFC 9110 §13.1.5): a strong ETag equal to the object's, or its exact Last-Modified. */
function ifRangeHolds(v: string, o: Obj): boolean {
  const t = v.trim();
  if (t.startsWith('"')) return t === o.etag;
  const d = httpDateOf(t);
  return d !== undefined && seconds(d) === seconds(o.lastModified);
}

const CONDITIONAL = ['if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since', 'if-range'];

interface Expected {
  /** What moto is asked (undefined: the answer is the model's alone). */
  motoReq?: Req;
  status?: number;
  code?: string;
  /** Header values S3 sets that moto does not. */
  headers?: Record<string, string>;
  skip?: string;
}

/** The request moto must be sent for S3's answer, or S3's answer itself. */
function expectation(r: Req, o: Obj): Expected {
  const headers = { ...r.headers };
  const query = { ...r.query };
  const pn = query.partNumber;
  if (pn !== undefined) {
    const n = /^\d{1,5}$/.test(pn) ? Number(pn) : 0;
    if (n < 1 || n > 10_000) return { status: 400, code: 'InvalidArgument' };
    if (headers.range !== undefined) return { status: 400, code: 'InvalidRequest' };
  }
  if (pn !== undefined && o.parts) return { skip: 'moto reads no part of a multipart object' };
  const verdict = conditionsVerdict(headers, o);
  if (verdict === 'unknown') return { skip: 'weak tag in If-Match' };
  if (verdict !== 'ok')
    return verdict.status === 412
      ? { status: 412, code: 'PreconditionFailed' }
      : // RFC 9110 §15.4.5 requires ETag on a 304; Last-Modified is not required (moto sends none).
        { status: 304, headers: { etag: o.etag } };
  if (
    headers['if-range'] !== undefined &&
    headers.range !== undefined &&
    !ifRangeHolds(headers['if-range'], o)
  )
    delete headers.range;
  for (const c of CONDITIONAL) delete headers[c];
  if (headers.range !== undefined && !/^\s*bytes\s*=/i.test(headers.range)) delete headers.range;
  const reversed = headers.range && /^\s*bytes\s*=\s*(\d+)\s*-\s*(\d+)\s*$/i.exec(headers.range);
  if (
    reversed &&
    BigInt(reversed[1]!) > BigInt(reversed[2]!) &&
    BigInt(reversed[1]!) >= BigInt(o.bytes.length)
  )
    return { skip: 'reversed range starting past the end' };
  if (pn !== undefined) {
    if (o.bytes.length === 0) return { skip: 'part 1 of an empty object (moto: bytes 0--1/0)' };
    if (Number(pn) > 1) return { status: 416, code: 'InvalidPartNumber' };
  }
  const overrides: Record<string, string> = {};
  for (const [k, v] of Object.entries(query))
    if (k.startsWith('response-')) {
      overrides[k.slice('response-'.length)] = v;
      delete query[k];
    }
  return { motoReq: { ...r, headers, query }, headers: overrides };
}

// ---------------------------------------------------------------- generated requests

function reqArb(objs: Obj[]): fc.Arbitrary<Req> {
  return fc.integer({ min: 0, max: objs.length - 1 }).chain((i) => {
    const o = objs[i]!;
    const n = o.bytes.length;
    const pos = fc.oneof(
      fc.constantFrom(0, 1, Math.max(0, n - 1), n, n + 1, '99999999999999999999'),
      fc.nat(n + 4),
    );
    const range = fc.oneof(
      fc.tuple(pos, pos).map(([a, b]) => `bytes=${a}-${b}`),
      pos.map((a) => `bytes=${a}-`),
      pos.map((b) => `bytes=-${b}`),
      fc.constantFrom('bytes=0-0', 'bytes=-0', 'bytes=0-', 'bytes=-1', `bytes=${n}-${n + 10}`),
      fc.tuple(pos, pos, pos).map(([a, b, c]) => `bytes=${a}-${b},${c}-`),
      fc.constantFrom('bytes=', 'bytes=-', 'bytes=a-b', 'bytes=1-2-3', 'bytes', 'bytes=0-1=2', '0-1', 'junk'),
      fc.tuple(pos, pos).map(([a, b]) => `bytes= ${a}-${b}`),
      fc.tuple(pos, pos).map(([a, b]) => `bytes=${a} - ${b}`),
      fc.tuple(pos, pos).map(([a, b]) => `Bytes=${a}-${b}`),
      fc.tuple(fc.constantFrom('items', 'none', 'bits'), pos, pos).map(([u, a, b]) => `${u}=${a}-${b}`),
    );
    const unquoted = o.etag.replace(/"/g, '');
    const tag = fc.constantFrom(
      o.etag,
      '"0123456789abcdef0123456789abcdef"',
      `W/${o.etag}`,
      '*',
      `"x", ${o.etag}`,
      `"x","y"`,
      unquoted,
      `${o.etag},"x"`,
    );
    const lm = o.lastModified.getTime();
    const at = (ms: number) => new Date(Math.floor(lm / 1000) * 1000 + ms);
    const date = fc.oneof(
      fc.constantFrom(-86_400_000, -1000, 0, 999, 1000).map((d) => at(d).toUTCString()),
      fc.constantFrom(0, -1000).map((d) => {
        // RFC 850 and asctime forms of the same instants.
        const s = at(d).toUTCString();
        const [, wd, dd, mon, yy, t] = /^(\w+), (\d+) (\w+) \d\d(\d\d) (\S+) GMT$/.exec(s)!;
        const full = {
          Sun: 'Sunday',
          Mon: 'Monday',
          Tue: 'Tuesday',
          Wed: 'Wednesday',
          Thu: 'Thursday',
          Fri: 'Friday',
          Sat: 'Saturday',
        }[wd!];
        return `${full}, ${dd}-${mon}-${yy} ${t} GMT`;
      }),
      fc.constant(
        (() => {
          const d = at(0);
          const s = d.toUTCString();
          const [, wd, dd, mon, yyyy, t] = /^(\w+), (\d+) (\w+) (\d+) (\S+) GMT$/.exec(s)!;
          return `${wd} ${mon} ${String(Number(dd)).padStart(2, ' ')} ${t} ${yyyy}`;
        })(),
      ),
      fc.constantFrom('junk', 'Mon, 32 Foo 2024 99:99:99 GMT', '2024-01-01T00:00:00Z', ''),
    );
    const ifRange = fc.oneof(tag, date);
    const part = fc.constantFrom('1', '2', '3', '4', '0', 'x', '10001', '-1');
    const override = fc.record(
      {
        'response-content-type': fc.constantFrom('text/plain', 'application/x-parquet'),
        'response-cache-control': fc.constantFrom('no-cache', 'max-age=60'),
      },
      { requiredKeys: [] },
    );
    return fc
      .record({
        method: fc.constantFrom<'GET' | 'HEAD'>('GET', 'GET', 'HEAD'),
        headers: fc.record(
          {
            range: range,
            'if-match': tag,
            'if-none-match': tag,
            'if-modified-since': date,
            'if-unmodified-since': date,
            'if-range': ifRange,
          },
          { requiredKeys: [] },
        ),
        part: fc.option(part, { freq: 4 }),
        override,
      })
      .map(({ method, headers, part: p, override: q }) => {
        const query: Record<string, string> = { ...q };
        if (p !== null) query.partNumber = p;
        // Empty header values cannot be signed reliably by every client; leave them out.
        const h = Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== ''));
        return { method, obj: i, headers: h, query };
      });
  });
}

// ---------------------------------------------------------------- the property

const COMPARED = [
  'content-range',
  'content-length',
  'etag',
  'last-modified',
  'content-type',
  'cache-control',
  'accept-ranges',
];

describe.skipIf(reason !== undefined)(withReason('GET/HEAD semantics against moto', reason), () => {
  let moto: S3Server;
  let proxy: RunningProxy;
  const objs: Obj[] = [];
  const motoCreds = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

  beforeAll(async () => {
    const before = process.env.S3_UPLOAD_PART_MIN_SIZE;
    process.env.S3_UPLOAD_PART_MIN_SIZE = String(PART_MIN);
    try {
      moto = await startMoto();
    } finally {
      if (before === undefined) delete process.env.S3_UPLOAD_PART_MIN_SIZE;
      else process.env.S3_UPLOAD_PART_MIN_SIZE = before;
    }
    const c = backendClient(moto.endpoint);
    await createBucket(c, 'lake');
    const adds = await writeRegionFiles(c, 'lake', 'w/t/', ['EU', 'EU', 'EU', 'EU', 'US']);
    const rels = adds.map((a) => decodeURIComponent(a.path));
    // Data files rewritten as objects of the sizes that matter (bytes need not be Parquet here).
    const random = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 131 + 7) % 256));
    const contents = [Buffer.alloc(0), Buffer.from('x'), random(3 * 1024 + 5)];
    for (const [i, body] of contents.entries())
      await c.send(new PutObjectCommand({ Bucket: 'lake', Key: `w/t/${rels[i]}`, Body: body }));
    const parts = [PART_MIN, PART_MIN, 500];
    const mp = random(parts.reduce((a, b) => a + b));
    {
      const Key = `w/t/${rels[3]}`;
      const { UploadId } = await c.send(new CreateMultipartUploadCommand({ Bucket: 'lake', Key }));
      const done = [];
      let at = 0;
      for (const [i, size] of parts.entries()) {
        const { ETag } = await c.send(
          new UploadPartCommand({
            Bucket: 'lake',
            Key,
            UploadId,
            PartNumber: i + 1,
            Body: mp.subarray(at, at + size),
          }),
        );
        at += size;
        done.push({ ETag, PartNumber: i + 1 });
      }
      await c.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'lake',
          Key,
          UploadId,
          MultipartUpload: { Parts: done },
        }),
      );
    }
    for (const [i, rel] of rels.entries()) {
      const Key = `w/t/${rel}`;
      const h = await c.send(new HeadObjectCommand({ Bucket: 'lake', Key }));
      const got = await signedSend(moto.endpoint, 'GET', `/lake/${encodeKeyPath(Key)}`, {}, {}, motoCreds);
      objs.push({
        rel,
        bytes: got.body,
        etag: h.ETag!,
        lastModified: h.LastModified!,
        ...(i === 3 ? { parts } : {}),
      });
    }
    c.destroy();
    expect(objs.map((o) => o.bytes.length).slice(0, 4)).toEqual([0, 1, 3 * 1024 + 5, 2 * PART_MIN + 500]);
    expect(objs[3]!.etag).toMatch(/-3"$/);
    proxy = await startProxy(moto, {
      tableMapping: { t: 's3://lake/w/t' },
      grants: [{ principal: ANALYST.principal, table: 't', partitions: [{}] }],
      getMode: 'proxy',
    });
    // Dates "after" Last-Modified (up to 1 s) must be in the past, not the future.
    await new Promise((r) => setTimeout(r, 1100));
  }, 120_000);

  afterAll(async () => {
    await proxy?.stop();
    await moto?.stop();
  });

  async function toMoto(r: Req): Promise<Answer> {
    const o = objs[r.obj]!;
    let a = await signedSend(
      moto.endpoint,
      r.method,
      `/lake/${encodeKeyPath(`w/t/${o.rel}`)}`,
      r.query,
      r.headers,
      motoCreds,
    );
    if (a.status >= 500 && r.headers.range !== undefined) {
      // A Range moto cannot parse: S3 ignores what it cannot parse.
      const { range: _r, ...rest } = r.headers;
      a = await toMoto({ ...r, headers: rest });
    }
    return a;
  }

  /**
   * moto's own verdict (304 or 412) on the conditions as the proxy forwards them (valid dates as
   * IMF-fixdate, the tags as sent), or undefined. Behind moto the proxy relays that verdict, which
   * is moto's differing from S3, not the proxy's: behind S3 it gets S3's.
   */
  async function motoVerdict(r: Req): Promise<number | undefined> {
    const h: Record<string, string> = {};
    for (const k of ['if-match', 'if-none-match']) if (r.headers[k] !== undefined) h[k] = r.headers[k]!;
    for (const k of ['if-modified-since', 'if-unmodified-since']) {
      const d = r.headers[k] === undefined ? undefined : httpDateOf(r.headers[k]!);
      if (d) h[k] = d.toUTCString();
    }
    if (Object.keys(h).length === 0) return undefined;
    const a = await toMoto({ method: r.method, obj: r.obj, headers: h, query: {} });
    return a.status === 304 || a.status === 412 ? a.status : undefined;
  }

  it('refuses `bytes=-0` only after the preconditions and If-Range (RFC 9110 §13.2.2, as moto)', async () => {
    const o = objs[2]!;
    const path = `/datalake/${encodeKeyPath(`t/${o.rel}`)}`;
    const get = (h: Record<string, string>) =>
      signedSend(proxy.url, 'GET', path, {}, { range: 'bytes=-0', ...h }, ANALYST);
    const notModified = await get({ 'if-none-match': o.etag });
    expect([notModified.status, notModified.headers.etag]).toEqual([304, o.etag]);
    const failed = await get({ 'if-match': '"0123456789abcdef0123456789abcdef"' });
    expect([failed.status, codeOf(failed)]).toEqual([412, 'PreconditionFailed']);
    const stale = await get({ 'if-range': '"0123456789abcdef0123456789abcdef"' });
    expect([stale.status, stale.body.equals(o.bytes)]).toEqual([200, true]);
    const plain = await get({ 'if-range': o.etag });
    expect([plain.status, codeOf(plain)]).toEqual([416, 'InvalidRange']);
  });

  it('answers GET and HEAD as S3 does (moto where it agrees with S3)', async () => {
    await fc.assert(
      fc.asyncProperty(reqArb(objs), async (r) => {
        const o = objs[r.obj]!;
        const got = await signedSend(
          proxy.url,
          r.method,
          `/datalake/${encodeKeyPath(`t/${o.rel}`)}`,
          r.query,
          r.headers,
          ANALYST,
        );
        const e = expectation(r, o);
        const show = `${JSON.stringify(r)} size=${o.bytes.length} etag=${o.etag} lm=${o.lastModified.toUTCString()}\nproxy: ${got.status} ${JSON.stringify(got.headers)} ${got.status >= 300 ? got.body.toString('utf8').slice(0, 300) : ''}`;
        if (e.skip) return;
        expect(got.status, show).toBeLessThan(500);
        // Where moto judges the conditions otherwise than S3, the proxy behind it relays moto's
        // judgement (behind S3 it would relay S3's): not compared.
        const model = conditionsVerdict(r.headers, o);
        if ((await motoVerdict(r)) !== (typeof model === 'object' ? model.status : undefined)) return;
        if (!e.motoReq) {
          expect([got.status, r.method === 'GET' ? codeOf(got) : undefined], show).toEqual([
            e.status,
            r.method === 'GET' ? e.code : undefined,
          ]);
          if (e.status === 304)
            for (const [k, v] of Object.entries(e.headers ?? {}))
              expect(got.headers[k], `${k}: ${show}`).toBe(v);
          return;
        }
        const want = await toMoto(e.motoReq);
        const why = `${show}\nmoto (asked ${JSON.stringify(e.motoReq)}): ${want.status} ${JSON.stringify(want.headers)} ${want.status >= 300 ? want.body.toString('utf8').slice(0, 300) : ''}`;
        expect(want.status, why).toBeLessThan(500);
        expect(got.status, why).toBe(want.status);
        if (want.status >= 400) {
          if (r.method === 'GET') expect(codeOf(got), why).toBe(codeOf(want));
          return;
        }
        const pick = (a: Answer, extra: Record<string, string> = {}) =>
          Object.fromEntries(COMPARED.map((k) => [k, extra[k] ?? a.headers[k]]));
        expect(pick(got), why).toEqual(pick(want, want.status < 300 ? e.headers : {}));
        expect(got.body.equals(want.body), why).toBe(true);
      }),
      { numRuns: RUNS, seed: SEED, ...(PATH ? { path: PATH } : {}) },
    );
  }, 300_000);
});
