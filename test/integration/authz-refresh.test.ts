/**
 * Authorization over time, through the real proxy on a real S3 server with an injected clock
 * (createProxy's `clock` override drives the snapshot cache, the DynamoDB grant cache and SigV4):
 * a file committed after the snapshot was cached is served before the snapshot TTL runs out
 * (refresh before denial); a file removed by a new commit leaves listings once the TTL has passed
 * and stays readable until its retention has passed (then refused); a
 * revoked DynamoDB grant stops working once the grant-store TTL has passed; a table whose
 * protocol names a reader feature we do not know is refused with a message naming it, while
 * its `_delta_log/` stays readable.
 */

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_GRANT_TTL_MS } from '../../lambda/access/dynamodb-grant-store';
import { DynamoAdmin } from '../../lambda/store/dynamo-admin';
import { createDynamoTable } from '../../lambda/store/dynamo-schema';
import { listAllPages, ManualClock, objectRequest } from '../helpers/authz-harness';
import { type DynamoServer, startDynalite, testDynamoClient } from '../helpers/dynamo-servers';
import { lakeSuite } from '../helpers/lake-suite';
import { s3rverAndMoto } from '../helpers/s3-servers';

const READER = 'reader';
const STRANGER = 'stranger';
const code = (text: string) => /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
const message = (text: string) => /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? '';

describe.each(s3rverAndMoto())('authorization over time on %s', (_kind, start, skipReason) => {
  const lake = lakeSuite(start, skipReason, [READER, STRANGER]);
  let dynamo: DynamoServer;
  let dynamoClient: DynamoDBClient;

  beforeAll(async () => {
    if (skipReason) return;
    dynamo = await startDynalite();
    // The suite's admin client retries a transient error, as a real admin would.
    dynamoClient = testDynamoClient(dynamo.endpoint, 3);
    await createDynamoTable(dynamoClient, 'grants');
  });
  afterAll(async () => {
    dynamoClient?.destroy();
    await dynamo?.stop();
  });

  /** Decoded relative path of an add action (the writer percent-encodes it). */
  const rel = (a: { path: string }) => decodeURIComponent(a.path);

  it.skipIf(skipReason)(
    'serves a file committed after the snapshot was cached, long before the snapshot TTL',
    async () => {
      const clock = new ManualClock();
      const t = await lake.freshTable();
      const first = await t.file('EU', 1);
      await t.writer.commit({ add: [first] });
      const proxy = await lake.proxyFor(clock, {
        tableMapping: { [t.alias]: t.uri },
        grants: [{ principal: READER, table: t.alias, partitions: [{ region: 'EU' }] }],
        snapshotTtlMs: 600_000,
      });
      expect((await objectRequest(proxy.url, 'GET', `${t.alias}/${rel(first)}`, READER)).status).toBe(200);
      const version = proxy.proxy.snapshots.stats();

      const later = await t.file('EU', 2);
      const forbidden = await t.file('US', 3);
      await t.writer.commit({ add: [later, forbidden] });
      // Past the per-table limit on forced refreshes (1 s), far inside the 10-minute TTL.
      clock.advance(1_001);

      const got = await objectRequest(proxy.url, 'GET', `${t.alias}/${rel(later)}`, READER);
      expect([got.status, code(got.text)]).toEqual([200, undefined]);
      expect(proxy.proxy.snapshots.stats().forcedRefreshes).toBe(version.forcedRefreshes + 1);
      // The refreshed snapshot still applies the grant: the new US file is refused, not served.
      const us = await objectRequest(proxy.url, 'GET', `${t.alias}/${rel(forbidden)}`, READER);
      expect([us.status, code(us.text)]).toEqual([403, 'AccessDenied']);
      const listed = (await listAllPages(proxy.url, READER, 2, { prefix: `${t.alias}/` })).flatMap(
        (p) => p.keys,
      );
      expect(listed).toContain(`${t.alias}/${rel(later)}`);
      expect(listed).not.toContain(`${t.alias}/${rel(forbidden)}`);
    },
  );

  /**
   * A file committed a moment after any load or refresh is served: the forced refresh before a
   * denial is rate-limited by the last *forced* refresh only, and waits out the window rather
   * than refusing on a stale view.
   */
  it.skipIf(skipReason)('serves a file committed within a second of the last log check', async () => {
    const clock = new ManualClock();
    const t = await lake.freshTable();
    const first = await t.file('EU', 1);
    await t.writer.commit({ add: [first] });
    const proxy = await lake.proxyFor(clock, {
      tableMapping: { [t.alias]: t.uri },
      grants: [{ principal: READER, table: t.alias, partitions: [{ region: 'EU' }] }],
      snapshotTtlMs: 600_000,
    });
    expect((await objectRequest(proxy.url, 'GET', `${t.alias}/${rel(first)}`, READER)).status).toBe(200);
    const later = await t.file('EU', 2);
    await t.writer.commit({ add: [later] });
    clock.advance(200);
    const got = await objectRequest(proxy.url, 'GET', `${t.alias}/${rel(later)}`, READER);
    expect([got.status, code(got.text)]).toEqual([200, undefined]);
  });

  it.skipIf(skipReason)(
    'drops a removed file from listings after the snapshot TTL, and refuses it after its retention',
    async () => {
      const clock = new ManualClock();
      const ttl = 5_000;
      const t = await lake.freshTable();
      const keep = await t.file('EU', 1);
      const drop = await t.file('EU', 2);
      await t.writer.commit({ add: [keep, drop] });
      const proxy = await lake.proxyFor(clock, {
        tableMapping: { [t.alias]: t.uri },
        grants: [{ principal: READER, table: t.alias, partitions: [{ region: 'EU' }] }],
        snapshotTtlMs: ttl,
      });
      const key = `${t.alias}/${rel(drop)}`;
      expect((await objectRequest(proxy.url, 'GET', key, READER)).status).toBe(200);

      await t.writer.commit({ remove: [drop.path], operation: 'DELETE' });
      clock.advance(ttl);

      // A reader that planned the previous version may still read it (not vacuumed yet)...
      expect((await objectRequest(proxy.url, 'GET', key, READER)).status).toBe(200);
      expect((await objectRequest(proxy.url, 'GET', `${t.alias}/${rel(keep)}`, READER)).status).toBe(200);
      const listed = (
        await listAllPages(proxy.url, READER, 2, { prefix: `${t.alias}/`, maxKeys: 1 })
      ).flatMap((p) => p.keys);
      expect(listed).toContain(`${t.alias}/${rel(keep)}`);
      expect(listed).not.toContain(key);
      // ...until the table's retention (7 days by default) has passed: then refused, not missing.
      clock.advance(7 * 24 * 3600 * 1000);
      for (const method of ['GET', 'HEAD'] as const) {
        const r = await objectRequest(proxy.url, method, key, READER, 'datalake', clock);
        expect([method, r.status]).toEqual([method, 403]);
        if (method === 'GET') expect(code(r.text)).toBe('AccessDenied');
      }
    },
  );

  it.skipIf(skipReason)(
    'stops honouring a revoked DynamoDB grant once the grant-store TTL has passed',
    async () => {
      const clock = new ManualClock();
      const t = await lake.freshTable();
      const eu = await t.file('EU', 1);
      await t.writer.commit({ add: [eu] });
      const admin = new DynamoAdmin(dynamoClient, 'grants');
      await admin.putGrant({ principal: READER, table: t.alias, partitions: [{ region: 'EU' }] }, 'g1');
      const proxy = await lake.proxyFor(clock, {
        tableMapping: { [t.alias]: t.uri },
        databaseEnabled: true,
        database: { type: 'dynamodb', tableName: 'grants', endpoint: dynamo.endpoint, region: 'us-east-1' },
      });
      const key = `${t.alias}/${rel(eu)}`;
      expect((await objectRequest(proxy.url, 'GET', key, READER)).status).toBe(200);
      expect((await objectRequest(proxy.url, 'GET', key, STRANGER)).status).toBe(404);

      expect(await admin.revokeGrants(READER, t.alias)).toBe(1);
      clock.advance(DEFAULT_GRANT_TTL_MS);

      // With no grant left the table looks like one that does not exist.
      for (const method of ['GET', 'HEAD'] as const) {
        const r = await objectRequest(proxy.url, method, key, READER);
        expect([method, r.status]).toEqual([method, 404]);
        if (method === 'GET') expect(code(r.text)).toBe('NoSuchKey');
      }
      const log = await objectRequest(
        proxy.url,
        'GET',
        `${t.alias}/_delta_log/00000000000000000000.json`,
        READER,
      );
      expect(log.status).toBe(404);
      const root = await listAllPages(proxy.url, READER, 2, { delimiter: '/' });
      expect(root.flatMap((p) => p.prefixes)).toEqual([]);
    },
  );

  it.skipIf(skipReason)(
    'refuses data of a table with an unknown reader feature, naming it, and keeps _delta_log readable',
    async () => {
      const clock = new ManualClock();
      const t = await lake.freshTable({
        protocol: {
          minReaderVersion: 3,
          minWriterVersion: 7,
          readerFeatures: ['someFutureFeature'],
          writerFeatures: ['someFutureFeature'],
        },
      });
      const eu = await t.file('EU', 1);
      await t.writer.commit({ add: [eu] });
      const proxy = await lake.proxyFor(clock, {
        tableMapping: { [t.alias]: t.uri },
        grants: [{ principal: READER, table: t.alias, partitions: [{}] }],
      });
      const key = `${t.alias}/${rel(eu)}`;
      const get = await objectRequest(proxy.url, 'GET', key, READER);
      expect([get.status, code(get.text)]).toEqual([403, 'AccessDenied']);
      expect(message(get.text)).toContain('someFutureFeature');
      expect((await objectRequest(proxy.url, 'HEAD', key, READER)).status).toBe(403);
      for (const logKey of ['_delta_log/00000000000000000000.json', '_delta_log/00000000000000000001.json']) {
        const r = await objectRequest(proxy.url, 'GET', `${t.alias}/${logKey}`, READER);
        expect([logKey, r.status]).toEqual([logKey, 200]);
      }
      // Listings show the log and nothing else.
      const listed = (await listAllPages(proxy.url, READER, 2, { prefix: `${t.alias}/` })).flatMap(
        (p) => p.keys,
      );
      expect(listed.length).toBeGreaterThan(0);
      expect(listed.every((k) => k.startsWith(`${t.alias}/_delta_log/`))).toBe(true);
      // A caller without a grant learns nothing, not even that the table uses the feature.
      const stranger = await objectRequest(proxy.url, 'GET', key, STRANGER);
      expect([stranger.status, code(stranger.text)]).toEqual([404, 'NoSuchKey']);
      expect(stranger.text).not.toContain('someFutureFeature');
    },
  );
});
