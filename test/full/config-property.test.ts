import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PartitionMap } from '../../lambda/access/grant';
import { startNodeServer } from '../../lambda/adapters/node-server';
import { DynamoTarget } from '../../lambda/admin/dynamo-target';
import { createProxy, nodeServerOptions } from '../../lambda/bootstrap';
import { type Config, ConfigError, parseConfig, parseConfigText, parseTableUri } from '../../lambda/config';
import { jsonLogger } from '../../lambda/core/logger';
import { createDynamoTable } from '../../lambda/store/dynamo-schema';
import { type DynamoServer, startDynalite, testDynamoClient } from '../helpers/dynamo-servers';
import { type LakeTable, mapMatches, tagValues, writeLakeTable } from '../helpers/partitioned-lake';
import {
  BACKEND_CREDENTIALS,
  backendClient,
  createBucket,
  type S3Server,
  startS3rver,
} from '../helpers/s3-servers';
import { encodeKeyPath, encodeQuery, type RawResponse, signedFetch } from '../helpers/signed-fetch';

const SEED = Number(process.env.FUZZ_SEED ?? 20261206);
const RUNS = Number(process.env.FUZZ_RUNS ?? 30);
const PATH = process.env.FUZZ_PATH;
const fcOptions = (seed: number) => ({
  seed,
  numRuns: RUNS,
  ...(PATH ? { path: PATH } : {}),
  endOnFailure: true,
});

const BUCKET = 'cfgprop';
const DDB_TABLE = 'config-property';

// ---------------------------------------------------------------- the lake

// ---------------------------------------------------------------- servers

let backend: S3Server;
let dynalite: DynamoServer;
let ddb: ReturnType<typeof testDynamoClient>;
const tables = new Map<string, LakeTable>();

const KEY = { accessKeyId: 'AKIACFGPROP0001', secretAccessKey: 'cfgprop-secret-0001', principal: 'p' };

interface Started {
  url: string;
  logs: string[];
  stop(): Promise<void>;
}

async function serve(named: Config): Promise<Started> {
  const logs: string[] = [];
  // What resolveSecrets would read from Secrets Manager (config-secrets.ts).
  const config = {
    ...named,
    ...(named.listingTokenKeySecret ? { listingTokenKey: 'k'.repeat(32) } : {}),
    ...(named.metricsTokenSecret ? { metricsToken: 't'.repeat(16) } : {}),
  };
  const proxy = createProxy(config, {
    backendCredentials: BACKEND_CREDENTIALS,
    audit: false,
    logger: jsonLogger((line) => logs.push(line)),
  });
  const server = await startNodeServer(proxy.handler, '127.0.0.1', 0, nodeServerOptions(proxy));
  return { url: server.url, logs, stop: () => server.close() };
}

beforeAll(async () => {
  backend = await startS3rver();
  const s3 = backendClient(backend.endpoint);
  await createBucket(s3, BUCKET);
  const regions = ['EU', 'US', 'ü 😈', null];
  tables.set(
    'sales',
    await writeLakeTable(
      s3,
      BUCKET,
      'sales',
      { region: 'string', day: 'date' },
      regions.flatMap((region) => ['2024-01-01', '2024-01-02'].map((day) => ({ region, day }))),
    ),
  );
  tables.set(
    't2',
    await writeLakeTable(
      s3,
      BUCKET,
      't2',
      { Region: 'string' },
      ['EU', 'x,y=z', null].map((Region) => ({ Region })),
    ),
  );
  s3.destroy();
  dynalite = await startDynalite();
  ddb = testDynamoClient(dynalite.endpoint);
  await createDynamoTable(ddb, DDB_TABLE);
}, 60_000);

afterAll(async () => {
  ddb?.destroy();
  await dynalite?.stop();
  await backend?.stop();
});

// ---------------------------------------------------------------- requests and answers

type Key = { accessKeyId: string; secretAccessKey: string };

const code = (r: RawResponse) => /<Code>([^<]*)<\/Code>/.exec(r.text)?.[1];

/** What a caller sees: each file's GET and HEAD status, each table's and the root's listing. */
async function observe(url: string, key: Key, what: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const send = async (method: string, path: string, query = '') => {
    const r = await signedFetch(url, method, path, query, {}, key);
    expect(r.status, `${what}: ${method} ${path}?${query}\n${r.text.slice(0, 400)}`).toBeLessThan(500);
    return r;
  };
  for (const table of tables.values()) {
    for (const f of table.files) {
      const path = `/datalake/${encodeKeyPath(`${table.alias}/${f.key}`)}`;
      const get = await send('GET', path);
      const head = await send('HEAD', path);
      out[`GET ${table.alias}/${f.key}`] = [get.status, code(get)];
      out[`HEAD ${table.alias}/${f.key}`] = head.status;
    }
    const list = await send('GET', '/datalake', encodeQuery({ 'list-type': '2', prefix: `${table.alias}/` }));
    out[`LIST ${table.alias}/`] = [list.status, tagValues(list.text, 'Key').sort()];
  }
  const root = await send('GET', '/datalake', encodeQuery({ 'list-type': '2', delimiter: '/' }));
  out['LIST /'] = [root.status, tagValues(root.text, 'Prefix').sort()];
  return out;
}

/** The readable files of a caller holding these grants (allowedPartitions included by the caller). */
function readableBy(grants: readonly { table: string; partitions: readonly PartitionMap[] }[]) {
  const readable = new Set<string>();
  for (const table of tables.values()) {
    const maps = grants.filter((g) => g.table === table.alias).flatMap((g) => g.partitions);
    for (const f of table.files)
      if (maps.some((m) => mapMatches(table, m, f))) readable.add(`${table.alias}/${f.key}`);
  }
  return readable;
}

// ---------------------------------------------------------------- (1) generated config texts

type Path = (string | number)[];

const WEIRD: unknown[] = [
  0,
  -1,
  1,
  1.5,
  -0,
  1e308,
  'NaN',
  '1',
  '',
  'x',
  ' ',
  true,
  false,
  null,
  [],
  {},
  [{}],
  2 ** 31,
  2 ** 53,
  65_535,
  65_536,
  '😈',
  '.*',
  '(',
  'dynamodb',
  'raw',
  'proxy',
  's3://cfgprop/tables/sales',
  Array.from({ length: 5000 }, () => 'x'),
];

// Buckets other than the lake's are left out: a bucket that is not there (or cannot be, as
// "a..b") answers every request 500 InternalError, the storage having failed.
const URIS = [
  's3://cfgprop/tables/sales',
  's3://cfgprop/tables/sales/',
  's3://cfgprop/tables/sales//',
  's3://cfgprop/tables//sales',
  's3://cfgprop/tables/./sales',
  's3://cfgprop/tables/sales/..',
  's3://cfgprop/',
  's3://cfgprop',
  's3://cfgprop/tables',
  's3://CFGPROP/tables/sales',
  's3://cfgprop/tables/t2',
  's3://cfgprop/tables/sal%65s',
  's3://cfgprop/tables/ü',
  's3://cfgprop/tables/sales\\x',
  's3:/cfgprop/x',
  'S3://cfgprop/tables/sales',
  'https://cfgprop.s3.amazonaws.com/tables/sales',
  's3://cfgprop/tables/sales?x=1',
  's3://cfgprop/tables/sales#x',
  's3://cfgprop/tables/sales ',
];

const MAPS: unknown[] = [
  {},
  { region: 'EU' },
  { region: null },
  { region: '' },
  { Region: 'EU' },
  { REGION: 'US' },
  { region: 'EU', day: '2024-01-01' },
  { regon: 'EU' },
  { region: 1 },
  { region: ['EU'] },
  { '': 'EU' },
  { region: 'ü 😈' },
  'region=EU',
  null,
];

/** Field paths and values worth trying there (besides WEIRD). */
const FIELDS: [Path, unknown[]][] = [
  [['host'], ['127.0.0.1', '0.0.0.0', '::', 'localhost', '']],
  [['port'], [0, 1, 8080, 65_535, 18_080, 9090]],
  [['metricsPort'], [0, 1, 9090, 18_080, 65_535]],
  [
    ['metricsToken'],
    ['t'.repeat(16), 't'.repeat(15), 'has space in it 123', 'x'.repeat(512), 'x'.repeat(513)],
  ],
  [
    ['metricsTokenSecret'],
    ['my/secret', 'arn:aws:secretsmanager:us-east-1:123456789012:secret:x', 'bad name!'],
  ],
  [['tableMapping'], [{}, { sales: 's3://cfgprop/tables/sales', t2: 's3://cfgprop/tables/t2' }]],
  [['tableMapping', 'sales'], URIS],
  [['tableMapping', 't2'], URIS],
  [['tableMapping', 'constructor'], ['s3://cfgprop/tables/sales']],
  [['tableMapping', 'toString'], ['s3://cfgprop/tables/t2']],
  [['tableMapping', 'a..b'], ['s3://cfgprop/tables/sales']],
  [['tableMapping', '.hidden'], ['s3://cfgprop/tables/sales']],
  [['tableMapping', 'x'.repeat(129)], ['s3://cfgprop/tables/sales']],
  [['readOnly'], [true, false, 'false', 0]],
  [['getMode'], ['proxy', 'presignedUrl', 'presigned', 'Proxy']],
  [['proxyPartial'], [true, false]],
  [
    ['redirectClients'],
    [[], ['^polars/'], ['.'], ['('], [''], ['x'.repeat(257)], ['(?<n>a)\\k<n>'], ['\\p{L}']],
  ],
  [
    ['lambdaStreaming', 'maxResponseBytes'],
    [1, 200_000_000, 0],
  ],
  [
    ['lambdaStreaming', 'unthrottledBytes'],
    [1, 6_000_000],
  ],
  [
    ['lambdaStreaming', 'throttledBytesPerSecond'],
    [1, 2_000_000],
  ],
  [['presignExpiresSeconds'], [1, 60, 3600, 3601]],
  [['allowedPartitions'], [{}, { sales: [{ region: 'US' }] }, { t2: [{}] }, { ghost: [{}] }, { sales: [] }]],
  [
    ['allowedPartitions', 'sales'],
    [[], [{}], [{ region: 'EU' }], [{ Region: null }]],
  ],
  [
    ['database'],
    [{ type: 'dynamodb', tableName: 'abc' }, { type: 'dynamodb', tableName: 'ab' }, { type: 'mysql' }],
  ],
  [['databaseEnabled'], [true, false]],
  [
    ['s3', 'region'],
    ['us-east-1', 'eu-west-1', ''],
  ],
  [
    ['s3', 'maxSockets'],
    [1, 4096, 4097],
  ],
  [
    ['s3', 'maxPendingRequests'],
    [1, 127, 128, 10_000_000],
  ],
  [
    ['s3', 'maxAttempts'],
    [1, 10, 11],
  ],
  [
    ['s3', 'requestTimeoutMs'],
    [99, 100, 5000, 2 ** 31 - 1, 2 ** 31],
  ],
  [['requestTimeoutMs'], [99, 100, 5000, 2 ** 31 - 1, 2 ** 31]],
  [['maxUrlBytes'], [2047, 2048, 65_536, 65_537]],
  [['maxHeaderBytes'], [4095, 4096, 65_536, 65_537]],
  [['streamsPerPrincipal'], [1, 2 ** 31]],
  [['clientIdleTimeoutMs'], [1, 1000, 2 ** 31 - 1]],
  [
    ['auth', 'allowAnonymous'],
    [true, false],
  ],
  [
    ['auth', 'keys'],
    [[], [KEY, KEY]],
  ],
  [
    ['auth', 'keys', 0, 'accessKeyId'],
    ['AK', 'AKIA/+=._-x', 'a'.repeat(129), 'ä'],
  ],
  [
    ['auth', 'keys', 0, 'secretAccessKey'],
    ['1234567', '12345678'],
  ],
  [
    ['auth', 'keys', 0, 'principal'],
    ['anonymous', 'Anonymous', '', ' p', '__proto__', 'constructor'],
  ],
  [['grants'], [[], [{ principal: 'p', table: 'ghost', partitions: [{}] }]]],
  [
    ['grants', 0, 'principal'],
    ['p', 'P', '', 'anonymous', '__proto__'],
  ],
  [
    ['grants', 0, 'table'],
    ['sales', 't2', 'Sales', 'ghost', '..', 'sales/'],
  ],
  [
    ['grants', 0, 'partitions'],
    [[], [{}], [{}, { region: 'EU' }], ...MAPS.map((m) => [m])],
  ],
  [['grants', 0, 'partitions', 0], MAPS],
  [
    ['grants', 0, 'partitions', 0, 'region'],
    ['EU', 'US', null, '', 'ü 😈', 'eu'],
  ],
  [
    ['grants', 0, 'partitions', 0, 'constructor'],
    ['EU', null],
  ],
  [['logView'], ['raw', 'filtered', 'Filtered']],
  [['snapshotTtlMs'], [0, 1, 2 ** 31]],
  [['snapshotStaleIfErrorMs'], [0, 2 ** 31]],
  [['listingTokenKey'], ['k'.repeat(31), 'k'.repeat(32)]],
  [['listingTokenKeySecret'], ['name']],
  [['snapshotCacheBytes'], [1024 * 1024 - 1, 1024 * 1024, 2 ** 40]],
];

/** Objects of the config and keys that are not theirs (misspellings, prototype names, extras). */
const OBJECTS: [Path, string[]][] = [
  [[], ['tablemapping', 'readonly', 'grant', 'allowedPartition', 'database_enabled', 'extra']],
  [['s3'], ['endPoint', 'maxSocket', 'pathStyle', 'extra']],
  [['auth'], ['key', 'allowAnonymus', 'extra']],
  [['lambdaStreaming'], ['maxResponseByte', 'extra']],
  [
    ['auth', 'keys', 0],
    ['accesKeyId', 'secret', 'principals', 'extra'],
  ],
  [
    ['grants', 0],
    ['partition', 'tables', 'expires', 'extra'],
  ],
  [['tableMapping'], []],
  [['allowedPartitions'], []],
  [['grants', 0, 'partitions', 0], []],
];
const PROTO_KEYS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype'];

type Mutation =
  | { kind: 'set'; path: Path; value: unknown }
  | { kind: 'extra'; path: Path; key: string; value: unknown }
  | { kind: 'twice'; path: Path; key: string; first: unknown };

const setArb: fc.Arbitrary<Mutation> = fc
  .integer({ min: 0, max: FIELDS.length - 1 })
  .chain((i) =>
    fc
      .oneof(
        { weight: 3, arbitrary: fc.constantFrom(...FIELDS[i]![1]) },
        { weight: 1, arbitrary: fc.constantFrom(...WEIRD) },
      )
      .map((value): Mutation => ({ kind: 'set', path: FIELDS[i]![0], value })),
  );
const extraArb: fc.Arbitrary<Mutation> = fc.integer({ min: 0, max: OBJECTS.length - 1 }).chain((i) =>
  fc
    .record({
      key: fc.constantFrom(...OBJECTS[i]![1], ...PROTO_KEYS),
      value: fc.constantFrom<unknown>('x', 1, true, null, {}, { allowAnonymous: true }, [{}], 'EU'),
    })
    .map(({ key, value }): Mutation => ({ kind: 'extra', path: OBJECTS[i]![0], key, value })),
);
const twiceArb: fc.Arbitrary<Mutation> = fc
  .constantFrom<[Path, string]>(
    [[], 'readOnly'],
    [[], 'grants'],
    [['s3'], 'maxAttempts'],
    [['auth'], 'keys'],
    [['auth', 'keys', 0], 'principal'],
    [['grants', 0], 'table'],
    [['grants', 0, 'partitions', 0], 'region'],
    [['tableMapping'], 'sales'],
  )
  .chain(([path, key]) =>
    fc
      .constantFrom<unknown>('x', 'EU', false, [], 3, 's3://cfgprop/tables/t2')
      .map((first): Mutation => ({ kind: 'twice', path, key, first })),
  );
const mutationsArb = fc.array(fc.oneof({ weight: 6, arbitrary: setArb }, extraArb, twiceArb), {
  minLength: 0,
  maxLength: 3,
});

function baseConfig(): Record<string, unknown> {
  return {
    tableMapping: { sales: `s3://${BUCKET}/tables/sales`, t2: `s3://${BUCKET}/tables/t2` },
    getMode: 'proxy',
    logView: 'filtered',
    s3: { endpoint: backend.endpoint, forcePathStyle: true, region: 'us-east-1' },
    auth: { keys: [{ ...KEY }] },
    grants: [{ principal: KEY.principal, table: 'sales', partitions: [{ region: 'EU' }] }],
  };
}

const isObj = (v: unknown): v is Record<string | number, unknown> => typeof v === 'object' && v !== null;

/** The node at `path`, made (as an object) where it is missing; undefined where a scalar is in the way. */
function at(root: Record<string, unknown>, path: Path): Record<string | number, unknown> | undefined {
  let node: unknown = root;
  for (const step of path) {
    if (!isObj(node)) return undefined;
    if (!Object.hasOwn(node, step)) node[step] = typeof step === 'number' ? {} : {};
    node = node[step];
  }
  return isObj(node) ? node : undefined;
}

/** The config text with its mutations; `inserts` carry keys JSON.stringify cannot write (twice, __proto__). */
function configText(mutations: Mutation[]): { text: string; applied: Mutation[] } {
  const root = baseConfig();
  const inserts = new Map<string, string>();
  const applied: Mutation[] = [];
  for (const m of mutations) {
    const parent = at(root, m.kind === 'set' ? m.path.slice(0, -1) : m.path);
    if (!parent) continue;
    if (m.kind === 'set') {
      const last = m.path[m.path.length - 1]!;
      parent[last] = structuredClone(m.value);
    } else {
      const mark = `@@insert${inserts.size}@@`;
      Object.defineProperty(parent, mark, { value: 0, enumerable: true, configurable: true, writable: true });
      const entry =
        m.kind === 'extra'
          ? `${JSON.stringify(m.key)}:${JSON.stringify(m.value)}`
          : `${JSON.stringify(m.key)}:${JSON.stringify(m.first)},${JSON.stringify(m.key)}:${JSON.stringify(m.first)}`;
      inserts.set(mark, entry);
    }
    applied.push(m);
  }
  let text = JSON.stringify(root, null, 1);
  for (const [mark, entry] of inserts) text = text.replace(`"${mark}": 0`, entry);
  return { text, applied };
}

/** A value as the JSON text holds it (-0 is written 0). */
const asWritten = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

function valueAt(config: unknown, path: Path): unknown {
  let node = config;
  for (const step of path) {
    if (!isObj(node) || !Object.hasOwn(node, step)) return undefined;
    node = node[step];
  }
  return node;
}

describe('generated config texts', () => {
  it('are refused naming the field, or kept as written and start a proxy that grants what they say', async () => {
    await fc.assert(
      fc.asyncProperty(mutationsArb, async (mutations) => {
        const { text, applied } = configText(mutations);
        const show = `mutations ${JSON.stringify(applied).slice(0, 1500)}`;
        let config: Config;
        try {
          config = parseConfig(parseConfigText(text, 'config.json'));
        } catch (e) {
          expect(e, `${show}: ${(e as Error).stack}`).toBeInstanceOf(ConfigError);
          const message = (e as Error).message;
          // "field.path: problem", the path naming a field (or the file, for its text).
          expect(message, show).toMatch(/^(config\.json: |[A-Za-z_$(][^:]*: )/);
          return;
        }
        // Accepted: nothing given was dropped or replaced (by the text; a later mutation may).
        const overlaps = (a: Path, b: Path) =>
          a.slice(0, b.length).join('\0') === b.slice(0, a.length).join('\0');
        const last = applied.filter(
          (m, i) => !applied.slice(i + 1).some((later) => overlaps(later.path, m.path)),
        );
        for (const m of last) {
          if (m.kind === 'set')
            expect(valueAt(config, m.path), `${show}: ${m.path.join('.')}`).toStrictEqual(asWritten(m.value));
          else if (m.kind === 'extra')
            expect(valueAt(config, [...m.path, m.key]), `${show}: kept ${m.key}`).toStrictEqual(
              asWritten(m.value),
            );
          else expect.fail(`${show}: a key written twice was accepted`);
        }
        let proxy: Started;
        try {
          proxy = await serve(config);
        } catch (e) {
          // At start-up, as loadConfig's refusals (storesFromConfig: databaseEnabled without database).
          if (e instanceof ConfigError && /^[A-Za-z_$][^:]*: /.test(e.message)) return;
          expect.fail(`${show}: accepted, then the proxy did not start: ${(e as Error).stack}`);
        }
        try {
          const seen = await observe(proxy.url, KEY, show);
          const own = config.grants.filter((g) => g.principal === KEY.principal);
          const allowed = Object.entries(config.allowedPartitions).map(([table, partitions]) => ({
            table,
            partitions,
          }));
          const principalOk = config.auth.keys.some(
            (k) => k.accessKeyId === KEY.accessKeyId && k.secretAccessKey === KEY.secretAccessKey,
          );
          const principal = config.auth.keys.find((k) => k.accessKeyId === KEY.accessKeyId)?.principal;
          const holds = principalOk
            ? principal === KEY.principal
              ? [...own, ...allowed]
              : [...config.grants.filter((g) => g.principal === principal), ...allowed]
            : [];
          const readable = readableBy(
            holds.filter((g) => {
              const uri = Object.hasOwn(config.tableMapping, g.table)
                ? config.tableMapping[g.table]
                : undefined;
              return (
                uri !== undefined &&
                parseTableUri(uri).prefix === `tables/${g.table}/` &&
                parseTableUri(uri).bucket === BUCKET
              );
            }),
          );
          for (const table of tables.values())
            for (const f of table.files) {
              const [status] = seen[`GET ${table.alias}/${f.key}`] as [number];
              const want = readable.has(`${table.alias}/${f.key}`);
              if (!want) expect(status, `${show}: GET ${table.alias}/${f.key} ${text}`).not.toBe(200);
            }
        } finally {
          await proxy.stop();
        }
      }),
      fcOptions(SEED),
    );
  }, 600_000);
});

// ---------------------------------------------------------------- (2) config file vs DynamoDB

const PRINCIPALS = ['plain', 'ü日本😈', 'a#b', 'constructor', '__proto__', 'toString', ' sp ', 'P', 'p'];

const diffMapArb: fc.Arbitrary<PartitionMap> = fc
  .uniqueArray(
    fc.tuple(
      fc.constantFrom('region', 'Region', 'REGION', 'day', 'DAY', 'regon', 'constructor', 'a b'),
      fc.constantFrom<string | null>(
        'EU',
        'US',
        'eu',
        'ü 😈',
        'x,y=z',
        '2024-01-01',
        '2024-1-1',
        null,
        '',
        'null',
        '__HIVE_DEFAULT_PARTITION__',
      ),
    ),
    { selector: ([k]) => k, maxLength: 3 },
  )
  .map((entries) => Object.fromEntries(entries));

const diffGrantArb = fc.record({
  table: fc.constantFrom('sales', 't2'),
  partitions: fc.oneof(
    { weight: 5, arbitrary: fc.array(diffMapArb, { minLength: 1, maxLength: 3 }) },
    { weight: 1, arbitrary: fc.constant<PartitionMap[]>([]) },
    { weight: 1, arbitrary: fc.constant<PartitionMap[]>([{}]) },
  ),
});

const diffRunArb = fc.record({
  principals: fc.uniqueArray(
    fc.record({ name: fc.constantFrom(...PRINCIPALS), grants: fc.array(diffGrantArb, { maxLength: 3 }) }),
    { selector: (p) => p.name, minLength: 1, maxLength: 3 },
  ),
  allowed: fc.option(fc.dictionary(fc.constantFrom('sales', 't2'), fc.array(diffMapArb, { maxLength: 2 })), {
    nil: undefined,
  }),
});

let diffRun = 0;

describe('the same grants from the config file and from DynamoDB', () => {
  it('give the same answers to the same signed requests', async () => {
    const target = new DynamoTarget(testDynamoClient(dynalite.endpoint), DDB_TABLE);
    try {
      await fc.assert(
        fc.asyncProperty(diffRunArb, async (run) => {
          const n = ++diffRun;
          // Fresh names each run: the DynamoDB stores cache answers for 30 s.
          const callers = run.principals.map((p, i) => ({
            principal: `r${n}-${p.name}`,
            key: { accessKeyId: `AKIADIFF${n}X${i}`, secretAccessKey: `diff-secret-${n}-${i}-xxxxxxxx` },
            grants: p.grants.map((g) => ({ principal: `r${n}-${p.name}`, ...g })),
          }));
          const common = {
            tableMapping: { sales: `s3://${BUCKET}/tables/sales`, t2: `s3://${BUCKET}/tables/t2` },
            getMode: 'proxy',
            logView: 'filtered',
            s3: { endpoint: backend.endpoint, forcePathStyle: true, region: 'us-east-1' },
            auth: { keys: callers.map((c) => ({ ...c.key, principal: c.principal })) },
            ...(run.allowed ? { allowedPartitions: run.allowed } : {}),
          };
          const fromFile = parseConfig(
            parseConfigText(
              JSON.stringify({ ...common, grants: callers.flatMap((c) => c.grants) }),
              'c.json',
            ),
          );
          for (const c of callers) for (const g of c.grants) await target.addGrant(g);
          const fromDynamo = parseConfig({
            ...common,
            databaseEnabled: true,
            database: {
              type: 'dynamodb',
              tableName: DDB_TABLE,
              endpoint: dynalite.endpoint,
              region: 'us-east-1',
            },
          });
          const a = await serve(fromFile);
          const b = await serve(fromDynamo);
          try {
            for (const c of callers) {
              const show = `${JSON.stringify(c.principal)} grants ${JSON.stringify(c.grants)} allowed ${JSON.stringify(run.allowed)}`;
              const seenA = await observe(a.url, c.key, `config: ${show}`);
              const seenB = await observe(b.url, c.key, `dynamodb: ${show}`);
              expect(seenB, show).toStrictEqual(seenA);
            }
          } finally {
            await a.stop();
            await b.stop();
          }
        }),
        { ...fcOptions(SEED + 1), numRuns: Number(process.env.FUZZ_RUNS ?? 8) },
      );
    } finally {
      target.close();
    }
  }, 600_000);
});
