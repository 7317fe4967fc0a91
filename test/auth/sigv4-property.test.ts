/**
 * Differential property test of SigV4 verification through the real proxy (bootstrap + node:http
 * adapter): requests of the shapes S3 clients send are signed by the AWS signers
 * (@smithy/signature-v4, @aws-sdk/s3-request-presigner) and sent byte for byte with node:http,
 * in the SDK's percent-encoding or a legal alternative one (`%7E` for `~`, lower-case hex, raw
 * sub-delims). Every correctly signed request must be authenticated; the same request with one
 * path byte, one query value, one signed header value or the date changed must be refused with
 * the right S3 error, never accepted, never a 5xx. The seed is fixed; FUZZ_SEED and FUZZ_RUNS
 * explore, FUZZ_PATH replays a report's path.
 */
import { request } from 'node:http';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestEvent } from '../../lambda/core/observer';
import { type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { createBucket, type S3Server, startS3rver } from '../helpers/s3-servers';
import {
  type Encoding,
  encodeChars,
  encodingsArb,
  PATH_RAW,
  presignerAdded,
  QUERY_RAW,
  queryParams,
  queryRecord,
} from '../helpers/wire-encoding';
import { escapeUri, KEY, presign, signHeader } from './helpers/sign';

const SEED = Number(process.env.FUZZ_SEED ?? 20261206);
const RUNS = Number(process.env.FUZZ_RUNS ?? 120);
const PATH = process.env.FUZZ_PATH;

const SIGNED_AT = new Date('2024-06-15T12:00:00Z');
/** The Host the signers sign (sign.ts's); it is sent as is, whatever port the proxy listens on. */
const HOST = '127.0.0.1:9000';

// ---------------------------------------------------------------- generated requests

const RESERVED = [..."~*'()!$&+,;=:@ %"];
const UNRESERVED = [...'aZ09-._~'];
/** A few characters that show encoding mistakes: astral, combining marks, 2- and 3-byte UTF-8. */
const SPECIAL = [
  'é',
  'e\u0301',
  '\u{1F600}',
  '\u{10348}',
  '日本',
  'ß',
  '\u00a0',
  '\u200b',
  '\ufeff',
  '?',
  '#',
];

const char = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...RESERVED) },
  { weight: 3, arbitrary: fc.constantFrom(...UNRESERVED) },
  { weight: 2, arbitrary: fc.constantFrom(...SPECIAL) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
);
const text = (min: number, max: number) =>
  fc.array(char, { minLength: min, maxLength: max }).map((a) => a.join(''));

/** A key that passes assertSafeKey, or (sometimes) one that does not. */
const safeSegment = text(1, 6).filter((s) => !/^\.{1,2}$/.test(s) && !/[\u0000-\u001f\u007f\\%]/.test(s));
const anySegment = fc.oneof(
  { weight: 6, arbitrary: safeSegment },
  { weight: 1, arbitrary: fc.constantFrom('', '.', '..', '%2e%2e', 'a\\b', '\u0001') },
);
const keyArb = fc
  .tuple(fc.constantFrom('t', 'x', 'tables'), fc.array(anySegment, { minLength: 1, maxLength: 4 }))
  .map(([first, rest]) => [first, ...rest].join('/'));

const encodings = encodingsArb(5);

const QUERY_NAMES = [
  'prefix',
  'Prefix',
  'start-after',
  'continuation-token',
  'delimiter',
  'max-keys',
  'encoding-type',
  'fetch-owner',
  'response-content-disposition',
  'response-content-type',
  'versionId',
  'partNumber',
  'x-id',
  'X-Id',
  'custom param',
  'ü',
  'a=b',
  'x&y',
  'k+',
  '~tilde',
];
const queryArb = fc.array(fc.tuple(fc.constantFrom(...QUERY_NAMES), text(0, 8), encodings, fc.boolean()), {
  maxLength: 5,
});

const HEADER_NAMES = ['x-amz-meta-a', 'x-amz-meta-Odd', 'range', 'if-match', 'if-none-match', 'x-custom'];
/** Header values: visible ASCII, runs of spaces and tabs, leading and trailing ones, Latin-1. */
const headerValue = fc
  .array(
    fc.oneof(
      { weight: 5, arbitrary: fc.string({ unit: fc.constantFrom(...'abcXYZ019=-,;"*/'), maxLength: 4 }) },
      { weight: 3, arbitrary: fc.constantFrom(' ', '  ', '\t', ' \t ', '   ') },
      { weight: 1, arbitrary: fc.constantFrom('é', '\u00ff', '\u00a0', '\u0085') },
    ),
    { maxLength: 6 },
  )
  .map((a) => a.join(''));
const headersArb = fc.uniqueArray(fc.tuple(fc.constantFrom(...HEADER_NAMES), headerValue), {
  maxLength: 3,
  selector: ([n]) => n.toLowerCase(),
});

const shapeArb = fc.oneof(
  fc.record({
    kind: fc.constant('object' as const),
    key: keyArb,
    pathEnc: encodings,
    /** The key's slashes as sent: "/", or escaped (S3 reads "%2F" in a key as "/"). */
    slash: fc.constantFrom('/', '/', '/', '%2F', '%2f'),
  }),
  fc.record({ kind: fc.constant('listing' as const) }),
  fc.record({ kind: fc.constant('root' as const) }),
);

const MUTATIONS = [
  'path',
  'query',
  'add-query',
  'drop-query',
  'header',
  'date',
  'skew',
  'method',
  'authority',
  'unsigned-amz',
  'auth-byte',
] as const;

const caseArb = fc.record({
  form: fc.constantFrom('header', 'presign', 'sdk-presigner'),
  /** How the presigner's own parameters are sent (X-Amz-Credential's "/" raw or %2f, ...). */
  presignEnc: encodings,
  method: fc.constantFrom('GET', 'HEAD'),
  shape: shapeArb,
  query: queryArb,
  headers: headersArb,
  /** Sent in absolute form (`GET http://host/path`), as a client talking to a proxy does. */
  absolute: fc.boolean(),
  mutation: fc.constantFrom(...MUTATIONS),
  pick: fc.nat(),
  /** A printable ASCII byte for 'auth-byte'. */
  byte: fc.integer({ min: 0x20, max: 0x7e }).map((n) => String.fromCharCode(n)),
});
type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

// ---------------------------------------------------------------- wire requests

interface Wire {
  method: string;
  path: string;
  /** Raw query parts "name=value", in the order sent. */
  query: string[];
  headers: Record<string, string>;
  /** The authority of an absolute-form target; origin form when undefined. */
  authority?: string;
}

const target = (w: Wire) =>
  (w.authority === undefined ? '' : `http://${w.authority}`) +
  (w.query.length === 0 ? w.path : `${w.path}?${w.query.join('&')}`);

function wirePath(c: Case): string {
  if (c.shape.kind === 'root') return '/';
  if (c.shape.kind === 'listing') return '/datalake';
  const enc = c.shape.pathEnc;
  return `/datalake/${c.shape.key
    .split('/')
    .map((s) => encodeChars(s, enc, PATH_RAW))
    .join(c.shape.slash)}`;
}

/** The decoded parameters (list-type=2 first for listings) and their raw forms, as one client sends them. */
const params = (c: Case) => queryParams(c.query, c.shape.kind === 'listing');

const sdkS3 = new S3Client({
  endpoint: `http://${HOST}`,
  region: 'us-east-1',
  forcePathStyle: true,
  credentials: { accessKeyId: KEY.accessKeyId, secretAccessKey: KEY.secretAccessKey },
});

/** The correctly signed request; undefined when a signer cannot express this case. */
async function signed(c: Case): Promise<Wire | undefined> {
  const path = wirePath(c);
  const { decoded, raw } = params(c);
  const extra = Object.fromEntries(c.headers);
  if (c.form === 'header') {
    const r = await signHeader({
      method: c.method,
      path,
      query: queryRecord(decoded),
      headers: extra,
      date: SIGNED_AT,
    });
    return { method: c.method, path, query: raw, headers: r.headers };
  }
  if (c.form === 'presign') {
    const r = await presign({
      method: c.method,
      path,
      query: queryRecord(decoded),
      headers: extra,
      date: SIGNED_AT,
      expiresIn: 3600,
    });
    const added = presignerAdded(r.rawQuery, decoded);
    return {
      method: c.method,
      path,
      query: [...raw, ...added.map((p) => reencode(p, c.presignEnc))],
      headers: r.headers,
    };
  }
  // The SDK's own presigner: its own key and query encoding, sent exactly as it built the URL.
  if (c.shape.kind === 'root') return undefined;
  const command =
    c.shape.kind === 'listing'
      ? new ListObjectsV2Command({ Bucket: 'datalake', Prefix: c.query[0]?.[1], StartAfter: c.query[1]?.[1] })
      : c.method === 'HEAD'
        ? new HeadObjectCommand({ Bucket: 'datalake', Key: c.shape.key })
        : new GetObjectCommand({
            Bucket: 'datalake',
            Key: c.shape.key,
            ResponseContentDisposition: c.query[0]?.[1] || undefined,
          });
  const options = { expiresIn: 3600, signingDate: SIGNED_AT };
  const url = (
    command instanceof ListObjectsV2Command
      ? await getSignedUrl(sdkS3, command, options)
      : command instanceof HeadObjectCommand
        ? await getSignedUrl(sdkS3, command, options)
        : await getSignedUrl(sdkS3, command, options)
  ).slice(`http://${HOST}`.length);
  // Split by hand: new URL() would drop the "." segments the SDK signed.
  const q = url.indexOf('?');
  return {
    method: command instanceof ListObjectsV2Command ? 'GET' : c.method,
    path: q < 0 ? url : url.slice(0, q),
    query:
      q < 0
        ? []
        : url
            .slice(q + 1)
            .split('&')
            .map((p) => reencode(p, c.presignEnc)),
    headers: { host: HOST },
  };
}

/** A canonically encoded "name=value" sent in another legal encoding of its value. */
function reencode(part: string, enc: readonly Encoding[]): string {
  const eq = part.indexOf('=');
  if (eq < 0) return part;
  return `${part.slice(0, eq)}=${encodeChars(decodeURIComponent(part.slice(eq + 1)), enc, QUERY_RAW)}`;
}

const ALNUM = /[A-Za-z0-9]/;

/** One mutation of a signed request, and the S3 error code it must draw; undefined when it does not apply. */
/** `code` undefined: any 4xx refusal (a garbled signature claim has many right answers). */
function mutated(
  w: Wire,
  c: Case,
): { wire: Wire; code: string | undefined; what: string; at?: number } | undefined {
  const presigned = w.query.some((p) => p.startsWith('X-Amz-Signature='));
  const own = w.query.map((p, i) => [p, i] as const).filter(([p]) => !/^X-Amz-/.test(p));
  switch (c.mutation) {
    case 'path': {
      // An alphanumeric byte outside any %XX escape, changed to another.
      const spots: number[] = [];
      for (let i = 1; i < w.path.length; i++) {
        if (ALNUM.test(w.path[i]!) && w.path[i - 1] !== '%' && w.path[i - 2] !== '%') spots.push(i);
      }
      if (spots.length === 0)
        return { wire: { ...w, path: `${w.path}x` }, code: 'SignatureDoesNotMatch', what: 'path' };
      const i = spots[c.pick % spots.length]!;
      const next = w.path[i] === 'q' ? 'r' : 'q';
      return {
        wire: { ...w, path: w.path.slice(0, i) + next + w.path.slice(i + 1) },
        code: 'SignatureDoesNotMatch',
        what: `path byte ${i}`,
      };
    }
    case 'query': {
      if (own.length === 0) return undefined;
      const [part, i] = own[c.pick % own.length]!;
      const eq = part.indexOf('=');
      const name = eq < 0 ? part : part.slice(0, eq);
      const value = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1));
      const chars = Array.from(value);
      const changed = chars.slice(0, -1).join('') + (chars.at(-1) === 'z' ? 'y' : 'z');
      const query = [...w.query];
      query[i] = `${name}=${escapeUri(changed)}`;
      return { wire: { ...w, query }, code: 'SignatureDoesNotMatch', what: `query ${name}` };
    }
    case 'add-query':
      return {
        wire: { ...w, query: [...w.query, 'prefix=t%2F'] },
        code: 'SignatureDoesNotMatch',
        what: 'added query',
      };
    case 'drop-query': {
      if (own.length === 0) return undefined;
      const [part, i] = own[c.pick % own.length]!;
      return {
        wire: { ...w, query: w.query.filter((_, j) => j !== i) },
        code: 'SignatureDoesNotMatch',
        what: `dropped ${part}`,
      };
    }
    case 'header': {
      const names = Object.keys(w.headers).filter(
        (n) => !['authorization', 'x-amz-date', 'host'].includes(n),
      );
      if (names.length === 0 || presigned) return undefined;
      const name = names[c.pick % names.length]!;
      const value = name === 'x-amz-content-sha256' ? 'f'.repeat(64) : `${w.headers[name]}q`;
      return {
        wire: { ...w, headers: { ...w.headers, [name]: value } },
        code: 'SignatureDoesNotMatch',
        what: `header ${name}`,
      };
    }
    case 'date': {
      const later = '20240615T120001Z';
      if (presigned) {
        const query = w.query.map((p) => (p.startsWith('X-Amz-Date=') ? `X-Amz-Date=${later}` : p));
        return { wire: { ...w, query }, code: 'SignatureDoesNotMatch', what: 'X-Amz-Date' };
      }
      return {
        wire: { ...w, headers: { ...w.headers, 'x-amz-date': later } },
        code: 'SignatureDoesNotMatch',
        what: 'x-amz-date',
      };
    }
    case 'skew':
      // The same request seen later: past the 15-minute skew, or past a presigned URL's expiry.
      return presigned
        ? { wire: w, code: 'AccessDenied', what: 'expired', at: SIGNED_AT.getTime() + 3_601_000 }
        : { wire: w, code: 'RequestTimeTooSkewed', what: 'skew', at: SIGNED_AT.getTime() + 16 * 60_000 };
    case 'method':
      return {
        wire: { ...w, method: w.method === 'GET' ? 'HEAD' : 'GET' },
        code: 'SignatureDoesNotMatch',
        what: 'method',
      };
    case 'authority':
      if (w.authority === undefined) return undefined;
      return {
        wire: { ...w, authority: '127.0.0.1:9001' },
        code: 'SignatureDoesNotMatch',
        what: 'authority',
      };
    case 'auth-byte': {
      // One byte of the signature claim itself (Authorization, or an X-Amz-* parameter) changed.
      if (presigned) {
        const claims = w.query.map((p, i) => [p, i] as const).filter(([p]) => /^X-Amz-/.test(p));
        const [part, i] = claims[c.pick % claims.length]!;
        const at = part.indexOf('=') + 1 + (c.pick % Math.max(1, part.length - part.indexOf('=') - 1));
        const next = part.slice(0, at) + encodeURIComponent(c.byte) + part.slice(at + 1);
        if (next === part) return undefined;
        const query = [...w.query];
        query[i] = next;
        return { wire: { ...w, query }, code: undefined, what: `claim ${part}` };
      }
      const auth = w.headers.authorization!;
      const at = c.pick % auth.length;
      const next = auth.slice(0, at) + c.byte + auth.slice(at + 1);
      if (next.trim() === auth || next === auth) return undefined;
      return {
        wire: { ...w, headers: { ...w.headers, authorization: next } },
        code: undefined,
        what: 'authorization',
      };
    }
    case 'unsigned-amz':
      return {
        wire: { ...w, headers: { ...w.headers, 'x-amz-request-payer': 'requester' } },
        code: 'AccessDenied',
        what: 'unsigned x-amz header',
      };
  }
}

// ---------------------------------------------------------------- sending

interface Reply {
  status: number;
  event: RequestEvent | undefined;
  body: string;
}

const ACCEPTED_AT = SIGNED_AT.getTime() + 30_000;
/** The proxy's clock. */
let now = ACCEPTED_AT;
let backend: S3Server;
let proxy: RunningProxy;

function send(w: Wire): Promise<Reply> {
  const url = new URL(proxy.url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: w.method,
        path: target(w),
        headers: w.headers,
        timeout: 10_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', async () => {
          const id = res.headers['x-amz-request-id'];
          let event: RequestEvent | undefined;
          for (let i = 0; i < 50 && event === undefined; i++) {
            event = proxy.events.find((e) => e.requestId === id);
            if (event === undefined) await new Promise((r) => setTimeout(r, 5));
          }
          resolve({ status: res.statusCode ?? 0, event, body });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const show = (w: Wire, r: Reply) =>
  JSON.stringify({ target: target(w), headers: w.headers, status: r.status, event: r.event, body: r.body });

beforeAll(async () => {
  backend = await startS3rver();
  await createBucket(
    new S3Client({
      endpoint: backend.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    }),
    'bucket',
  );
  proxy = await startProxy(
    backend,
    { tableMapping: { t: 's3://bucket/t' }, auth: { keys: [KEY] } },
    undefined,
    { clock: { now: () => now } },
  );
}, 60_000);

afterAll(async () => {
  sdkS3.destroy();
  await proxy?.stop();
  await backend?.stop();
});

describe('SigV4 verification by property (real signers, exact bytes, the real proxy)', () => {
  it('accepts every correctly signed request and refuses each one-part change with the right code', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const s = await signed(c);
        if (s === undefined) return;
        const w: Wire = c.absolute ? { ...s, authority: HOST } : s;
        const ok = await send(w);
        expect(ok.status, show(w, ok)).toBeLessThan(500);
        expect(ok.event?.principal, show(w, ok)).toBe(KEY.principal);
        expect(ok.event?.reasonClass, show(w, ok)).not.toBe('authentication');

        const m = mutated(w, c);
        if (m === undefined) return;
        now = m.at ?? ACCEPTED_AT;
        const bad = await send(m.wire).finally(() => {
          now = ACCEPTED_AT;
        });
        const seen = `${m.what}: ${show(m.wire, bad)}`;
        expect(bad.event?.principal, seen).not.toBe(KEY.principal);
        if (m.code === undefined) {
          expect(bad.status, seen).toBeGreaterThanOrEqual(400);
          expect(bad.status, seen).toBeLessThan(500);
          return;
        }
        expect(bad.status, seen).toBe(403);
        expect(bad.event?.code, seen).toBe(m.code);
      }),
      { numRuns: RUNS, seed: SEED, ...(PATH ? { path: PATH } : {}) },
    );
  }, 120_000);
});
