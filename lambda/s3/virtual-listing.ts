/**
 * Lists the virtual bucket: table aliases at the root, each table's backend listing below
 * its alias, keys rewritten back to virtual form, filtered by what the caller may see.
 *
 * Paging is the proxy's own: the caller passes an exclusive `after` key (S3 start-after,
 * marker, or our continuation token) and gets at most maxKeys entries plus whether more exist.
 * Because `after` is only ever a lower bound inside the requested prefix, a forged token
 * cannot reach anything the same request without a token could not.
 */
import type { ListingFilter } from '../core/listing-filter';
import { compareKeys, type TableMount } from '../core/table-mount';
import type { ListedObject, StorageBackend } from '../storage/storage-backend';

export type ListEntry =
  | { kind: 'object'; key: string; object: ListedObject }
  | { kind: 'prefix'; key: string };

export interface VirtualListRequest {
  prefix: string;
  delimiter: string;
  /** Exclusive lower bound on virtual keys (or rolled-up prefixes); "" for none. */
  after: string;
  maxKeys: number;
  signal?: AbortSignal;
}

export interface VisibleTable {
  mount: TableMount;
  filter: ListingFilter;
}

export interface VirtualListing {
  entries: ListEntry[];
  isTruncated: boolean;
  /** Resume point when isTruncated: the last key or prefix handed out (or examined). */
  resumeAfter?: string;
}

/** Backend pages read per request at most; a heavily filtered listing resumes from where it stopped. */
const MAX_BACKEND_PAGES = 50;

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

export async function listVirtual(
  storage: StorageBackend,
  tables: readonly VisibleTable[],
  req: VirtualListRequest,
): Promise<VirtualListing> {
  const out: ListEntry[] = [];
  // One entry beyond maxKeys tells us whether the listing is truncated.
  const wanted = req.maxKeys + 1;
  let pagesLeft = MAX_BACKEND_PAGES;
  let lastExamined: string | undefined;
  const seenPrefixes = new Set<string>();

  const accept = (entry: ListEntry): boolean => {
    if (compareKeys(entry.key, req.after) <= 0) return false;
    if (entry.kind === 'prefix') {
      if (seenPrefixes.has(entry.key)) return false;
      seenPrefixes.add(entry.key);
    }
    out.push(entry);
    return out.length >= wanted;
  };

  for (const { mount, filter } of tables) {
    if (!touchesPrefix(mount, req.prefix)) continue;
    const root = `${mount.alias}/`;
    let relPrefix = '';
    if (req.prefix.startsWith(root)) {
      relPrefix = req.prefix.slice(root.length);
    } else {
      // The prefix stops inside the alias: the whole table may roll up into one common prefix.
      const rolled = rollUp(root, req.prefix, req.delimiter);
      if (rolled !== undefined) {
        if (accept({ kind: 'prefix', key: rolled })) break;
        continue;
      }
    }
    // Tables wholly at or before the resume point contribute nothing.
    if (req.after && !req.after.startsWith(root) && compareKeys(req.after, root) > 0) continue;
    const startAfter =
      req.after.startsWith(root) && compareKeys(req.after, req.prefix) > 0
        ? mount.prefix + req.after.slice(root.length)
        : undefined;

    // A generated folder (the filtered _delta_log/) is listed from its own keys, merged in order.
    const folder = filter.virtualFolder;
    const generated = folder ? folder.keys.filter((k) => (root + k).startsWith(req.prefix)) : [];
    let gi = 0;
    /** Emits the generated entries sorting before `key` (all of them when undefined); true when full. */
    const emitGenerated = async (key?: string): Promise<boolean> => {
      while (gi < generated.length && (key === undefined || compareKeys(root + generated[gi]!, key) < 0)) {
        const rel = generated[gi++]!;
        const vkey = root + rel;
        const rolled = rollUp(vkey, req.prefix, req.delimiter);
        if (rolled !== undefined) {
          if (accept({ kind: 'prefix', key: rolled })) return true;
          continue;
        }
        if (compareKeys(vkey, req.after) <= 0) continue;
        const meta = await folder!.describe(rel);
        if (accept({ kind: 'object', key: vkey, object: { key: vkey, ...meta } })) return true;
      }
      return false;
    };
    const onlyGenerated = folder !== undefined && relPrefix.startsWith(folder.prefix);

    let token: string | undefined;
    let done = onlyGenerated;
    while (!done) {
      if (pagesLeft-- <= 0) {
        return { entries: out, isTruncated: true, resumeAfter: out.at(-1)?.key ?? lastExamined ?? req.after };
      }
      const page = await storage.list({
        bucket: mount.bucket,
        prefix: mount.prefix + relPrefix,
        delimiter: req.delimiter || undefined,
        startAfter: token ? undefined : startAfter,
        continuationToken: token,
        maxKeys: 1000,
        signal: req.signal,
      });
      for (const item of mergeSorted(page.objects, page.commonPrefixes)) {
        const rel = item.key.slice(mount.prefix.length);
        // A backend that ignores our prefix must not make us show foreign keys.
        if (!item.key.startsWith(mount.prefix + relPrefix)) continue;
        const key = root + rel;
        if (await emitGenerated(key)) return finish(out, req.maxKeys);
        lastExamined = key;
        if (item.kind === 'prefix') {
          if (!filter.allowPrefix(rel)) continue;
          if (accept({ kind: 'prefix', key })) return finish(out, req.maxKeys);
        } else {
          if (!filter.allowObject(rel)) continue;
          if (accept({ kind: 'object', key, object: item.object })) return finish(out, req.maxKeys);
        }
      }
      done = !page.isTruncated || !page.nextContinuationToken;
      token = page.nextContinuationToken;
    }
    if (await emitGenerated()) return finish(out, req.maxKeys);
  }
  return finish(out, req.maxKeys);
}

function finish(out: ListEntry[], maxKeys: number): VirtualListing {
  const isTruncated = out.length > maxKeys;
  const entries = isTruncated ? out.slice(0, maxKeys) : out;
  return { entries, isTruncated, resumeAfter: isTruncated ? entries.at(-1)?.key : undefined };
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
