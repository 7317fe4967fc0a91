/**
 * Several proxy instances (separate caches, one s3rver backend, `logView: "filtered"`) over one
 * table that changes while readers use them, by property (fast-check). A generated interleaving of
 * writer steps (append, remove with or without partitionValues, DELETE with a deletion vector
 * inline or in a file, checkpoint, `_last_checkpoint`, log cleanup) and reader steps on a random
 * instance (LIST `_delta_log/` whole or from a version, GET/HEAD of a listed key on another
 * instance whole or by range with If-Match, listings on every instance at once, a replay, data
 * files, the table's listing), for a caller granted EU and one granted the table. Required: a key
 * two instances list has one size and ETag; an ETag always names the same bytes (a GET with
 * If-Match answers those bytes or 412); the EU caller sees nothing of US in any byte; list → GET
 * never 5xx; a replay of what one instance serves equals the model at the version it reached.
 * The instances' clock stands still unless a step moves it (every request inside one 50 ms probe
 * window); what README documents as retried (a listing meeting a log cleanup) is retried after
 * 60 ms, as an SDK's backoff would; a data file is never retried.
 * The seed is fixed; FUZZ_SEED and FUZZ_RUNS explore, FUZZ_PATH replays a report's path.
 */
import { createHash } from 'node:crypto';
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { afterAll, beforeAll, it } from 'vitest';
import { uuidString, z85Decode, z85Encode } from '../../lambda/delta/z85';
import type { CheckpointRow } from '../../lambda/log-view/checkpoint-rows';
import { CheckpointWriter } from '../../lambda/log-view/checkpoint-writer';
import {
  type AuthzProxy,
  listAllPages,
  ManualClock,
  objectRequest,
  startAuthzProxy,
} from '../helpers/authz-harness';
import { crc32, inlineVector, vectorBytes } from '../helpers/dv-bytes';
import { checkpointName, commitName, DV_ENABLED, dvProtocol, metaData } from '../helpers/log-text';
import { backendClient, createBucket, type S3Server, startS3rver } from '../helpers/s3-servers';
import type { RawResponse } from '../helpers/signed-fetch';
import { parquetRows, replayEntries } from '../helpers/virtual-log-replay';

const SEED = Number(process.env.FUZZ_SEED ?? 20261206);
const RUNS = Number(process.env.FUZZ_RUNS ?? 20);
const PATH = process.env.FUZZ_PATH;
const TTL = 1_000;

type Obj = Record<string, unknown>;
type Who = 'eu' | 'all';
type Region = 'EU' | 'US';

// ---------- steps ----------

type Step =
  | { k: 'append'; region: Region }
  | { k: 'remove'; pick: number; values: boolean }
  | { k: 'dv'; pick: number; inline: boolean }
  | { k: 'checkpoint'; hint: boolean }
  | { k: 'hint' }
  | { k: 'cleanup' }
  | { k: 'tick'; ms: number }
  | { k: 'list'; inst: number; who: Who; from: 'start' | 'hint' | 'mid' }
  | { k: 'read'; other: number; who: Who; pick: number; mode: Mode; ifMatch: boolean }
  | { k: 'agree'; who: Who }
  | { k: 'replay'; inst: number; who: Who; spread: boolean }
  | { k: 'data'; inst: number; who: Who; pick: number }
  | { k: 'table'; inst: number; who: Who; delim: boolean };
type Mode = 'whole' | 'head' | 'range' | 'suffix';

const N = 3;
const inst = fc.integer({ min: 0, max: N - 1 });
const who = fc.constantFrom<Who>('eu', 'eu', 'all');
const pick = fc.nat(1000);
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ k: fc.constant('append' as const), region: fc.constantFrom<Region>('EU', 'US') }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('remove' as const), pick, values: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('dv' as const), pick, inline: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('checkpoint' as const), hint: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('hint' as const) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('cleanup' as const) }) },
  {
    weight: 2,
    arbitrary: fc.record({ k: fc.constant('tick' as const), ms: fc.constantFrom(0, 60, TTL + 100) }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant('list' as const),
      inst,
      who,
      from: fc.constantFrom<'start' | 'hint' | 'mid'>('start', 'hint', 'mid'),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      k: fc.constant('read' as const),
      other: fc.integer({ min: 1, max: N - 1 }),
      who,
      pick,
      mode: fc.constantFrom<Mode>('whole', 'head', 'range', 'suffix'),
      ifMatch: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('agree' as const), who }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('replay' as const), inst, who, spread: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('data' as const), inst, who, pick }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('table' as const), inst, who, delim: fc.boolean() }) },
);

// ---------- the writer and its model ----------

interface Live {
  path: string;
  region: Region;
  /** Deleted rows, and the descriptor as the real log wrote it. */
  dv?: { rows: number[]; descriptor: Obj };
  gen: number;
}

class Table {
  version = -1;
  readonly active = new Map<string, Live>();
  readonly tombstones: Obj[] = [];
  /** Readable state per version: path → deleted rows (by region). */
  readonly history = new Map<number, Map<string, { region: Region; rows: number[] }>>();
  readonly checkpoints: number[] = [];
  hint: number | undefined;
  /** Real log keys (relative to the table) that exist now. */
  readonly logKeys = new Set<string>();
  readonly dataFiles: { path: string; region: Region }[] = [];
  private seq = 0;
  private readonly meta = metaData(['region'], { configuration: DV_ENABLED, id: 'tbl' });

  constructor(
    private readonly client: S3Client,
    private readonly prefix: string,
  ) {}

  private put(rel: string, body: Uint8Array | string) {
    return this.client.send(new PutObjectCommand({ Bucket: 'lake', Key: this.prefix + rel, Body: body }));
  }

  private async commit(actions: Obj[], operation: string) {
    const v = this.version + 1;
    const lines = [{ commitInfo: { timestamp: Date.now(), operation } }, ...actions];
    const rel = `_delta_log/${commitName(v)}`;
    await this.put(rel, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    this.logKeys.add(rel);
    this.version = v;
    this.history.set(
      v,
      new Map([...this.active.values()].map((f) => [f.path, { region: f.region, rows: f.dv?.rows ?? [] }])),
    );
  }

  create() {
    return this.commit([dvProtocol, this.meta], 'CREATE TABLE');
  }

  private addOf(f: Live, dataChange = true): Obj {
    return {
      path: f.path,
      partitionValues: { region: f.region },
      size: 7,
      modificationTime: 1,
      dataChange,
      stats: '{"numRecords":1000}',
      ...(f.dv ? { deletionVector: f.dv.descriptor } : {}),
    };
  }

  private removeOf(f: Live, values: boolean): Obj {
    return {
      path: f.path,
      deletionTimestamp: Date.now(),
      dataChange: true,
      ...(values ? { extendedFileMetadata: true, partitionValues: { region: f.region }, size: 7 } : {}),
      ...(f.dv ? { deletionVector: f.dv.descriptor } : {}),
    };
  }

  async append(region: Region) {
    const path = `region=${region}/${region.toLowerCase()}-file-${this.seq++}.parquet`;
    await this.put(path, `rows of ${region}`);
    const f: Live = { path, region, gen: 0 };
    this.dataFiles.push({ path, region });
    this.active.set(path, f);
    await this.commit([{ add: this.addOf(f) }], 'WRITE');
  }

  private picked(pick: number): Live | undefined {
    const all = [...this.active.values()];
    return all.length ? all[pick % all.length] : undefined;
  }

  async remove(pick: number, values: boolean) {
    const f = this.picked(pick);
    if (!f) return;
    const r = this.removeOf(f, values);
    this.active.delete(f.path);
    this.tombstones.push(r);
    await this.commit([{ remove: r }], 'DELETE');
  }

  async dv(pick: number, inline: boolean) {
    const f = this.picked(pick);
    if (!f || f.gen >= 6) return;
    const r = this.removeOf(f, true);
    const gen = f.gen + 1;
    const rows = Array.from({ length: gen }, (_, k) => (this.seq % 8) + 9 * k);
    let descriptor: Obj;
    if (inline) descriptor = inlineVector(rows);
    else {
      const data = vectorBytes(rows);
      const uuid = createHash('sha256')
        .update(`${this.prefix}dv${this.seq++}`)
        .digest()
        .subarray(0, 16);
      const frame = Buffer.alloc(9 + data.byteLength);
      frame.writeUInt8(1, 0);
      frame.writeUInt32BE(data.byteLength, 1);
      frame.set(data, 5);
      frame.writeUInt32BE(crc32(data), 5 + data.byteLength);
      await this.put(`deletion_vector_${uuidString(uuid)}.bin`, frame);
      descriptor = {
        storageType: 'u',
        pathOrInlineDv: z85Encode(uuid),
        offset: 1,
        sizeInBytes: data.byteLength,
        cardinality: rows.length,
      };
    }
    const next: Live = { ...f, gen, dv: { rows, descriptor } };
    this.active.set(f.path, next);
    this.tombstones.push(r);
    await this.commit([{ remove: r }, { add: this.addOf(next) }], 'DELETE');
  }

  async checkpoint(hint: boolean) {
    if (this.checkpoints.includes(this.version)) return;
    const rows: CheckpointRow[] = [
      { protocol: dvProtocol.protocol },
      { metaData: this.meta.metaData },
      ...[...this.active.values()].map((f) => ({ add: this.addOf(f, false) })),
      ...this.tombstones.map((r) => ({ remove: { ...r, dataChange: false } })),
    ];
    const w = new CheckpointWriter();
    await w.push(rows);
    const { bytes } = await w.finish();
    const rel = `_delta_log/${checkpointName(this.version)}`;
    await this.put(rel, bytes);
    this.logKeys.add(rel);
    this.checkpoints.push(this.version);
    if (hint) await this.writeHint(this.version, rows.length, bytes.byteLength);
  }

  private async writeHint(version: number, size: number, sizeInBytes: number) {
    await this.put('_delta_log/_last_checkpoint', JSON.stringify({ version, size, sizeInBytes }));
    this.logKeys.add('_delta_log/_last_checkpoint');
    this.hint = version;
  }

  async updateHint() {
    const newest = this.checkpoints.at(-1);
    if (newest === undefined || newest === this.hint) return;
    await this.writeHint(newest, 1, 1);
  }

  /** Spark's cleanup: commits and checkpoints before the checkpoint `_last_checkpoint` names. */
  async cleanup() {
    if (this.hint === undefined) return;
    for (const rel of [...this.logKeys]) {
      const m = /(\d{20})\.(json|checkpoint\.parquet)$/.exec(rel);
      if (!m || Number(m[1]) >= this.hint) continue;
      await this.client.send(new DeleteObjectCommand({ Bucket: 'lake', Key: this.prefix + rel }));
      this.logKeys.delete(rel);
    }
  }
}

// ---------- the readers ----------

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
const unq = (e: string | undefined) => (e ?? '').replace(/"/g, '');

interface Listed {
  size: number;
  etag: string;
}

/** Size and ETag of each key of a ListBucketResult. */
function listedOf(text: string): Map<string, Listed> {
  const out = new Map<string, Listed>();
  for (const m of text.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
    const key = /<Key>([^<]*)<\/Key>/.exec(m[1]!)![1]!;
    const size = Number(/<Size>(\d+)<\/Size>/.exec(m[1]!)![1]);
    const etag = unq(/<ETag>([^<]*)<\/ETag>/.exec(m[1]!)![1]!.replace(/&quot;/g, '"'));
    out.set(key, { size, etag });
  }
  return out;
}

const US_MARKERS = ['us-file', 'region=US', '"US"'];

let s3: S3Server;
let client: S3Client;
let runs = 0;

beforeAll(async () => {
  s3 = await startS3rver();
  client = backendClient(s3.endpoint);
  await createBucket(client, 'lake');
});

afterAll(async () => {
  client?.destroy();
  await s3?.stop();
});

async function run(steps: Step[]): Promise<void> {
  const alias = `r${runs++}`;
  const prefix = `${alias}/`;
  const table = new Table(client, prefix);
  await table.create();
  const clock = new ManualClock();
  const proxies: AuthzProxy[] = [];
  const trace: string[] = [];
  const fail = (what: string) => {
    throw new Error(`${what}\nsteps so far:\n${trace.join('\n')}`);
  };
  try {
    for (let i = 0; i < N; i++) {
      proxies.push(
        await startAuthzProxy(
          s3,
          {
            logView: 'filtered',
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
    const logPrefix = `${alias}/_delta_log/`;
    /** The last listing of the log per (instance, caller), and the writes since the test began. */
    const listings = new Map<Who, { inst: number; keys: Map<string, Listed> }>();
    /** Every full body seen per caller, key and ETag. */
    const bodies = new Map<string, Buffer>();
    const get = (
      i: number,
      w: Who,
      key: string,
      method: 'GET' | 'HEAD' = 'GET',
      headers: Record<string, string> = {},
    ) => objectRequest(proxies[i]!.url, method, key, w, 'datalake', clock, headers);
    const noLeak = async (w: Who, what: string, r: RawResponse, key = '') => {
      if (w !== 'eu') return;
      for (const m of US_MARKERS)
        if (r.body.includes(m)) fail(`${what}: EU caller saw ${m}: ${r.text.slice(0, 400)}`);
      if (key.endsWith('.parquet') && r.status === 200) {
        const rows = JSON.stringify(await parquetRows(new Uint8Array(r.body)), (_k, v) =>
          typeof v === 'bigint' ? Number(v) : v,
        );
        for (const m of US_MARKERS) if (rows.includes(m)) fail(`${what}: EU caller's checkpoint holds ${m}`);
      }
    };
    const remember = (w: Who, key: string, etag: string, body: Buffer, what: string) => {
      if (md5(body) !== etag) fail(`${what}: body MD5 ${md5(body)} is not its ETag ${etag}`);
      const id = `${w}|${key}|${etag}`;
      const seen = bodies.get(id);
      if (seen && !seen.equals(body)) fail(`${what}: two bodies under ETag ${etag}`);
      bodies.set(id, body);
    };
    const list = async (i: number, w: Who, startAfter?: string) => {
      const pages = await listAllPages(
        proxies[i]!.url,
        w,
        2,
        { prefix: logPrefix, ...(startAfter ? { startAfter } : {}) },
        'datalake',
        50,
        clock,
      );
      let last = pages.at(-1)!;
      if (last.status === 503) {
        // README: a listing meeting a commit a cleanup deleted answers 503 once; clients retry,
        // after a backoff (past the instance's 50 ms probe window).
        clock.advance(60);
        const again = await listAllPages(
          proxies[i]!.url,
          w,
          2,
          { prefix: logPrefix, ...(startAfter ? { startAfter } : {}) },
          'datalake',
          50,
          clock,
        );
        if (again.at(-1)!.status !== 200)
          fail(`list on ${i} as ${w}: ${again.at(-1)!.status} twice ${again.at(-1)!.text}`);
        pages.splice(0, pages.length, ...again);
        last = again.at(-1)!;
      }
      if (last.status !== 200) fail(`list on ${i} as ${w}: ${last.status} ${last.text}`);
      const out = new Map<string, Listed>();
      for (const p of pages) {
        for (const [k, v] of listedOf(p.text)) out.set(k, v);
        await noLeak(w, `list on ${i}`, {
          status: 200,
          headers: {},
          body: Buffer.from(p.text),
          text: p.text,
        });
      }
      for (const k of out.keys()) {
        const rest = k.slice(logPrefix.length);
        if (!/^\d{20}\.(json|checkpoint\.parquet)$/.test(rest) && rest !== '_last_checkpoint')
          fail(`list on ${i}: not a generated file ${k}`);
      }
      return out;
    };

    /** Replays what instance `i` lists; false when a file it named is gone from the backend. */
    const replay = async (inst: number, w: Who, spread: boolean, last: boolean): Promise<boolean> => {
      const s = { inst, who: w, spread };
      const listed = await list(s.inst, s.who);
      const files = new Map<string, Uint8Array>();
      const commits = [...listed.keys()]
        .map((k) => /(\d{20})\.json$/.exec(k))
        .filter((m) => m !== null)
        .map((m) => Number(m[1]));
      if (!commits.length)
        fail(`replay on ${s.inst} as ${s.who}: no commit listed: ${[...listed.keys()].join(', ')}`);
      const version = Math.max(...commits);
      const cps = [...listed.keys()]
        .map((k) => /(\d{20})\.checkpoint\.parquet$/.exec(k))
        .filter((m) => m !== null)
        .map((m) => Number(m[1]))
        .filter((v) => v <= version);
      const cp = cps.length ? Math.max(...cps) : -1;
      const need = [
        ...(cp >= 0 ? [checkpointName(cp)] : []),
        ...commits.filter((v) => v > cp).map(commitName),
      ];
      for (const [n, name] of need.entries()) {
        // Each GET may land on any instance (Lambda), from the listing's one on.
        const at = s.spread ? (s.inst + n) % N : s.inst;
        const r = await get(at, s.who, logPrefix + name);
        await noLeak(s.who, `replay GET ${name}`, r, name);
        if (r.status === 404 && !table.logKeys.has(`_delta_log/${name}`) && !last) return false;
        if (r.status !== 200)
          fail(`replay listed on ${s.inst} as ${s.who}: GET ${name} on ${at}: ${r.status} ${r.text}`);
        files.set(name, new Uint8Array(r.body));
      }
      const got = await replayEntries(files, version);
      const want = [...table.history.get(version)!].filter(([, f]) => s.who === 'all' || f.region === 'EU');
      const show = (xs: [string, string][]) => JSON.stringify(xs.sort());
      const gotRows = got.map((f): [string, string] => {
        const dv = f.deletionVector;
        if (!dv) return [f.path, ''];
        if (dv.storageType !== 'i') return [f.path, `not inline: ${dv.storageType}`];
        const bytes = z85Decode(dv.pathOrInlineDv)!.subarray(0, dv.sizeInBytes);
        return [f.path, Buffer.from(bytes).toString('hex')];
      });
      const wantRows = want.map(([p, f]): [string, string] => [
        p,
        f.rows.length ? Buffer.from(vectorBytes(f.rows)).toString('hex') : '',
      ]);
      if (show(gotRows) !== show(wantRows))
        fail(`replay on ${s.inst} as ${s.who} at ${version}: ${show(gotRows)} != ${show(wantRows)}`);
      return true;
    };

    for (const s of steps) {
      trace.push(JSON.stringify(s));
      switch (s.k) {
        case 'append':
          await table.append(s.region);
          break;
        case 'remove':
          await table.remove(s.pick, s.values);
          break;
        case 'dv':
          await table.dv(s.pick, s.inline);
          break;
        case 'checkpoint':
          await table.checkpoint(s.hint);
          break;
        case 'hint':
          await table.updateHint();
          break;
        case 'cleanup':
          await table.cleanup();
          break;
        case 'tick':
          clock.advance(s.ms);
          break;
        case 'list': {
          const startAfter =
            s.from === 'start'
              ? undefined
              : `${logPrefix}${String(s.from === 'hint' ? (table.hint ?? 0) : Math.floor(table.version / 2)).padStart(20, '0')}`;
          const got = await list(s.inst, s.who, startAfter);
          listings.set(s.who, { inst: s.inst, keys: got });
          break;
        }
        case 'read': {
          // The caller's newest listing, from whichever instance gave it; read on another one.
          const last = listings.get(s.who);
          if (!last?.keys.size) break;
          const { inst: from, keys: listed } = last;
          const all = [...listed.keys()];
          const special = all.filter((k) => !k.endsWith('.json'));
          const keys = special.length && s.pick % 2 === 0 ? special : all;
          const key = keys[Math.floor(s.pick / 2) % keys.length]!;
          const l = listed.get(key)!;
          const j = (from + s.other) % N;
          const headers: Record<string, string> = {};
          if (s.ifMatch) headers['if-match'] = `"${l.etag}"`;
          let range: [number, number] | undefined;
          if (s.mode === 'range' && l.size > 0) {
            const a = s.pick % l.size;
            range = [a, Math.min(l.size - 1, a + 1 + (s.pick % 17))];
            headers.range = `bytes=${range[0]}-${range[1]}`;
          } else if (s.mode === 'suffix' && l.size > 0) {
            const n = Math.min(l.size, 8);
            range = [l.size - n, l.size - 1];
            headers.range = `bytes=-8`;
          }
          const r = await get(j, s.who, key, s.mode === 'head' ? 'HEAD' : 'GET', headers);
          const what = `${s.mode} ${key} on ${j} (listed on ${from}) as ${s.who}: ${r.status}`;
          await noLeak(s.who, what, r, s.mode === 'whole' ? key : '');
          if (r.status >= 500) fail(`${what} ${r.text}`);
          const real = key.slice(prefix.length);
          if (r.status === 404) {
            if (real === '_delta_log/_last_checkpoint' || !table.logKeys.has(real)) break;
            fail(`${what}: a listed file that exists answers 404 ${r.text}`);
          }
          if (r.status === 412) {
            if (!s.ifMatch) fail(`${what}: 412 without a condition`);
            if (real !== '_delta_log/_last_checkpoint') fail(`${what}: an immutable file changed its ETag`);
            break;
          }
          if (r.status !== 200 && r.status !== 206) fail(`${what} ${r.text}`);
          const etag = unq(r.headers.etag);
          if (etag !== l.etag && real !== '_delta_log/_last_checkpoint')
            fail(`${what}: ETag ${etag}, listed ${l.etag}`);
          if (s.ifMatch && etag !== l.etag) fail(`${what}: If-Match ${l.etag} answered ETag ${etag}`);
          const total =
            r.status === 206
              ? Number(/\/(\d+)$/.exec(r.headers['content-range'] ?? '')?.[1])
              : Number(r.headers['content-length']);
          if (etag === l.etag && total !== l.size)
            fail(`${what}: size ${total}, listed ${l.size} under one ETag`);
          if (s.mode === 'whole') {
            if (r.status !== 200) fail(`${what}: whole GET not 200`);
            remember(s.who, key, etag, r.body, what);
          } else if (range && r.status === 206) {
            // The same bytes as the whole body under that ETag, from the listing's instance.
            let whole = bodies.get(`${s.who}|${key}|${etag}`);
            if (!whole) {
              const w = await get(from, s.who, key, 'GET', { 'if-match': `"${etag}"` });
              if (w.status === 200) {
                remember(s.who, key, etag, w.body, `whole ${key} on ${from}`);
                whole = w.body;
              } else if (w.status >= 500) fail(`whole ${key} on ${from}: ${w.status} ${w.text}`);
            }
            if (whole && !whole.subarray(range[0], range[1] + 1).equals(r.body))
              fail(`${what}: range ${headers.range} differs from the whole body under ETag ${etag}`);
          }
          break;
        }
        case 'agree': {
          const all: Map<string, Listed>[] = [];
          for (let i = 0; i < N; i++) all.push(await list(i, s.who));
          listings.set(s.who, { inst: 0, keys: all[0]! });
          const newestCp = (m: Map<string, Listed>) =>
            [...m.keys()]
              .filter((k) => k.endsWith('.checkpoint.parquet'))
              .sort()
              .at(-1);
          for (let i = 1; i < N; i++) {
            for (const [k, v] of all[i]!) {
              const o = all[0]!.get(k);
              if (!o) continue;
              if (k.endsWith('_last_checkpoint') && newestCp(all[i]!) !== newestCp(all[0]!)) continue;
              if (o.size !== v.size || o.etag !== v.etag)
                fail(`agree as ${s.who}: ${k} listed ${o.size}/${o.etag} on 0, ${v.size}/${v.etag} on ${i}`);
            }
          }
          break;
        }
        case 'replay': {
          // A stale listing may name log files a cleanup really deleted (404 from every instance,
          // as from S3): the reader lists again after a backoff, once.
          for (let attempt = 0; attempt < 2; attempt++) {
            if (attempt) clock.advance(60);
            if (await replay(s.inst, s.who, s.spread, attempt === 1)) break;
          }
          break;
        }
        case 'data': {
          if (!table.dataFiles.length) break;
          const f = table.dataFiles[s.pick % table.dataFiles.length]!;
          // No retry: a refusal takes a probe begun after the request arrived, so neither a commit
          // within the instance's 50 ms probe window nor a log cleanup since its snapshot shows.
          const r = await get(s.inst, s.who, `${alias}/${f.path}`);
          if (r.status >= 500) fail(`data ${f.path} on ${s.inst}: ${r.status} ${r.text}`);
          const readableNow = table.active.has(f.path) && (s.who === 'all' || f.region === 'EU');
          if (readableNow && r.status !== 200) fail(`data ${f.path} on ${s.inst}: ${r.status} ${r.text}`);
          if (s.who === 'eu' && f.region === 'US' && r.status < 400)
            fail(`data ${f.path} served to EU: ${r.status}`);
          // An error may echo the key the caller named; only the body's bytes would be a leak.
          if (s.who === 'eu' && r.body.includes('rows of US')) fail(`data ${f.path}: EU caller got US rows`);
          break;
        }
        case 'table': {
          const listTable = () =>
            listAllPages(
              proxies[s.inst]!.url,
              s.who,
              2,
              { prefix: `${alias}/`, ...(s.delim ? { delimiter: '/' } : {}) },
              'datalake',
              50,
              clock,
            );
          let pages = await listTable();
          // README: a listing that meets a log file a cleanup deleted answers 503 once.
          if (pages.at(-1)!.status === 503) {
            clock.advance(60);
            pages = await listTable();
          }
          for (const p of pages) {
            if (p.status >= 500) fail(`table listing on ${s.inst}: ${p.status} ${p.text}`);
            await noLeak(s.who, `table listing on ${s.inst}`, {
              status: p.status,
              headers: {},
              body: Buffer.from(p.text),
              text: p.text,
            });
          }
          break;
        }
      }
    }
  } finally {
    for (const p of proxies) await p.stop();
  }
}

it('instances over one changing table agree, keep ETags to their bytes, leak nothing and replay a real version', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 5, maxLength: 50 }), (steps) => run(steps)),
    { numRuns: RUNS, seed: SEED, ...(PATH ? { path: PATH } : {}) },
  );
}, 600_000);
