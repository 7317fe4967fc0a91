/**
 * The side channel of issue 18: with the filtered view a request for a file of a forbidden
 * partition must not be told apart from one for a file that does not exist — same status, same
 * S3 error, and the same work behind it (the backend requests each costs, the same probe for a
 * newer commit). With the raw view, for contrast, the two differ (403 vs 404, and a missing key
 * costs a backend HEAD).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNodeServer } from '../../lambda/adapters/node-server';
import { createProxy } from '../../lambda/bootstrap';
import { parseConfig } from '../../lambda/config';
import { silentLogger } from '../../lambda/core/logger';
import { S3Backend } from '../../lambda/storage/s3-backend';
import { keyFor, ManualClock, objectRequest } from '../helpers/authz-harness';
import { countingBackend } from '../helpers/counting-backend';
import { uploadDemoTable } from '../helpers/fixture-tables';
import { BACKEND_CREDENTIALS, type S3Server, startS3rver } from '../helpers/s3-servers';

let s3: S3Server;
let active: string[];
beforeAll(async () => {
  s3 = await startS3rver();
  active = await uploadDemoTable(s3.endpoint, 'lake', 'gold/sales/');
});
afterAll(async () => {
  await s3?.stop();
});

async function proxyWith(logView: 'raw' | 'filtered') {
  const clock = new ManualClock();
  const { backend, calls } = countingBackend(
    new S3Backend({
      endpoint: s3.endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: BACKEND_CREDENTIALS,
    }),
  );
  const config = parseConfig({
    logView,
    getMode: 'proxy',
    tableMapping: { sales: 's3://lake/gold/sales' },
    s3: { endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1' },
    auth: { keys: [keyFor('eu')] },
    grants: [{ principal: 'eu', table: 'sales', partitions: [{ region: 'EU' }] }],
    // The clock moves a second per request: keep the snapshot, so only the denial path is measured.
    snapshotTtlMs: 3_600_000,
  });
  const proxy = createProxy(config, { storage: backend, clock, audit: false, logger: silentLogger });
  const server = await startNodeServer(proxy.handler, '127.0.0.1', 0);
  return { url: server.url, calls, clock, stop: () => server.close() };
}

/** Status, S3 code and the backend requests one GET caused (after the snapshot is warm). */
async function probe(p: Awaited<ReturnType<typeof proxyWith>>, key: string) {
  p.clock.advance(1_000); // past the shared probe window: every denial probes once
  const before = p.calls.length;
  const r = await objectRequest(p.url, 'GET', `sales/${key}`, 'eu');
  const work = p.calls
    .slice(before)
    .map((c) => `${c.op} ${c.key}`.replace(/[0-9a-f-]{36}/g, 'ID').replace(/\d{20}/, 'N'));
  return { status: r.status, code: /<Code>(\w+)<\/Code>/.exec(r.text)?.[1], work };
}

describe('denials with the filtered view', () => {
  it('a forbidden file and a missing file get the same answer after the same backend requests', async () => {
    const p = await proxyWith('filtered');
    try {
      const forbidden = active.find((k) => k.startsWith('region=US/'))!;
      const missing = forbidden.replace(
        /part-\d+-[0-9a-f-]{36}/,
        'part-00000-00000000-0000-0000-0000-000000000000',
      );
      expect(
        (await objectRequest(p.url, 'GET', `sales/${active.find((k) => k.startsWith('region=EU/'))}`, 'eu'))
          .status,
      ).toBe(200);
      // The first refusal of a table reads its retained history once, whatever the path: a
      // forbidden file and a missing one would pay it alike. Warm it with a third path.
      expect((await probe(p, 'region=EU/warm-up.parquet')).status).toBe(404);
      for (let i = 0; i < 3; i++) {
        const a = await probe(p, forbidden);
        const b = await probe(p, missing);
        expect(a).toEqual({
          status: 404,
          code: 'NoSuchKey',
          work: [expect.stringMatching(/^list .*_delta_log\//)],
        });
        expect(b).toEqual(a);
      }
      // Log keys: the real log is listed once per snapshot; then a hidden file (.crc, a real
      // multi-part or v2 checkpoint) answers like a missing one, without a backend request. A
      // version after the snapshot (another instance may have named it) checks first whether the
      // log moved, as a refused data file does: one short listing of the log.
      expect((await probe(p, '_delta_log/00000000000000000000.json')).status).toBe(200);
      expect(await probe(p, '_delta_log/00000000000000000099.json')).toEqual({
        status: 404,
        code: 'NoSuchKey',
        work: [expect.stringMatching(/^list .*_delta_log\//)],
      });
      const hidden = await probe(p, '_delta_log/00000000000000000001.crc');
      expect(hidden).toEqual({ status: 404, code: 'NoSuchKey', work: [] });
    } finally {
      await p.stop();
    }
  });

  it('for contrast, the raw view tells them apart (403 vs 404, and a HEAD for the missing one)', async () => {
    const p = await proxyWith('raw');
    try {
      expect(
        (await objectRequest(p.url, 'GET', `sales/${active.find((k) => k.startsWith('region=EU/'))}`, 'eu'))
          .status,
      ).toBe(200);
      const forbidden = active.find((k) => k.startsWith('region=US/'))!;
      const a = await probe(p, forbidden);
      const b = await probe(p, 'region=US/no-such-file.parquet');
      expect(a.status).toBe(403);
      expect(b.status).toBe(404);
      expect(b.work.length).toBeGreaterThan(a.work.length);
    } finally {
      await p.stop();
    }
  });
});
