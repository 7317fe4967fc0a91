/**
 * A few lines of S3 listing semantics over a set of keys, for expectations: keys in UTF-8 byte
 * order, `prefix`, exclusive `after` (on keys and common prefixes alike), and roll-up of keys into
 * common prefixes at `delimiter`.
 * The result is the whole listing as one sequence, which is what a caller's concatenated pages
 * must equal.
 */

export interface ModelEntry {
  kind: 'key' | 'prefix';
  value: string;
}

export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export function modelListing(
  keys: Iterable<string>,
  opts: { prefix?: string; delimiter?: string; after?: string },
): ModelEntry[] {
  const prefix = opts.prefix ?? '';
  const after = opts.after ?? '';
  const out: ModelEntry[] = [];
  const seen = new Set<string>();
  for (const key of [...keys].sort(byteOrder)) {
    if (!key.startsWith(prefix) || byteOrder(key, after) <= 0) continue;
    const i = opts.delimiter ? key.indexOf(opts.delimiter, prefix.length) : -1;
    if (i < 0) {
      out.push({ kind: 'key', value: key });
      continue;
    }
    const p = key.slice(0, i + opts.delimiter!.length);
    // A common prefix at or before `after` (which lies inside it) was handed out before, as in S3.
    if (!seen.has(p) && byteOrder(p, after) > 0) {
      seen.add(p);
      out.push({ kind: 'prefix', value: p });
    }
  }
  return out;
}
