/**
 * Grant and key items written straight into a real DynamoDB-compatible table (dynalite), as an
 * operator, another tool or a hand edit might, well-formed and malformed, and the admin CLI's own
 * writes; a running proxy reads them. Every key is then used for real signed GET, HEAD and
 * ListObjectsV2 requests, compared with a model built from the well-formed items alone: a
 * well-formed grant gives exactly its partitions, a malformed item nothing (default deny), a
 * malformed key item cannot sign, no answer is a 5xx, and no log line holds a secret.
 * Each run uses fresh principals and key ids, so the proxy's 30 s caches never hide a write.
 * The seed is fixed; FUZZ_SEED and FUZZ_RUNS explore, FUZZ_PATH replays a report's path. In the
 * full tier (about 20 s for 30 runs); 1,000 runs at five seeds found nothing.
 */
import { type AttributeValue, PutItemCommand } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PartitionMap } from '../../lambda/access/grant';
import { createDynamoTable, MAX_PRINCIPAL_BYTES } from '../../lambda/store/dynamo-schema';
import { adminInProcess } from '../helpers/admin-cli';
import { type DynamoServer, startDynalite, testDynamoClient } from '../helpers/dynamo-servers';
import { type LakeTable, mapMatches, tagValues, writeLakeTable } from '../helpers/partitioned-lake';
import { type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { backendClient, createBucket, type S3Server, startS3rver } from '../helpers/s3-servers';
import { encodeKeyPath, encodeQuery, type RawResponse, signedFetch } from '../helpers/signed-fetch';

const SEED = Number(process.env.FUZZ_SEED ?? 20260611);
const RUNS = Number(process.env.FUZZ_RUNS ?? 30);
const PATH = process.env.FUZZ_PATH;

const DDB_TABLE = 'dynamo-items-property';
const BUCKET = 'prop-lake';

// ---------------------------------------------------------------- the lake

const SALES_REGIONS: readonly (string | null)[] = ['EU', 'US', 'a/b c', 'ü+=x', '😈', 'e\u0301', null];
const SALES_DAYS = ['2024-01-01', '2024-01-02'] as const;
const T2_REGIONS = ['EU', 'US', 'x,y=z\\w'] as const;

// ---------------------------------------------------------------- the model

interface GoodGrant {
  table: string;
  partitions: PartitionMap[];
}

// ---------------------------------------------------------------- generated items

const VALUE_TEXTS = [
  ...SALES_REGIONS.filter((r): r is string => r !== null),
  ...T2_REGIONS,
  ...SALES_DAYS,
  'eu',
  'EU ',
  '\u00e9',
  'null',
  '__HIVE_DEFAULT_PARTITION__',
  '2024-13-45',
  '"quoted"',
  '\\',
  'x'.repeat(3000),
];

const mapArb: fc.Arbitrary<PartitionMap> = fc
  .uniqueArray(
    fc.tuple(
      fc.constantFrom('region', 'day', 'Region', 'DAY', 'regon', 'constructor', '__proto__', 'a b'),
      fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom<string | null>(...VALUE_TEXTS) },
        { weight: 1, arbitrary: fc.constant<string | null>(null) },
        { weight: 1, arbitrary: fc.constant<string | null>('') },
      ),
    ),
    // One entry per column spelling; a case variant of a column makes a map that matches nothing.
    { selector: ([k]) => k, maxLength: 3 },
  )
  .map((entries) => Object.fromEntries(entries));

const grantArb = fc.record({
  table: fc.constantFrom('sales', 'sales', 't2', 'ghost', 'Sales'),
  partitions: fc.oneof(
    { weight: 5, arbitrary: fc.array(mapArb, { minLength: 1, maxLength: 3 }) },
    { weight: 1, arbitrary: fc.constant<PartitionMap[]>([]) },
    { weight: 1, arbitrary: fc.constant<PartitionMap[]>([{}]) },
  ),
  grantId: fc.constantFrom('g1', 'g2', 'a#b', 'ü', 'x'.repeat(200)),
  copies: fc.record({ principal: fc.boolean(), grantId: fc.boolean(), createdAt: fc.boolean() }),
});
type Drawn<A> = A extends fc.Arbitrary<infer T> ? T : never;
type GrantSpec = Drawn<typeof grantArb>;

/** Ways to break a grant item; each makes the proxy refuse it (grant-item.ts, README). */
const GRANT_DEFECTS = [
  'partitions-N',
  'partitions-L',
  'partitions-M',
  'partitions-SS',
  'partitions-missing',
  'partitions-empty-text',
  'partitions-object',
  'partitions-number-value',
  'partitions-empty-column',
  'partitions-duplicate-column',
  'partitions-not-json',
  'table-N',
  'table-missing',
  'table-hash',
  'table-dotdot',
  'sk-other-table',
  'sk-no-id',
  'principal-other',
  'principal-N',
  'grantId-other',
  'grantId-N',
  'extra-expiresAt',
  'extra-condition',
] as const;
type GrantDefect = (typeof GRANT_DEFECTS)[number];

/** Ways to break a key item; each leaves a key that cannot sign (key-item.ts, SECURITY.md). */
const KEY_DEFECTS = [
  'status-disabled',
  'status-Active',
  'status-missing',
  'status-N',
  'status-revoked',
  'extra-expiresAt',
  'accessKeyId-other',
  'principal-missing',
  'principal-N',
  'principal-empty',
  'principal-anonymous',
  'revokedAt-while-active',
  'secret-short',
  'secret-missing',
  'secret-B',
  'secret-L',
] as const;
type KeyDefect = (typeof KEY_DEFECTS)[number];

const principalSuffixArb = fc.constantFrom(
  'plain',
  'with space',
  'ü日本😈',
  'a#b',
  'GRANT#x',
  '-dash',
  'slash/name',
  'anonymous',
  'Anonymous',
  '*',
  '__proto__',
  'long',
  ' spaces ',
  'nul\u0000x',
  'line\nbreak',
);

const principalArb = fc.record({
  suffix: principalSuffixArb,
  keys: fc.record({ accessKeyId: fc.boolean(), createdAt: fc.boolean() }),
  grants: fc.array(grantArb, { maxLength: 4 }),
  badGrants: fc.array(fc.tuple(grantArb, fc.constantFrom(...GRANT_DEFECTS)), { maxLength: 3 }),
  badKeys: fc.array(fc.constantFrom(...KEY_DEFECTS), { maxLength: 2 }),
});

const cliArb = fc.record({
  suffix: principalSuffixArb,
  grants: fc.array(fc.record({ table: fc.constantFrom('sales', 't2', 'ghost', 'Sales'), map: mapArb }), {
    minLength: 1,
    maxLength: 3,
  }),
});

const runArb = fc.record({
  principals: fc.array(principalArb, { minLength: 1, maxLength: 3 }),
  cli: fc.option(cliArb, { nil: undefined }),
});
type Run = Drawn<typeof runArb>;

// ---------------------------------------------------------------- items

type Item = Record<string, AttributeValue>;

function grantItem(principal: string, g: GrantSpec): Item {
  return {
    pk: { S: `PRINCIPAL#${principal}` },
    sk: { S: `GRANT#${g.table}#${g.grantId}` },
    table: { S: g.table },
    partitions: { S: JSON.stringify(g.partitions) },
    ...(g.copies.principal ? { principal: { S: principal } } : {}),
    ...(g.copies.grantId ? { grantId: { S: g.grantId } } : {}),
    ...(g.copies.createdAt ? { createdAt: { S: '2024-06-01T00:00:00.000Z' } } : {}),
  };
}

function brokenGrantItem(principal: string, g: GrantSpec, defect: GrantDefect): Item {
  const item = grantItem(principal, g);
  const text = JSON.stringify(g.partitions);
  const without = (name: string) => {
    const { [name]: _gone, ...rest } = item;
    return rest;
  };
  switch (defect) {
    case 'partitions-N':
      return { ...item, partitions: { N: '1' } };
    case 'partitions-L':
      return { ...item, partitions: { L: [{ S: text }] } };
    case 'partitions-M':
      return { ...item, partitions: { M: { region: { S: 'EU' } } } };
    case 'partitions-SS':
      return { ...item, partitions: { SS: [text] } };
    case 'partitions-missing':
      return without('partitions');
    case 'partitions-empty-text':
      return { ...item, partitions: { S: '' } };
    case 'partitions-object':
      return { ...item, partitions: { S: '{}' } };
    case 'partitions-number-value':
      return { ...item, partitions: { S: '[{"region":1}]' } };
    case 'partitions-empty-column':
      return { ...item, partitions: { S: '[{"":"EU"}]' } };
    case 'partitions-duplicate-column':
      return { ...item, partitions: { S: '[{"region":"nowhere","region":"EU"}]' } };
    case 'partitions-not-json':
      return { ...item, partitions: { S: `${text}]` } };
    case 'table-N':
      return { ...item, table: { N: '2' } };
    case 'table-missing':
      return without('table');
    case 'table-hash':
      return { ...item, table: { S: `${g.table}#x` }, sk: { S: `GRANT#${g.table}#x#${g.grantId}` } };
    case 'table-dotdot':
      return { ...item, table: { S: `${g.table}..x` }, sk: { S: `GRANT#${g.table}..x#${g.grantId}` } };
    case 'sk-other-table':
      return { ...item, sk: { S: `GRANT#${g.table === 'sales' ? 't2' : 'sales'}#${g.grantId}` } };
    case 'sk-no-id':
      return { ...item, sk: { S: `GRANT#${g.table}#` } };
    case 'principal-other':
      return { ...item, principal: { S: `${principal}x` } };
    case 'principal-N':
      return { ...item, principal: { N: '7' } };
    case 'grantId-other':
      return { ...item, grantId: { S: `${g.grantId}x` } };
    case 'grantId-N':
      return { ...item, grantId: { N: '1' } };
    case 'extra-expiresAt':
      return { ...item, expiresAt: { S: '2020-01-01T00:00:00Z' } };
    case 'extra-condition':
      return { ...item, condition: { M: { ip: { S: '10.0.0.0/8' } } } };
  }
}

function keyItem(
  id: string,
  principal: string,
  secret: string,
  opt: { accessKeyId: boolean; createdAt: boolean },
): Item {
  return {
    pk: { S: `KEY#${id}` },
    sk: { S: 'KEY' },
    principal: { S: principal },
    secret: { S: secret },
    status: { S: 'active' },
    ...(opt.accessKeyId ? { accessKeyId: { S: id } } : {}),
    ...(opt.createdAt ? { createdAt: { S: '2024-06-01T00:00:00.000Z' } } : {}),
  };
}

function brokenKeyItem(id: string, principal: string, secret: string, defect: KeyDefect): Item {
  const item = keyItem(id, principal, secret, { accessKeyId: true, createdAt: true });
  const without = (name: string) => {
    const { [name]: _gone, ...rest } = item;
    return rest;
  };
  switch (defect) {
    case 'status-disabled':
      return { ...item, status: { S: 'disabled' } };
    case 'status-Active':
      return { ...item, status: { S: 'Active' } };
    case 'status-missing':
      return without('status');
    case 'status-N':
      return { ...item, status: { N: '1' } };
    case 'status-revoked':
      return { ...item, status: { S: 'revoked' }, revokedAt: { S: '2024-06-02T00:00:00.000Z' } };
    case 'extra-expiresAt':
      return { ...item, expiresAt: { S: '2099-01-01T00:00:00Z' } };
    case 'accessKeyId-other':
      return { ...item, accessKeyId: { S: `${id}X` } };
    case 'principal-missing':
      return without('principal');
    case 'principal-N':
      return { ...item, principal: { N: '3' } };
    case 'principal-empty':
      return { ...item, principal: { S: '' } };
    case 'principal-anonymous':
      return { ...item, principal: { S: 'anonymous' } };
    case 'revokedAt-while-active':
      return { ...item, revokedAt: { S: '2024-06-02T00:00:00.000Z' } };
    case 'secret-short':
      return { ...item, secret: { S: secret.slice(0, 7) } };
    case 'secret-missing':
      return without('secret');
    case 'secret-B':
      return { ...item, secret: { B: Buffer.from(secret) } };
    case 'secret-L':
      return { ...item, secret: { L: [{ S: secret }] } };
  }
}

/** A --partition spec for the CLI: `\`, `,` and `=` escaped. */
const escapeSpec = (text: string) => text.replace(/[\\,=]/g, (c) => `\\${c}`);

// ---------------------------------------------------------------- the suite

let backend: S3Server;
let dynalite: DynamoServer;
let ddb: ReturnType<typeof testDynamoClient>;
let proxy: RunningProxy;
const tables = new Map<string, LakeTable>();
let runNo = 0;

beforeAll(async () => {
  backend = await startS3rver();
  const s3 = backendClient(backend.endpoint);
  await createBucket(s3, BUCKET);
  const salesRows = SALES_REGIONS.flatMap((region) => SALES_DAYS.map((day) => ({ region, day })));
  tables.set(
    'sales',
    await writeLakeTable(s3, BUCKET, 'sales', { region: 'string', day: 'date' }, salesRows),
  );
  tables.set(
    't2',
    await writeLakeTable(
      s3,
      BUCKET,
      't2',
      { region: 'string' },
      T2_REGIONS.map((region) => ({ region })),
    ),
  );
  s3.destroy();
  dynalite = await startDynalite();
  ddb = testDynamoClient(dynalite.endpoint);
  await createDynamoTable(ddb, DDB_TABLE);
  proxy = await startProxy(backend, {
    logView: 'filtered',
    getMode: 'proxy',
    tableMapping: { sales: `s3://${BUCKET}/tables/sales`, t2: `s3://${BUCKET}/tables/t2` },
    databaseEnabled: true,
    database: { type: 'dynamodb', tableName: DDB_TABLE, endpoint: dynalite.endpoint, region: 'us-east-1' },
  });
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
  ddb?.destroy();
  await dynalite?.stop();
  await backend?.stop();
});

interface Caller {
  principal: string;
  key: { accessKeyId: string; secretAccessKey: string };
  grants: GoodGrant[];
}

const put = (Item: Item) => ddb.send(new PutItemCommand({ TableName: DDB_TABLE, Item }));

function principalName(run: number, i: number, suffix: string): string {
  const base = `r${run}p${i}-`;
  // Spaces at both ends of the whole name: nothing may trim it on one side only.
  if (suffix === ' spaces ') return ` ${base} `;
  if (suffix !== 'long') return `${base}${suffix}`;
  return base + 'L'.repeat(MAX_PRINCIPAL_BYTES - Buffer.byteLength(base));
}

/** Writes a run's items; returns the callers with good keys and what they hold, and every secret. */
async function writeRun(
  run: Run,
  n: number,
): Promise<{ callers: Caller[]; bad: Caller['key'][]; secrets: string[] }> {
  const callers: Caller[] = [];
  const bad: Caller['key'][] = [];
  const secrets: string[] = [];
  for (const [i, p] of run.principals.entries()) {
    const principal = principalName(n, i, p.suffix);
    const key = { accessKeyId: `DLPPROP${n}K${i}`, secretAccessKey: `secret-${n}-${i}-${'s'.repeat(12)}` };
    secrets.push(key.secretAccessKey);
    await put(keyItem(key.accessKeyId, principal, key.secretAccessKey, p.keys));
    // Several grants under one sk: the last write is the item.
    const bySk = new Map<string, GoodGrant>();
    for (const g of p.grants) {
      await put(grantItem(principal, g));
      bySk.set(`${g.table}#${g.grantId}`, { table: g.table, partitions: g.partitions });
    }
    const grants = [...bySk.values()];
    for (const [j, [g, defect]] of p.badGrants.entries()) {
      // Under their own grant ids, so they never replace a good item.
      const item = brokenGrantItem(principal, { ...g, grantId: `bad${j}` }, defect);
      await put(item);
    }
    for (const [j, defect] of p.badKeys.entries()) {
      const id = `DLPPROP${n}B${i}x${j}`;
      const secret = `badsecret-${n}-${i}-${j}-${'b'.repeat(10)}`;
      secrets.push(secret);
      await put(brokenKeyItem(id, principal, secret, defect));
      bad.push({ accessKeyId: id, secretAccessKey: secret });
    }
    callers.push({ principal, key, grants });
  }
  if (run.cli) {
    const principal = principalName(n, 9, run.cli.suffix);
    const common = ['--dynamodb', DDB_TABLE, '--endpoint', dynalite.endpoint, '--json'];
    const created = await adminInProcess(['keys', 'create', `--principal=${principal}`, ...common]);
    expect(created.code, created.stderr).toBe(0);
    const key = JSON.parse(created.stdout) as { accessKeyId: string; secretAccessKey: string };
    secrets.push(key.secretAccessKey);
    const grants: GoodGrant[] = [];
    for (const g of run.cli.grants) {
      const values = Object.entries(g.map).filter(([, v]) => v !== null && v !== '');
      const nulls = Object.entries(g.map).filter(([, v]) => v === null || v === '');
      const args = ['grants', 'add', `--principal=${principal}`, `--table=${g.table}`];
      if (values.length === 0 && nulls.length === 0) args.push('--all');
      if (values.length)
        args.push(`--partition=${values.map(([k, v]) => `${escapeSpec(k)}=${escapeSpec(v!)}`).join(',')}`);
      for (const [k] of nulls) args.push(`--partition-null=${k}`);
      const r = await adminInProcess([...args, ...common]);
      // The CLI refuses a "__proto__" column; the grant is then not written.
      if (Object.hasOwn(g.map, '__proto__')) {
        expect(r.code, r.stderr).not.toBe(0);
        continue;
      }
      expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(0);
      const stored = JSON.parse(r.stdout) as { partitions: PartitionMap[] };
      const asNull = Object.fromEntries(Object.entries(g.map).map(([k, v]) => [k, v === '' ? null : v]));
      expect(stored.partitions).toEqual([asNull]);
      grants.push({ table: g.table, partitions: [asNull] });
    }
    callers.push({ principal, key, grants });
  }
  return { callers, bad, secrets };
}

const code = (r: RawResponse) => /<Code>([^<]*)<\/Code>/.exec(r.text)?.[1];

async function checkCaller(c: Caller, n: number): Promise<void> {
  const show = `${JSON.stringify(c.principal.slice(0, 60))} grants ${JSON.stringify(c.grants).slice(0, 2000)}`;
  const send = async (method: string, path: string, query = '') => {
    const r = await signedFetch(proxy.url, method, path, query, {}, c.key);
    expect(r.status, `${method} ${path}?${query} ${show}\n${r.text.slice(0, 300)}`).toBeLessThan(500);
    return r;
  };
  const visible = new Set<string>();
  for (const table of tables.values()) {
    const maps = c.grants.filter((g) => g.table === table.alias).flatMap((g) => g.partitions);
    if (c.grants.some((g) => g.table === table.alias)) visible.add(`${table.alias}/`);
    const readable = table.files.filter((f) => maps.some((m) => mapMatches(table, m, f))).map((f) => f.key);
    for (const [i, f] of table.files.entries()) {
      const path = `/datalake/${encodeKeyPath(`${table.alias}/${f.key}`)}`;
      const want = readable.includes(f.key) ? 200 : 404;
      const get = await send('GET', path);
      expect(get.status, `GET ${table.alias}/${f.key} ${show}`).toBe(want);
      // HEAD on a rotating subset keeps a run short.
      if ((i + n) % 3 === 0) {
        const head = await send('HEAD', path);
        expect(head.status, `HEAD ${table.alias}/${f.key} ${show}`).toBe(want);
      }
    }
    const listing = await send(
      'GET',
      '/datalake',
      encodeQuery({ 'list-type': '2', prefix: `${table.alias}/` }),
    );
    expect(listing.status, show).toBe(200);
    const dataKeys = tagValues(listing.text, 'Key')
      .filter((k) => !k.startsWith(`${table.alias}/_delta_log/`))
      .map((k) => k.slice(table.alias.length + 1));
    expect(dataKeys.sort(), `list ${table.alias}/ ${show}`).toEqual([...readable].sort());
  }
  const ghost = await send('GET', `/datalake/${encodeKeyPath('ghost/part-0.parquet')}`);
  expect(ghost.status).toBe(404);
  const root = await send('GET', '/datalake', encodeQuery({ 'list-type': '2', delimiter: '/' }));
  expect(root.status, show).toBe(200);
  expect(
    tagValues(root.text, 'Prefix')
      .filter((p) => p !== '')
      .sort(),
    `root ${show}`,
  ).toEqual([...visible].sort());
}

describe('DynamoDB grant and key items, by property', () => {
  it('a proxy reading them allows exactly what the well-formed items grant, and no bad item breaks another caller', async () => {
    await fc.assert(
      fc.asyncProperty(runArb, async (run) => {
        const n = ++runNo;
        const { callers, bad, secrets } = await writeRun(run, n);
        for (const c of callers) await checkCaller(c, n);
        for (const k of bad) {
          const r = await signedFetch(
            proxy.url,
            'GET',
            '/datalake',
            encodeQuery({ 'list-type': '2' }),
            {},
            k,
          );
          expect([r.status, code(r)], `bad key ${k.accessKeyId}`).toEqual([403, 'InvalidAccessKeyId']);
        }
        const logs = proxy.logs.join('\n');
        for (const s of secrets) expect(logs.includes(s), 'a secret in a log line').toBe(false);
      }),
      { seed: SEED, numRuns: RUNS, ...(PATH ? { path: PATH } : {}), endOnFailure: true },
    );
  }, 600_000);
});
