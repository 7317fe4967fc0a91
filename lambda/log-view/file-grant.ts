/**
 * What the authorizer hands the log view: the partition columns grants are evaluated against (the
 * newest snapshot's), a yes/no per partition tuple, and a fingerprint of both. Every file action of
 * every version is classified with the same rule, so an add and its later remove always agree and
 * a replay of the filtered log at any version gives exactly the readable files of that version.
 */
import { isValueMap, readPartitionMap } from '../delta/log-replay';
import { PartitionTuples } from '../delta/partition-tuples';
import type { PartitionValues } from '../delta/path-partitions';
import type { PartitionColumn } from '../delta/snapshot-view';

export interface FileGrant {
  /** Partition columns of the table (logical name, physical `partitionValues` key, type). */
  readonly columns: readonly PartitionColumn[];
  /** May the caller read a file with these values (aligned with columns; null = null partition)? */
  allows(values: readonly (string | null)[]): boolean;
  /** Same grants and columns → same fingerprint: generated files are cached under it. */
  readonly fingerprint: string;
}

/**
 * Classifies partitionValues maps with a FileGrant, deciding once per distinct tuple. As the
 * snapshot's replay and the history read them: a map that lacks a partition column, or names a
 * column the table is not partitioned by, is refused (the proxy never serves such a file, so no
 * view names it).
 */
export class TupleClassifier {
  private readonly tuples: PartitionTuples;
  /** Per tuple id: 0 unknown, 1 readable, 2 not. */
  private verdicts = new Uint8Array(64);
  private readonly index = new Map<string, number>();
  readonly values: (string | null)[];

  constructor(readonly grant: FileGrant) {
    this.tuples = new PartitionTuples(grant.columns.length);
    grant.columns.forEach((c, i) => {
      this.index.set(c.physical, i);
    });
    this.values = new Array(grant.columns.length).fill(null);
  }

  /** Index of a physical partition key, or -1. */
  columnOf(key: string): number {
    return this.index.get(key) ?? -1;
  }

  readable(pv: PartitionValues | null | undefined): boolean {
    return this.fill(pv) && this.readableValues();
  }

  /**
   * A change-data file, by the rule the proxy serves it with (the history's): a key that is not a
   * partition column refuses it (written under another partitioning), a missing one is the null
   * partition (Delta 2.1 left null values out of `cdc` actions as out of removes).
   */
  changeReadable(pv: PartitionValues | null | undefined): boolean {
    if (this.values.length === 0) return this.readableValues();
    if (!isValueMap(pv) || readPartitionMap(pv, this.index, this.values) < 0) return false;
    return this.readableValues();
  }

  /** Does the map name every partition column (and no other)? */
  complete(pv: PartitionValues | null | undefined): boolean {
    return this.fill(pv);
  }

  /** Fills `values` from the map; false when it lacks a partition column or names another one. */
  private fill(pv: PartitionValues | null | undefined): boolean {
    return readPartitionMap(pv, this.index, this.values) >= this.values.length;
  }

  /** Classifies `this.values` (filled by the caller, e.g. straight from a checkpoint's columns). */
  readableValues(): boolean {
    const t = this.tuples.intern(this.values);
    if (t >= this.verdicts.length) {
      const grown = new Uint8Array(Math.max(t + 1, this.verdicts.length * 2));
      grown.set(this.verdicts);
      this.verdicts = grown;
    }
    let v = this.verdicts[t]!;
    if (v === 0) {
      v = this.grant.allows(this.tuples.tupleValues(t)) ? 1 : 2;
      this.verdicts[t] = v;
    }
    return v === 1;
  }
}
