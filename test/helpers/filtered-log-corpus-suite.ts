/**
 * Issue 18 acceptance over the real corpus: every table of ../shared/delta-tables on s3rver, read
 * through the proxy with logView "filtered" by callers whose grants fast-check generates from the
 * table's own partition tuples. For each caller the whole virtual `_delta_log/` is listed and
 * downloaded, and:
 * - the listing shows exactly the commits, one classic checkpoint per real checkpoint version and
 *   `_last_checkpoint`, with sizes, ETags (MD5) and Last-Modified matching the bodies (commits:
 *   the real commit's Last-Modified);
 * - no byte of any virtual file or listing names a forbidden (or out-of-root) path or a shared
 *   deletion-vector file, every partitionValues map in it is granted, commitInfo and metaData keep
 *   only whitelisted fields, every deletion vector is inline and decodes;
 * - the table replayed from the downloaded log at every retained version — by a replay written
 *   here (S3 GET/List only, hyparquet) and by the project's engine — equals the readable set that
 *   the test computes from the real log with its own grant rule.
 * Then pyarrow reads every generated checkpoint (schema compared with a Spark-written one), and
 * pyarrow and polars read exactly the data files the filtered log lists.
 *
 * One suite, two tiers. Each table has three callers (two generated grant lists and the whole
 * table; unpartitioned: all, nothing, a non-column key): `npm test`
 * (test/integration/filtered-log-corpus.test.ts) checks one caller of every other table, the first,
 * second and third in turn, plus the refusals and conditional requests of each table; `npm run
 * test:full` (test/full/) checks the rest. Each tier's Python readers read what its own callers saw.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deltaStorageFromBackend } from '../../lambda/delta/delta-storage';
import { loadSnapshot } from '../../lambda/delta/load-snapshot';
import { clientEnv, run } from '../auth/helpers/python-env';
import { grantListArb, seedOf } from './authz-grant-arbitraries';
import { type AuthzProxy, keyFor, listAllPages, objectRequest, startAuthzProxy } from './authz-harness';
import { anyMapMatches, type GrantMap } from './authz-partition-match';
import { readTableFacts, type TableFacts } from './authz-table-facts';
import { corpusDir, corpusMissing, corpusPresent, corpusTables } from './delta-corpus';
import { referenceReplay } from './delta-reference-replay';
import { s3Backend } from './delta-s3';
import { checkpointName, commitKey } from './log-text';
import { backendClient, createBucket, REPO_ROOT, type S3Server, startS3rver, uploadDir } from './s3-servers';
import { signedFetch } from './signed-fetch';
import { pythonPackageMissing, withReason } from './skips';
import { tempDir } from './temp-dir';
import { everyLoggedFile, jsonLines, mapOf, parquetRows, replayLog } from './virtual-log-replay';

const pythonMissing = pythonPackageMissing('pyarrow') ?? pythonPackageMissing('polars');

const names = corpusTables();
const facts: TableFacts[] = await Promise.all(names.map((n) => readTableFacts(join(corpusDir, n), n)));

interface Caller {
  principal: string;
  alias: string;
  maps: GrantMap[];
}

/** Two generated grant lists per partitioned table plus the whole table; unpartitioned: all, nothing, a non-column key. */
function callersOf(f: TableFacts, i: number): Caller[] {
  const lists: GrantMap[][] = f.columns.length
    ? [...fc.sample(grantListArb(f), { numRuns: 2, seed: seedOf(f.name) }), [{}]]
    : [[{}], [], [{ no_such_column: 'x' }]];
  return lists.map((maps, j) => ({ principal: `fl${i}-${j}`, alias: `t${i}`, maps }));
}
const callers = facts.map(callersOf);

const COMMIT_INFO_KEYS = new Set(['timestamp', 'inCommitTimestamp', 'operation']);
const ACTIONS = new Set(['commitInfo', 'protocol', 'metaData', 'add', 'remove', 'cdc']);
const md5 = (b: Uint8Array) => `"${createHash('md5').update(b).digest('hex')}"`;

let backend: S3Server;
let s3: S3Client;
let proxy: AuthzProxy;
const pyCheckpoints: string[] = [];
const pyReads: { accessKeyId: string; secretAccessKey: string; key: string; local: string }[] = [];
/** Generated checkpoints and the Python readers' arguments, for this file (tempDir: removed after it). */
let outDir: string;

/** The listing's entries with size, ETag and Last-Modified. */
async function listLog(c: Caller) {
  const pages = await listAllPages(proxy.url, c.principal, 2, {
    prefix: `${c.alias}/_delta_log/`,
    maxKeys: 7,
  });
  const entries: { key: string; size: number; etag: string; lastModified: string }[] = [];
  for (const p of pages) {
    expect(p.status).toBe(200);
    for (const m of p.text.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
      const tag = (t: string) => new RegExp(`<${t}>([^<]*)</${t}>`).exec(m[1]!)![1]!;
      entries.push({
        key: tag('Key'),
        size: Number(tag('Size')),
        etag: tag('ETag').replace(/&quot;/g, '"'),
        lastModified: tag('LastModified'),
      });
    }
  }
  return { entries, xml: pages.map((p) => p.text).join('\n') };
}

/** Names the virtual log must show: commits, a classic checkpoint per real checkpoint version, the hint. */
function expectedNames(f: TableFacts): string[] {
  const log = readdirSync(join(f.dir, '_delta_log'));
  const out = new Set<string>();
  const checkpoints = new Set<number>();
  for (const n of log) {
    const commit = /^(\d{20})\.json$/.exec(n);
    if (commit) out.add(n);
    const cp = /^(\d{20})\.checkpoint(\.\d{10}\.\d{10}|\.[0-9a-f-]{36})?\.(parquet|json)$/.exec(n);
    if (cp && statSync(join(f.dir, '_delta_log', n)).size > 0) checkpoints.add(Number(cp[1]));
  }
  for (const v of checkpoints) out.add(checkpointName(v));
  if (checkpoints.size) out.add('_last_checkpoint');
  return [...out].sort();
}

function retainedVersions(f: TableFacts): number[] {
  const log = readdirSync(join(f.dir, '_delta_log'));
  const commits = log
    .map((n) => /^(\d{20})\.json$/.exec(n))
    .filter((m) => m !== null)
    .map((m) => Number(m![1]));
  const first = Math.min(...commits);
  return commits.filter((v) => v >= first).sort((a, b) => a - b);
}

const tupleOf = (f: TableFacts, pv: Record<string, string | null>) =>
  f.columns.map((c) => (pv[c.physical] === '' ? null : (pv[c.physical] ?? null)));
const isExternal = (p: string) => /^[A-Za-z][A-Za-z0-9+.-]*:/.test(p) || p.startsWith('/');

/** The test's own replay of the real log at `version`, once per table and version (every caller reads it). */
const replays = new Map<string, ReturnType<typeof referenceReplay>>();
function replayOnce(f: TableFacts, version: number): ReturnType<typeof referenceReplay> {
  const key = `${f.name}@${version}`;
  let replay = replays.get(key);
  if (!replay) {
    replay = referenceReplay(f.dir, `s3://corpus/tables/${f.name}`, version);
    replays.set(key, replay);
  }
  return replay;
}

/** The readable data files at `version`, from the test's own replay of the real log. */
async function expectedReadable(f: TableFacts, maps: GrantMap[], version: number) {
  const ref = await replayOnce(f, version);
  const out = new Map<string, number | undefined>();
  for (const file of ref.files.values()) {
    if (isExternal(file.path)) continue;
    if (anyMapMatches(f.columns, maps, tupleOf(f, file.partitionValues)))
      out.set(file.path, file.dvCardinality);
  }
  return out;
}

const Z85 = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
function z85Decode(s: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < s.length; i += 5) {
    let v = 0;
    for (let j = 0; j < 5; j++) v = v * 85 + Z85.indexOf(s[i + j]!);
    out.push((v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255);
  }
  return Buffer.from(out);
}

/**
 * The caller `npm test` checks on table i: on every other table (the odd ones: the even ones hold
 * the corpus's slowest, delta-basic-dv-with-checkpoint), one caller, in turn the first, second and
 * third role; -1: none, test:full checks all three.
 */
const coreCaller = (i: number) => (i % 2 === 1 ? ((i - 1) / 2) % 3 : -1);

export function filteredLogCorpusSuite(tier: 'core' | 'full'): void {
  const mine = (i: number) => callers[i]!.filter((_c, j) => (j === coreCaller(i)) === (tier === 'core'));
  beforeAll(async () => {
    outDir = tempDir('filtered-log-');
    if (!corpusPresent) return;
    backend = await startS3rver();
    s3 = backendClient(backend.endpoint);
    await createBucket(s3, 'corpus');
    for (const f of facts) await uploadDir(s3, 'corpus', `tables/${f.name}/`, f.dir);
    proxy = await startAuthzProxy(
      backend,
      {
        logView: 'filtered',
        tableMapping: Object.fromEntries(facts.map((f, i) => [`t${i}`, `s3://corpus/tables/${f.name}`])),
        grants: callers.flat().map((c) => ({ principal: c.principal, table: c.alias, partitions: c.maps })),
      },
      callers.flat().map((c) => c.principal),
    );
  }, 120_000);

  afterAll(async () => {
    await proxy?.stop();
    s3?.destroy();
    await backend?.stop();
  });

  describe.skipIf(!corpusPresent)(
    withReason('filtered _delta_log over the Delta corpus (s3rver)', corpusMissing),
    () => {
      it.each(facts.map((f, i) => [f.name, i] as const))(
        '%s: the virtual log lists, serves and replays to exactly the granted files, naming nothing else',
        async (_name, i) => {
          const f = facts[i]!;
          const logged = await everyLoggedFile(f.dir);
          const realCommits = new Map<string, Date>();
          const listed = await s3.send(
            new ListObjectsV2Command({ Bucket: 'corpus', Prefix: `tables/${f.name}/_delta_log/0` }),
          );
          for (const o of listed.Contents ?? []) realCommits.set(o.Key!.split('/').pop()!, o.LastModified!);
          const versions = retainedVersions(f);
          const latest = versions.at(-1)!;

          for (const c of mine(i)) {
            const allowed = (pv: Record<string, string | null>) =>
              anyMapMatches(f.columns, c.maps, tupleOf(f, pv));
            const { entries, xml } = await listLog(c);
            const texts: string[] = [xml];
            expect(entries.map((e) => e.key.slice(`${c.alias}/_delta_log/`.length))).toEqual(
              expectedNames(f),
            );

            // The whole table, listed recursively across pages and with "/" at the root: the log's
            // keys come from the virtual log, the rest are exactly the readable data and change files.
            const pages = await listAllPages(proxy.url, c.principal, 2, {
              prefix: `${c.alias}/`,
              maxKeys: 9,
            });
            const all = pages.flatMap((p) => p.keys);
            // Listings and their continuation tokens (decoded) are searched for leaks too.
            for (const p of pages) {
              texts.push(p.text);
              for (const m of p.text.matchAll(/<NextContinuationToken>([^<]*)</g))
                texts.push(Buffer.from(m[1]!, 'base64url').toString('utf8'));
            }
            const logKeys = entries.map((e) => e.key);
            expect(all.filter((k) => k.startsWith(`${c.alias}/_delta_log/`))).toEqual(logKeys);
            const readableObjects = [...f.authorizable]
              .filter(
                ([p, ff]) =>
                  ff.kind !== 'dv' &&
                  ff.tuples.some((t) => anyMapMatches(f.columns, c.maps, t)) &&
                  f.objects.includes(p),
              )
              .map(([p]) => `${c.alias}/${p}`)
              .sort();
            expect(all.filter((k) => !k.startsWith(`${c.alias}/_delta_log/`)).sort()).toEqual(
              readableObjects,
            );
            const top = await listAllPages(proxy.url, c.principal, 1, {
              prefix: `${c.alias}/`,
              delimiter: '/',
              maxKeys: 2,
            });
            expect(top.flatMap((p) => p.prefixes)).toContain(`${c.alias}/_delta_log/`);
            texts.push(...top.map((p) => p.text));

            // Download everything the listing shows; the listing describes each body exactly.
            const files = new Map<string, Uint8Array>();
            for (const e of entries) {
              const r = await objectRequest(proxy.url, 'GET', e.key, c.principal);
              expect(r.status, e.key).toBe(200);
              expect(r.body.byteLength, e.key).toBe(e.size);
              expect(r.headers.etag, e.key).toBe(md5(r.body));
              expect(e.etag, e.key).toBe(r.headers.etag);
              expect(new Date(r.headers['last-modified']!).getTime()).toBe(
                Math.floor(Date.parse(e.lastModified) / 1000) * 1000,
              );
              const name = e.key.split('/').pop()!;
              if (/^\d{20}\.json$/.test(name))
                expect(Date.parse(e.lastModified)).toBe(realCommits.get(name)!.getTime());
              files.set(name, r.body);
            }

            // Structure: only whitelisted actions and fields; every partition granted; DVs inline.
            const fileActions: Record<string, unknown>[] = [];
            for (const [name, body] of files) {
              if (name.endsWith('.json')) {
                const actions = jsonLines(body);
                texts.push(new TextDecoder().decode(body));
                expect(Object.keys(actions[0]!), name).toEqual(['commitInfo']);
                for (const a of actions) {
                  expect(Object.keys(a).length).toBe(1);
                  const [kind, value] = Object.entries(a)[0]! as [string, Record<string, unknown>];
                  expect(ACTIONS.has(kind), `${name}: ${kind}`).toBe(true);
                  if (kind === 'commitInfo')
                    for (const k of Object.keys(value)) expect(COMMIT_INFO_KEYS.has(k), k).toBe(true);
                  if (kind === 'metaData') {
                    expect(value.name).toBeUndefined();
                    expect(value.description).toBeUndefined();
                    for (const k of Object.keys(value.configuration as object))
                      expect(k.startsWith('delta.'), k).toBe(true);
                  }
                  if (kind === 'add' || kind === 'remove' || kind === 'cdc') fileActions.push(value);
                }
              } else if (name.endsWith('.parquet')) {
                const rows = await parquetRows(body);
                texts.push(JSON.stringify(rows, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));
                for (const r of rows) {
                  for (const k of ['txn', 'domainMetadata', 'checkpointMetadata', 'sidecar', 'commitInfo'])
                    expect(r[k] ?? null).toBeNull();
                  if (r.add) fileActions.push(r.add as Record<string, unknown>);
                  if (r.remove) fileActions.push(r.remove as Record<string, unknown>);
                }
                const local = join(outDir, `${c.principal}-${name}`);
                writeFileSync(local, body);
                pyCheckpoints.push(local);
              } else {
                texts.push(new TextDecoder().decode(body));
              }
            }
            for (const a of fileActions) {
              const pv = mapOf(a.partitionValues);
              if (a.partitionValues !== undefined && a.partitionValues !== null)
                expect(allowed(pv), `${a.path} ${JSON.stringify(pv)}`).toBe(true);
              expect(isExternal(String(a.path)), String(a.path)).toBe(false);
              const dv = a.deletionVector as Record<string, unknown> | null | undefined;
              if (dv) {
                expect(dv.storageType).toBe('i');
                const bytes = z85Decode(String(dv.pathOrInlineDv));
                expect(bytes.length).toBeGreaterThanOrEqual(Number(dv.sizeInBytes));
                if (Number(dv.sizeInBytes) !== 16) expect(bytes.readUInt32LE(0)).toBe(1681511377);
              }
            }

            // No byte names a forbidden or out-of-root file, or the DV file of any file.
            const haystack = texts.join('\n');
            for (const lf of logged) {
              const forbidden = isExternal(lf.raw) || !allowed(lf.partitionValues);
              if (forbidden) {
                expect(haystack.includes(lf.raw), `leaks ${lf.raw}`).toBe(false);
                expect(haystack.includes(lf.decoded), `leaks ${lf.decoded}`).toBe(false);
              }
              if (lf.dv) expect(haystack.includes(lf.dv), `leaks DV ${lf.dv}`).toBe(false);
            }

            // `_last_checkpoint` describes the newest generated checkpoint.
            const hint = files.get('_last_checkpoint');
            if (hint) {
              const h = JSON.parse(new TextDecoder().decode(hint)) as Record<string, number>;
              const cp = files.get(checkpointName(h.version!))!;
              const rows = await parquetRows(cp);
              expect(h).toEqual({
                version: Math.max(
                  ...[...files.keys()]
                    .filter((n) => n.includes('checkpoint.'))
                    .map((n) => Number(n.slice(0, 20))),
                ),
                size: rows.length,
                sizeInBytes: cp.byteLength,
                numOfAddFiles: rows.filter((r) => r.add).length,
              });
            }

            // Every retained version replays to the readable files: our replay and the project's engine.
            const viaProxy = deltaStorageFromBackend(
              s3Backend(clientFor(c), { requests: 0, bytes: 0 }),
              'datalake',
              `${c.alias}/`,
            );
            for (const v of versions) {
              const want = await expectedReadable(f, c.maps, v);
              const got = await replayLog(files, v);
              expect([...got.keys()].sort(), `${c.principal} v${v} (test replay)`).toEqual(
                [...want.keys()].sort(),
              );
              for (const [p, file] of got) {
                if (want.get(p) !== undefined)
                  expect(Number(file.deletionVector?.cardinality), p).toBe(want.get(p));
              }
              const snap = await loadSnapshot(viaProxy, { tableUri: `s3://datalake/${c.alias}`, version: v });
              const engine: string[] = [];
              snap.forEachFile((p) => {
                if (snap.kindOf(p) === 'data') engine.push(p);
              });
              expect(engine.sort(), `${c.principal} v${v} (engine)`).toEqual([...want.keys()].sort());
              if (v === latest) {
                for (const p of want.keys()) {
                  if (p.endsWith('.parquet') && existsSync(join(f.dir, p)))
                    pyReads.push({ ...keyFor(c.principal), key: `${c.alias}/${p}`, local: join(f.dir, p) });
                }
              }
            }
          }
          if (tier === 'core') await refusalsAndConditionals(f, i);
        },
        120_000,
      );

      it.skipIf(pythonMissing !== undefined)(
        withReason(
          'pyarrow reads every generated checkpoint (Spark schema) and pyarrow and polars read exactly the listed files',
          pythonMissing,
        ),
        async () => {
          // The core sees a checkpoint from some of its callers; test:full from many more.
          expect(pyCheckpoints.length).toBeGreaterThan(tier === 'core' ? 4 : 10);
          expect(pyReads.length).toBeGreaterThan(20);
          const args = {
            endpoint: proxy.url,
            sparkCheckpoint: resolve(
              corpusDir,
              'delta-dv-partitioned-with-checkpoint/_delta_log/00000000000000000010.checkpoint.parquet',
            ),
            checkpoints: pyCheckpoints,
            reads: pyReads,
          };
          const argFile = join(outDir, 'args.json');
          writeFileSync(argFile, JSON.stringify(args));
          const { stdout } = await run(
            'python3',
            [
              '-c',
              `import sys,runpy; sys.argv=['x', open(${JSON.stringify(argFile)}).read()]; runpy.run_path(${JSON.stringify(join(REPO_ROOT, 'test/integration/clients/filtered_log_readers.py'))}, run_name='__main__')`,
            ],
            { env: clientEnv('us-east-1', keyFor('none')), timeout: 300_000, maxBuffer: 64 << 20 },
          );
          const report = JSON.parse(stdout) as {
            checkpoints: { path: string; rows: number; notLikeSpark: string[] }[];
            reads: { key: string; local: number; pyarrow: number | string; polars?: number | string }[];
            polarsSkipped?: string;
          };
          expect(report.polarsSkipped).toBeUndefined();
          expect(report.checkpoints.length).toBe(pyCheckpoints.length);
          for (const cp of report.checkpoints) {
            expect(cp.notLikeSpark, cp.path).toEqual([]);
            expect(cp.rows).toBeGreaterThan(0);
          }
          const wrong = report.reads.filter(
            (r) => r.pyarrow !== r.local || (report.polarsSkipped === undefined && r.polars !== r.local),
          );
          expect(wrong).toEqual([]);
          console.log(
            `[filtered-log] pyarrow read ${report.checkpoints.length} generated checkpoints; pyarrow` +
              `${report.polarsSkipped ? '' : ' and polars'} read ${report.reads.length} listed data files`,
          );
        },
        300_000,
      );
    },
  );
}

function clientFor(c: Caller): S3Client {
  return backendClientWith(proxy.url, keyFor(c.principal));
}

function backendClientWith(
  endpoint: string,
  key: { accessKeyId: string; secretAccessKey: string },
): S3Client {
  const client = backendClient(endpoint);
  client.config.credentials = async () => ({
    accessKeyId: key.accessKeyId,
    secretAccessKey: key.secretAccessKey,
  });
  return client;
}

/** Forbidden, missing, deletion-vector and hidden log files all answer 404 NoSuchKey; Range and conditions work. */
async function refusalsAndConditionals(f: TableFacts, i: number): Promise<void> {
  const c = callers[i]![0]!;
  const get = (key: string, headers: Record<string, string> = {}) =>
    signedFetch(
      proxy.url,
      'GET',
      `/datalake/${key.split('/').map(encodeURIComponent).join('/')}`,
      '',
      headers,
      keyFor(c.principal),
    );
  const allowedTuple = (t: readonly (string | null)[]) => anyMapMatches(f.columns, c.maps, t);
  const forbidden = [...f.authorizable].find(
    ([, ff]) => ff.kind === 'data' && !ff.tuples.some(allowedTuple),
  )?.[0];
  const hidden = f.objects.filter(
    (o) =>
      o.startsWith('_delta_log/') &&
      !/^_delta_log\/(\d{20}\.json|_last_checkpoint|\d{20}\.checkpoint\.parquet)$/.test(o),
  );
  const dvFiles = [...f.authorizable].filter(([, ff]) => ff.kind === 'dv').map(([p]) => p);
  for (const rel of [forbidden, `no-such-${f.name}.parquet`, ...dvFiles, ...hidden.slice(0, 5)]) {
    if (rel === undefined) continue;
    const r = await get(`${c.alias}/${rel}`);
    expect([rel, r.status, /<Code>(\w+)<\/Code>/.exec(r.text)?.[1]]).toEqual([rel, 404, 'NoSuchKey']);
  }
  const commit = commitKey(Math.max(...retainedVersions(f)), `${c.alias}/`);
  const whole = await get(commit);
  const ranged = await get(commit, { range: 'bytes=2-11' });
  expect(ranged.status).toBe(206);
  expect(ranged.headers['content-range']).toBe(`bytes 2-11/${whole.body.byteLength}`);
  expect(ranged.body.equals(whole.body.subarray(2, 12))).toBe(true);
  expect((await get(commit, { range: `bytes=${whole.body.byteLength}-` })).status).toBe(416);
  expect((await get(commit, { 'if-none-match': whole.headers.etag! })).status).toBe(304);
  expect((await get(commit, { 'if-match': '"0123"' })).status).toBe(412);
  const again = await get(commit);
  expect(again.headers.etag).toBe(whole.headers.etag);
  const head = await signedFetch(proxy.url, 'HEAD', `/datalake/${commit}`, '', {}, keyFor(c.principal));
  expect([head.status, head.headers['content-length'], head.headers.etag]).toEqual([
    200,
    String(whole.body.byteLength),
    whole.headers.etag,
  ]);
}
