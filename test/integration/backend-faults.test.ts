/**
 * The real proxy in front of a backend that misbehaves on purpose (test/helpers/misbehaving-s3.ts
 * over s3rver, and over moto where installed):
 * - a prefetched commit read that fails (503, or a commit removed by log cleanup) while an earlier
 *   read is still awaited gives the request an S3 error, and the process lives on;
 * - backend trouble while checking whether an unknown key exists is 503, a backend that refuses the
 *   proxy or an unreadable log is a clear S3 error naming the table, never the backend bucket or
 *   prefix;
 * - under the stack's own IAM policy (GetObject on the mapped prefixes, ListBucket with an
 *   s3:prefix condition), where S3 answers 403 instead of 404 for a missing key: a table without
 *   `_last_checkpoint` loads, unknown keys are 404, orphans 403, a file committed after the
 *   snapshot was cached is still found, and a log file deleted since it was listed is missing
 *   (404 in the filtered log), not refused.
 */
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type AuthzProxy,
  listAllPages,
  ManualClock,
  objectRequest,
  startAuthzProxy,
} from '../helpers/authz-harness';
import { type TestTable, writeTable as writeTableIn } from '../helpers/fault-tables';
import { commitKey } from '../helpers/log-text';
import { type MisbehavingS3, type PrefixPolicy, startMisbehavingS3 } from '../helpers/misbehaving-s3';
import {
  backendClient,
  createBucket,
  type S3Server,
  s3rverAndMoto,
  startS3rver,
} from '../helpers/s3-servers';
import { unhandledRejectionsPerTest } from '../helpers/unhandled-rejections';

const READER = 'reader';
const BUCKET = 'hidden-bucket';
const code = (text: string) => /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const unhandled = unhandledRejectionsPerTest();

const writeTable = (client: S3Client, alias: string, prefix: string) =>
  writeTableIn(client, BUCKET, alias, prefix);

/** Nothing in a client-visible answer names the backend bucket or a table's backend prefix. */
function expectNoBackendNames(text: string, table: TestTable): void {
  expect(text).not.toContain(`${BUCKET}/`);
  expect(text).not.toContain(table.prefix);
  expect(text).not.toContain('s3://');
}

describe('faults injected into backend reads (s3rver)', () => {
  let upstream: S3Server;
  let backend: MisbehavingS3;
  let client: S3Client;
  const proxies: AuthzProxy[] = [];
  let n = 0;

  beforeAll(async () => {
    upstream = await startS3rver();
    backend = await startMisbehavingS3(upstream);
    client = backendClient(upstream.endpoint);
    await createBucket(client, BUCKET);
  });
  afterAll(async () => {
    for (const p of proxies) await p.stop();
    client?.destroy();
    await backend?.stop();
    await upstream?.stop();
  });
  afterEach(() => {
    backend.onRequest = () => undefined;
  });

  async function tableAndProxy() {
    const alias = `f${++n}`;
    const t = await writeTable(client, alias, `faults/${alias}/`);
    const files = await t.commitFiles('EU', 'EU', 'US', 'EU');
    const proxy = await startAuthzProxy(
      backend,
      {
        tableMapping: { [alias]: t.uri },
        grants: [{ principal: READER, table: alias, partitions: [{ region: 'EU' }] }],
      },
      [READER],
    );
    proxies.push(proxy);
    return { t, files, proxy };
  }

  /**
   * Holds the first read of commit 0 until commit 2 (read ahead behind it) has failed `times`
   * times (the SDK retries a 503), then a little longer: the failure lands while commit 0 is awaited.
   */
  function failCommit2WhileCommit0Waits(t: TestTable, status: number, errorCode: string, times: number) {
    let failures = 0;
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    const fallback = setTimeout(release, 5_000);
    let held = false;
    backend.onRequest = (r) => {
      if (r.method !== 'GET') return undefined;
      if (r.key === commitKey(0, t.prefix) && !held) {
        held = true;
        return { after: released };
      }
      if (r.key === commitKey(2, t.prefix)) {
        if (++failures >= times) {
          clearTimeout(fallback);
          setTimeout(release, 100);
        }
        return { status, code: errorCode };
      }
      return undefined;
    };
  }

  it('answers 503 when a prefetched commit read fails with 503, and keeps serving', async () => {
    const { t, files, proxy } = await tableAndProxy();
    failCommit2WhileCommit0Waits(t, 503, 'ServiceUnavailable', 3);
    const r = await objectRequest(proxy.url, 'GET', `${t.alias}/${files[0]}`, READER);
    expect([r.status, code(r.text)]).toEqual([503, 'ServiceUnavailable']);
    expectNoBackendNames(r.text, t);
    await sleep(50);
    expect(unhandled).toEqual([]);
    // The process lives on: once the backend recovers, the same request is served.
    backend.onRequest = () => undefined;
    const again = await objectRequest(proxy.url, 'GET', `${t.alias}/${files[0]}`, READER);
    expect(again.status).toBe(200);
  });

  it('answers a clear S3 error when a commit is removed while the log is read', async () => {
    const { t, files, proxy } = await tableAndProxy();
    failCommit2WhileCommit0Waits(t, 404, 'NoSuchKey', 1);
    const r = await objectRequest(proxy.url, 'GET', `${t.alias}/${files[0]}`, READER);
    expect([r.status, code(r.text)]).toEqual([403, 'AccessDenied']);
    expect(r.text).toContain(`Table ${t.alias} has no readable Delta log`);
    expectNoBackendNames(r.text, t);
    await sleep(50);
    expect(unhandled).toEqual([]);
  });

  it('answers 503 SlowDown when the backend throttles the existence check of an unknown key', async () => {
    const { t, files, proxy } = await tableAndProxy();
    expect((await objectRequest(proxy.url, 'GET', `${t.alias}/${files[0]}`, READER)).status).toBe(200);
    const unknown = 'region=EU/not-in-the-log.parquet';
    // However the proxy checks (HEAD of the key, or a listing from it), the backend throttles.
    backend.onRequest = (r) =>
      r.key.endsWith(unknown) || r.query.get('prefix')?.endsWith(unknown)
        ? { status: 503, code: 'SlowDown' }
        : undefined;
    for (const method of ['GET', 'HEAD'] as const) {
      const r = await objectRequest(proxy.url, method, `${t.alias}/${unknown}`, READER);
      expect([method, r.status]).toEqual([method, 503]);
      if (method === 'GET') expect(code(r.text)).toBe('SlowDown');
    }
  });

  it('answers InternalError naming the table, not the backend, for a log that cannot be parsed', async () => {
    const { t, files, proxy } = await tableAndProxy();
    await client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: commitKey(5, t.prefix), Body: '{"add": {not json' }),
    );
    const r = await objectRequest(proxy.url, 'GET', `${t.alias}/${files[0]}`, READER);
    expect([r.status, code(r.text)]).toEqual([500, 'InternalError']);
    expect(r.text).toContain(`The Delta log of table ${t.alias} cannot be read`);
    expectNoBackendNames(r.text, t);
  });
});

describe('listings over a table whose log is broken (s3rver)', () => {
  let upstream: S3Server;
  let backend: MisbehavingS3;
  let client: S3Client;
  let proxy: AuthzProxy;
  let good: TestTable;
  let broken: TestTable;

  beforeAll(async () => {
    upstream = await startS3rver();
    backend = await startMisbehavingS3(upstream);
    client = backendClient(upstream.endpoint);
    await createBucket(client, BUCKET);
    good = await writeTable(client, 'good', 'lazy/good/');
    await good.commitFiles('EU', 'US');
    broken = await writeTable(client, 'broken', 'lazy/broken/');
    await broken.commitFiles('EU');
    await client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: commitKey(2, broken.prefix), Body: '{"add": {not json' }),
    );
    proxy = await startAuthzProxy(
      backend,
      {
        tableMapping: { good: good.uri, broken: broken.uri },
        grants: [
          { principal: READER, table: 'good', partitions: [{ region: 'EU' }] },
          { principal: READER, table: 'broken', partitions: [{}] },
        ],
      },
      [READER],
    );
  });
  afterAll(async () => {
    await proxy?.stop();
    client?.destroy();
    await backend?.stop();
    await upstream?.stop();
  });

  it('lists the root and partial aliases without reading any table', async () => {
    backend.seen.length = 0;
    for (const version of [1, 2] as const) {
      const [root] = await listAllPages(proxy.url, READER, version, { delimiter: '/' });
      expect([root!.status, root!.prefixes]).toEqual([200, ['broken/', 'good/']]);
      const [partial] = await listAllPages(proxy.url, READER, version, { prefix: 'go', delimiter: '/' });
      expect([partial!.status, partial!.prefixes]).toEqual([200, ['good/']]);
    }
    expect(backend.seen).toEqual([]);
    expect(proxy.proxy.snapshots.stats().misses).toBe(0);
  });

  it('lists inside the good table, and answers a clear error inside the broken one', async () => {
    const [inside] = await listAllPages(proxy.url, READER, 2, { prefix: 'good/', delimiter: '/' });
    expect([inside!.status, inside!.prefixes]).toEqual([200, ['good/_delta_log/', 'good/region=EU/']]);
    const [bad] = await listAllPages(proxy.url, READER, 2, { prefix: 'broken/', delimiter: '/' });
    expect([bad!.status, code(bad!.text)]).toEqual([500, 'InternalError']);
    expect(bad!.text).toContain('The Delta log of table broken cannot be read');
    expectNoBackendNames(bad!.text, broken);
  });
});

const upstreams = s3rverAndMoto();

describe.each(upstreams)("under the stack's IAM policy (403 for missing keys) on %s", (_k, start, skip) => {
  let upstream: S3Server;
  let backend: MisbehavingS3;
  let client: S3Client;
  let proxy: AuthzProxy;
  const clock = new ManualClock();
  let plain: TestTable;
  let checkpointed: TestTable;
  let unmapped: TestTable;
  let cleanup: TestTable;
  let plainFiles: string[];
  let checkpointedFiles: string[];

  beforeAll(async () => {
    if (skip) return;
    upstream = await start();
    client = backendClient(upstream.endpoint);
    await createBucket(client, BUCKET);
    plain = await writeTable(client, 'plain', 'policy/plain/');
    plainFiles = await plain.commitFiles('EU', 'US');
    checkpointed = await writeTable(client, 'checkpointed', 'policy/checkpointed/');
    checkpointedFiles = await checkpointed.commitFiles('EU', 'US');
    await checkpointed.writer.checkpoint();
    // Mapped in the proxy's config, but the (mis)deployed policy does not cover it.
    unmapped = await writeTable(client, 'unmapped', 'elsewhere/unmapped/');
    await unmapped.commitFiles('EU');
    cleanup = await writeTable(client, 'cleanup', 'policy/cleanup/');
    await cleanup.commitFiles('EU', 'US');
    await cleanup.writer.checkpoint();
    await cleanup.commitFiles('EU');
    const policy: PrefixPolicy = { [BUCKET]: [plain.prefix, checkpointed.prefix, cleanup.prefix] };
    backend = await startMisbehavingS3(upstream, { policy });
    proxy = await startAuthzProxy(
      backend,
      {
        tableMapping: { plain: plain.uri, checkpointed: checkpointed.uri, unmapped: unmapped.uri },
        allowedPartitions: { plain: [{ region: 'EU' }], checkpointed: [{ region: 'EU' }], unmapped: [{}] },
        snapshotTtlMs: 600_000,
      },
      [READER],
      { clock },
    );
  });
  afterAll(async () => {
    await proxy?.stop();
    client?.destroy();
    await backend?.stop();
    await upstream?.stop();
  });

  it.skipIf(skip)(
    'the test backend answers 403 for a missing key, as S3 does under that policy',
    async () => {
      const res = await fetch(`${backend.endpoint}/${BUCKET}/${plain.prefix}_delta_log/_last_checkpoint`, {
        method: 'HEAD',
      });
      expect(res.status).toBe(403);
    },
  );

  it.skipIf(skip)('serves a granted file of a table without _last_checkpoint', async () => {
    const r = await objectRequest(proxy.url, 'GET', `plain/${plainFiles[0]}`, READER);
    expect([r.status, code(r.text)]).toEqual([200, undefined]);
    const denied = await objectRequest(proxy.url, 'GET', `plain/${plainFiles[1]}`, READER);
    expect([denied.status, code(denied.text)]).toEqual([403, 'AccessDenied']);
  });

  it.skipIf(skip)('serves a granted file of a table with a checkpoint', async () => {
    const r = await objectRequest(proxy.url, 'GET', `checkpointed/${checkpointedFiles[0]}`, READER);
    expect(r.status).toBe(200);
  });

  it.skipIf(skip)('answers 404 for an unknown key and 403 for an orphan', async () => {
    for (const method of ['GET', 'HEAD'] as const) {
      const r = await objectRequest(proxy.url, method, 'plain/region=EU/no-such-file.parquet', READER);
      expect([method, r.status]).toEqual([method, 404]);
      if (method === 'GET') expect(code(r.text)).toBe('NoSuchKey');
    }
    await client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: `${plain.prefix}region=EU/orphan.parquet`, Body: 'x' }),
    );
    const orphan = await objectRequest(proxy.url, 'GET', 'plain/region=EU/orphan.parquet', READER);
    expect([orphan.status, code(orphan.text)]).toEqual([403, 'AccessDenied']);
  });

  it.skipIf(skip)(
    'answers 404 for a missing log file (_last_checkpoint) and a logged file gone from storage',
    async () => {
      // delta-rs reads `_last_checkpoint` first and loads a table without one only on a 404.
      const [gone] = await plain.commitFiles('EU');
      await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `${plain.prefix}${gone}` }));
      clock.advance(1_000);
      for (const key of ['plain/_delta_log/_last_checkpoint', `plain/${gone}`])
        for (const method of ['GET', 'HEAD'] as const) {
          const r = await objectRequest(proxy.url, method, key, READER);
          expect([method, key, r.status]).toEqual([method, key, 404]);
          if (method === 'GET') expect(code(r.text)).toBe('NoSuchKey');
        }
      // A file the backend refuses although it exists stays the operator's 403.
      backend.onRequest = (r) =>
        r.key === `${plain.prefix}${plainFiles[0]}` ? { status: 403, code: 'AccessDenied' } : undefined;
      try {
        const refused = await objectRequest(proxy.url, 'GET', `plain/${plainFiles[0]}`, READER);
        expect([refused.status, code(refused.text)]).toEqual([403, 'AccessDenied']);
      } finally {
        backend.onRequest = () => undefined;
      }
    },
  );

  it.skipIf(skip)(
    'in presigned mode answers 404 for a missing raw log file instead of a 307 that S3 answers 403',
    async () => {
      const presigning = await startAuthzProxy(
        backend,
        {
          tableMapping: { plain: plain.uri },
          allowedPartitions: { plain: [{ region: 'EU' }] },
          getMode: 'presignedUrl',
        },
        [READER],
      );
      try {
        const follower = { 'user-agent': 'delta-proxy-client/0.1.0' };
        const ask = (key: string) =>
          objectRequest(presigning.url, 'GET', key, READER, 'datalake', undefined, follower);
        const missing = await ask('plain/_delta_log/_last_checkpoint');
        expect([missing.status, code(missing.text), missing.headers.location]).toEqual([
          404,
          'NoSuchKey',
          undefined,
        ]);
        const commit = await ask('plain/_delta_log/00000000000000000000.json');
        expect(commit.status).toBe(307);
        expect((await fetch(commit.headers.location!)).status).toBe(200);
      } finally {
        await presigning.stop();
      }
    },
  );

  it.skipIf(skip)(
    'the filtered log answers 404 for a commit deleted by a log cleanup since it was listed, not 403',
    async () => {
      const filtered = await startAuthzProxy(
        backend,
        {
          tableMapping: { cleanup: cleanup.uri },
          allowedPartitions: { cleanup: [{ region: 'EU' }] },
          logView: 'filtered',
        },
        [READER],
      );
      const get = (version: number) =>
        objectRequest(filtered.url, 'GET', `cleanup/${commitKey(version)}`, READER);
      try {
        // The view lists the log once and holds the listing.
        expect((await get(3)).status).toBe(200);
        // A commit the store refuses although it exists is still the operator's refusal.
        backend.onRequest = (r) =>
          r.method === 'GET' && r.key === `${cleanup.prefix}${commitKey(2)}`
            ? { status: 403, code: 'AccessDenied' }
            : undefined;
        const refused = await get(2);
        expect([refused.status, code(refused.text)]).toEqual([403, 'AccessDenied']);
        backend.onRequest = () => undefined;
        expect((await get(2)).status).toBe(200);
        // The cleanup after the checkpoint deletes commit 0: under the policy the store answers
        // its GET 403, which a listing tells from a refusal.
        await client.send(
          new DeleteObjectCommand({ Bucket: BUCKET, Key: `${cleanup.prefix}${commitKey(0)}` }),
        );
        const gone = await get(0);
        expect([gone.status, code(gone.text)]).toEqual([404, 'NoSuchKey']);
      } finally {
        backend.onRequest = () => undefined;
        await filtered.stop();
      }
    },
  );

  it.skipIf(skip)('serves a file committed after the snapshot was cached', async () => {
    expect((await objectRequest(proxy.url, 'GET', `plain/${plainFiles[0]}`, READER)).status).toBe(200);
    const [later] = await plain.commitFiles('EU');
    clock.advance(1_000);
    const r = await objectRequest(proxy.url, 'GET', `plain/${later}`, READER);
    expect([r.status, code(r.text)]).toEqual([200, undefined]);
  });

  it.skipIf(skip)(
    'answers a clear AccessDenied, naming no backend bucket, when the backend refuses the proxy',
    async () => {
      const r = await objectRequest(proxy.url, 'GET', 'unmapped/region=EU/x.parquet', READER);
      expect([r.status, code(r.text)]).toEqual([403, 'AccessDenied']);
      expect(r.text).toContain('The storage of table unmapped refuses this proxy');
      expectNoBackendNames(r.text, unmapped);
    },
  );
});
