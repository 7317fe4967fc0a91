/**
 * Issue 5 acceptance over the real corpus: every partitioned table of ../shared/delta-tables is
 * uploaded to a real S3 server (s3rver always, moto where installed) and read through the real
 * proxy by callers whose grants fast-check generates from the table's own partition tuples.
 * Grants come from every source in turn: `grants` in the config, `allowedPartitions` (every
 * authenticated caller) and DynamoDB (dynalite, written with DynamoAdmin), alone and in union.
 * Every object on storage (active files, orphans, DV files, _change_data, .crc, log files) is
 * checked by GET, HEAD and four kinds of paged listings against the test's own replay of the log
 * (authz-table-facts.ts) and its own typed comparison (authz-partition-match.ts).
 * Leaks and false denials must both be zero.
 *
 * One suite, two tiers. Each table has two generated grant sets and runs on two backends: `npm
 * test` (test/integration/authz-corpus.test.ts) checks every fourth table once (except the largest, see
 * CORE_MAX_OBJECTS), with its first grant set, one of them on moto and the rest on s3rver (every
 * grant source, both backends); `npm run test:full` (test/full/) checks every other combination.
 */
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { DynamoAdmin } from '../../lambda/store/dynamo-admin';
import { createDynamoTable } from '../../lambda/store/dynamo-schema';
import { type AuditResult, auditCaller, emptyAudit, mergeAudit } from './authz-caller-audit';
import { grantListArb, seedOf } from './authz-grant-arbitraries';
import { listAllPages, startAuthzProxy } from './authz-harness';
import { type GrantMap, otherForm } from './authz-partition-match';
import { readTableFacts, type TableFacts } from './authz-table-facts';
import { corpusDir as CORPUS, corpusMissing } from './delta-corpus';
import { type DynamoServer, startDynalite, testDynamoClient } from './dynamo-servers';
import {
  backendClient,
  createBucket,
  motoUnavailableReason,
  type S3Server,
  startMoto,
  startS3rver,
  uploadDir,
} from './s3-servers';
import { withReason } from './skips';

/** Generated grant sets per table (each adds three callers: config, DynamoDB, both). */
const RUNS = 2;
type Backend = 's3rver' | 'moto';

const allFacts: TableFacts[] = corpusMissing
  ? []
  : await Promise.all(
      readdirSync(CORPUS, { withFileTypes: true })
        .filter((d) => d.isDirectory() && !d.name.startsWith('_'))
        .map((d) => readTableFacts(resolve(CORPUS, d.name), d.name)),
    );
const partitioned = allFacts.filter((f) => f.columns.length > 0);

/**
 * Tables with more objects than this are checked by `npm run test:full` only: each object costs
 * a GET, a HEAD and listings per caller, and the two largest partitioned tables (deletion vectors
 * with a checkpoint; a CDF table with a checkpoint) took over half of `npm test`'s time here.
 * Their pitfalls stay in `npm test` through the history and filtered-log corpus suites.
 */
const CORE_MAX_OBJECTS = 60;

/**
 * `npm test` checks every fourth table once (of the smaller ones) and table 2, with grant set 0: table 2 on
 * moto (a point there costs three to four times one on s3rver), the others on s3rver.
 */
const isCore = (backend: Backend, table: number, run: number) =>
  run === 0 &&
  (table % 4 === 0 || table === 2) &&
  partitioned[table]!.objects.length <= CORE_MAX_OBJECTS &&
  backend === (table === 2 ? 'moto' : 's3rver');

interface RunGrants {
  config: GrantMap[];
  dynamo: GrantMap[];
  mixConfig: GrantMap[];
  mixDynamo: GrantMap[];
  mixPublic: GrantMap[];
  dynamoPublic: GrantMap[];
}

function generate(facts: TableFacts): { publicMaps: GrantMap[]; runs: RunGrants[]; startAfter: string[] } {
  const list = grantListArb(facts);
  const run = fc.record({
    config: list,
    dynamo: list,
    mixConfig: list,
    mixDynamo: list,
    mixPublic: list,
    dynamoPublic: list,
  });
  const [sample] = fc.sample(
    fc.record({
      publicMaps: list,
      runs: fc.array(run, { minLength: RUNS, maxLength: RUNS }),
      startAfter: fc.array(fc.constantFrom(...facts.objects), { minLength: RUNS + 2, maxLength: RUNS + 2 }),
    }),
    { numRuns: 1, seed: seedOf(facts.name) },
  );
  return sample!;
}

const totals = new Map<string, AuditResult & { ms: number }>();

export function authzCorpusSuite(tier: 'core' | 'full'): void {
  const motoMissing = motoUnavailableReason();
  const backends: [Backend, () => Promise<S3Server>, string | undefined][] = [
    ['s3rver', startS3rver, undefined],
    ['moto', startMoto, motoMissing],
  ];
  for (const [kind, start, backendMissing] of backends) {
    const points = partitioned.flatMap((f, index) =>
      Array.from({ length: RUNS }, (_, run): [string, number, number] => [f.name, run, index]).filter(
        ([, run]) => isCore(kind, index, run) === (tier === 'core'),
      ),
    );
    const skipReason = corpusMissing ?? backendMissing;
    if (!points.length && !skipReason) continue;
    corpusOn(kind, start, skipReason, points);
  }
}

function corpusOn(
  kind: Backend,
  start: () => Promise<S3Server>,
  skipReason: string | undefined,
  points: [string, number, number][],
): void {
  describe(withReason(`authorization over the Delta corpus on ${kind}`, skipReason), () => {
    let backend: S3Server;
    let dynamo: DynamoServer;
    let dynamoClient: DynamoDBClient;
    let admin: DynamoAdmin;
    let s3: S3Client;
    const GRANTS_TABLE = 'authz-corpus-grants';
    let started = Date.now();

    beforeAll(async () => {
      if (skipReason) return;
      started = Date.now();
      backend = await start();
      s3 = backendClient(backend.endpoint);
      await createBucket(s3, 'corpus');
      const tables = new Set(points.map(([name]) => name));
      for (const f of partitioned.filter((x) => tables.has(x.name)))
        await uploadDir(s3, 'corpus', `tables/${f.name}/`, f.dir);
      dynamo = await startDynalite();
      // The suite's admin client writes grants as a real admin would: retrying a transient error
      // (a keep-alive socket dynalite closed while concurrent tests kept it idle).
      dynamoClient = testDynamoClient(dynamo.endpoint, 3);
      await createDynamoTable(dynamoClient, GRANTS_TABLE);
      admin = new DynamoAdmin(dynamoClient, GRANTS_TABLE);
    });
    afterAll(async () => {
      s3?.destroy();
      dynamoClient?.destroy();
      await dynamo?.stop();
      await backend?.stop();
      const t = totals.get(kind);
      if (t)
        console.log(
          `[authz-corpus] ${kind}: ${points.length} table × grant-set points, ${t.requests} requests ` +
            `(data-file GETs expected served ${t.served}, refused ${t.refused}, hidden ${t.hidden}), ` +
            `leaks ${t.leaks}, false denials ${t.falseDenials}, other wrong answers ${t.wrong}, ` +
            `${((Date.now() - started) / 1000).toFixed(1)} s`,
        );
    });

    // Without the corpus there is no table to name: one skipped test says why.
    if (corpusMissing) it.skip('every partitioned table of the corpus');
    const register: typeof it.concurrent = skipReason ? it.skip : it.concurrent;
    register.for(points)(
      '%s, grant set %d: GET, HEAD and listings show exactly the granted partitions',
      // Five tables at a time share the worker: a generous bound, not a performance check.
      { timeout: 600_000 },
      async ([name, runIndex, index], { expect }) => {
        const facts = partitioned[index]!;
        const g = generate(facts);
        const tag = `${kind}${index}r${runIndex}`;
        const p = (role: string) => `${tag}-${role}`;
        const run = g.runs[runIndex]!;
        const configGrants = [
          { principal: p('cfg'), table: 't', partitions: run.config },
          { principal: p('mix'), table: 't', partitions: run.mixConfig },
          { principal: p('mix'), table: 'pub', partitions: run.mixPublic },
        ];
        // Two items for one caller: the union inside DynamoDB counts too.
        const half = Math.ceil(run.dynamo.length / 2);
        await admin.putGrant({ principal: p('dyn'), table: 't', partitions: run.dynamo.slice(0, half) }, 'a');
        await admin.putGrant({ principal: p('dyn'), table: 't', partitions: run.dynamo.slice(half) }, 'b');
        await admin.putGrant({ principal: p('mix'), table: 't', partitions: run.mixDynamo }, 'a');
        await admin.putGrant({ principal: p('dyn'), table: 'pub', partitions: run.dynamoPublic }, 'c');
        // Every known tuple, each value in its other serialized form: typed comparison, always covered.
        const altMaps = facts.knownTuples.map((tuple) =>
          Object.fromEntries(
            facts.columns.map((c, i) => [c.logical, otherForm(c.type, tuple[i] ?? null) ?? tuple[i] ?? null]),
          ),
        );
        configGrants.push({ principal: p('alt'), table: 't', partitions: altMaps });
        // The callers without a generated grant set come with the first set only.
        const fixed = runIndex === 0;
        const principals = [...(fixed ? [p('nogrant'), p('alt')] : []), p('cfg'), p('dyn'), p('mix')];
        const root = `s3://corpus/tables/${name}`;
        const proxy = await startAuthzProxy(
          backend,
          {
            tableMapping: { t: root, pub: root },
            allowedPartitions: { pub: g.publicMaps },
            grants: configGrants,
            databaseEnabled: true,
            database: {
              type: 'dynamodb',
              tableName: GRANTS_TABLE,
              endpoint: dynamo.endpoint,
              region: 'us-east-1',
            },
          },
          principals,
        );
        const result = emptyAudit();
        let targets: { principal: string; alias: string; maps: GrantMap[] | undefined }[] = [];
        try {
          targets = [
            ...(fixed
              ? [
                  { principal: p('nogrant'), alias: 't', maps: undefined },
                  { principal: p('nogrant'), alias: 'pub', maps: g.publicMaps },
                  { principal: p('alt'), alias: 't', maps: altMaps },
                ]
              : []),
            { principal: p('cfg'), alias: 't', maps: run.config },
            { principal: p('dyn'), alias: 't', maps: run.dynamo },
            { principal: p('mix'), alias: 't', maps: [...run.mixConfig, ...run.mixDynamo] },
            { principal: p('mix'), alias: 'pub', maps: [...g.publicMaps, ...run.mixPublic] },
            { principal: p('dyn'), alias: 'pub', maps: [...g.publicMaps, ...run.dynamoPublic] },
          ];
          const folders = new Map<string, Promise<ReadonlySet<string>>>();
          const backendFolders = (rel: string) => {
            const f = folders.get(rel) ?? listFolders(s3, `tables/${name}/`, rel);
            folders.set(rel, f);
            return f;
          };
          for (const [i, target] of targets.entries()) {
            mergeAudit(
              result,
              await auditCaller({
                url: proxy.url,
                facts,
                ...target,
                startAfter: g.startAfter[i % g.startAfter.length],
                backendFolders,
              }),
            );
          }
          // The root lists only the tables the caller holds a grant on (pub: everyone; t: not nogrant).
          for (const principal of principals) {
            const pages = await listAllPages(proxy.url, principal, 2, { delimiter: '/', maxKeys: 1 });
            const shown = pages.flatMap((pg) => pg.prefixes);
            const want = principal === p('nogrant') ? ['pub/'] : ['pub/', 't/'];
            result.requests += pages.length;
            if (JSON.stringify(shown) !== JSON.stringify(want)) {
              const leak = shown.some((s) => !want.includes(s));
              result[leak ? 'leaks' : 'falseDenials']++;
              result.details.push(
                `root listing for ${principal}: ${JSON.stringify(shown)} (expected ${JSON.stringify(want)})`,
              );
            }
          }
        } finally {
          await proxy.stop();
        }
        const total = totals.get(kind) ?? { ...emptyAudit(), ms: 0 };
        mergeAudit(total, result);
        totals.set(kind, total);
        expect(
          {
            leaks: result.leaks,
            falseDenials: result.falseDenials,
            wrong: result.wrong,
            details: result.details,
          },
          `grants: ${JSON.stringify(g)}`,
        ).toEqual({ leaks: 0, falseDenials: 0, wrong: 0, details: [] });
        expect(result.requests).toBeGreaterThan(facts.objects.length * 2 * targets.length);
      },
    );
  });
}

/** Common prefixes the backend itself lists one level below `root + rel` (relative to root). */
async function listFolders(s3: S3Client, root: string, rel: string): Promise<ReadonlySet<string>> {
  const out = new Set<string>();
  let token: string | undefined;
  do {
    const r = await s3.send(
      new ListObjectsV2Command({
        Bucket: 'corpus',
        Prefix: root + rel,
        Delimiter: '/',
        ContinuationToken: token,
      }),
    );
    for (const cp of r.CommonPrefixes ?? []) out.add(cp.Prefix!.slice(root.length));
    token = r.IsTruncated ? r.NextContinuationToken : undefined;
  } while (token);
  return out;
}
