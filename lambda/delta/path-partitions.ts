/**
 * "Which partition did the file at this path belong to, at or before version v?" A `remove`
 * action may omit its partitionValues (they are optional unless extendedFileMetadata), so it is
 * classified by the add that introduced the file: in an earlier commit or in a checkpoint. The
 * filtered log view asks this; the history work may provide the same answer from its own index.
 */
import { isValueMap, partitionText } from './log-replay';

export type PartitionValues = Readonly<Record<string, string | null | undefined>>;

export interface PathPartitionLookup {
  /**
   * Partition values of the newest `add` of this file (a path as written in the log, relative or
   * absolute) at or before `version`, or undefined when the retained log has none.
   */
  partitionValuesAt(logPath: string, version: number): Promise<PartitionValues | undefined>;
}

/**
 * Do two adds of one file in one log file give it the same partition values? Null is written as
 * null or "" (the same value); any other difference (a value, a key more or less, a value that is
 * not a string) is a conflict, which no reader resolves the same way (kernel keeps the first add
 * of a path in a log file, Spark the last): such a file is refused by every reader of the proxy.
 */
export function sameValueMaps(a: unknown, b: unknown): boolean {
  if (!isValueMap(a) || !isValueMap(b)) return !isValueMap(a) && !isValueMap(b) && a === b;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) {
    if (!Object.hasOwn(a, k) || !Object.hasOwn(b, k)) return false;
    const u = partitionText(a[k]);
    if (u === undefined || u !== partitionText(b[k])) return false;
  }
  return true;
}

/** The paths (as `keyOf` names them) that one log file's adds give conflicting values. */
export function conflictingAdds(
  adds: Iterable<{ path: string; partitionValues?: unknown }>,
  keyOf: (logPath: string) => string,
): Set<string> {
  const c = new AddConflicts(keyOf);
  for (const a of adds) c.add(a.path, a.partitionValues);
  return c.conflicting;
}

/** conflictingAdds one add at a time, for a caller that parses a big log file in slices. */
export class AddConflicts<V = unknown> {
  private readonly first = new Map<string, V>();
  readonly conflicting = new Set<string>();

  constructor(private readonly keyOf: (logPath: string) => string) {}

  add(logPath: string, partitionValues: V): void {
    const k = this.keyOf(logPath);
    if (!this.first.has(k)) this.first.set(k, partitionValues);
    else if (!sameValueMaps(this.first.get(k), partitionValues)) this.conflicting.add(k);
  }

  /** Each key added without a conflict, with its (first) partition values. */
  *agreed(): Generator<[string, V]> {
    for (const entry of this.first) if (!this.conflicting.has(entry[0])) yield entry;
  }
}
