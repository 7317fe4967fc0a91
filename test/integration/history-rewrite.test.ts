/**
 * Reads across concurrent rewrites, through the real proxy on real S3 servers with an injected
 * clock (requests signed at that time): a scan planned at version N keeps reading its files after
 * a compaction commits N+1 (proxy and presigned mode), listings show only the compacted files,
 * the removed files are refused once the table's retention has passed (default 7 days, or the
 * table's `delta.deletedFileRetentionDuration`); change data written before the newest checkpoint
 * is listed and served in granted partitions only; a flood of requests for unknown paths reads
 * the log's history once.
 */
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { deltaStorageFromBackend } from '../../lambda/delta/delta-storage';
import { loadSnapshot } from '../../lambda/delta/load-snapshot';
import { S3Backend } from '../../lambda/storage/s3-backend';
import { listAllPages, ManualClock, mapLimit, objectRequest } from '../helpers/authz-harness';
import { countingBackend } from '../helpers/counting-backend';
import { type LakeTable, lakeSuite } from '../helpers/lake-suite';
import { commitName } from '../helpers/log-text';
import { BACKEND_CREDENTIALS, s3rverAndMoto } from '../helpers/s3-servers';

const READER = 'reader';
const DAY = 24 * 3600 * 1000;
const REDIRECT_UA = { 'user-agent': 'delta-proxy-client/0.1.0' };
const code = (text: string) => /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
/** Decoded relative path of an action (the writer percent-encodes it). */
const rel = (a: { path: string }) => decodeURIComponent(a.path);

describe.each(s3rverAndMoto())('reads across rewrites on %s', (_kind, start, skipReason) => {
  const lake = lakeSuite(start, skipReason, [READER]);

  /** A proxy granting EU of `t` over a backend that records every call, and a GET through it. */
  async function countedProxy(t: LakeTable, clock: ManualClock) {
    const { backend: storage, calls } = countingBackend(
      new S3Backend({
        endpoint: lake.backend.endpoint,
        forcePathStyle: true,
        credentials: BACKEND_CREDENTIALS,
      }),
    );
    const proxy = await lake.proxyFor(clock, grantEU(t.alias), storage);
    const ask = (key: string) =>
      objectRequest(proxy.url, 'GET', `${t.alias}/${key}`, READER, 'datalake', clock);
    return { proxy, calls, ask };
  }

  const grantEU = (alias: string) => ({
    tableMapping: { [alias]: `s3://lake/tables/${alias}` },
    grants: [{ principal: READER, table: alias, partitions: [{ region: 'EU' }] }],
    snapshotTtlMs: 600_000,
  });

  it.skipIf(skipReason)(
    'a scan planned at N reads its files after a compaction commits N+1, until the retention passes',
    async () => {
      const clock = new ManualClock();
      const t = await lake.freshTable();
      const eu = [await t.file('EU', 1), await t.file('EU', 2), await t.file('EU', 3)];
      const us = await t.file('US', 4);
      const n = await t.writer.commit({ add: [...eu, us] });
      const proxy = await lake.proxyFor(clock, { ...grantEU(t.alias), getMode: 'proxy' });
      const presigned = await lake.proxyFor(clock, { ...grantEU(t.alias), getMode: 'presignedUrl' });
      const get = (key: string, method: 'GET' | 'HEAD' = 'GET') =>
        objectRequest(proxy.url, method, `${t.alias}/${key}`, READER, 'datalake', clock);
      const redirect = (key: string) =>
        objectRequest(presigned.url, 'GET', `${t.alias}/${key}`, READER, 'datalake', clock, REDIRECT_UA);

      // The reader plans version N with the project's own replay and starts reading.
      const storage = deltaStorageFromBackend(
        new S3Backend({
          endpoint: lake.backend.endpoint,
          forcePathStyle: true,
          credentials: BACKEND_CREDENTIALS,
        }),
        'lake',
        t.prefix,
      );
      const plan = await loadSnapshot(storage, { tableUri: t.uri, version: n });
      const planned: string[] = [];
      plan.forEachFile((p) => planned.push(p));
      expect(planned.sort()).toEqual([...eu, us].map(rel).sort());
      expect((await get(rel(eu[0]!))).status).toBe(200);
      expect((await redirect(rel(eu[0]!))).status).toBe(307);

      // OPTIMIZE commits N+1 meanwhile: the EU files are rewritten into one.
      const compacted = await t.file('EU', 123);
      await t.writer.commit({ add: [compacted], remove: eu.map((a) => a.path), operation: 'OPTIMIZE' });
      clock.advance(60_000);
      expect((await get(rel(compacted))).status).toBe(200); // the proxy's snapshot moves to N+1
      expect(proxy.proxy.snapshots.stats().forcedRefreshes).toBe(1);

      for (const f of eu) {
        const [g, h, r] = await Promise.all([get(rel(f)), get(rel(f), 'HEAD'), redirect(rel(f))]);
        expect([rel(f), g.status, h.status, r.status]).toEqual([rel(f), 200, 200, 307]);
        expect(g.body.length).toBe(f.size);
      }
      const refused = await get(rel(us));
      expect([refused.status, code(refused.text)]).toEqual([403, 'AccessDenied']);
      // Listings show the newest snapshot only: a globbing reader never reads rows twice.
      const listed = (await listAllPages(proxy.url, READER, 2, { prefix: `${t.alias}/region=EU/` })).flatMap(
        (p) => p.keys,
      );
      expect(listed).toEqual([`${t.alias}/${rel(compacted)}`]);

      // Past deletionTimestamp + 7 days VACUUM may have run: the removed files are refused.
      clock.advance(7 * DAY);
      for (const f of eu) {
        const [g, h, r] = await Promise.all([get(rel(f)), get(rel(f), 'HEAD'), redirect(rel(f))]);
        expect([rel(f), g.status, code(g.text), h.status, r.status]).toEqual([
          rel(f),
          403,
          'AccessDenied',
          403,
          403,
        ]);
      }
      expect((await get(rel(compacted))).status).toBe(200);
    },
  );

  it.skipIf(skipReason)('honours the table’s own delta.deletedFileRetentionDuration', async () => {
    const clock = new ManualClock();
    const t = await lake.freshTable({
      configuration: { 'delta.deletedFileRetentionDuration': 'interval 1 hours' },
    });
    const old = await t.file('EU', 1);
    await t.writer.commit({ add: [old] });
    const proxy = await lake.proxyFor(clock, grantEU(t.alias));
    const get = () => objectRequest(proxy.url, 'GET', `${t.alias}/${rel(old)}`, READER, 'datalake', clock);
    expect((await get()).status).toBe(200);
    await t.writer.commit({ add: [await t.file('EU', 2)], remove: [old.path], operation: 'DELETE' });
    clock.advance(59 * 60_000);
    expect((await get()).status).toBe(200);
    clock.advance(2 * 60_000);
    const r = await get();
    expect([r.status, code(r.text)]).toEqual([403, 'AccessDenied']);
  });

  it.skipIf(skipReason)(
    'lists and serves change data written before the newest checkpoint, in granted partitions only',
    async () => {
      const clock = new ManualClock();
      const t = await lake.freshTable({ configuration: { 'delta.enableChangeDataFeed': 'true' } });
      const euData = await t.file('EU', 1);
      const euChange = await t.writer.writeChangeDataFile({ region: 'EU' }, [{ id: 1, region: 'EU' }]);
      const usChange = await t.writer.writeChangeDataFile({ region: 'US' }, [{ id: 2, region: 'US' }]);
      await t.writer.commit({ add: [euData], cdc: [euChange] });
      await t.writer.commit({ add: [await t.file('US', 2)], cdc: [usChange] });
      await t.writer.checkpoint();
      await t.writer.commit({ add: [await t.file('EU', 3)] });
      const proxy = await lake.proxyFor(clock, grantEU(t.alias));
      const get = (key: string) =>
        objectRequest(proxy.url, 'GET', `${t.alias}/${key}`, READER, 'datalake', clock);
      expect((await get(rel(euChange))).status).toBe(200);
      expect((await get(rel(usChange))).status).toBe(403);
      const pages = await listAllPages(proxy.url, READER, 2, {
        prefix: `${t.alias}/_change_data/`,
        maxKeys: 1,
      });
      expect(pages.flatMap((p) => p.keys)).toEqual([`${t.alias}/${rel(euChange)}`]);
      const folders = await listAllPages(proxy.url, READER, 2, { prefix: `${t.alias}/`, delimiter: '/' });
      expect(folders.flatMap((p) => p.prefixes)).toContain(`${t.alias}/_change_data/`);
      const inside = await listAllPages(proxy.url, READER, 2, {
        prefix: `${t.alias}/_change_data/`,
        delimiter: '/',
      });
      expect(inside.flatMap((p) => p.prefixes)).toEqual([`${t.alias}/_change_data/region=EU/`]);
      // Years later change data is still served while its commit is in the log.
      clock.advance(400 * DAY);
      expect((await get(rel(euChange))).status).toBe(200);
    },
  );

  it.skipIf(skipReason)(
    'keeps serving the newest snapshot and the checkpoint’s tombstones when an old commit is unreadable',
    async () => {
      const clock = new ManualClock();
      const t = await lake.freshTable();
      const old = await t.file('EU', 1);
      const kept = await t.file('EU', 2);
      const change = await t.writer.writeChangeDataFile({ region: 'EU' }, [{ id: 1, region: 'EU' }]);
      await t.writer.commit({ add: [old, kept], cdc: [change] });
      await t.writer.commit({ remove: [old.path], operation: 'DELETE' });
      await t.writer.checkpoint();
      // Commit 1 is damaged after the fact: the snapshot and the recent history come from the
      // checkpoint; the complete history (needed for commit 1's change data) cannot be read.
      await lake.s3.send(
        new PutObjectCommand({
          Bucket: 'lake',
          Key: `${t.prefix}_delta_log/00000000000000000001.json`,
          Body: '{oops',
        }),
      );
      const proxy = await lake.proxyFor(clock, grantEU(t.alias));
      const get = (f: { path: string }) =>
        objectRequest(proxy.url, 'GET', `${t.alias}/${rel(f)}`, READER, 'datalake', clock);
      expect((await get(kept)).status).toBe(200);
      expect((await get(old)).status).toBe(200); // the checkpoint's tombstone
      const refused = await get(change);
      expect([refused.status, code(refused.text)]).toEqual([403, 'AccessDenied']);
      expect((await get(kept)).status).toBe(200);
      expect(proxy.proxy.snapshots.stats().history).toMatchObject({ recentLoads: 1, loads: 0, failures: 1 });
    },
  );

  it.skipIf(skipReason)(
    'refuses an unknown data file from the newest checkpoint’s tombstones, reading every commit only for change data',
    async () => {
      const clock = new ManualClock();
      const t = await lake.freshTable();
      const files = [];
      for (let i = 0; i < 12; i++) {
        const f = await t.file(i % 2 ? 'EU' : 'US', i);
        files.push(f);
        await t.writer.commit({ add: [f] });
      }
      const oldChange = await t.writer.writeChangeDataFile({ region: 'EU' }, [{ id: 1, region: 'EU' }]);
      await t.writer.commit({
        remove: [files[1]!.path, files[2]!.path],
        cdc: [oldChange],
        operation: 'DELETE',
      });
      await t.writer.checkpoint(); // v13: its tombstones hold both removes
      const orphan = `region=EU/part-orphan-${t.alias}.parquet`;
      const orphanChange = `_change_data/region=EU/cdc-orphan-${t.alias}.parquet`;
      for (const key of [orphan, orphanChange])
        await lake.s3.send(
          new PutObjectCommand({ Bucket: 'lake', Key: `${t.prefix}${key}`, Body: 'not in the log' }),
        );
      const { proxy, calls, ask } = await countedProxy(t, clock);
      expect((await ask(rel(files[3]!))).status).toBe(200);
      const commitReads = () =>
        calls.filter((c) => c.op === 'get' && /_delta_log\/\d{20}\.json$/.test(c.key)).length;
      const before = commitReads();
      // Data files: the recent history decides, and no old commit is read.
      expect((await ask(orphan)).status).toBe(403);
      expect((await ask(rel(files[1]!))).status).toBe(200); // removed, granted: a tombstone
      expect((await ask(rel(files[2]!))).status).toBe(403); // removed, not granted
      expect(commitReads() - before).toBe(0);
      expect(proxy.proxy.snapshots.stats().history).toMatchObject({ recentLoads: 1, loads: 0 });
      // Change data is in no checkpoint: refusing an unknown change-data file reads every commit.
      expect((await ask(orphanChange)).status).toBe(403);
      expect((await ask(rel(oldChange))).status).toBe(200);
      expect(commitReads() - before).toBe(14);
      expect(proxy.proxy.snapshots.stats().history).toMatchObject({ recentLoads: 1, loads: 1 });
    },
  );

  it.skipIf(skipReason)(
    'places a removed file whose remove and tombstone carry no partition values by its add, in the complete history',
    async () => {
      const clock = new ManualClock();
      const t = await lake.freshTable();
      const eu = await t.file('EU', 1);
      const us = await t.file('US', 2);
      await t.writer.commit({ add: [eu, us] });
      for (let i = 3; i < 14; i++) await t.writer.commit({ add: [await t.file('EU', i)] });
      await t.writer.commit({ remove: [eu.path, us.path], removesWithoutPartitionValues: true });
      await t.writer.checkpoint();
      const proxy = await lake.proxyFor(clock, grantEU(t.alias));
      const get = (f: { path: string }) =>
        objectRequest(proxy.url, 'GET', `${t.alias}/${rel(f)}`, READER, 'datalake', clock);
      expect((await get(eu)).status).toBe(200);
      expect((await get(us)).status).toBe(403);
      expect(proxy.proxy.snapshots.stats().history).toMatchObject({ recentLoads: 1, loads: 1 });
    },
  );

  // The snapshot keeps the change data of every commit it replayed since it was loaded: a proxy
  // running across a log cleanup must answer as one started after it.
  it.skipIf(skipReason).each(['raw', 'filtered'] as const)(
    'refuses change data once log cleanup removed its commit, also in a running proxy (%s view)',
    async (logView) => {
      const clock = new ManualClock();
      const t = await lake.freshTable({ configuration: { 'delta.enableChangeDataFeed': 'true' } });
      const change = await t.writer.writeChangeDataFile({ region: 'EU' }, [{ id: 1, region: 'EU' }]);
      await t.writer.commit({ add: [await t.file('EU', 1)], cdc: [change] }); // v1
      const config = { ...grantEU(t.alias), logView, snapshotTtlMs: 1_000 };
      const running = await lake.proxyFor(clock, config);
      const get = (proxyUrl: string, f: { path: string }) =>
        objectRequest(proxyUrl, 'GET', `${t.alias}/${rel(f)}`, READER, 'datalake', clock);
      expect((await get(running.url, change)).status).toBe(200);

      // A checkpoint at v2, log cleanup removes commits 0 and 1, then commit 3.
      await t.writer.commit({ add: [await t.file('EU', 2)] });
      await t.writer.checkpoint();
      for (const v of [0, 1])
        await lake.s3.send(
          new DeleteObjectCommand({ Bucket: 'lake', Key: `${t.prefix}_delta_log/${commitName(v)}` }),
        );
      const later = await t.file('EU', 3);
      const laterChange = await t.writer.writeChangeDataFile({ region: 'EU' }, [{ id: 3, region: 'EU' }]);
      await t.writer.commit({ add: [later], cdc: [laterChange] }); // v3
      clock.advance(5_000);
      expect((await get(running.url, later)).status).toBe(200); // the running proxy is at v3

      const denied = logView === 'raw' ? 403 : 404;
      const fresh = await lake.proxyFor(clock, config);
      for (const proxy of [fresh, running]) {
        expect((await get(proxy.url, change)).status).toBe(denied);
        expect((await get(proxy.url, laterChange)).status).toBe(200);
      }
    },
  );

  it.skipIf(skipReason)('reads the history once for a flood of requests for unknown paths', async () => {
    const clock = new ManualClock();
    const t = await lake.freshTable();
    const files = [];
    for (let i = 0; i < 20; i++) {
      const f = await t.file(i % 2 ? 'EU' : 'US', i);
      files.push(f);
      await t.writer.commit({ add: [f] });
    }
    await t.writer.commit({ remove: files.slice(0, 10).map((f) => f.path), operation: 'DELETE' });
    const orphan = `region=EU/part-orphan-${t.alias}.parquet`;
    await lake.s3.send(
      new PutObjectCommand({ Bucket: 'lake', Key: `${t.prefix}${orphan}`, Body: 'not in the log' }),
    );
    const { proxy, calls, ask } = await countedProxy(t, clock);
    expect((await ask(rel(files[11]!))).status).toBe(200);
    const before = calls.length;
    const probesBefore = proxy.proxy.snapshots.stats().newCommitProbes;
    const unknown = Array.from({ length: 200 }, (_, i) => `region=EU/part-unknown-${i}.parquet`);
    const answers = await mapLimit(unknown, 40, async (k) => (await ask(k)).status);
    expect(new Set(answers)).toEqual(new Set([404]));
    const logReads = calls.slice(before).filter((c) => c.key.includes('/_delta_log/'));
    // A look for a checkpoint (_last_checkpoint and a listing: there is none, so the complete
    // history is read at once), one listing of the log and one read of each of its 22 commits;
    // the rest are the existence checks of the unknown keys (one each) and new-commit probes: each
    // refusal takes one begun after it arrived, one at a time, shared by the requests that wait.
    const probes = proxy.proxy.snapshots.stats().newCommitProbes - probesBefore;
    expect(probes).toBeLessThanOrEqual(unknown.length / 5);
    expect(logReads.filter((c) => c.op === 'list').length).toBeLessThanOrEqual(4 + probes);
    expect(logReads.filter((c) => c.op === 'get').map((c) => c.key.split('/').pop())).toEqual([
      '_last_checkpoint',
      ...Array.from({ length: 22 }, (_, v) => commitName(v)),
    ]);
    expect(proxy.proxy.snapshots.stats().history).toMatchObject({ loads: 1, updates: 0, failures: 0 });
    // Removed in a granted partition: readable; an orphan stays refused; a removed US file too.
    expect((await ask(rel(files[1]!))).status).toBe(200);
    expect((await ask(orphan)).status).toBe(403);
    expect((await ask(rel(files[0]!))).status).toBe(403);
  });
});
