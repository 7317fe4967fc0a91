/**
 * Partition maps from command-line options:
 * - `--all` grants the whole table: `[{}]`. It cannot be combined with the others.
 * - each `--partition k=v[,k=v...]` is one map (repeat it for several maps; the union counts).
 *   In values, `\,` `\=` and `\\` stand for a literal comma, equals sign and backslash; a
 *   backslash before any other character is refused.
 * - each `--partition-null col` adds `col: null` (the null partition) to every map given by
 *   `--partition`; with no `--partition` the null columns form one map on their own. So
 *   `--partition region=US --partition-null date` is `[{region: "US", date: null}]`.
 * An empty value (`region=`) is refused: Delta stores null as "", so say --partition-null instead.
 */
import type { PartitionMap } from '../access/grant';
import { HIVE_NULL_PARTITION } from '../access/partition-value';

export class UsageError extends Error {
  override name = 'UsageError';
}

function splitUnescaped(text: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\' && i + 1 < text.length) {
      cur += ch + text[i + 1];
      i++;
    } else if (ch === sep) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/**
 * A spec as the user typed it, in shell single quotes (a quote closes, is escaped and reopens), so
 * that it can be pasted back: JSON would double every backslash, in the very message about one.
 * Control characters show as \uXXXX rather than reach the terminal.
 */
function asTyped(spec: string): string {
  const shown = spec
    .replaceAll("'", "'\\''")
    .replace(/\p{Cc}/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return `'${shown}'`;
}

/**
 * A backslash before any other character is refused: dropping it would grant another value than
 * the one typed (`C:\data` would grant `C:data`).
 */
function unescapeText(text: string, spec: string): string {
  return text.replace(/\\(.)/gs, (_escape, ch: string) => {
    if (ch === ',' || ch === '=' || ch === '\\') return ch;
    throw new UsageError(
      `--partition ${asTyped(spec)}: \\${ch} is no escape (only \\, \\= and \\\\; a backslash is \\\\)`,
    );
  });
}

/** The config refuses a "__proto__" column (its schema would drop the key): so does the CLI. */
function assertColumn(name: string): void {
  if (name === '__proto__') throw new UsageError('a partition column named "__proto__" cannot be granted');
}

/**
 * Maps are built as Map and turned into objects with Object.fromEntries, which defines every key
 * as its own: assignment would drop a column named `__proto__`, and `in` sees `constructor`.
 */
export function parsePartitionSpec(spec: string): Record<string, string> {
  const map = new Map<string, string>();
  for (const pair of splitUnescaped(spec, ',')) {
    const [rawKey, ...rest] = splitUnescaped(pair, '=');
    if (rest.length === 0) throw new UsageError(`--partition ${asTyped(spec)}: expected key=value pairs`);
    const key = unescapeText(rawKey!.trim(), spec);
    const value = unescapeText(rest.join('='), spec);
    if (!key) throw new UsageError(`--partition ${asTyped(spec)}: empty column name`);
    if (value === '')
      throw new UsageError(
        `--partition ${asTyped(spec)}: empty value for ${key} (use --partition-null ${key})`,
      );
    assertColumn(key);
    if (map.has(key)) throw new UsageError(`--partition ${asTyped(spec)}: column ${key} given twice`);
    map.set(key, value);
  }
  return Object.fromEntries(map);
}

export function partitionsFromArgs(args: {
  partition?: string[];
  partitionNull?: string[];
  all?: boolean;
}): PartitionMap[] {
  const specs = args.partition ?? [];
  const nulls = args.partitionNull ?? [];
  if (args.all) {
    if (specs.length || nulls.length)
      throw new UsageError('--all cannot be combined with --partition or --partition-null');
    return [{}];
  }
  if (!specs.length && !nulls.length)
    throw new UsageError('say which partitions: --partition, --partition-null or --all');
  for (const col of nulls) {
    if (!col) throw new UsageError('--partition-null needs a column name');
    assertColumn(col);
  }
  const specMaps: Record<string, string>[] = specs.length ? specs.map(parsePartitionSpec) : [{}];
  return specMaps.map((spec) => {
    const map = new Map<string, string | null>(Object.entries(spec));
    for (const col of nulls) {
      if (map.has(col)) throw new UsageError(`column ${col} is given both a value and --partition-null`);
      map.set(col, null);
    }
    return Object.fromEntries(map);
  });
}

/** Texts an operator may write for the null partition; the log writes null, so they never match it. */
const NULL_TEXTS = new Set(['null', 'NULL', HIVE_NULL_PARTITION]);

/**
 * Warnings for values that spell the null partition as text, or have spaces at their ends (column
 * names are trimmed, values are kept as written: `region = EU` grants " EU", never "EU"). The CLI does not read a table's
 * schema (the column types are in its Delta log), so a value's type is checked only by the proxy,
 * which warns about a value that is no value of its column's type on the first request.
 */
export function partitionWarnings(partitions: readonly PartitionMap[]): string[] {
  const out = new Set<string>();
  for (const map of partitions) {
    for (const [column, value] of Object.entries(map)) {
      if (value !== null && value.trim() !== value)
        out.add(
          `warning: ${column}=${JSON.stringify(value)} has spaces at its ends: stored as written, it matches only a value with them`,
        );
      if (value !== null && NULL_TEXTS.has(value))
        out.add(
          `warning: ${column}=${value} matches only the text ${JSON.stringify(value)}, never the null partition (for that: --partition-null ${column})`,
        );
    }
  }
  return [...out];
}
