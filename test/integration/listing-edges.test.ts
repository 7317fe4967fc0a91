/**
 * Listings across time and principals (tokens, markers, backend faults mid-listing,
 * tables changing between pages, the generated _delta_log/ against GET/HEAD).
 */
import { ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeltaTableWriter } from '../../lambda/local/delta-writer';
import {
  type AuthzProxy,
  keyFor,
  listAllPages,
  ManualClock,
  objectRequest,
  parseListPage,
  startAuthzProxy,
} from '../helpers/authz-harness';
import { type MisbehavingS3, startMisbehavingS3 } from '../helpers/misbehaving-s3';
import { backendClient, createBucket, type S3Server, startS3rver } from '../helpers/s3-servers';
import { encodeQuery, signedFetch } from '../helpers/signed-fetch';

const READER = 'reader';
const OTHER = 'other';
const BUCKET = 'edge-lake';
const KEY = 'a-listing-token-key-shared-by-every-instance';

let upstream: S3Server;
let front: MisbehavingS3;
let client: S3Client;
let sales: DeltaTableWriter;
/** The first data file of `sales`, in region EU (relative path, as the writer names it). */
let euFile: string;

function writerAt(prefix: string): DeltaTableWriter {
  return new DeltaTableWriter(
    {
      async put(rel, bytes) {
        await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: prefix + rel, Body: bytes }));
      },
    },
    {
      schema: [
        { name: 'id', type: 'long' },
        { name: 'region', type: 'string' },
      ],
      partitionColumns: ['region'],
    },
  );
}

const code = (text: string) => /<Code>([^<]*)<\/Code>/.exec(text)?.[1];

beforeAll(async () => {
  upstream = await startS3rver();
  client = backendClient(upstream.endpoint);
  await createBucket(client, BUCKET);
  sales = writerAt('t/sales/');
  await sales.create();
  const adds = [];
  for (const region of ['EU', 'EU', 'EU', 'US', 'US', 'EU'])
    adds.push(await sales.writeDataFile({ region }, [{ id: adds.length, region }]));
  await sales.commit({ add: adds });
  euFile = decodeURIComponent(adds[0]!.path);
  const eu = writerAt('t/sales_eu/');
  await eu.create();
  await eu.commit({ add: [await eu.writeDataFile({ region: 'EU' }, [{ id: 1, region: 'EU' }])] });
  front = await startMisbehavingS3(upstream);
});

afterAll(async () => {
  client?.destroy();
  await front?.stop();
  await upstream?.stop();
});

async function proxyOver(
  backend: S3Server,
  extra: Record<string, unknown> = {},
  clock?: ManualClock,
): Promise<AuthzProxy> {
  return startAuthzProxy(
    backend,
    {
      tableMapping: { sales: `s3://${BUCKET}/t/sales`, sales_eu: `s3://${BUCKET}/t/sales_eu` },
      grants: [
        { principal: READER, table: 'sales', partitions: [{ region: 'EU' }] },
        { principal: READER, table: 'sales_eu', partitions: [{}] },
        { principal: OTHER, table: 'sales', partitions: [{ region: 'US' }] },
      ],
      listingTokenKey: KEY,
      ...extra,
    },
    [READER, OTHER],
    clock ? { clock } : {},
  );
}

function list(url: string, principal: string, params: Record<string, string | undefined>) {
  return signedFetch(url, 'GET', '/datalake', encodeQuery(params), {}, keyFor(principal));
}

describe('backend faults mid-listing', () => {
  it('a backend page that says IsTruncated but gives no NextContinuationToken does not end the listing as complete', async () => {
    const proxy = await proxyOver(front);
    try {
      const whole = parseListPage(
        await list(proxy.url, READER, { 'list-type': '2', prefix: 'sales/' }),
        false,
      );
      expect(whole.status).toBe(200);
      expect(whole.keys.filter((k) => k.includes('region=EU/'))).toHaveLength(4);
      // The backend answers one key of a page that held more, says the page is truncated, and
      // gives no token (a backend that does not page by token).
      let cut = 0;
      front.onRequest = (r) => {
        if (r.key !== '' || r.method !== 'GET') return undefined;
        return {
          rewrite: (body: Buffer) => {
            const text = body.toString('utf8');
            const contents = text.match(/<Contents>[\s\S]*?<\/Contents>/g) ?? [];
            if (contents.length < 2) return body;
            cut++;
            return Buffer.from(
              text
                .replace(/<NextContinuationToken>[^<]*<\/NextContinuationToken>/, '')
                .replace(/<IsTruncated>false<\/IsTruncated>/, '<IsTruncated>true</IsTruncated>')
                .replace(/(<Contents>[\s\S]*?<\/Contents>)[\s\S]*(<\/ListBucketResult>)/, '$1$2'),
            );
          },
        };
      };
      for (const v of [1, 2] as const) {
        const pages = await listAllPages(proxy.url, READER, v, { prefix: 'sales/' });
        expect(cut).toBeGreaterThan(0);
        // Never a complete-looking listing that lost keys.
        expect([v, pages.at(-1)!.status, pages.flatMap((p) => p.keys)]).toEqual([v, 200, whole.keys]);
      }
    } finally {
      front.onRequest = () => undefined;
      await proxy.stop();
    }
  });
});

describe('backend faults in the log listing', () => {
  it('a log listing page that says IsTruncated but gives no token still reaches the newest commit', async () => {
    // Every backend page of two keys or more is cut to its first, marked truncated, no token: a
    // snapshot that stopped there would hold version 0 alone (no files) and refuse the EU file.
    front.onRequest = (r) => {
      if (r.key !== '' || r.method !== 'GET' || !r.query.get('prefix')?.endsWith('_delta_log/'))
        return undefined;
      return {
        rewrite: (body: Buffer) => {
          const text = body.toString('utf8');
          if ((text.match(/<Contents>/g) ?? []).length < 2) return body;
          return Buffer.from(
            text
              .replace(/<NextContinuationToken>[^<]*<\/NextContinuationToken>/, '')
              .replace(/<IsTruncated>false<\/IsTruncated>/, '<IsTruncated>true</IsTruncated>')
              .replace(/(<Contents>[\s\S]*?<\/Contents>)[\s\S]*(<\/ListBucketResult>)/, '$1$2'),
          );
        },
      };
    };
    const proxy = await proxyOver(front, { logView: 'raw' });
    try {
      expect((await objectRequest(proxy.url, 'GET', `sales/${euFile}`, READER)).status).toBe(200);
    } finally {
      front.onRequest = () => undefined;
      await proxy.stop();
    }
  });
});

/** The backend hands out pages of two keys (S3 may return fewer than asked). */
const smallPages = (r: { key: string; method: string; query: URLSearchParams }) => {
  if (r.key !== '' || r.method !== 'GET') return undefined;
  const query = new URLSearchParams(r.query);
  query.set('max-keys', '2');
  return { query };
};

describe('backend errors on a later page', () => {
  it.each([
    [400, 'InvalidArgument'],
    [503, 'SlowDown'],
    [500, 'InternalError'],
  ])(
    "the backend answering %i %s to the next page is a 5xx, never the client's fault nor a short 200",
    async (status, errCode) => {
      const proxy = await proxyOver(front);
      try {
        front.onRequest = (r) => {
          if (r.key === '' && r.method === 'GET' && r.query.has('continuation-token'))
            return { status, code: errCode, message: 'bad' };
          return smallPages(r);
        };
        const got = await list(proxy.url, READER, { 'list-type': '2', prefix: 'sales/' });
        expect([got.status >= 500, code(got.text)]).toEqual([true, expect.any(String)]);
      } finally {
        front.onRequest = () => undefined;
        await proxy.stop();
      }
    },
  );
});

describe('client tokens, markers and start-after', () => {
  let proxy: AuthzProxy;
  let hidden: string;
  beforeAll(async () => {
    proxy = await proxyOver(upstream);
    const listed = await client.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 't/sales/region=US/' }),
    );
    hidden = `sales/${listed.Contents![0]!.Key!.slice('t/sales/'.length)}`;
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64url');
  it.each([
    ['garbage', 'garbage!'],
    ['short', 'AAAA'],
    ['padding only', '===='],
    ['sealed-shaped', b64(Buffer.concat([Buffer.of(2), Buffer.alloc(12 + 64 + 16, 7)]))],
    ['truncated sealed', b64(Buffer.concat([Buffer.of(2), Buffer.alloc(20, 7)]))],
    ['huge', 'A'.repeat(6000)],
    ['plain, very long key', b64(`dlp1:sales/${'x'.repeat(3000)}`)],
    ['plain, control characters', b64('dlp1:sales/\u0000\u0001\n')],
    ['plain, other table', b64('dlp1:sales_eu/zzz')],
    ['plain, empty key', b64('dlp1:')],
    [
      'plain, invalid utf-8',
      Buffer.concat([Buffer.from('dlp1:sales/'), Buffer.of(0xff, 0xfe)]).toString('base64url'),
    ],
  ])('continuation-token %s: an S3 4xx or a listing, never a 5xx', async (_name, token) => {
    for (const principal of [READER, OTHER]) {
      const got = await list(proxy.url, principal, {
        'list-type': '2',
        prefix: 'sales/',
        'continuation-token': token,
      });
      expect([principal, got.status < 500, got.text.includes('region=US') && principal === READER]).toEqual([
        principal,
        true,
        false,
      ]);
      if (got.status !== 200) expect(code(got.text)).toBe('InvalidArgument');
    }
  });

  it.each([
    ['very long', `sales/${'y'.repeat(3000)}`],
    ['control characters', 'sales/\u0001'],
    ['sealed-shaped', b64(Buffer.concat([Buffer.of(2), Buffer.alloc(12 + 64 + 16, 7)]))],
  ])('v1 marker / v2 start-after %s: an S3 4xx or a listing, never a 5xx', async (_name, after) => {
    for (const q of [
      { 'list-type': '2', prefix: 'sales/', 'start-after': after },
      { prefix: 'sales/', marker: after },
    ]) {
      const got = await list(proxy.url, READER, q);
      expect([q, got.status < 500]).toEqual([q, true]);
    }
  });

  const stable = (text: string) => text.replace(/<RequestId>[^<]*<\/RequestId>/, '');
  it('start-after / marker naming an existing hidden key answers as for a missing key at the same place', async () => {
    const missing = `${hidden}0`; // sorts right after it, before the next
    expect(missing > hidden).toBe(true);
    for (const delimiter of [undefined, '/']) {
      for (const v of [1, 2]) {
        const q = (after: string) =>
          v === 2
            ? { 'list-type': '2', prefix: 'sales/', delimiter, 'start-after': after }
            : { prefix: 'sales/', delimiter, marker: after };
        const a = await list(proxy.url, READER, q(hidden));
        const b = await list(proxy.url, READER, q(missing));
        expect([a.status, stable(a.text).replaceAll(hidden, 'K')]).toEqual([
          b.status,
          stable(b.text).replaceAll(missing, 'K'),
        ]);
      }
    }
  });

  it('prefixes across the alias boundary: sal, sales, sales_ and the root', async () => {
    const keysOf = async (principal: string, prefix: string, delimiter?: string, maxKeys?: number) => {
      const pages = await listAllPages(proxy.url, principal, 2, { prefix, delimiter, maxKeys });
      return pages.flatMap((p) => [...p.keys, ...p.prefixes]);
    };
    expect(await keysOf(READER, 'sal', '/')).toEqual(['sales/', 'sales_eu/']);
    expect(await keysOf(READER, '', '/')).toEqual(['sales/', 'sales_eu/']);
    expect(await keysOf(OTHER, '', '/')).toEqual(['sales/']);
    expect(await keysOf(OTHER, 'sal', '/')).toEqual(['sales/']);
    expect(await keysOf(OTHER, 'sales_')).toEqual([]);
    const whole = await keysOf(READER, 'sales');
    expect(whole.some((k) => k.startsWith('sales_eu/'))).toBe(true);
    expect(whole.some((k) => k.startsWith('sales/'))).toBe(true);
    expect([...whole].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))).toEqual(whole);
    for (const v of [1, 2] as const) {
      const paged = (await listAllPages(proxy.url, READER, v, { prefix: 'sales', maxKeys: 1 })).flatMap(
        (p) => p.keys,
      );
      expect([v, paged]).toEqual([v, whole]);
      const rootPaged = (await listAllPages(proxy.url, READER, v, { prefix: '', maxKeys: 2 })).flatMap(
        (p) => p.keys,
      );
      expect([v, rootPaged]).toEqual([v, whole]);
      const rootDelim = (
        await listAllPages(proxy.url, READER, v, { prefix: '', delimiter: '/', maxKeys: 1 })
      ).flatMap((p) => p.prefixes);
      expect([v, rootDelim]).toEqual([v, ['sales/', 'sales_eu/']]);
    }
  });

  it("a token handed to one principal replayed by another resumes only inside the other one's view", async () => {
    const first = await list(proxy.url, READER, { 'list-type': '2', prefix: 'sales/', 'max-keys': '1' });
    const token = /<NextContinuationToken>([^<]*)</.exec(first.text)?.[1];
    expect(token).toBeDefined();
    const replay = await list(proxy.url, OTHER, {
      'list-type': '2',
      prefix: 'sales/',
      'continuation-token': token,
    });
    expect(replay.status).toBe(200);
    expect(replay.text).not.toContain('region=EU');
  });
});

describe('a table that changes between pages (filtered view)', () => {
  let n = 0;
  async function moving() {
    const prefix = `t/moving${++n}/`;
    const w = writerAt(prefix);
    await w.create();
    const adds = [];
    for (const region of ['EU', 'US', 'EU', 'EU', 'US', 'EU', 'EU'])
      adds.push(await w.writeDataFile({ region }, [{ id: adds.length, region }]));
    await w.commit({ add: adds });
    await w.commit({ add: [await w.writeDataFile({ region: 'EU' }, [{ id: 99, region: 'EU' }])] });
    const alias = `moving${n}`;
    const clock = new ManualClock();
    const proxy = await startAuthzProxy(
      upstream,
      {
        tableMapping: { [alias]: `s3://${BUCKET}/${prefix.slice(0, -1)}` },
        grants: [{ principal: READER, table: alias, partitions: [{ region: 'EU' }] }],
        listingTokenKey: KEY,
        logView: 'filtered',
        snapshotTtlMs: 1000,
      },
      [READER],
      { clock },
    );
    return { w, alias, clock, proxy };
  }

  const whole = async (url: string, clock: ManualClock, params: { prefix: string; delimiter?: string }) =>
    (await listAllPages(url, READER, 2, params, 'datalake', 500, clock)).flatMap((p) => [
      ...p.keys,
      ...p.prefixes,
    ]);

  it.each([
    [2, undefined],
    [1, undefined],
    [2, '/'],
    [1, '/'],
  ] as const)(
    'v%i delimiter %s: commits and a checkpoint between pages skip and repeat nothing that stays',
    async (v, delimiter) => {
      const { w, alias, clock, proxy } = await moving();
      try {
        for (const prefix of [`${alias}/`, `${alias}/_delta_log/`, `${alias}/region=EU/`]) {
          const before = await whole(proxy.url, clock, { prefix, ...(delimiter ? { delimiter } : {}) });
          const got: string[] = [];
          let token: string | undefined;
          let marker: string | undefined;
          let changed = 0;
          for (let i = 0; i < 200; i++) {
            const q =
              v === 2
                ? { 'list-type': '2', prefix, delimiter, 'max-keys': '1', 'continuation-token': token }
                : { prefix, delimiter, 'max-keys': '1', marker };
            const r = await signedFetch(
              proxy.url,
              'GET',
              '/datalake',
              encodeQuery(q),
              {},
              keyFor(READER),
              'us-east-1',
              new Date(clock.now()),
            );
            const page = parseListPage(r, false);
            expect([prefix, i, r.status, code(r.text)]).toEqual([prefix, i, 200, undefined]);
            got.push(...page.keys, ...page.prefixes);
            if (i === 1 || i === 3) {
              // The table moves on: a new file, a file removed, then a checkpoint.
              const active = w.activeFiles().filter((a) => a.partitionValues.region === 'EU');
              await w.commit({
                add: [await w.writeDataFile({ region: 'EU' }, [{ id: 1000 + i, region: 'EU' }])],
                remove: [active.at(-1)!.path],
              });
              if (i === 3) await w.checkpoint();
              clock.advance(1_500);
              changed++;
            }
            if (!page.truncated) break;
            if (v === 2) token = /<NextContinuationToken>([^<]*)</.exec(r.text)?.[1];
            else marker = page.nextMarker ?? page.keys.at(-1);
          }
          const after = await whole(proxy.url, clock, { prefix, ...(delimiter ? { delimiter } : {}) });
          const throughout = before.filter((k) => after.includes(k));
          const counts = new Map<string, number>();
          for (const k of got) counts.set(k, (counts.get(k) ?? 0) + 1);
          const wrong = throughout.filter((k) => counts.get(k) !== 1);
          expect([prefix, changed > 0 || before.length < 3, wrong]).toEqual([prefix, true, []]);
          const dup = [...counts].filter(([, c]) => c > 1);
          expect([prefix, dup]).toEqual([prefix, []]);
        }
      } finally {
        await proxy.stop();
      }
    },
  );

  it('the generated _delta_log/ listing agrees with HEAD and GET of each key', async () => {
    const { w, alias, clock, proxy } = await moving();
    try {
      await w.checkpoint();
      await w.commit({ add: [await w.writeDataFile({ region: 'US' }, [{ id: 5000, region: 'US' }])] });
      clock.advance(1_500);
      const r = await signedFetch(
        proxy.url,
        'GET',
        '/datalake',
        encodeQuery({ 'list-type': '2', prefix: `${alias}/_delta_log/` }),
        {},
        keyFor(READER),
        'us-east-1',
        new Date(clock.now()),
      );
      expect(r.status).toBe(200);
      const entries = [...r.text.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)].map((m) => {
        const f = (t: string) => new RegExp(`<${t}>([^<]*)</${t}>`).exec(m[1]!)?.[1];
        return {
          key: f('Key')!,
          lm: f('LastModified')!,
          etag: f('ETag')!.replaceAll('&quot;', '"'),
          size: Number(f('Size')),
        };
      });
      expect(entries.length).toBeGreaterThan(2);
      for (const e of entries) {
        for (const method of ['HEAD', 'GET'] as const) {
          const h = await objectRequest(proxy.url, method, e.key, READER, 'datalake', clock);
          const got = {
            key: e.key,
            method,
            status: h.status,
            size: Number(h.headers['content-length']),
            etag: h.headers.etag,
            lm: new Date(h.headers['last-modified']!).getTime(),
          };
          expect(got).toEqual({
            key: e.key,
            method,
            status: 200,
            size: e.size,
            etag: e.etag,
            lm: Math.floor(new Date(e.lm).getTime() / 1000) * 1000,
          });
        }
      }
    } finally {
      await proxy.stop();
    }
  });
});
