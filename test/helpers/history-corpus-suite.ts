/**
 * Issue 17 acceptance over the real corpus: every table of ../shared/delta-tables on a real S3
 * server (s3rver always, moto where installed), read through the real proxy in proxy mode and in
 * presigned mode by callers whose grants fast-check generates from the table's partition tuples.
 *
 * - Every retained version is planned with the project's own replay (history-plans.ts); every
 *   planned file in a granted partition is served (200 / 307) to a reader reading just after the
 *   next commit landed (the proxy's injected clock; requests are signed at that time), and every
 *   file whose partition is forbidden in every version is refused (403).
 * - Change data from the oldest retained version of every CDF table (version 0 where the whole
 *   log is kept): each commit's `cdc` files, or its added and removed files, as a CDF reader
 *   reads them after the latest commit: served in granted partitions while retained.
 * - Orphans (on storage, never in a retained version) stay refused.
 * A file is checked at the last version whose plan grants it: readability only shrinks as the
 * clock moves on (removed files expire), so that is the strictest moment.
 *
 * One suite, two tiers: `npm test` (test/integration/history-corpus.test.ts) checks the third and every fourth
 * table once, on s3rver or moto (both backends are used); `npm run test:full` (test/full/) checks
 * the rest, so every table runs on both backends across the two.
 */
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grantListArb, seedOf } from './authz-grant-arbitraries';
import { type AuthzProxy, ManualClock, mapLimit, objectRequest, startAuthzProxy } from './authz-harness';
import { anyMapMatches, type GrantMap } from './authz-partition-match';
import { readTableFacts, type TableFacts, type Tuple } from './authz-table-facts';
import { corpusDir, corpusMissing, corpusTables } from './delta-corpus';
import { type TablePlans, tablePlans } from './history-plans';
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

const motoMissing = motoUnavailableReason();

const plans: TablePlans[] = await Promise.all(
  corpusTables().map(async (n) => tablePlans(await readTableFacts(resolve(corpusDir, n), n))),
);
const cdfTables = plans.filter((p) => [...p.facts.authorizable.values()].some((f) => f.kind === 'cdc'));

/** The client helper's user agent, on the default redirect list: presigned mode redirects it. */
const REDIRECT_UA = { 'user-agent': 'delta-proxy-client/0.1.0' };

interface Caller {
  principal: string;
  maps: GrantMap[];
}

function callersFor(facts: TableFacts, index: number): Caller[] {
  const p = (role: string) => `h${index}-${role}`;
  if (facts.columns.length === 0 || facts.knownTuples.length === 0) {
    return [
      { principal: p('all'), maps: [{}] },
      { principal: p('none'), maps: [] },
      { principal: p('foreign'), maps: [{ no_such_column: 'x' }] },
    ];
  }
  const generated = fc.sample(grantListArb(facts), { numRuns: 2, seed: seedOf(`history-${facts.name}`) });
  const first = facts.knownTuples[0]!;
  const one: GrantMap = Object.fromEntries(facts.columns.map((c, i) => [c.logical, first[i] ?? null]));
  return [
    { principal: p('gen0'), maps: generated[0]! },
    { principal: p('gen1'), maps: generated[1]! },
    { principal: p('one'), maps: [one] },
  ];
}

const callers = plans.map((p, i) => callersFor(p.facts, i));

interface Check {
  rel: string;
  caller: Caller;
  allow: boolean;
  at: number;
  why: string;
}

function versionChecks(plan: TablePlans, who: readonly Caller[]): Check[] {
  const { facts } = plan;
  const allowed = (c: Caller, t: Tuple) => anyMapMatches(facts.columns, c.maps, t);
  const checks: Check[] = [];
  for (const [rel, byVersion] of plan.planned) {
    for (const caller of who) {
      const granted = [...byVersion]
        .filter(([, tuples]) => tuples.some((t) => allowed(caller, t)))
        .map(([v]) => v);
      if (granted.length) {
        const v = Math.max(...granted);
        checks.push({ rel, caller, allow: true, at: plan.readAt(v), why: `planned at v${v}` });
      } else {
        const v = Math.max(...byVersion.keys());
        checks.push({ rel, caller, allow: false, at: plan.readAt(v), why: 'forbidden in every version' });
      }
    }
  }
  const latest = plan.readAt(facts.version);
  for (const [rel, f] of facts.authorizable) {
    if (plan.planned.has(rel) || f.kind !== 'cdc') continue;
    for (const caller of who) {
      const ok = f.tuples.some((t) => allowed(caller, t));
      checks.push({ rel, caller, allow: ok, at: latest, why: 'change data of a retained commit' });
    }
  }
  for (const rel of facts.objects) {
    if (rel.startsWith('_delta_log/') || plan.planned.has(rel) || facts.authorizable.has(rel)) continue;
    if (facts.removed.has(rel)) continue; // removed at the oldest retained version: not planned, not orphaned
    for (const caller of who) checks.push({ rel, caller, allow: false, at: latest, why: 'orphan' });
  }
  return checks;
}

function changeDataChecks(plan: TablePlans, who: readonly Caller[]): Check[] {
  const { facts } = plan;
  const at = plan.readAt(facts.version);
  const checks: Check[] = [];
  for (const read of plan.changeData) {
    // Still referenced at `at`: listed (active, change data) or removed within retention.
    const live =
      facts.authorizable.has(read.rel) ||
      (facts.removed.get(read.rel)?.removals.some((r) => at < r.deletedAt + facts.retentionMs) ?? false);
    for (const caller of who) {
      const ok = anyMapMatches(facts.columns, caller.maps, read.tuple) && live;
      checks.push({ rel: read.rel, caller, allow: ok, at, why: `change data of v${read.version}` });
    }
  }
  return checks;
}

type Backend = 's3rver' | 'moto';
/**
 * `npm test` checks every fourth table once, and table 2: that one on moto (a table there costs three to
 * four times one on s3rver), the others on s3rver; `npm run test:full` checks the rest (those
 * tables on the other backend, the other tables on both).
 */
const isCore = (backend: Backend, table: number) =>
  (table % 4 === 0 || table === 2) && backend === (table === 2 ? 'moto' : 's3rver');

export function historyCorpusSuite(tier: 'core' | 'full'): void {
  const backends: [Backend, () => Promise<S3Server>, string | undefined][] = [
    ['s3rver', startS3rver, corpusMissing],
    ['moto', startMoto, corpusMissing ?? motoMissing],
  ];
  for (const [kind, start, skipReason] of backends) {
    const mine = plans
      .map((plan, index) => ({ plan, index }))
      .filter(({ index }) => isCore(kind, index) === (tier === 'core'));
    historyOn(kind, start, skipReason, mine);
  }
}

function historyOn(
  kind: Backend,
  start: () => Promise<S3Server>,
  skipReason: string | undefined,
  mine: { plan: TablePlans; index: number }[],
): void {
  const cdfMine = mine.filter(({ plan }) => cdfTables.includes(plan));
  describe(withReason(`retained history of the Delta corpus on ${kind}`, skipReason), () => {
    let backend: S3Server;
    let proxied: AuthzProxy;
    let redirected: AuthzProxy;
    const clock = new ManualClock();
    let requests = 0;

    beforeAll(async () => {
      if (skipReason) return;
      backend = await start();
      const s3 = backendClient(backend.endpoint);
      await createBucket(s3, 'corpus');
      for (const { plan } of mine)
        await uploadDir(s3, 'corpus', `tables/${plan.facts.name}/`, plan.facts.dir);
      s3.destroy();
      const config = {
        tableMapping: Object.fromEntries(
          mine.map(({ plan, index }) => [`h${index}`, `s3://corpus/tables/${plan.facts.name}`]),
        ),
        grants: mine.flatMap(({ index }) =>
          callers[index]!.map((c) => ({ principal: c.principal, table: `h${index}`, partitions: c.maps })),
        ),
        snapshotTtlMs: 3_600_000,
      };
      const principals = mine.flatMap(({ index }) => callers[index]!.map((c) => c.principal));
      proxied = await startAuthzProxy(backend, { ...config, getMode: 'proxy' }, principals, { clock });
      redirected = await startAuthzProxy(backend, { ...config, getMode: 'presignedUrl' }, principals, {
        clock,
      });
    });
    afterAll(async () => {
      await proxied?.stop();
      await redirected?.stop();
      await backend?.stop();
    });

    /** Runs the checks in time order, both modes; returns what went wrong. */
    async function run(plan: TablePlans, alias: string, checks: Check[]): Promise<string[]> {
      const wrong: string[] = [];
      const times = [...new Set(checks.map((c) => c.at))].sort((a, b) => a - b);
      for (const at of times) {
        clock.t = at;
        await mapLimit(
          checks.filter((c) => c.at === at),
          12,
          async (c) => {
            const key = `${alias}/${c.rel}`;
            const [get, redirect] = await Promise.all([
              objectRequest(proxied.url, 'GET', key, c.caller.principal, 'datalake', clock),
              objectRequest(redirected.url, 'GET', key, c.caller.principal, 'datalake', clock, REDIRECT_UA),
            ]);
            requests += 2;
            const want = c.allow ? [200, 307] : [403, 403];
            const size = c.allow && get.status === 200 ? get.body.length : -1;
            const expectedSize = c.allow ? statSync(join(plan.facts.dir, c.rel)).size : -1;
            if (get.status !== want[0] || redirect.status !== want[1] || size !== expectedSize) {
              const what = c.allow ? 'false denial' : 'leak';
              wrong.push(
                `${what}: ${c.caller.principal} ${JSON.stringify(c.caller.maps)} ${c.rel} (${c.why}) → ` +
                  `proxy ${get.status}, presigned ${redirect.status}${size !== expectedSize ? `, ${size} bytes` : ''}`,
              );
            }
          },
        );
      }
      return wrong;
    }

    it
      .skipIf(skipReason !== undefined)
      .each(mine.map(({ plan, index }) => [plan.facts.name, index] as const))(
      '%s: every retained version’s files are served in granted partitions and refused elsewhere',
      async (_name, i) => {
        const plan = plans[i]!;
        const checks = versionChecks(plan, callers[i]!);
        const wrong = await run(plan, `h${i}`, checks);
        expect(wrong).toEqual([]);
        expect(checks.length).toBeGreaterThanOrEqual(plan.planned.size * 3);
      },
      120_000,
    );

    it
      .skipIf(skipReason !== undefined)
      .each(cdfMine.map(({ plan, index }) => [plan.facts.name, index] as const))(
      '%s: change data from the oldest retained version is served in granted partitions',
      async (_name, i) => {
        const plan = plans[i]!;
        const checks = changeDataChecks(plan, callers[i]!);
        const wrong = await run(plan, `h${i}`, checks);
        expect(wrong).toEqual([]);
        expect(checks.filter((c) => c.allow).length).toBeGreaterThan(0);
      },
      120_000,
    );

    it.skipIf(skipReason !== undefined)('made requests (summary)', () => {
      console.log(`[history-corpus] ${kind}: ${mine.length} tables, ${requests} requests`);
      expect(requests).toBeGreaterThan(0);
    });
  });
}
