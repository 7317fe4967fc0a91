/**
 * Grant and key changes in DynamoDB (written by the admin CLI into a real dynalite) seen by several
 * proxy instances at once (own caches, one ManualClock that moves only when a step moves it;
 * `logView` filtered on two, raw on one), by property (fast-check). Writer steps: grants added
 * (several maps, `{}`, the null partition), revoked, narrowed; keys created and revoked; table
 * appends and checkpoints; clock moves (small, past 5 s, past 30 s, hours: a thawed instance).
 * Reader steps on a random instance (or all at once): GET and HEAD of every data file, the
 * `_delta_log/` listed and every file of it read, the table and the root listed; a settle step
 * moves the clock exactly 30 s and reads everything on every instance for both principals.
 * Required (README "Grant changes", 30 s): once 30 s have passed since a change, no instance serves
 * anything the current grants do not allow (no data byte, no file name or partition value in a
 * listing or a generated log file) and a revoked key is refused (403 InvalidAccessKeyId); within
 * the 30 s, nothing wider than the union of the grants held during them; never a 5xx; never a
 * refusal of what was allowed, with a key valid, for 30 s.
 * The seed is fixed; FUZZ_SEED and FUZZ_RUNS explore, FUZZ_PATH replays a report's path. In the
 * full tier (about 20 s for 15 runs). About 1,950 runs at ten seeds found nothing; a grant
 * or key cache TTL of 60 s, or generated files or allowed sets reused across grant changes, fail it.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { afterAll, beforeAll, it } from 'vitest';
import type { PartitionMap } from '../../lambda/access/grant';
import { type AddFile, DeltaTableWriter } from '../../lambda/local/delta-writer';
import { createDynamoTable } from '../../lambda/store/dynamo-schema';
import { adminInProcess } from '../helpers/admin-cli';
import { type AuthzProxy, ManualClock, startAuthzProxy } from '../helpers/authz-harness';
import { type DynamoServer, startDynalite, testDynamoClient } from '../helpers/dynamo-servers';
import { type LakeFile, type LakeTable, mapMatches, tagValues } from '../helpers/partitioned-lake';
import { backendClient, createBucket, type S3Server, startS3rver } from '../helpers/s3-servers';
import {
  type Credentials,
  encodeKeyPath,
  encodeQuery,
  type RawResponse,
  signedFetch,
} from '../helpers/signed-fetch';
import { jsonLines, parquetRows } from '../helpers/virtual-log-replay';

const SEED = Number(process.env.FUZZ_SEED ?? 20261206);
const RUNS = Number(process.env.FUZZ_RUNS ?? 15);
const PATH = process.env.FUZZ_PATH;

const BOUND = 30_000;
/** snapshotTtlMs's default: how long a listing may show the table as it was (README). */
const SNAPSHOT_TTL = 5_000;
const DDB = 'grants-instances';
const VIEWS = ['filtered', 'filtered', 'raw'] as const;
const PRINCIPALS = ['alice', 'bob'] as const;
type Who = (typeof PRINCIPALS)[number];

const REGIONS: readonly (string | null)[] = ['eu-west', 'us-east', 'ap-south', null];
const DAYS = ['2024-01-01', '2024-01-02'] as const;

/** The grants a step may add: one or several maps, the whole table, the null partition. */
const MAPS: readonly PartitionMap[] = [
  { region: 'eu-west' },
  { region: 'us-east' },
  { day: '2024-01-01' },
  { region: 'ap-south', day: '2024-01-02' },
  { region: 'eu-west', day: '2024-01-01' },
];
type GrantShape = { kind: 'maps'; maps: PartitionMap[] } | { kind: 'all' } | { kind: 'null' };

type Step =
  | { k: 'grant'; who: Who; shape: GrantShape }
  | { k: 'revoke'; who: Who; one: number | undefined }
  | { k: 'narrow'; who: Who; shape: GrantShape }
  | { k: 'keyCreate'; who: Who }
  | { k: 'keyRevoke'; who: Who; pick: number }
  | { k: 'tick'; ms: number }
  | { k: 'settle'; inst: number; key: number }
  | { k: 'append'; region: number; day: number; checkpoint: boolean }
  | { k: 'data'; inst: number; who: Who; key: number; head: boolean; burst: boolean }
  | { k: 'root'; inst: number; who: Who; key: number }
  | { k: 'log'; inst: number; who: Who; key: number }
  | { k: 'list'; inst: number; who: Who; key: number; delimiter: boolean; maxKeys: number };

const who = fc.constantFrom<Who>(...PRINCIPALS);
const inst = fc.integer({ min: 0, max: VIEWS.length - 1 });
const pick = fc.nat(100);
const shape: fc.Arbitrary<GrantShape> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .uniqueArray(fc.integer({ min: 0, max: MAPS.length - 1 }), { minLength: 1, maxLength: 3 })
      .map((ix) => ({ kind: 'maps' as const, maps: ix.map((i) => MAPS[i]!) })),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'all' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'null' as const }) },
);
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ k: fc.constant('grant' as const), who, shape }) },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('revoke' as const),
      who,
      one: fc.option(pick, { nil: undefined }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('narrow' as const), who, shape }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('keyCreate' as const), who }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('keyRevoke' as const), who, pick }) },
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant('tick' as const),
      ms: fc.constantFrom(100, 2_000, 5_001, 15_000, BOUND, BOUND + 1, 3 * 3600_000),
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('settle' as const), inst, key: pick }) },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('append' as const),
      region: fc.nat(REGIONS.length - 1),
      day: fc.nat(DAYS.length - 1),
      checkpoint: fc.boolean(),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant('data' as const),
      inst,
      who,
      key: pick,
      head: fc.boolean(),
      burst: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('root' as const), inst, who, key: pick }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('log' as const), inst, who, key: pick }) },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant('list' as const),
      inst,
      who,
      key: pick,
      delimiter: fc.boolean(),
      maxKeys: fc.constantFrom(1, 3, 1000),
    }),
  },
);

// ---------- the model ----------

interface Key extends Credentials {
  who: Who;
  revoked?: number;
}

interface HeldGrant {
  id: string;
  maps: PartitionMap[];
}

/** A principal's grants on the table over time: undefined = no grant (the table looks missing). */
type GrantState = readonly HeldGrant[];

class Timeline {
  private readonly changes: { at: number; state: GrantState }[] = [{ at: -Infinity, state: [] }];
  get current(): GrantState {
    return this.changes.at(-1)!.state;
  }
  set(at: number, state: GrantState): void {
    this.changes.push({ at, state });
  }
  /** Every state held at some moment of [t - BOUND, t]. */
  window(t: number): GrantState[] {
    const from = t - BOUND;
    let start = 0;
    for (let i = 0; i < this.changes.length; i++) if (this.changes[i]!.at <= from) start = i;
    return this.changes.slice(start).map((c) => c.state);
  }
}

const allows = (table: LakeTable, state: GrantState, f: LakeFile) =>
  state.some((g) => g.maps.some((m) => mapMatches(table, m, f)));

// ---------- the world ----------

let s3: S3Server;
let client: S3Client;
let dynamo: DynamoServer;
let ddb: DynamoDBClient;
let runs = 0;

beforeAll(async () => {
  s3 = await startS3rver();
  client = backendClient(s3.endpoint);
  await createBucket(client, 'lake');
  dynamo = await startDynalite();
  ddb = testDynamoClient(dynamo.endpoint, 3);
  await createDynamoTable(ddb, DDB);
});

afterAll(async () => {
  client?.destroy();
  ddb?.destroy();
  await s3?.stop();
  await dynamo?.stop();
});

async function admin(args: string[]): Promise<Record<string, unknown>> {
  const r = await adminInProcess([...args, '--dynamodb', DDB, '--endpoint', dynamo.endpoint, '--json']);
  if (r.code !== 0) throw new Error(`admin ${args.join(' ')}: ${r.code} ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

function grantArgs(s: GrantShape): string[] {
  if (s.kind === 'all') return ['--all'];
  if (s.kind === 'null') return ['--partition-null=region'];
  return s.maps.map(
    (m) =>
      `--partition=${Object.entries(m)
        .map(([k, v]) => `${k}=${v}`)
        .join(',')}`,
  );
}
const mapsOf = (s: GrantShape): PartitionMap[] =>
  s.kind === 'all' ? [{}] : s.kind === 'null' ? [{ region: null }] : s.maps;

const code = (text: string) => /<Code>([^<]*)<\/Code>/.exec(text)?.[1];

async function run(steps: Step[]): Promise<void> {
  const n = runs++;
  const alias = `gi${n}`;
  const principals = Object.fromEntries(PRINCIPALS.map((p) => [p, `${p}-${n}`])) as Record<Who, string>;
  const prefix = `${alias}/`;
  const clock = new ManualClock();
  const t0 = clock.now();
  const trace: string[] = [];
  const fail = (what: string): never => {
    throw new Error(`${what}\nsteps so far:\n${trace.join('\n')}`);
  };

  const writer = new DeltaTableWriter(
    {
      async put(rel, bytes) {
        await client.send(new PutObjectCommand({ Bucket: 'lake', Key: prefix + rel, Body: bytes }));
      },
    },
    {
      schema: [
        { name: 'id', type: 'long' },
        { name: 'region', type: 'string' },
        { name: 'day', type: 'date' },
      ],
      partitionColumns: ['region', 'day'],
    },
  );
  await writer.create();
  const table: LakeTable = { alias, columns: { region: 'string', day: 'date' }, files: [] };
  let rows = 0;
  /** When each file was committed: a listing shows it once the snapshot TTL (5 s) has passed. */
  const committedAt = new Map<string, number>();
  const append = async (region: string | null, day: string) => {
    const values = { region, day };
    const add: AddFile = await writer.writeDataFile(values, [{ id: rows++, ...values }]);
    await writer.commit({ add: [add] });
    table.files.push({ table: alias, key: decodeURIComponent(add.path), values });
    committedAt.set(decodeURIComponent(add.path), clock.now());
  };
  for (const r of REGIONS) await append(r, DAYS[0]);

  const timelines = Object.fromEntries(PRINCIPALS.map((p) => [p, new Timeline()])) as Record<Who, Timeline>;
  const keys: Key[] = [];
  const createKey = async (w: Who) => {
    const k = await admin(['keys', 'create', `--principal=${principals[w]}`]);
    keys.push({
      who: w,
      accessKeyId: k.accessKeyId as string,
      secretAccessKey: k.secretAccessKey as string,
    });
  };
  // Two keys each: one can be revoked from the first step on.
  for (const p of PRINCIPALS) for (let i = 0; i < 2; i++) await createKey(p);

  const proxies: AuthzProxy[] = [];
  const send = (i: number, key: Key, method: string, path: string, query = '') =>
    signedFetch(proxies[i]!.url, method, path, query, {}, key, 'us-east-1', new Date(clock.now()));
  try {
    for (const view of VIEWS)
      proxies.push(
        await startAuthzProxy(
          s3,
          {
            logView: view,
            tableMapping: { [alias]: `s3://lake/${alias}` },
            databaseEnabled: true,
            database: { type: 'dynamodb', tableName: DDB, endpoint: dynamo.endpoint, region: 'us-east-1' },
          },
          [],
          { clock },
        ),
      );

    const keyOf = (w: Who, k: number): Key => {
      const mine = keys.filter((x) => x.who === w);
      return mine[k % mine.length]!;
    };

    /**
     * What the key's answer must be: 'refused' (403 InvalidAccessKeyId), 'valid' (never that),
     * 'either' (within the bound of its revocation).
     */
    const keyRule = (key: Key) => {
      const t = clock.now();
      if (key.revoked === undefined) return 'valid' as const;
      return t - key.revoked >= BOUND ? ('refused' as const) : ('either' as const);
    };
    /** Checks the key; true when the request went past authentication. */
    const authenticated = (what: string, key: Key, r: RawResponse): boolean => {
      if (r.status >= 500) fail(`${what}: ${r.status} ${r.text.slice(0, 300)}`);
      const rule = keyRule(key);
      // A HEAD answer has no body to name its code: a 403 there is a refused key only if it must be.
      const head = r.text === '' && r.status === 403;
      const refused =
        r.status === 403 && (code(r.text) === 'InvalidAccessKeyId' || (head && rule !== 'valid'));
      if (rule === 'refused' && !refused)
        fail(`${what}: key revoked ${clock.now() - key.revoked!} ms ago answered ${r.status}`);
      if (rule === 'valid' && refused) fail(`${what}: active key refused: ${r.text.slice(0, 300)}`);
      return !refused;
    };
    /** Files some state of the window allows (union), and those every state allows. */
    const judge = (w: Who) => {
      const states = timelines[w].window(clock.now());
      const wide = (f: LakeFile) => states.some((s) => allows(table, s, f));
      const sure = (f: LakeFile) => states.every((s) => allows(table, s, f));
      const visible = states.some((s) => s.length > 0);
      const surelyVisible = states.every((s) => s.length > 0);
      return { wide, sure, visible, surelyVisible, settled: states.length === 1 };
    };

    const addGrant = (who: Who, shape: GrantShape) =>
      admin(['grants', 'add', `--principal=${principals[who]}`, `--table=${alias}`, ...grantArgs(shape)]);

    const exec = async (s: Step): Promise<void> => {
      trace.push(`  t=${clock.now() - t0} ${JSON.stringify(s)}`);
      switch (s.k) {
        case 'grant': {
          const g = await addGrant(s.who, s.shape);
          if (g.already) break;
          timelines[s.who].set(clock.now(), [
            ...timelines[s.who].current,
            { id: g.id as string, maps: mapsOf(s.shape) },
          ]);
          break;
        }
        case 'revoke': {
          const held = timelines[s.who].current;
          if (held.length === 0) break;
          const one = s.one === undefined ? undefined : held[s.one % held.length]!;
          await admin([
            'grants',
            'revoke',
            `--principal=${principals[s.who]}`,
            `--table=${alias}`,
            ...(one ? [`--id=${one.id}`] : []),
          ]);
          timelines[s.who].set(clock.now(), one ? held.filter((g) => g !== one) : []);
          break;
        }
        case 'narrow': {
          if (timelines[s.who].current.length > 0) {
            await admin(['grants', 'revoke', `--principal=${principals[s.who]}`, `--table=${alias}`]);
            timelines[s.who].set(clock.now(), []);
          }
          const g = await addGrant(s.who, s.shape);
          timelines[s.who].set(clock.now(), [{ id: g.id as string, maps: mapsOf(s.shape) }]);
          break;
        }
        case 'keyCreate':
          await createKey(s.who);
          break;
        case 'keyRevoke': {
          const live = keys.filter((k) => k.who === s.who && k.revoked === undefined);
          // Keep one key per principal: readers need one.
          if (live.length < 2) break;
          const k = live[s.pick % live.length]!;
          // A key in use: every instance has it cached when it is revoked.
          for (const i of VIEWS.keys())
            authenticated(`GET with key ${k.accessKeyId} on ${i}`, k, await send(i, k, 'GET', '/datalake'));
          await admin(['keys', 'revoke', k.accessKeyId]);
          k.revoked = clock.now();
          break;
        }
        case 'tick':
          clock.advance(s.ms);
          break;
        case 'settle':
          // Exactly the bound after the last change: every instance must answer by the grants now.
          clock.advance(BOUND);
          for (const w of PRINCIPALS) {
            await exec({ k: 'data', inst: 0, who: w, key: s.key, head: false, burst: true });
            await exec({ k: 'log', inst: s.inst, who: w, key: s.key });
            await exec({ k: 'list', inst: s.inst, who: w, key: s.key, delimiter: false, maxKeys: 1000 });
          }
          // Every key ever made, on every instance: a key revoked 30 s ago is refused everywhere.
          for (const key of keys)
            for (const i of VIEWS.keys()) {
              const r = await send(i, key, 'GET', `/datalake/${prefix}${encodeKeyPath(table.files[0]!.key)}`);
              authenticated(`GET with key ${key.accessKeyId} of ${key.who} on ${i}`, key, r);
            }
          break;
        case 'append': {
          await append(REGIONS[s.region]!, DAYS[s.day]!);
          if (s.checkpoint) await writer.checkpoint();
          // Past the snapshot's 50 ms "nothing new" probe window (README, known).
          clock.advance(60);
          break;
        }
        case 'data': {
          const key = keyOf(s.who, s.key);
          const j = judge(s.who);
          const method = s.head ? 'HEAD' : 'GET';
          // At once: every file, on one instance or (burst) on every instance.
          const on = s.burst ? VIEWS.map((_v, i) => i) : [s.inst];
          const asked = on.flatMap((i) => table.files.map((f) => ({ i, f })));
          const answers = await Promise.all(
            asked.map(({ i, f }) => send(i, key, method, `/datalake/${prefix}${encodeKeyPath(f.key)}`)),
          );
          for (const [n, { i, f }] of asked.entries()) {
            const r = answers[n]!;
            const what = `${method} ${f.key} by ${s.who} on ${i}`;
            if (!authenticated(what, key, r)) continue;
            if (r.status === 200 && !j.wide(f))
              fail(`${what}: served, but no grant of the last 30 s allows it`);
            if (r.status !== 200 && j.sure(f) && j.settled && keyValid(key))
              fail(`${what}: refused (${r.status} ${code(r.text)}), allowed for 30 s`);
          }
          break;
        }
        case 'root': {
          const key = keyOf(s.who, s.key);
          const j = judge(s.who);
          const r = await send(
            s.inst,
            key,
            'GET',
            '/datalake',
            encodeQuery({ 'list-type': '2', delimiter: '/' }),
          );
          const what = `LIST / by ${s.who} on ${s.inst}`;
          if (!authenticated(what, key, r)) break;
          if (r.status !== 200) fail(`${what}: ${r.status} ${r.text.slice(0, 300)}`);
          const shown = tagValues(r.text, 'Prefix').includes(prefix);
          if (shown && !j.visible) fail(`${what}: shows ${prefix} without any grant in 30 s`);
          if (!shown && j.surelyVisible && j.settled && keyValid(key))
            fail(`${what}: hides ${prefix}, granted for 30 s`);
          break;
        }
        case 'log': {
          const key = keyOf(s.who, s.key);
          const j = judge(s.who);
          const listed = await listAll(s.inst, key, `${prefix}_delta_log/`, undefined, 1000);
          const what = `LIST _delta_log/ by ${s.who} on ${s.inst}`;
          if (!authenticated(what, key, listed.last)) break;
          if (listed.last.status !== 200)
            fail(`${what}: ${listed.last.status} ${listed.last.text.slice(0, 300)}`);
          if (listed.keys.length > 0 && !j.visible) fail(`${what}: log listed without any grant in 30 s`);
          if (listed.keys.length === 0 && j.surelyVisible && j.settled && keyValid(key))
            fail(`${what}: log not listed though granted for 30 s`);
          /** Files the generated log names (filtered view): after 30 s, every one allowed. */
          const everyName = new Set<string>();
          let whole = VIEWS[s.inst] === 'filtered';
          for (const k of listed.keys) {
            const r = await send(s.inst, key, 'GET', `/datalake/${encodeKeyPath(k)}`);
            const w2 = `GET ${k} by ${s.who} on ${s.inst}`;
            if (!authenticated(w2, key, r) || r.status !== 200) whole = false;
            if (!authenticated(w2, key, r)) continue;
            if (r.status === 404 && !(j.surelyVisible && j.settled)) continue;
            if (r.status !== 200) fail(`${w2}: ${r.status} ${r.text.slice(0, 300)}`);
            if (!j.visible) fail(`${w2}: served without any grant in 30 s`);
            if (VIEWS[s.inst] === 'raw') continue;
            const names = await namesInParquet(k, r.body);
            for (const f of table.files) {
              const named = r.body.includes(f.key.slice(f.key.lastIndexOf('/') + 1)) || names.has(f.key);
              if (named) everyName.add(f.key);
              if (named && !j.wide(f)) fail(`${w2}: names ${f.key}, which no grant of the last 30 s allows`);
            }
            // A partition value no grant of the window allows any file of: never in the bytes.
            for (const v of hiddenValues(table, j.wide))
              if (!k.endsWith('.parquet') && r.body.includes(v)) fail(`${w2}: holds the value ${v}`);
          }
          if (whole && j.settled && keyValid(key))
            for (const f of table.files)
              if (j.sure(f) && !everyName.has(f.key))
                fail(`${what}: the generated log never names ${f.key}, allowed for 30 s`);
          break;
        }
        case 'list': {
          const key = keyOf(s.who, s.key);
          const j = judge(s.who);
          const listed = await listAll(s.inst, key, prefix, s.delimiter ? '/' : undefined, s.maxKeys);
          const what = `LIST ${prefix} ${s.delimiter ? 'with /' : ''} by ${s.who} on ${s.inst}`;
          if (!authenticated(what, key, listed.last)) break;
          if (listed.last.status !== 200)
            fail(`${what}: ${listed.last.status} ${listed.last.text.slice(0, 300)}`);
          const shown = new Set(listed.keys);
          for (const f of table.files) {
            const full = prefix + f.key;
            if (shown.has(full) && !j.wide(f))
              fail(`${what}: lists ${f.key}, which no grant of the last 30 s allows`);
            const listable = clock.now() - committedAt.get(f.key)! >= SNAPSHOT_TTL;
            if (!s.delimiter && !shown.has(full) && listable && j.sure(f) && j.settled && keyValid(key))
              fail(`${what}: misses ${f.key}, allowed for 30 s`);
          }
          for (const p of listed.prefixes) {
            const rel = p.slice(prefix.length);
            if (rel === '_delta_log/') continue;
            if (!table.files.some((f) => f.key.startsWith(rel) && j.wide(f)))
              fail(`${what}: lists folder ${rel}, no file of which a grant of the last 30 s allows`);
          }
          for (const v of hiddenValues(table, j.wide))
            if (listed.text.includes(v)) fail(`${what}: holds the value ${v}`);
          break;
        }
      }
    };
    for (const s of steps) await exec(s);
  } finally {
    for (const p of proxies) await p.stop();
  }

  function keyValid(key: Key): boolean {
    return key.revoked === undefined;
  }

  async function listAll(i: number, key: Key, p: string, delimiter: string | undefined, maxKeys: number) {
    const keysOut: string[] = [];
    const prefixes: string[] = [];
    let text = '';
    let token: string | undefined;
    for (let page = 0; page < 200; page++) {
      const q = encodeQuery({
        'list-type': '2',
        prefix: p,
        delimiter,
        'max-keys': String(maxKeys),
        'continuation-token': token,
      });
      const r = await send(i, key, 'GET', '/datalake', q);
      text += r.text;
      if (r.status !== 200) return { keys: keysOut, prefixes, text, last: r };
      keysOut.push(...tagValues(r.text.replace(/<CommonPrefixes>[\s\S]*?<\/CommonPrefixes>/g, ''), 'Key'));
      for (const m of r.text.matchAll(/<CommonPrefixes>([\s\S]*?)<\/CommonPrefixes>/g))
        prefixes.push(...tagValues(m[1]!, 'Prefix'));
      token = tagValues(r.text, 'NextContinuationToken')[0];
      if (tagValues(r.text, 'IsTruncated')[0] !== 'true') return { keys: keysOut, prefixes, text, last: r };
    }
    return fail('listing did not end in 200 pages');
  }
}

/** Paths named by the add/remove actions of a generated checkpoint (decoded). */
async function namesInParquet(key: string, body: Buffer): Promise<Set<string>> {
  const out = new Set<string>();
  if (!key.endsWith('.parquet')) {
    for (const l of jsonLines(new Uint8Array(body)))
      for (const a of [l.add, l.remove, l.cdc] as ({ path?: string } | undefined)[])
        if (a?.path) out.add(decodeURIComponent(a.path));
    return out;
  }
  for (const row of await parquetRows(new Uint8Array(body)))
    for (const a of [row.add, row.remove] as ({ path?: string } | null | undefined)[])
      if (a?.path) out.add(decodeURIComponent(a.path));
  return out;
}

/** Region values of which no file is allowed (they must appear nowhere). */
function hiddenValues(table: LakeTable, wide: (f: LakeFile) => boolean): string[] {
  const regions = new Set(table.files.map((f) => f.values.region).filter((v): v is string => v !== null));
  return [...regions].filter((v) => !table.files.some((f) => f.values.region === v && wide(f)));
}

it('grant and key changes in DynamoDB reach every instance within 30 s, never wider', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 5, maxLength: 30 }), (steps) => run(steps)),
    { numRuns: RUNS, seed: SEED, ...(PATH ? { path: PATH } : {}) },
  );
}, 600_000);
