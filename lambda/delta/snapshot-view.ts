/**
 * What the rest of the proxy needs from a Delta snapshot: which partition each authorizable file
 * belongs to. Partition values are interned as "tuples" (one per distinct combination), so
 * authorization is computed once per tuple and looked up per file.
 */

export interface PartitionColumn {
  /** The name grants use (the schema's logical name). */
  logical: string;
  /** The key used in `partitionValues` (differs under column mapping). */
  physical: string;
  /** Delta primitive type name: string, int, long, date, timestamp, timestamp_ntz, decimal(p,s), ... */
  type: string;
}

/** tupleOf() for a file that belongs to files in more than one partition (a shared DV file). */
export const MULTI_TUPLE = -2;
/** tupleOf() for a path that is not an authorizable file of the snapshot. */
export const NO_TUPLE = -1;

export interface SnapshotView {
  readonly version: number;
  readonly partitionColumns: readonly PartitionColumn[];
  /** Reader features this proxy does not understand; non-empty means data requests are refused. */
  readonly unsupportedReaderFeatures: readonly string[];
  /** Number of distinct partition tuples. */
  readonly tupleCount: number;
  /** Number of authorizable files (active data files, their DV files, CDC files). */
  readonly fileCount: number;
  /** Serialized partition values of tuple t (as in the log; null = null partition), aligned with partitionColumns. */
  tupleValues(t: number): readonly (string | null)[];
  /**
   * The tuple of a path relative to the table root (decoded: exactly the storage key minus the
   * table prefix). NO_TUPLE when it is not an active data file, a DV file of one, or a CDC file;
   * MULTI_TUPLE when it belongs to several tuples (then see tuplesOf).
   */
  tupleOf(relPath: string): number;
  tuplesOf(relPath: string): readonly number[];
  /** Visits every authorizable path (relative, decoded) with its tuple (MULTI_TUPLE possible). */
  forEachFile(visit: (relPath: string, tuple: number) => void): void;
  /** The same walk one file at a time, so a long one can pause for other requests. */
  files(): Iterable<readonly [string, number]>;
  /** Which kind of authorizable file a path is (a snapshot knows; listings hide vector files). */
  kindOf?(relPath: string): 'data' | 'deletionVector' | 'changeData' | undefined;
  /**
   * Counts memory that lives and dies with this snapshot (allowed-sets, listing indexes built for
   * it) in the snapshot cache's budget: `delta` bytes more (negative: fewer) than told before. A
   * running total, so reading the budget costs the same however much is cached.
   */
  addBytes?(delta: number): void;
}
