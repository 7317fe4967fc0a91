/**
 * The whole `_delta_log/`, listed in key ranges side by side instead of one page after the other.
 * A 30-day log of a table committing every minute is ~90 LIST pages: read in sequence (each page
 * names the next), 2-4 s on S3 before the first answer of a cold instance. Log keys are
 * zero-padded versions, so the version range splits the key space: after one first page (a short
 * log is whole in it, one request as before), the versions from there to the newest known are
 * listed in up to MAX_RANGES ranges at once. Hidden files (`.N.json.crc`, one per commit in a log
 * copied from a Hadoop file system) sort before the versions and are split the same way.
 */
import type { DeltaStorage, ListedFile } from './delta-storage';
import { LOG_DIR, versionPrefix } from './log-path';

export interface WholeLogListingOptions {
  /** Keys the first request asks for (S3 answers at most 1,000 a page). */
  firstKeys?: number;
  /** Versions per range: a commit is one to two keys (its .crc), a checkpoint every ten. */
  versionsPerRange?: number;
  /** Ranges listed at once, at most. */
  maxRanges?: number;
}

const FIRST_KEYS = 1000;
const VERSIONS_PER_RANGE = 2000;
const MAX_RANGES = 16;
/** Sorts after every hidden key ("." and below) and before every version ("0"). */
const AFTER_HIDDEN = `${LOG_DIR}/`;
/** A version at the start of a name, hidden or not. */
const VERSION = /^\.?(\d{20})/;

/**
 * Every file under `_delta_log/`, sorted by path, as `storage.list(LOG_DIR)` gives it. `newest`:
 * the newest version known (a snapshot's); later ones are listed too, in the last range.
 */
export async function listWholeLog(
  storage: DeltaStorage,
  newest: number,
  opts: WholeLogListingOptions = {},
): Promise<ListedFile[]> {
  const firstKeys = opts.firstKeys ?? FIRST_KEYS;
  const first = await storage.list(LOG_DIR, undefined, firstKeys);
  // Fewer than asked: the listing ended (an implementation may give more than asked, never less).
  if (first.length < firstKeys) return first;
  const last = first.at(-1)!.path;
  const oldest = versionOf(first[0]!.path);
  const lastVersion = versionOf(last);
  const ranges: [after: string, until: string | undefined][] = [];
  if (oldest === undefined || lastVersion === undefined) {
    // Names this does not know (or past the versions): the rest in one range.
    ranges.push([last, undefined]);
  } else if (last < AFTER_HIDDEN) {
    // Within the hidden files: the rest of them, then every version.
    ranges.push(...split(last, lastVersion, newest, '.', AFTER_HIDDEN, opts));
    ranges.push(...split(AFTER_HIDDEN, oldest, newest, '', undefined, opts));
  } else {
    ranges.push(...split(last, lastVersion, newest, '', undefined, opts));
  }
  const rest = await Promise.all(ranges.map(([after, until]) => listRange(storage, after, until)));
  return first.concat(...rest);
}

function versionOf(path: string): number | undefined {
  const m = VERSION.exec(path.slice(LOG_DIR.length));
  return m ? Number(m[1]) : undefined;
}

/**
 * Ranges (after, until] covering (after, end] whose inner bounds are the keys of versions evenly
 * spread over (from, newest]: `${LOG_DIR}${hidden}${version}` sorts before that version's files.
 */
function split(
  after: string,
  from: number,
  newest: number,
  hidden: '' | '.',
  end: string | undefined,
  opts: WholeLogListingOptions,
): [string, string | undefined][] {
  const span = newest - from;
  const n = Math.max(
    1,
    Math.min(opts.maxRanges ?? MAX_RANGES, Math.ceil(span / (opts.versionsPerRange ?? VERSIONS_PER_RANGE))),
  );
  const out: [string, string | undefined][] = [];
  let start = after;
  for (let i = 1; i < n; i++) {
    const bound = `${LOG_DIR}${hidden}${versionPrefix(from + Math.round((span * i) / n))}`;
    if (bound <= start) continue;
    out.push([start, bound]);
    start = bound;
  }
  out.push([start, end]);
  return out;
}

/** The files in (after, until]; `until` undefined: to the end. */
async function listRange(
  storage: DeltaStorage,
  after: string,
  until: string | undefined,
): Promise<ListedFile[]> {
  const files = await storage.list(LOG_DIR, after, undefined, until);
  // A store may give more than asked on either side: keep the range's own. Sorted, so only the
  // ends are looked at (a range holds tens of thousands of files).
  let start = 0;
  while (start < files.length && files[start]!.path <= after) start++;
  let end = files.length;
  while (until !== undefined && end > start && files[end - 1]!.path > until) end--;
  return start === 0 && end === files.length ? files : files.slice(start, end);
}
