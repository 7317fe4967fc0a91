/**
 * The filtered log of a running proxy (ManualClock, snapshot refreshed between requests) over
 * s3rver, across changes of partitioning (A -> B -> A, a type change, several changes in one
 * refresh, one while a continuation token is outstanding) and odd checkpoints (a stale or
 * too-new `_last_checkpoint`, a checkpoint deleted or written late, one whose commit a cleanup
 * removed). A reader lists `_delta_log/` through the proxy, GETs every key and replays what it is
 * shown at every version.
 */
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCheckpoint } from '../../lambda/local/delta-writer';
import {
  type AuthzProxy,
  listAllPages,
  ManualClock,
  objectRequest,
  startAuthzProxy,
} from '../helpers/authz-harness';
import {
  addAction,
  checkpointKey,
  commitKey,
  commitText,
  field,
  metaData,
  protocolV1,
  removeAction,
} from '../helpers/log-text';
import { backendClient, createBucket, type S3Server, startS3rver } from '../helpers/s3-servers';
import { replayLog } from '../helpers/virtual-log-replay';

const READER = 'reader';
const TTL = 5_000;
let s3: S3Server;
let client: ReturnType<typeof backendClient>;
const proxies: AuthzProxy[] = [];
let n = 0;

beforeAll(async () => {
  s3 = await startS3rver();
  client = backendClient(s3.endpoint);
  await createBucket(client, 'lake');
});
afterAll(async () => {
  for (const p of proxies) await p.stop();
  client?.destroy();
  await s3?.stop();
});

const proto = protocolV1.protocol as { minReaderVersion: number; minWriterVersion: number };
const asString = metaData(['p'], { schema: [field('p', 'string')] });
const asInt = metaData(['p'], { schema: [field('p', 'integer')] });
const byQ = metaData(['q'], { schema: [field('q', 'string')] });

interface Table {
  alias: string;
  prefix: string;
  put(rel: string, body: string | Uint8Array): Promise<void>;
  del(rel: string): Promise<void>;
  commit(v: number, actions: object[]): Promise<void>;
  /** Version 0: protocol, `meta` and `actions`. */
  create(meta: object, actions: object[]): Promise<void>;
  /** A classic checkpoint of version `v` holding `files`, and `_last_checkpoint` naming it. */
  checkpoint(v: number, meta: { metaData: object }, files: object[]): Promise<void>;
}

function table(): Table {
  const alias = `t${++n}`;
  const prefix = `tables/${alias}/`;
  const put = async (rel: string, body: string | Uint8Array) =>
    void (await client.send(new PutObjectCommand({ Bucket: 'lake', Key: prefix + rel, Body: body })));
  return {
    alias,
    prefix,
    put,
    del: async (rel) =>
      void (await client.send(new DeleteObjectCommand({ Bucket: 'lake', Key: prefix + rel }))),
    async commit(v, actions) {
      for (const a of actions as { add?: { path: string } }[]) if (a.add) await put(a.add.path, 'data');
      await put(commitKey(v), commitText(actions));
    },
    create(meta, actions) {
      return this.commit(0, [{ commitInfo: { timestamp: 1 } }, protocolV1, meta, ...actions]);
    },
    async checkpoint(v, meta, files) {
      const target = { put: (rel: string, b: Uint8Array) => put(rel, b) };
      const info = await writeCheckpoint(target, v, proto, meta.metaData as never, files as never);
      await put('_delta_log/_last_checkpoint', JSON.stringify({ version: v, size: info.size }));
    },
  };
}

async function proxyOf(t: Table, clock: ManualClock, partitions: Record<string, string>[]) {
  const proxy = await startAuthzProxy(
    s3,
    {
      logView: 'filtered',
      tableMapping: { [t.alias]: `s3://lake/${t.prefix.slice(0, -1)}` },
      grants: [{ principal: READER, table: t.alias, partitions }],
      snapshotTtlMs: TTL,
    },
    [READER],
    { clock },
  );
  proxies.push(proxy);
  const get = (key: string) =>
    objectRequest(proxy.url, 'GET', `${t.alias}/${key}`, READER, 'datalake', clock);
  /** The reader: lists the log, GETs every key, replays every listed commit's version. */
  const read = async () => {
    const pages = await listAllPages(
      proxy.url,
      READER,
      2,
      { prefix: `${t.alias}/_delta_log/` },
      'datalake',
      50,
      clock,
    );
    expect(pages.map((p) => p.status)).toEqual(pages.map(() => 200));
    const files = new Map<string, Uint8Array>();
    for (const k of pages.flatMap((p) => p.keys)) {
      const r = await get(k.slice(t.alias.length + 1));
      expect([k, r.status]).toEqual([k, 200]);
      files.set(k.slice(`${t.alias}/_delta_log/`.length), new Uint8Array(r.body));
    }
    const at = new Map<number, string[]>();
    for (const name of files.keys()) {
      const m = /^(\d{20})\.json$/.exec(name);
      if (m) at.set(Number(m[1]), [...(await replayLog(files, Number(m[1]))).keys()].sort());
    }
    const text = [...files.values()].map((b) => Buffer.from(b).toString('latin1')).join('\n');
    return { files, at, text };
  };
  return { get, read };
}

describe('a running proxy across partitioning changes', () => {
  it('p STRING -> p INT seen with a later commit in one refresh: no file of the string era is shown or served', async () => {
    const clock = new ManualClock();
    const t = table();
    await t.create(asString, [
      addAction('p=1/a.parquet', { p: '1' }),
      addAction('p=01/b.parquet', { p: '01' }),
    ]);
    await t.commit(1, [{ commitInfo: { timestamp: 2 } }, addAction('p=1/c.parquet', { p: '1' })]);
    const v = await proxyOf(t, clock, [{ p: '1' }]);
    const before = await v.read();
    expect(before.at.get(1)).toEqual(['p=1/a.parquet', 'p=1/c.parquet']);
    expect(before.text).not.toContain('p=01/b.parquet');

    await t.commit(2, [
      { commitInfo: { timestamp: 3 } },
      asInt,
      removeAction('p=1/a.parquet', { partitionValues: { p: '1' } }),
      removeAction('p=01/b.parquet', { partitionValues: { p: '01' } }),
      removeAction('p=1/c.parquet', { partitionValues: { p: '1' } }),
      addAction('p=1/d.parquet', { p: '1' }),
    ]);
    await t.commit(3, [
      { commitInfo: { timestamp: 4 } },
      addAction('p=1/e.parquet', { p: '1' }),
      addAction('p=2/f.parquet', { p: '2' }),
    ]);
    clock.advance(TTL);
    const after = await v.read();
    expect(after.at.get(3)).toEqual(['p=1/d.parquet', 'p=1/e.parquet']);
    // Time travel before the change: the string era is no one's under the INT table.
    expect(after.at.get(0)).toEqual([]);
    expect(after.at.get(1)).toEqual([]);
    expect(after.text).not.toContain('p=01/b.parquet');
    expect(after.text).not.toContain('p=1/a.parquet');
    for (const f of ['p=01/b.parquet', 'p=1/a.parquet', 'p=1/c.parquet', 'p=2/f.parquet'])
      expect([f, (await v.get(f)).status]).toEqual([f, 404]);
    expect((await v.get('p=1/e.parquet')).status).toBe(200);
  });

  it('p -> q -> p (A -> B -> A) seen in one refresh: the first p era does not reappear', async () => {
    const clock = new ManualClock();
    const t = table();
    await t.create(asString, [addAction('p=1/a.parquet', { p: '1' })]);
    await t.commit(1, [{ commitInfo: { timestamp: 2 } }, addAction('p=1/b.parquet', { p: '1' })]);
    const v = await proxyOf(t, clock, [{ p: '1' }]);
    expect((await v.read()).at.get(1)).toEqual(['p=1/a.parquet', 'p=1/b.parquet']);
    await t.commit(2, [
      { commitInfo: { timestamp: 3 } },
      byQ,
      removeAction('p=1/a.parquet', { partitionValues: { p: '1' } }),
      addAction('q=1/q.parquet', { q: '1' }),
    ]);
    await t.commit(3, [
      { commitInfo: { timestamp: 4 } },
      asString,
      removeAction('q=1/q.parquet', { partitionValues: { q: '1' } }),
      addAction('p=1/c.parquet', { p: '1' }),
    ]);
    await t.commit(4, [
      { commitInfo: { timestamp: 5 } },
      removeAction('p=1/b.parquet', { partitionValues: { p: '1' } }),
    ]);
    clock.advance(TTL);
    const after = await v.read();
    expect(after.at.get(4)).toEqual(['p=1/c.parquet']);
    expect(after.at.get(0)).toEqual([]);
    expect(after.at.get(1)).toEqual([]);
    expect(after.at.get(2)).toEqual([]);
    for (const f of ['p=1/a.parquet', 'p=1/b.parquet', 'q=1/q.parquet'])
      expect([f, (await v.get(f)).status]).toEqual([f, 404]);
  });

  it('A -> B -> A across refreshes, the middle era read in between', async () => {
    const clock = new ManualClock();
    const t = table();
    await t.create(asString, [addAction('p=1/a.parquet', { p: '1' })]);
    const v = await proxyOf(t, clock, [{ p: '1' }, { q: '1' }]);
    expect((await v.read()).at.get(0)).toEqual(['p=1/a.parquet']);
    await t.commit(1, [{ commitInfo: { timestamp: 3 } }, byQ, addAction('q=1/q.parquet', { q: '1' })]);
    clock.advance(TTL);
    const mid = await v.read();
    expect(mid.at.get(1)).toEqual(['q=1/q.parquet']);
    expect(mid.at.get(0)).toEqual([]);
    await t.commit(2, [{ commitInfo: { timestamp: 4 } }, asString, addAction('p=1/c.parquet', { p: '1' })]);
    await t.commit(3, [{ commitInfo: { timestamp: 5 } }, addAction('p=1/d.parquet', { p: '1' })]);
    clock.advance(TTL);
    const after = await v.read();
    expect(after.at.get(3)).toEqual(['p=1/c.parquet', 'p=1/d.parquet']);
    expect(after.at.get(0)).toEqual([]);
    expect(after.at.get(1)).toEqual([]);
    expect(after.text).not.toContain('p=1/a.parquet');
    expect(after.text).not.toContain('q=1/q.parquet');
    for (const f of ['p=1/a.parquet', 'q=1/q.parquet'])
      expect([f, (await v.get(f)).status]).toEqual([f, 404]);
  });
});

const cpFile = (path: string, p: string) => ({
  path,
  partitionValues: { p },
  size: 1,
  modificationTime: 0,
  dataChange: false,
});

describe('a running proxy across odd checkpoints', () => {
  it('_last_checkpoint naming a version newer than any commit', async () => {
    const clock = new ManualClock();
    const t = table();
    await t.create(asString, [addAction('p=1/a.parquet', { p: '1' })]);
    await t.commit(1, [{ commitInfo: { timestamp: 2 } }, addAction('p=2/b.parquet', { p: '2' })]);
    await t.put('_delta_log/_last_checkpoint', JSON.stringify({ version: 50, size: 3 }));
    const v = await proxyOf(t, clock, [{ p: '1' }]);
    const r = await v.read();
    expect(r.at.get(1)).toEqual(['p=1/a.parquet']);
    expect(r.files.has('_last_checkpoint')).toBe(false);
    await t.commit(2, [{ commitInfo: { timestamp: 3 } }, addAction('p=1/c.parquet', { p: '1' })]);
    clock.advance(TTL);
    expect((await v.read()).at.get(2)).toEqual(['p=1/a.parquet', 'p=1/c.parquet']);
    expect((await v.get('p=1/c.parquet')).status).toBe(200);
  });

  it('a REPLACE checkpointed at its version, then the commits up to it cleaned up, across refreshes', async () => {
    const clock = new ManualClock();
    const t = table();
    await t.create(asString, [addAction('p=01/a.parquet', { p: '01' })]);
    await t.commit(1, [{ commitInfo: { timestamp: 2 } }, addAction('p=1/b.parquet', { p: '1' })]);
    await t.checkpoint(1, asString, [cpFile('p=01/a.parquet', '01'), cpFile('p=1/b.parquet', '1')]);
    const v = await proxyOf(t, clock, [{ p: '1' }]);
    expect((await v.read()).at.get(1)).toEqual(['p=1/b.parquet']);

    await t.commit(2, [
      { commitInfo: { timestamp: 3 } },
      asInt,
      removeAction('p=01/a.parquet', { partitionValues: { p: '01' } }),
      removeAction('p=1/b.parquet', { partitionValues: { p: '1' } }),
      addAction('p=1/c.parquet', { p: '1' }),
    ]);
    await t.checkpoint(2, asInt, [cpFile('p=1/c.parquet', '1')]);
    await t.commit(3, [{ commitInfo: { timestamp: 4 } }, addAction('p=1/d.parquet', { p: '1' })]);
    clock.advance(TTL);
    const mid = await v.read();
    expect(mid.at.get(3)).toEqual(['p=1/c.parquet', 'p=1/d.parquet']);
    expect(mid.at.get(1)).toEqual([]);
    expect(mid.text).not.toContain('p=01/a.parquet');
    expect(mid.text).not.toContain('p=1/b.parquet');

    // A cleanup: commits 0..2 and checkpoint 1 deleted; checkpoint 2 is the oldest.
    for (const k of [commitKey(0), commitKey(1), checkpointKey(1), commitKey(2)]) await t.del(k);
    await t.commit(4, [{ commitInfo: { timestamp: 5 } }, addAction('p=2/e.parquet', { p: '2' })]);
    clock.advance(TTL);
    const after = await v.read();
    expect([...after.files.keys()].filter((k) => k !== '_last_checkpoint').sort()).toEqual(
      [checkpointKey(2), commitKey(3), commitKey(4)].map((k) => k.slice('_delta_log/'.length)),
    );
    expect(after.at.get(4)).toEqual(['p=1/c.parquet', 'p=1/d.parquet']);
    for (const f of ['p=01/a.parquet', 'p=1/b.parquet', 'p=2/e.parquet'])
      expect([f, (await v.get(f)).status]).toEqual([f, 404]);
  });

  it('a checkpoint deleted after the proxy listed it, _last_checkpoint still naming it', async () => {
    const clock = new ManualClock();
    const t = table();
    await t.create(asString, [addAction('p=1/a.parquet', { p: '1' })]);
    await t.commit(1, [{ commitInfo: { timestamp: 2 } }, addAction('p=2/b.parquet', { p: '2' })]);
    await t.checkpoint(1, asString, [cpFile('p=1/a.parquet', '1'), cpFile('p=2/b.parquet', '2')]);
    const v = await proxyOf(t, clock, [{ p: '1' }]);
    expect((await v.read()).files.has(checkpointKey(1).slice(11))).toBe(true);
    await t.del(checkpointKey(1));
    await t.commit(2, [{ commitInfo: { timestamp: 3 } }, asInt, addAction('p=1/c.parquet', { p: '1' })]);
    clock.advance(TTL);
    const after = await v.read();
    expect(after.at.get(2)).toEqual(['p=1/c.parquet']);
    expect(after.at.get(1)).toEqual([]);
    expect(after.text).not.toContain('p=1/a.parquet');
  });
});

describe('a running proxy: a change of partitioning while a listing is under way', () => {
  it('the pages after the change hold the new log; every key then reads and replays', async () => {
    const clock = new ManualClock();
    const t = table();
    await t.create(asString, [addAction('p=01/a.parquet', { p: '01' })]);
    for (let i = 1; i <= 4; i++)
      await t.commit(i, [{ commitInfo: { timestamp: i + 1 } }, addAction(`p=1/${i}.parquet`, { p: '1' })]);
    const v = await proxyOf(t, clock, [{ p: '1' }]);
    const { signedFetch, encodeQuery } = await import('../helpers/signed-fetch');
    const { keyFor, parseListPage } = await import('../helpers/authz-harness');
    const page = async (token?: string) => {
      const q = {
        'list-type': '2',
        prefix: `${t.alias}/_delta_log/`,
        'max-keys': '2',
        'continuation-token': token,
      };
      const r = await signedFetch(
        proxies.at(-1)!.url,
        'GET',
        '/datalake',
        encodeQuery(q),
        {},
        keyFor(READER),
        'us-east-1',
        new Date(clock.now()),
      );
      return { r, p: parseListPage(r, false), token: /<NextContinuationToken>([^<]*)</.exec(r.text)?.[1] };
    };
    const first = await page();
    expect(first.r.status).toBe(200);
    await t.commit(5, [
      { commitInfo: { timestamp: 9 } },
      asInt,
      ...[1, 2, 3, 4].map((i) => removeAction(`p=1/${i}.parquet`, { partitionValues: { p: '1' } })),
      removeAction('p=01/a.parquet', { partitionValues: { p: '01' } }),
      addAction('p=1/n.parquet', { p: '1' }),
    ]);
    await t.commit(6, [{ commitInfo: { timestamp: 10 } }, addAction('p=1/m.parquet', { p: '1' })]);
    clock.advance(TTL);
    const keys = [...first.p.keys];
    let token = first.token;
    while (token) {
      const next = await page(token);
      expect(next.r.status).toBe(200);
      keys.push(...next.p.keys);
      token = next.token;
    }
    expect(keys).toEqual([...keys].sort());
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.at(-1)).toBe(`${t.alias}/${commitKey(6)}`);
    const after = await v.read();
    expect(after.at.get(6)).toEqual(['p=1/m.parquet', 'p=1/n.parquet']);
    expect(after.at.get(4)).toEqual([]);
    expect(after.text).not.toContain('p=01/a.parquet');
  });
});

describe('a running proxy: GET of removed files across a change of partitioning', () => {
  it('a history read before p STRING -> p INT does not serve the string era after it', async () => {
    const clock = new ManualClock();
    const t = table();
    await t.create(asString, [
      addAction('p=1/a.parquet', { p: '1' }),
      addAction('p=01/b.parquet', { p: '01' }),
    ]);
    await t.commit(1, [
      { commitInfo: { timestamp: 2 } },
      removeAction('p=1/a.parquet', { partitionValues: { p: '1' }, deletionTimestamp: Date.now() }),
      removeAction('p=01/b.parquet', { partitionValues: { p: '01' }, deletionTimestamp: Date.now() }),
      addAction('p=1/c.parquet', { p: '1' }),
    ]);
    const v = await proxyOf(t, clock, [{ p: '1' }]);
    expect((await v.get('p=1/a.parquet')).status).toBe(200);
    expect((await v.get('p=01/b.parquet')).status).toBe(404);
    await t.commit(2, [
      { commitInfo: { timestamp: 3 } },
      asInt,
      removeAction('p=1/c.parquet', { partitionValues: { p: '1' }, deletionTimestamp: Date.now() }),
      addAction('p=1/d.parquet', { p: '1' }),
    ]);
    await t.commit(3, [{ commitInfo: { timestamp: 4 } }, addAction('p=1/e.parquet', { p: '1' })]);
    clock.advance(TTL);
    expect((await v.get('p=1/e.parquet')).status).toBe(200);
    for (const f of ['p=01/b.parquet', 'p=1/a.parquet', 'p=1/c.parquet'])
      expect([f, (await v.get(f)).status]).toEqual([f, 404]);
    const r = await v.read();
    expect(r.text).not.toContain('p=01/b.parquet');
    expect(r.text).not.toContain('p=1/a.parquet');
  });
});

describe('a running proxy: checkpoints without their commit', () => {
  const target = (t: Table) => ({ put: (rel: string, b: Uint8Array) => t.put(rel, b) });

  it('a checkpoint of a version whose commit a cleanup removed, after a change of partitioning', async () => {
    const clock = new ManualClock();
    const t = table();
    await t.create(asString, [addAction('p=01/a.parquet', { p: '01' })]);
    await t.commit(1, [{ commitInfo: { timestamp: 2 } }, addAction('p=1/b.parquet', { p: '1' })]);
    const v = await proxyOf(t, clock, [{ p: '1' }]);
    expect((await v.read()).at.get(1)).toEqual(['p=1/b.parquet']);
    await t.commit(2, [
      { commitInfo: { timestamp: 3 } },
      asInt,
      removeAction('p=01/a.parquet', { partitionValues: { p: '01' } }),
      removeAction('p=1/b.parquet', { partitionValues: { p: '1' } }),
      addAction('p=1/c.parquet', { p: '1' }),
    ]);
    await t.commit(3, [{ commitInfo: { timestamp: 4 } }, addAction('p=1/d.parquet', { p: '1' })]);
    await t.checkpoint(3, asInt, [cpFile('p=1/c.parquet', '1'), cpFile('p=1/d.parquet', '1')]);
    for (const k of [0, 1, 2, 3]) await t.del(commitKey(k));
    await t.commit(4, [{ commitInfo: { timestamp: 5 } }, addAction('p=1/e.parquet', { p: '1' })]);
    clock.advance(TTL);
    const r = await v.read();
    expect(r.at.get(4)).toEqual(['p=1/c.parquet', 'p=1/d.parquet', 'p=1/e.parquet']);
    expect(r.text).not.toContain('p=01/a.parquet');
    expect(r.text).not.toContain('p=1/b.parquet');
    expect((await v.get('p=1/e.parquet')).status).toBe(200);
  });

  it('a checkpoint at a version newer than every commit (commits after the newest one deleted)', async () => {
    const clock = new ManualClock();
    const t = table();
    await t.create(asString, [addAction('p=1/a.parquet', { p: '1' })]);
    await t.commit(1, [{ commitInfo: { timestamp: 2 } }, addAction('p=2/b.parquet', { p: '2' })]);
    const v = await proxyOf(t, clock, [{ p: '1' }]);
    expect((await v.read()).at.get(1)).toEqual(['p=1/a.parquet']);
    const info = await writeCheckpoint(target(t), 3, proto, asInt.metaData as never, [
      cpFile('p=1/x.parquet', '1'),
    ]);
    await t.put('p=1/x.parquet', 'data');
    await t.put('_delta_log/_last_checkpoint', JSON.stringify({ version: 3, size: info.size }));
    clock.advance(TTL);
    const r = await v.read();
    expect(r.at.get(1)).toEqual(['p=1/a.parquet']);
    expect((await v.get('p=1/a.parquet')).status).toBe(200);
  });
});

describe('a running proxy: unpartitioned -> p -> unpartitioned in one refresh', () => {
  const none = metaData([], { schema: [field('p', 'string')] });
  const byP = asString;
  for (const [name, partitions] of [
    ['whole-table grant', [{}]],
    ['p=1 grant', [{ p: '1' }]],
  ] as const) {
    it(name, async () => {
      const clock = new ManualClock();
      const t = table();
      await t.commit(0, [{ commitInfo: { timestamp: 1 } }, protocolV1, none, addAction('u1.parquet', {})]);
      const v = await proxyOf(t, clock, [...partitions]);
      const first = await v.read();
      await t.commit(1, [
        { commitInfo: { timestamp: 2 } },
        byP,
        removeAction('u1.parquet', { partitionValues: {} }),
        addAction('p=1/x.parquet', { p: '1' }),
      ]);
      await t.commit(2, [
        { commitInfo: { timestamp: 3 } },
        none,
        removeAction('p=1/x.parquet', { partitionValues: { p: '1' } }),
        addAction('u2.parquet', {}),
      ]);
      await t.commit(3, [{ commitInfo: { timestamp: 4 } }, addAction('u3.parquet', {})]);
      clock.advance(TTL);
      const r = await v.read();
      const whole = partitions.length === 1 && Object.keys(partitions[0]!).length === 0;
      expect(first.at.get(0)).toEqual(whole ? ['u1.parquet'] : []);
      expect(r.at.get(3)).toEqual(whole ? ['u2.parquet', 'u3.parquet'] : []);
      expect(r.at.get(0)).toEqual([]);
      expect(r.at.get(1)).toEqual([]);
      expect(r.text).not.toContain('u1.parquet');
      expect(r.text).not.toContain('p=1/x.parquet');
      for (const f of ['u1.parquet', 'p=1/x.parquet']) expect([f, (await v.get(f)).status]).toEqual([f, 404]);
      expect((await v.get('u3.parquet')).status).toBe(whole ? 200 : 404);
    });
  }
});

describe('a running proxy: a GET of a new commit before the TTL', () => {
  it('a GET of the commit after a REPLACE refreshes, and the log read next is of the new table', async () => {
    const clock = new ManualClock();
    const t = table();
    await t.create(asString, [
      addAction('p=1/a.parquet', { p: '1' }),
      addAction('p=01/b.parquet', { p: '01' }),
    ]);
    const v = await proxyOf(t, clock, [{ p: '1' }]);
    expect((await v.read()).at.get(0)).toEqual(['p=1/a.parquet']);
    await t.commit(1, [
      { commitInfo: { timestamp: 3 } },
      asInt,
      removeAction('p=1/a.parquet', { partitionValues: { p: '1' } }),
      removeAction('p=01/b.parquet', { partitionValues: { p: '01' } }),
      addAction('p=1/c.parquet', { p: '1' }),
    ]);
    await t.commit(2, [{ commitInfo: { timestamp: 4 } }, addAction('p=01/d.parquet', { p: '1' })]);
    clock.advance(100);
    const c2 = await v.get(commitKey(2));
    expect(c2.status).toBe(200);
    expect(c2.text).toContain('p=01/d.parquet');
    const r = await v.read();
    expect(r.at.get(2)).toEqual(['p=01/d.parquet', 'p=1/c.parquet']);
    expect(r.at.get(0)).toEqual([]);
    expect(r.text).not.toContain('p=1/a.parquet');
    expect(r.text).not.toContain('p=01/b.parquet');
    expect((await v.get('p=01/d.parquet')).status).toBe(200);
    expect((await v.get('p=01/b.parquet')).status).toBe(404);
  });
});

describe('a running proxy: the REPLACE checkpoint written after the proxy listed its commit', () => {
  it('a GET of it (as another instance named it) and a listing from its version', async () => {
    const clock = new ManualClock();
    const t = table();
    await t.create(asString, [addAction('p=01/a.parquet', { p: '01' })]);
    await t.commit(1, [
      { commitInfo: { timestamp: 3 } },
      asInt,
      removeAction('p=01/a.parquet', { partitionValues: { p: '01' } }),
      addAction('p=1/c.parquet', { p: '1' }),
    ]);
    const v = await proxyOf(t, clock, [{ p: '1' }]);
    expect((await v.read()).at.get(1)).toEqual(['p=1/c.parquet']);
    const info = await writeCheckpoint(
      { put: (rel: string, b: Uint8Array) => t.put(rel, b) },
      1,
      proto,
      asInt.metaData as never,
      [cpFile('p=1/c.parquet', '1')],
    );
    await t.put('_delta_log/_last_checkpoint', JSON.stringify({ version: 1, size: info.size }));
    clock.advance(100);
    const cp = await v.get(checkpointKey(1));
    expect(cp.status).toBe(200);
    const pages = await listAllPages(
      proxies.at(-1)!.url,
      READER,
      2,
      { prefix: `${t.alias}/_delta_log/`, startAfter: `${t.alias}/_delta_log/${'1'.padStart(20, '0')}` },
      'datalake',
      50,
      clock,
    );
    expect(pages.flatMap((p) => p.keys)).toContain(`${t.alias}/${checkpointKey(1)}`);
    const r = await v.read();
    expect(r.at.get(1)).toEqual(['p=1/c.parquet']);
    expect(r.text).not.toContain('p=01/a.parquet');
  });
});
