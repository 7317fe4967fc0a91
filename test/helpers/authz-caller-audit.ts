/**
 * Audits one caller on one table alias through a running proxy: every object on storage by GET
 * and HEAD, a few missing keys, and ListObjectsV2 / ListObjects paged with small max-keys, with
 * and without delimiter, all against an expectation computed by the test. Returns counts of leaks
 * (something shown or served that must not be), false denials (something readable refused or
 * missing) and other wrong answers (status/code/paging), with the first details of each.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ListParams, listAllPages, mapLimit, objectRequest } from './authz-harness';
import { anyMapMatches, type GrantMap } from './authz-partition-match';
import { byteOrder, type ModelEntry, modelListing } from './authz-s3-model';
import type { TableFacts, Tuple } from './authz-table-facts';

export interface AuditResult {
  requests: number;
  /** Coverage: data-file GETs that were expected to be served / refused (403) / hidden (404). */
  served: number;
  refused: number;
  hidden: number;
  leaks: number;
  falseDenials: number;
  wrong: number;
  details: string[];
}

export function emptyAudit(): AuditResult {
  return { requests: 0, served: 0, refused: 0, hidden: 0, leaks: 0, falseDenials: 0, wrong: 0, details: [] };
}

export function mergeAudit(into: AuditResult, r: AuditResult): void {
  into.requests += r.requests;
  into.served += r.served;
  into.refused += r.refused;
  into.hidden += r.hidden;
  into.leaks += r.leaks;
  into.falseDenials += r.falseDenials;
  into.wrong += r.wrong;
  into.details.push(...r.details.slice(0, Math.max(0, 30 - into.details.length)));
}

/** Which relative keys of the table a listing shows the caller; undefined when the table must look absent. */
export function expectedListed(
  facts: TableFacts,
  maps: readonly GrantMap[] | undefined,
): Set<string> | undefined {
  if (!maps) return undefined;
  const out = new Set<string>();
  for (const rel of facts.objects) {
    if (rel.startsWith('_delta_log/')) out.add(rel);
    const f = facts.authorizable.get(rel);
    // A shared DV file holds the vectors of files of several partitions: all must be granted,
    // also those of files removed since.
    const owners = [
      ...(f?.tuples ?? []),
      ...(f?.kind === 'dv' ? (facts.removed.get(rel)?.removals ?? []) : []).map((x) => x.tuple),
    ];
    if (f && owners.every((t) => anyMapMatches(facts.columns, maps, t))) out.add(rel);
  }
  return out;
}

/**
 * Which relative keys the caller may GET at time `now`: what a listing shows, plus files removed
 * by a retained version in a granted partition until their retention has passed.
 */
export function expectedReadable(
  facts: TableFacts,
  maps: readonly GrantMap[] | undefined,
  now = Date.now(),
): Set<string> | undefined {
  const out = expectedListed(facts, maps);
  if (!out || !maps) return out;
  const granted = (t: Tuple) => anyMapMatches(facts.columns, maps, t);
  for (const rel of facts.objects) {
    const r = facts.removed.get(rel);
    if (!r) continue;
    const live = r.removals.filter((x) => now < x.deletedAt + facts.retentionMs);
    if (isDeletionVectorFile(rel)) {
      // It holds the vectors of every file that pointed at it: removed ones must be granted too.
      if (!r.removals.every((x) => granted(x.tuple))) out.delete(rel);
      else if (live.length) out.add(rel);
    } else if (live.some((x) => granted(x.tuple))) out.add(rel);
  }
  return out;
}

const isDeletionVectorFile = (rel: string) => rel.endsWith('.bin') && !rel.startsWith('_delta_log/');

const errorCode = (text: string) => /<Code>([^<]*)<\/Code>/.exec(text)?.[1];

export interface AuditTarget {
  url: string;
  principal: string;
  alias: string;
  facts: TableFacts;
  /** Partition maps the caller holds on the alias (union of all sources); undefined = no grant. */
  maps: readonly GrantMap[] | undefined;
  /** A key to start a listing after (any object of the table, forbidden ones included). */
  startAfter?: string;
  /**
   * The folders (relative, ending in "/") the backend itself reports as common prefixes under a
   * relative prefix with delimiter "/". s3rver omits folders that hold only sub-folders; the proxy
   * can only show what its backend lists, so expectations are intersected with this.
   */
  backendFolders?: (relPrefix: string) => Promise<ReadonlySet<string>>;
  /** The proxy's clock (ms), which decides whether a removed file is past its retention. */
  now?: number;
}

export async function auditCaller(t: AuditTarget): Promise<AuditResult> {
  const r = emptyAudit();
  const who = `${t.principal}@${t.alias}`;
  const note = (kind: 'leaks' | 'falseDenials' | 'wrong', msg: string) => {
    r[kind]++;
    if (r.details.length < 30) r.details.push(`${kind} ${who}: ${msg}`);
  };
  const readable = expectedReadable(t.facts, t.maps, t.now);

  // Objects: every file on storage, plus keys that exist nowhere and folder-like keys (which S3
  // answers 404 to a caller who may list; pyarrow HEADs the bare alias before listing).
  const firstFolder = t.facts.objects
    .find((o) => !o.startsWith('_') && o.includes('/'))
    ?.replace(/[^/]*$/, '');
  const missing = [
    'no-such-file.parquet',
    '_delta_log/99999999999999999999.json',
    'a=1/part-0.parquet',
    '',
    '_delta_log/',
    ...(firstFolder ? [firstFolder] : []),
  ];
  const probes = [
    ...t.facts.objects.map((rel) => ({ rel, key: `${t.alias}/${rel}`, exists: true })),
    ...missing.map((rel) => ({ rel, key: `${t.alias}/${rel}`, exists: false })),
    { rel: '', key: t.alias, exists: false },
  ];
  await mapLimit(probes, 12, async ({ rel, key, exists }) => {
    const expected = !readable || !exists ? 404 : readable.has(rel) ? 200 : 403;
    if (exists && !rel.startsWith('_delta_log/'))
      r[expected === 200 ? 'served' : expected === 403 ? 'refused' : 'hidden']++;
    for (const method of ['GET', 'HEAD'] as const) {
      const res = await objectRequest(t.url, method, key, t.principal);
      r.requests++;
      const got = `${method} ${key} → ${res.status} ${errorCode(res.text) ?? ''}`.trim();
      if (res.status === 200 && expected !== 200) note('leaks', `${got} (expected ${expected})`);
      else if (res.status !== 200 && expected === 200) note('falseDenials', `${got} (expected 200)`);
      else if (res.status !== expected) note('wrong', `${got} (expected ${expected})`);
      else if (method === 'GET' && expected === 200) {
        if (!res.body.equals(readFileSync(join(t.facts.dir, rel))))
          note('wrong', `${got}: body differs from the file`);
      } else if (method === 'GET') {
        const code = expected === 404 ? 'NoSuchKey' : 'AccessDenied';
        if (errorCode(res.text) !== code) note('wrong', `${got} (expected code ${code})`);
      } else if (res.body.length) note('wrong', `${got}: HEAD answered with a body`);
    }
  });

  // Listings: what the caller may see, as S3 would list it (removed files are never listed).
  const visible = new Set([...(expectedListed(t.facts, t.maps) ?? [])].map((rel) => `${t.alias}/${rel}`));
  const root = `${t.alias}/`;
  const compare = (what: string, got: ModelEntry[], want: ModelEntry[]) => {
    const show = (e: ModelEntry) => `${e.kind}:${e.value}`;
    const gotSet = new Set(got.map(show));
    const wantSet = new Set(want.map(show));
    for (const e of gotSet) if (!wantSet.has(e)) note('leaks', `${what} shows ${e}`);
    for (const e of wantSet) if (!gotSet.has(e)) note('falseDenials', `${what} misses ${e}`);
    if (gotSet.size !== got.length) note('wrong', `${what} repeats entries`);
    if (JSON.stringify(got.map(show)) !== JSON.stringify(want.map(show)) && gotSet.size === wantSet.size)
      note('wrong', `${what} order differs`);
  };
  const list = async (version: 1 | 2, p: ListParams): Promise<ModelEntry[]> => {
    const what = `v${version} ${JSON.stringify(p)}`;
    const pages = await listAllPages(t.url, t.principal, version, p);
    r.requests += pages.length;
    const entries: ModelEntry[] = [];
    pages.forEach((page, i) => {
      if (page.status !== 200) note('wrong', `${what} page ${i} → ${page.status}`);
      const n = page.keys.length + page.prefixes.length;
      if (page.truncated && n !== (p.maxKeys ?? 1000))
        note('wrong', `${what} truncated page ${i} has ${n} entries`);
      if (version === 2 && page.keyCount !== n)
        note('wrong', `${what} page ${i} KeyCount ${page.keyCount} ≠ ${n}`);
      const merged: ModelEntry[] = [
        ...page.keys.map((value) => ({ kind: 'key' as const, value })),
        ...page.prefixes.map((value) => ({ kind: 'prefix' as const, value })),
      ].sort((a, b) => byteOrder(a.value, b.value));
      entries.push(...merged);
    });
    return entries;
  };
  const model = async (p: ListParams) => {
    const want = modelListing(visible, {
      prefix: p.prefix ?? '',
      delimiter: p.delimiter ?? '',
      after: p.startAfter ?? '',
    });
    if (p.delimiter !== '/' || !t.backendFolders) return want;
    const listed = await t.backendFolders((p.prefix ?? '').slice(root.length));
    return want.filter((e) => e.kind === 'key' || listed.has(e.value.slice(root.length)));
  };

  for (const [version, p] of [
    [2, { prefix: root, maxKeys: 2, encodingUrl: true }],
    [1, { prefix: root, maxKeys: 5 }],
    [2, { prefix: root, maxKeys: 7, startAfter: t.startAfter ? root + t.startAfter : undefined }],
    [1, { prefix: root, delimiter: '/', maxKeys: 2, encodingUrl: true }],
  ] as [1 | 2, ListParams][]) {
    compare(`v${version} ${JSON.stringify(p)}`, await list(version, p), await model(p));
  }
  // Every folder level with a delimiter, as a file browser (or pyarrow) walks it.
  const folders = [root];
  while (folders.length) {
    const prefix = folders.shift()!;
    const p: ListParams = { prefix, delimiter: '/', maxKeys: 3 };
    const got = await list(2, p);
    compare(`v2 ${JSON.stringify(p)}`, got, await model(p));
    for (const e of got) if (e.kind === 'prefix' && e.value.startsWith(prefix)) folders.push(e.value);
  }
  return r;
}
