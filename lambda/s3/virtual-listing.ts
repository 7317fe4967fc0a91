/**
 * Lists the virtual bucket: table aliases at the root, each table's backend listing below
 * its alias, keys rewritten back to virtual form, filtered by what the caller may see.
 *
 * Paging is the proxy's own: the caller passes an exclusive `after` key (S3 start-after,
 * marker, or our continuation token) and gets at most maxKeys entries plus where to resume.
 * Because `after` is only ever a lower bound inside the requested prefix, a forged token
 * cannot reach anything the same request without a token could not.
 *
 * Work is bounded by what is read: each backend key costs one O(1) filter check, a request reads
 * at most MAX_BACKEND_PAGES pages, and a table's filter (its snapshot) is loaded only when the
 * listing reaches inside the table. With a delimiter other than "/", the backend lists keys
 * without it and the proxy rolls visible keys up itself, skipping the rest of a common prefix
 * once it is shown: whether an arbitrary prefix holds a readable file is never asked.
 */
import { WorkSlices, yieldToEventLoop } from '../core/event-loop';
import { firstIndex } from '../core/first-index';
import type { ListingFilter, ListingScope } from '../core/listing-filter';
import { S3Error } from '../core/s3-error';
import { compareKeys, type TableMount } from '../core/table-mount';
import { PAST, resumeAfter } from '../storage/list-resume';
import type { ListedObject, ListPage, StorageBackend } from '../storage/storage-backend';
import { MAX_KEY_BYTES } from './virtual-key';

export type ListEntry =
  | { kind: 'object'; key: string; object: ListedObject }
  | { kind: 'prefix'; key: string };

/**
 * Where a listing resumes: strictly after `after`. When `examined` is false, `after` is an entry the
 * caller was given (or a key it chose) and everything a common prefix containing it rolls up to was
 * handled. When true, `after` is the last key looked at, which the caller may not be allowed to see:
 * it must leave the proxy only encrypted, and the common prefix containing it is still open.
 */
export interface ResumePoint {
  after: string;
  examined: boolean;
  /**
   * Set when a request spent its page budget on backend pages without a key: the backend's own
   * continuation token, to resume the listing it belongs to (`scope`) where it stopped.
   */
  backend?: BackendResume;
}

export interface BackendResume {
  /** The backend listing the token belongs to: alias, bucket, prefix and delimiter. */
  scope: string;
  token: string;
}

export interface VirtualListRequest {
  prefix: string;
  delimiter: string;
  /** Exclusive lower bound on virtual keys (or rolled-up prefixes); "" for none. */
  after: string;
  afterExamined?: boolean;
  afterBackend?: BackendResume;
  maxKeys: number;
  signal?: AbortSignal;
}

export interface VisibleTable {
  mount: TableMount;
  /** The table's filter, loaded only when the listing reaches inside the table (undefined: hide it). */
  filter(scope: ListingScope): Promise<ListingFilter | undefined>;
}

export interface VirtualListing {
  entries: ListEntry[];
  isTruncated: boolean;
  /** Set when isTruncated. */
  resume?: ResumePoint;
}

/** Backend pages read per request at most; a heavily filtered listing resumes from where it stopped. */
const MAX_BACKEND_PAGES = 50;
/**
 * Key characters a backend page is asked to hold: S3 keys reach 1,024 bytes, and a page of 1,000
 * of them is over a MB of XML, parsed and filtered in one block of the event loop (tens of ms) even
 * when the caller sees none of it. A page asks for as many keys as fit at the longest key of the
 * previous page (the table's last page for a request's first; the longest a key may be for a
 * table never listed: MAX_KEY_BYTES, as no key has more characters than bytes), up to S3's 1,000.
 */
const PAGE_KEY_CHARS = 256 * 1024;
const MAX_PAGE_KEYS = 1000;

/**
 * Generated keys (the filtered _delta_log/) described between two yields: each is a lookup of its
 * generated file, ~20-100 µs, and a page of 1,000 made before awaits only resolved promises.
 */
const DESCRIBED_PER_SLICE = 64;

/** Keys to ask of the next backend page when its keys are about `longest` characters long. */
function pageKeys(longest: number): number {
  return Math.max(1, Math.min(MAX_PAGE_KEYS, Math.floor(PAGE_KEY_CHARS / Math.max(1, longest))));
}

/**
 * The longest key of each table's last backend page: a listing's first page asks for as many keys
 * as fit at that length, so a table of ordinary keys is listed 1,000 keys a page from its first
 * request on, and only a table never listed before starts at the longest a key may be.
 */
const lastKeyLength = new WeakMap<TableMount, number>();

function longestKey(page: ListPage): number {
  let longest = 0;
  for (const o of page.objects) longest = Math.max(longest, o.key.length);
  for (const p of page.commonPrefixes) longest = Math.max(longest, p.length);
  return longest;
}

/** Rolls a key up to its common prefix under `delimiter`, as S3 does. */
export function rollUp(key: string, prefix: string, delimiter: string): string | undefined {
  if (!delimiter) return undefined;
  const i = key.indexOf(delimiter, prefix.length);
  return i < 0 ? undefined : key.slice(0, i + delimiter.length);
}

/** Can a listing under `prefix` contain anything of this table (inside it, or its folder itself)? */
export function touchesPrefix(mount: TableMount, prefix: string): boolean {
  const root = `${mount.alias}/`;
  return prefix.startsWith(root) || root.startsWith(prefix);
}

/**
 * Where in the sorted generated keys a listing page starts and ends, by binary search (a long log
 * has tens of thousands, not copied per request): those under the prefix, from the resume point
 * on. A key before the common prefix the resume point is in rolls up to a prefix before it, so it
 * cannot be due.
 */
function keyRange(keys: readonly string[], root: string, req: VirtualListRequest): [number, number] {
  const open = rollUp(req.after, req.prefix, req.delimiter);
  const after = open?.startsWith(req.prefix) ? open : req.after;
  const from = compareKeys(after, req.prefix) > 0 ? after : req.prefix;
  const first = firstIndex(keys, (k) => compareKeys(root + k, from) >= 0, 0, keys.length);
  return [first, firstIndex(keys, (k) => !(root + k).startsWith(req.prefix), first, keys.length)];
}

export async function listVirtual(
  storage: StorageBackend,
  tables: readonly VisibleTable[],
  req: VirtualListRequest,
): Promise<VirtualListing> {
  const out: ListEntry[] = [];
  // One entry beyond maxKeys tells us whether the listing is truncated.
  const wanted = req.maxKeys + 1;
  let pagesLeft = MAX_BACKEND_PAGES;
  let resume: ResumePoint = { after: req.after, examined: req.afterExamined === true };
  const start = resume;
  const seenPrefixes = new Set<string>();
  /** Rolled-up prefixes whose rest is skipped, and those listed past already. */
  const shown = new Set<string>();
  const skipped = new Set<string>();

  /**
   * Was this key handed out (or chosen) before? An examined resume point is a backend key the caller
   * was not shown: a generated entry of the same name (the filtered log's stand-in for a real log
   * key) is still due.
   */
  const passed = (key: string): boolean => {
    const c = compareKeys(key, req.after);
    return c < 0 || (c === 0 && req.afterExamined !== true);
  };

  const accept = (entry: ListEntry): boolean => {
    if (passed(entry.key)) {
      // Resuming inside a common prefix that was not shown yet: it is still due.
      const open =
        req.afterExamined === true &&
        entry.kind === 'prefix' &&
        entry.key !== req.after &&
        req.after.startsWith(entry.key);
      if (!open) return false;
    }
    if (entry.kind === 'prefix') {
      if (seenPrefixes.has(entry.key)) return false;
      seenPrefixes.add(entry.key);
    }
    out.push(entry);
    // A page cut short by its budget resumes past what it showed: generated keys after a table's
    // last backend key, a table rolled up whole, a common prefix the resume point lay inside.
    if (
      compareKeys(entry.key, resume.after) >= 0 ||
      (entry.kind === 'prefix' && resume.after.startsWith(entry.key))
    )
      resume = { after: entry.key, examined: false };
    return out.length >= wanted;
  };

  for (const table of tables) {
    const { mount } = table;
    if (!touchesPrefix(mount, req.prefix)) continue;
    const root = `${mount.alias}/`;
    if (!req.prefix.startsWith(root)) {
      // The prefix stops inside the alias: the whole table may roll up into one common prefix.
      const rolled = rollUp(root, req.prefix, req.delimiter);
      if (rolled !== undefined) {
        if (accept({ kind: 'prefix', key: rolled })) return finish(out, req.maxKeys);
        continue;
      }
    }
    // Tables wholly at or before the resume point contribute nothing.
    if (req.after && !req.after.startsWith(root) && compareKeys(req.after, root) > 0) continue;
    const relPrefix = req.prefix.startsWith(root) ? req.prefix.slice(root.length) : '';
    // No key is over 1,024 bytes: a longer prefix behind the table's holds nothing, and S3 may
    // refuse it (a 400 that would come back as a 5xx). Not asked.
    if (Buffer.byteLength(mount.prefix + relPrefix) > MAX_KEY_BYTES) continue;
    const relAfter = req.after.startsWith(root) ? req.after.slice(root.length) : undefined;
    const filter = await table.filter({
      relPrefix,
      delimiter: req.delimiter,
      ...(relAfter !== undefined ? { relAfter } : {}),
    });
    if (!filter) continue;
    const listPrefix = mount.prefix + relPrefix;
    const rollUpHere = req.delimiter !== '' && req.delimiter !== '/';
    if (req.delimiter === '/') await filter.prepareFolders?.();

    let startAfter: string | undefined;
    if (req.after.startsWith(root) && compareKeys(req.after, req.prefix) > 0) {
      const rolled = rollUp(req.after, req.prefix, req.delimiter);
      // Everything in the common prefix of a key handed out (or of one the caller chose) rolls up to
      // a prefix at or before it: skip it. An examined key leaves its prefix open, unless it was a
      // common prefix the backend rolled up (and found invisible) itself.
      const past = rolled !== undefined && (!req.afterExamined || (rolled === req.after && !rollUpHere));
      startAfter = mount.prefix + (past ? `${rolled}${PAST}` : req.after).slice(root.length);
    }

    // A generated folder (the filtered _delta_log/) is listed from its own keys, merged in order.
    const folder = filter.virtualFolder;
    const generated = folder?.keys ?? [];
    const [gStart, gEnd] = keyRange(generated, root, req);
    let gi = gStart;
    const described = new WorkSlices(DESCRIBED_PER_SLICE);
    /** Emits the generated entries sorting before `key` (all of them when undefined); true when full. */
    const emitGenerated = async (key?: string): Promise<boolean> => {
      while (gi < gEnd && (key === undefined || compareKeys(root + generated[gi]!, key) < 0)) {
        const rel = generated[gi++]!;
        const vkey = root + rel;
        const rolled = rollUp(vkey, req.prefix, req.delimiter);
        if (rolled !== undefined) {
          // Shown: the backend keys rolled up into it are skipped, not left open by a hidden one;
          // the generated keys rolled up into it (the whole log, in a root listing) are skipped here.
          shown.add(rolled);
          // (A common prefix of a table listed inside is longer than the table's root.)
          const inside = rolled.slice(root.length);
          if (gi < gEnd && generated[gi]!.startsWith(inside))
            gi = firstIndex(generated, (k) => !k.startsWith(inside), gi, gEnd);
          if (accept({ kind: 'prefix', key: rolled })) return true;
          continue;
        }
        if (passed(vkey)) continue;
        // A described key is a lookup of its generated file (resolved at once when made before):
        // a page of them would otherwise run as one block.
        if (described.spend(1)) await yieldToEventLoop();
        const meta = await folder!.describe(rel);
        if (!meta) continue;
        if (accept({ kind: 'object', key: vkey, object: { key: vkey, ...meta } })) return true;
      }
      return false;
    };
    const onlyGenerated = folder !== undefined && relPrefix.startsWith(folder.prefix);

    const delimiter = rollUpHere ? undefined : req.delimiter || undefined;
    // The alias too: two aliases of one location list the same backend prefix in one request.
    const scope = JSON.stringify([root, mount.bucket, listPrefix, delimiter ?? '']);
    // Resumes a run of pages without a key where the previous request stopped.
    let token = req.afterBackend?.scope === scope ? req.afterBackend.token : undefined;
    let keysPerPage = pageKeys(lastKeyLength.get(mount) ?? MAX_KEY_BYTES);
    while (!onlyGenerated) {
      if (pagesLeft-- <= 0) {
        if (resume !== start) return { entries: out, isTruncated: true, resume };
        // S3 may send pages without a key (a run of delete markers): the resume point has not
        // moved, so the client resumes at the backend's token instead of where it started.
        if (token !== undefined)
          return { entries: out, isTruncated: true, resume: { ...start, backend: { scope, token } } };
      }
      const page = await storage.list({
        bucket: mount.bucket,
        prefix: listPrefix,
        delimiter,
        startAfter: token ? undefined : startAfter,
        continuationToken: token,
        maxKeys: keysPerPage,
        signal: req.signal,
      });
      const longest = longestKey(page);
      if (longest > 0) lastKeyLength.set(mount, longest);
      keysPerPage = pageKeys(longest || MAX_KEY_BYTES);
      let restartAfter: string | undefined;
      for (const item of mergeSorted(page.objects, page.commonPrefixes)) {
        // A backend that ignores our prefix must not make us show foreign keys.
        if (!item.key.startsWith(listPrefix)) continue;
        const rel = item.key.slice(mount.prefix.length);
        const key = root + rel;
        if (await emitGenerated(key)) return finish(out, req.maxKeys);
        if (item.kind === 'prefix') {
          const visible = filter.allowPrefix(rel);
          resume = { after: key, examined: !visible };
          if (visible && accept({ kind: 'prefix', key })) return finish(out, req.maxKeys);
          continue;
        }
        const visible = filter.allowObject(rel);
        const rolled = rollUpHere ? rollUp(key, req.prefix, req.delimiter) : undefined;
        if (rolled === undefined) {
          resume = { after: key, examined: !visible };
          if (visible && accept({ kind: 'object', key, object: item.object }))
            return finish(out, req.maxKeys);
          continue;
        }
        if (shown.has(rolled)) {
          // The rest of a common prefix already handled: nothing more of it is shown.
          resume = { after: rolled, examined: false };
          continue;
        }
        if (!visible) {
          resume = { after: key, examined: true };
          continue;
        }
        // The first visible key of a common prefix shows it; the rest of the prefix is skipped.
        shown.add(rolled);
        resume = { after: rolled, examined: false };
        if (accept({ kind: 'prefix', key: rolled })) return finish(out, req.maxKeys);
        // When the rest of this page lies inside the prefix, list on from past it instead. (A
        // backend ordering keys by UTF-16, as s3rver does, may hand it out again: read through.)
        const lastOfPage = page.objects.at(-1)?.key;
        const inside = lastOfPage?.startsWith(mount.prefix + rolled.slice(root.length));
        if (page.isTruncated && inside && !skipped.has(rolled)) {
          skipped.add(rolled);
          restartAfter = mount.prefix + rolled.slice(root.length) + PAST;
          break;
        }
      }
      if (restartAfter !== undefined) {
        token = undefined;
        startAfter = restartAfter;
        continue;
      }
      if (!page.isTruncated) break;
      if (page.nextContinuationToken) {
        token = page.nextContinuationToken;
        continue;
      }
      // A backend that says "truncated" but gives no token (list-resume.ts).
      const next = resumeAfter(page, startAfter);
      if (next === undefined)
        throw new S3Error(
          'InternalError',
          undefined,
          {},
          'backend listing page truncated without a way to resume',
        );
      token = undefined;
      startAfter = next;
    }
    if (await emitGenerated()) return finish(out, req.maxKeys);
  }
  return finish(out, req.maxKeys);
}

function finish(out: ListEntry[], maxKeys: number): VirtualListing {
  if (out.length <= maxKeys) return { entries: out, isTruncated: false };
  const entries = out.slice(0, maxKeys);
  const last = entries.at(-1);
  return { entries, isTruncated: true, resume: { after: last?.key ?? '', examined: false } };
}

type Item = { kind: 'object'; key: string; object: ListedObject } | { kind: 'prefix'; key: string };

/** Backends return objects and common prefixes as two sorted lists; S3 pages interleave them. */
function* mergeSorted(objects: ListedObject[], prefixes: string[]): Generator<Item> {
  let i = 0;
  let j = 0;
  while (i < objects.length || j < prefixes.length) {
    const o = objects[i];
    const p = prefixes[j];
    if (o && (p === undefined || compareKeys(o.key, p) < 0)) {
      i++;
      yield { kind: 'object', key: o.key, object: o };
    } else if (p !== undefined) {
      j++;
      yield { kind: 'prefix', key: p };
    }
  }
}
