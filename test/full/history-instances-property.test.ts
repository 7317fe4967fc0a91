/**
 * Time travel across instances, by property (fast-check): three proxies (own caches, one s3rver,
 * `logView` "filtered" or "raw") over one partitioned table a writer changes (appends, removes with
 * and without partition values, OPTIMIZE-like rewrites, DV deletes, checkpoints that drop expired
 * tombstones, log cleanups, VACUUM with or without the retention, orphans). A reader lists the log
 * on one instance, picks a version it still holds, replays it from what the proxy serves and reads
 * that version's data files on another instance (whole, ranged, HEAD). Required: a granted file
 * active at a retained version and within `deletedFileRetentionDuration` is served with its exact
 * bytes (or 404/403 once VACUUM deleted it); a forbidden partition's file, an orphan, or a file
 * long past its retention is never served to the EU caller; a data file read is never retried
 * (no 5xx; a refusal takes a probe begun after the request arrived), log reads once. Also RESTORE (a
 * removed path added again, then removed later). FUZZ_STATS prints how the reads were answered.
 * The seed is fixed; FUZZ_SEED and FUZZ_RUNS explore, FUZZ_PATH replays a report's path.
 */
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { afterAll, beforeAll, it } from 'vitest';
import type { CheckpointRow } from '../../lambda/log-view/checkpoint-rows';
import { CheckpointWriter } from '../../lambda/log-view/checkpoint-writer';
import {
  type AuthzProxy,
  listAllPages,
  ManualClock,
  objectRequest,
  startAuthzProxy,
} from '../helpers/authz-harness';
import { inlineVector } from '../helpers/dv-bytes';
import { checkpointName, commitName, DV_ENABLED, dvProtocol, metaData } from '../helpers/log-text';
import { backendClient, createBucket, type S3Server, startS3rver } from '../helpers/s3-servers';
import type { RawResponse } from '../helpers/signed-fetch';
import { replayEntries } from '../helpers/virtual-log-replay';

const SEED = Number(process.env.FUZZ_SEED ?? 20261206);
const RUNS = Number(process.env.FUZZ_RUNS ?? 15);
const PATH = process.env.FUZZ_PATH;
const TTL = 1_000;
const RETENTION = 10_000;
const N = 3;

type Obj = Record<string, unknown>;
type Who = 'eu' | 'all';
type Region = 'EU' | 'US';
type Mode = 'whole' | 'range' | 'head';

type Step =
  | { k: 'append'; region: Region }
  | { k: 'remove'; pick: number; values: boolean }
  | { k: 'optimize'; region: Region }
  | { k: 'dv'; pick: number }
  | { k: 'restore'; pick: number }
  | { k: 'checkpoint' }
  | { k: 'cleanup' }
  | { k: 'vacuum'; all: boolean }
  | { k: 'orphan'; region: Region }
  | { k: 'tick'; ms: number }
  | { k: 'travel'; inst: number; other: number; who: Who; pick: number; mode: Mode }
  | { k: 'table'; inst: number; who: Who };

const pick = fc.nat(1000);
const who = fc.constantFrom<Who>('eu', 'eu', 'all');
const region = fc.constantFrom<Region>('EU', 'US');
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ k: fc.constant('append' as const), region }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('remove' as const), pick, values: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('optimize' as const), region }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('dv' as const), pick }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('restore' as const), pick }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('checkpoint' as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('cleanup' as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('vacuum' as const), all: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('orphan' as const), region }) },
  // Multiples of 20 ms: the clock never lands exactly on a deletionTimestamp (+7) plus retention.
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant('tick' as const),
      ms: fc.constantFrom(0, 60, TTL + 100, 4_000, 12_000),
    }),
  },
  {
    weight: 7,
    arbitrary: fc.record({
      k: fc.constant('travel' as const),
      inst: fc.integer({ min: 0, max: N - 1 }),
      other: fc.integer({ min: 1, max: N - 1 }),
      who,
      pick,
      mode: fc.constantFrom<Mode>('whole', 'range', 'head'),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ k: fc.constant('table' as const), inst: fc.integer({ min: 0, max: N - 1 }), who }),
  },
);

interface DataFile {
  path: string;
  region: Region;
  body: string;
  /** Clock time of the remove that took it out of the table (undefined while active). */
  removedAt?: number;
  vacuumed?: boolean;
  dv?: Obj;
}

class Table {
  version = -1;
  readonly files = new Map<string, DataFile>();
  readonly active = new Set<string>();
  readonly tombstones: { remove: Obj; at: number }[] = [];
  /** Active paths per version. */
  readonly history = new Map<number, Set<string>>();
  readonly logKeys = new Set<string>();
  readonly orphans: DataFile[] = [];
  hint: number | undefined;
  private seq = 0;
  private readonly meta = metaData(['region'], {
    configuration: {
      ...DV_ENABLED,
      'delta.deletedFileRetentionDuration': `interval ${RETENTION / 1000} seconds`,
    },
    id: 'tbl',
  });

  constructor(
    private readonly client: S3Client,
    private readonly prefix: string,
    private readonly clock: ManualClock,
  ) {}

  private put(rel: string, body: Uint8Array | string) {
    return this.client.send(new PutObjectCommand({ Bucket: 'lake', Key: this.prefix + rel, Body: body }));
  }

  private del(rel: string) {
    return this.client.send(new DeleteObjectCommand({ Bucket: 'lake', Key: this.prefix + rel }));
  }

  private async commit(actions: Obj[], operation: string) {
    const v = this.version + 1;
    const lines = [{ commitInfo: { timestamp: this.clock.t, operation } }, ...actions];
    const rel = `_delta_log/${commitName(v)}`;
    await this.put(rel, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    this.logKeys.add(rel);
    this.version = v;
    this.history.set(v, new Set(this.active));
  }

  create() {
    return this.commit([dvProtocol, this.meta], 'CREATE TABLE');
  }

  private addOf(f: DataFile, dataChange = true): Obj {
    return {
      path: f.path,
      partitionValues: { region: f.region },
      size: f.body.length,
      modificationTime: 1,
      dataChange,
      stats: '{"numRecords":1000}',
      ...(f.dv ? { deletionVector: f.dv } : {}),
    };
  }

  private removeOf(f: DataFile, values: boolean): Obj {
    return {
      path: f.path,
      deletionTimestamp: this.clock.t + 7,
      dataChange: true,
      ...(values
        ? { extendedFileMetadata: true, partitionValues: { region: f.region }, size: f.body.length }
        : {}),
      ...(f.dv ? { deletionVector: f.dv } : {}),
    };
  }

  private async newFile(region: Region): Promise<DataFile> {
    const n = this.seq++;
    const path = `region=${region}/${region.toLowerCase()}-file-${n}.parquet`;
    const f: DataFile = { path, region, body: `rows of ${region} #${n} ${'x'.repeat(n % 23)}` };
    await this.put(path, f.body);
    return f;
  }

  async append(region: Region) {
    const f = await this.newFile(region);
    this.files.set(f.path, f);
    this.active.add(f.path);
    await this.commit([{ add: this.addOf(f) }], 'WRITE');
  }

  async orphan(region: Region) {
    this.orphans.push(await this.newFile(region));
  }

  private take(f: DataFile, values: boolean): Obj {
    const r = this.removeOf(f, values);
    this.tombstones.push({ remove: r, at: this.clock.t + 7 });
    this.active.delete(f.path);
    f.removedAt = this.clock.t + 7;
    return { remove: r };
  }

  async remove(pick: number, values: boolean) {
    const all = [...this.active];
    if (!all.length) return;
    const f = this.files.get(all[pick % all.length]!)!;
    await this.commit([this.take(f, values)], 'DELETE');
  }

  async optimize(region: Region) {
    const olds = [...this.active].map((p) => this.files.get(p)!).filter((f) => f.region === region);
    if (olds.length < 2) return;
    const actions = olds.map((f) => this.take(f, true));
    const f = await this.newFile(region);
    this.files.set(f.path, f);
    this.active.add(f.path);
    await this.commit([...actions, { add: this.addOf(f, false) }], 'OPTIMIZE');
  }

  async dv(pick: number) {
    const all = [...this.active];
    if (!all.length) return;
    const f = this.files.get(all[pick % all.length]!)!;
    const r = this.removeOf(f, true);
    this.tombstones.push({ remove: r, at: this.clock.t + 7 });
    // An inline vector (1 row deleted): the file stays active under a new (path, dv).
    f.dv = inlineVector([this.seq++ % 100]);
    await this.commit([{ remove: r }, { add: this.addOf(f) }], 'DELETE');
  }

  /** RESTORE: a removed file (still on storage) added back under its path. */
  async restore(pick: number) {
    const gone = [...this.files.values()].filter((f) => !this.active.has(f.path) && !f.vacuumed);
    if (!gone.length) return;
    const f = gone[pick % gone.length]!;
    f.removedAt = undefined;
    this.active.add(f.path);
    // Log replay drops a tombstone its (path, vector) is added again under: so do checkpoints.
    const same = (r: Obj) => r.path === f.path && JSON.stringify(r.deletionVector) === JSON.stringify(f.dv);
    this.tombstones.splice(0, this.tombstones.length, ...this.tombstones.filter((t) => !same(t.remove)));
    await this.commit([{ add: this.addOf(f) }], 'RESTORE');
  }

  /** Spark's checkpoint: the active files and the tombstones still within retention. */
  async checkpoint() {
    const rel = `_delta_log/${checkpointName(this.version)}`;
    if (this.logKeys.has(rel)) return;
    const rows: CheckpointRow[] = [
      { protocol: dvProtocol.protocol },
      { metaData: this.meta.metaData },
      ...[...this.active].map((p) => ({ add: this.addOf(this.files.get(p)!, false) })),
      ...this.tombstones
        .filter((t) => this.clock.t < t.at + RETENTION)
        .map((t) => ({ remove: { ...t.remove, dataChange: false } })),
    ];
    const w = new CheckpointWriter();
    await w.push(rows);
    const { bytes } = await w.finish();
    await this.put(rel, bytes);
    this.logKeys.add(rel);
    await this.put(
      '_delta_log/_last_checkpoint',
      JSON.stringify({ version: this.version, size: rows.length }),
    );
    this.logKeys.add('_delta_log/_last_checkpoint');
    this.hint = this.version;
  }

  /** Log cleanup: commits and checkpoints before the newest checkpoint. */
  async cleanup() {
    if (this.hint === undefined) return;
    for (const rel of [...this.logKeys]) {
      const m = /(\d{20})\.(json|checkpoint\.parquet)$/.exec(rel);
      if (!m || Number(m[1]) >= this.hint) continue;
      await this.del(rel);
      this.logKeys.delete(rel);
    }
  }

  /** VACUUM: removed files past retention, or (RETAIN 0 HOURS) every removed file. */
  async vacuum(all: boolean) {
    for (const f of this.files.values()) {
      if (f.removedAt === undefined || f.vacuumed || this.active.has(f.path)) continue;
      if (!all && this.clock.t < f.removedAt + RETENTION) continue;
      await this.del(f.path);
      f.vacuumed = true;
    }
  }
}

let s3: S3Server;
let client: S3Client;
let runs = 0;
const stats: Record<string, number> = {};
const count = (k: string) => {
  stats[k] = (stats[k] ?? 0) + 1;
};

beforeAll(async () => {
  s3 = await startS3rver();
  client = backendClient(s3.endpoint);
  await createBucket(client, 'lake');
});

afterAll(async () => {
  client?.destroy();
  await s3?.stop();
  if (process.env.FUZZ_STATS) console.log(JSON.stringify(stats, null, 1));
});

async function run(logView: 'filtered' | 'raw', steps: Step[]): Promise<void> {
  const alias = `h${runs++}`;
  const clock = new ManualClock();
  const table = new Table(client, `${alias}/`, clock);
  await table.create();
  const proxies: AuthzProxy[] = [];
  const trace: string[] = [`logView ${logView}`];
  const fail = (what: string): never => {
    throw new Error(`${what}\nsteps so far:\n${trace.join('\n')}`);
  };
  const logPrefix = `${alias}/_delta_log/`;
  const get = (
    i: number,
    w: Who,
    key: string,
    method: 'GET' | 'HEAD' = 'GET',
    headers: Record<string, string> = {},
  ) => objectRequest(proxies[i]!.url, method, key, w, 'datalake', clock, headers);
  /** One retry after a backoff past the 50 ms probe window, for what README calls retryable. */
  const getRetried = async (
    i: number,
    w: Who,
    key: string,
    method: 'GET' | 'HEAD',
    headers: Record<string, string>,
    again: (r: RawResponse) => boolean,
  ) => {
    let r = await get(i, w, key, method, headers);
    if (r.status === 503 || again(r)) {
      clock.advance(60);
      r = await get(i, w, key, method, headers);
    }
    return r;
  };
  const listLog = async (i: number, w: Who): Promise<string[] | undefined> => {
    const once = () =>
      listAllPages(proxies[i]!.url, w, 2, { prefix: logPrefix, maxKeys: 3 }, 'datalake', 50, clock);
    let pages = await once();
    if (pages.at(-1)!.status === 503) {
      clock.advance(60);
      pages = await once();
    }
    const last = pages.at(-1)!;
    if (last.status !== 200) fail(`log listing on ${i} as ${w}: ${last.status} ${last.text}`);
    return pages.flatMap((p) => [...p.text.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]!));
  };

  try {
    for (let i = 0; i < N; i++) {
      proxies.push(
        await startAuthzProxy(
          s3,
          {
            logView,
            tableMapping: { [alias]: `s3://lake/${alias}` },
            grants: [
              { principal: 'eu', table: alias, partitions: [{ region: 'EU' }] },
              { principal: 'all', table: alias, partitions: [{}] },
            ],
            snapshotTtlMs: TTL,
          },
          ['eu', 'all'],
          { clock },
        ),
      );
    }
    for (const s of steps) {
      trace.push(JSON.stringify(s));
      switch (s.k) {
        case 'append':
          await table.append(s.region);
          break;
        case 'remove':
          await table.remove(s.pick, s.values);
          break;
        case 'optimize':
          await table.optimize(s.region);
          break;
        case 'dv':
          await table.dv(s.pick);
          break;
        case 'restore':
          await table.restore(s.pick);
          break;
        case 'checkpoint':
          await table.checkpoint();
          break;
        case 'cleanup':
          await table.cleanup();
          break;
        case 'vacuum':
          await table.vacuum(s.all);
          break;
        case 'orphan': {
          await table.orphan(s.region);
          const o = table.orphans.at(-1)!;
          const r = await getRetried(0, 'eu', `${alias}/${o.path}`, 'GET', {}, () => false);
          if (r.status < 400 || r.status >= 500) fail(`orphan ${o.path} as eu: ${r.status}`);
          break;
        }
        case 'tick':
          clock.advance(s.ms);
          break;
        case 'travel': {
          const keys = await listLog(s.inst, s.who);
          if (!keys) break;
          const names = new Set(keys.map((k) => k.slice(logPrefix.length)));
          const commits = [...names].map((n) => /^(\d{20})\.json$/.exec(n)).filter((m) => m !== null);
          const cps = [...names]
            .map((n) => /^(\d{20})\.checkpoint\.parquet$/.exec(n))
            .filter((m) => m !== null)
            .map((m) => Number(m[1]));
          // Versions a reader can rebuild from this listing: a checkpoint, or commits back to one / to 0.
          const have = new Set(commits.map((m) => Number(m[1])));
          const rebuildable = [...new Set([...have, ...cps])].filter((v) => {
            for (let u = v; u >= 0; u--) {
              if (cps.includes(u)) return true;
              if (!have.has(u)) return false;
            }
            return true;
          });
          if (!rebuildable.length) break;
          rebuildable.sort((a, b) => a - b);
          const v = rebuildable[s.pick % rebuildable.length]!;
          const cp = cps.filter((c) => c <= v).sort((a, b) => b - a)[0];
          const need = [
            ...(cp !== undefined ? [checkpointName(cp)] : []),
            ...[...have].filter((c) => c <= v && (cp === undefined || c > cp)).map(commitName),
          ];
          const files = new Map<string, Uint8Array>();
          for (const name of need) {
            const r = await getRetried(s.inst, s.who, logPrefix + name, 'GET', {}, () => false);
            // Log GETs after a cleanup are instances-property's subject; this step needs the version.
            if (r.status !== 200) break;
            files.set(name, new Uint8Array(r.body));
          }
          if (files.size !== need.length) break;
          const entries = await replayEntries(files, v);
          const atV = [...new Set(entries.map((e) => e.path))].sort();
          const model = [...table.history.get(v)!]
            .filter((p) => logView === 'raw' || s.who === 'all' || table.files.get(p)!.region === 'EU')
            .sort();
          if (JSON.stringify(atV) !== JSON.stringify(model))
            fail(
              `replay of ${v} on ${s.inst} as ${s.who}: ${JSON.stringify(atV)} != model ${JSON.stringify(model)}`,
            );
          const j = (s.inst + s.other) % N;
          // The EU caller's filtered replay leaves out US files: read those of v too (by the model).
          const forbidden = s.who === 'eu' ? [...table.history.get(v)!].filter((p) => !atV.includes(p)) : [];
          for (const p of [...atV, ...forbidden]) {
            const f = table.files.get(p)!;
            const key = `${alias}/${p}`;
            const granted = s.who === 'all' || f.region === 'EU';
            const live = table.active.has(p) || clock.t < f.removedAt! + RETENTION;
            const expectServed = granted && live && !f.vacuumed;
            const headers: Record<string, string> = {};
            let range: [number, number] | undefined;
            if (s.mode === 'range') {
              const a = s.pick % f.body.length;
              // Never `bytes=0-0`: s3rver reads an end of 0 as none (`options.end || Infinity`).
              range = [a, Math.max(1, Math.min(f.body.length - 1, a + (s.pick % 11)))];
              headers.range = `bytes=${range[0]}-${range[1]}`;
            }
            const method = s.mode === 'head' ? 'HEAD' : 'GET';
            // No retry: a refusal takes a probe begun after the request arrived (a commit within
            // the 50 ms probe window, a log cleanup since the instance's snapshot).
            const r = await get(j, s.who, key, method, headers);
            count(
              `${logView} ${granted ? (f.vacuumed ? 'vacuumed' : table.active.has(p) ? 'active' : live ? 'removed-in-retention' : 'expired') : 'forbidden'} ${r.status}`,
            );
            const what = `${method} ${p} (active at ${v}, listed on ${s.inst}) on ${j} as ${s.who}${headers.range ? ` ${headers.range}` : ''}: ${r.status}`;
            if (r.status >= 500) fail(`${what}: ${r.text}`);
            if (!granted) {
              if (r.status < 400) fail(`${what}: a forbidden partition's file served`);
              if (r.body.includes('rows of US')) fail(`${what}: US bytes in the error`);
              continue;
            }
            if (f.vacuumed) {
              if (r.status !== 404 && r.status !== 403) fail(`${what}: a VACUUMed file answers ${r.text}`);
              continue;
            }
            if (expectServed) {
              if (r.status === 403) fail(`${what}: AccessDenied for a granted file in retention ${r.text}`);
              if (r.status !== (range ? 206 : 200)) fail(`${what}: not served ${r.text}`);
              const want = range ? f.body.slice(range[0], range[1] + 1) : f.body;
              if (method === 'GET' && r.body.toString() !== want)
                fail(`${what}: bytes ${r.body.toString()} != ${want}`);
              if (method === 'HEAD' && Number(r.headers['content-length']) !== f.body.length)
                fail(`${what}: HEAD length ${r.headers['content-length']}`);
              continue;
            }
            // Past its retention: refused to the EU caller once stale snapshots (ttl) are gone.
            if (s.who === 'eu' && r.status < 400 && clock.t > f.removedAt! + RETENTION + 2 * TTL)
              fail(`${what}: served ${clock.t - f.removedAt!} ms after its remove`);
          }
          break;
        }
        case 'table': {
          const once = () =>
            listAllPages(
              proxies[s.inst]!.url,
              s.who,
              1,
              { prefix: `${alias}/`, maxKeys: 4 },
              'datalake',
              50,
              clock,
            );
          let pages = await once();
          if (pages.at(-1)!.status === 503) {
            clock.advance(60);
            pages = await once();
          }
          for (const p of pages) {
            if (p.status !== 200) fail(`table listing on ${s.inst} as ${s.who}: ${p.status} ${p.text}`);
            for (const m of p.text.matchAll(/<Key>([^<]*)<\/Key>/g)) {
              const rel = m[1]!.slice(alias.length + 1);
              if (rel.startsWith('_delta_log/')) continue;
              if (s.who === 'eu' && rel.includes('US')) fail(`table listing: EU caller saw ${rel}`);
              if (s.who === 'eu' && table.orphans.some((o) => o.path === rel))
                fail(`table listing: orphan ${rel}`);
            }
          }
          break;
        }
      }
    }
  } finally {
    for (const p of proxies) await p.stop();
  }
}

it('old versions read across instances: granted files in retention served, nothing else', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom<'filtered' | 'raw'>('filtered', 'raw'),
      fc.array(step, { minLength: 10, maxLength: 60 }),
      (view, steps) => run(view, steps),
    ),
    { numRuns: RUNS, seed: SEED, ...(PATH ? { path: PATH } : {}) },
  );
}, 900_000);
