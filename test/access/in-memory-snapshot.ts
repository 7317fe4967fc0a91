/**
 * A small SnapshotView over given files, for tests and the authz benchmark (the real one comes
 * from log replay). Tuples are interned by their serialized values; a file listed with several
 * value rows is a shared file (MULTI_TUPLE).
 */
import {
  MULTI_TUPLE,
  NO_TUPLE,
  type PartitionColumn,
  type SnapshotView,
} from '../../lambda/delta/snapshot-view';

export interface FileSpec {
  path: string;
  /** One row of serialized values (aligned with the columns) or several for a shared file. */
  values: readonly (string | null)[] | readonly (readonly (string | null)[])[];
}

export class InMemorySnapshot implements SnapshotView {
  readonly unsupportedReaderFeatures: readonly string[] = [];
  private readonly tuples: (readonly (string | null)[])[] = [];
  private readonly tupleIds = new Map<string, number>();
  private readonly single = new Map<string, number>();
  private readonly multi = new Map<string, number[]>();

  constructor(
    readonly partitionColumns: readonly PartitionColumn[],
    files: Iterable<FileSpec>,
    readonly version = 0,
  ) {
    for (const f of files) {
      const rows = (Array.isArray(f.values[0]) ? f.values : [f.values]) as (string | null)[][];
      const ids = [...new Set(rows.map((r) => this.intern(r)))];
      if (ids.length === 1) this.single.set(f.path, ids[0]!);
      else this.multi.set(f.path, ids);
    }
  }

  /** Adds a file (tests build views incrementally; the benchmark builds a million). */
  intern(row: readonly (string | null)[]): number {
    const key = JSON.stringify(row);
    let id = this.tupleIds.get(key);
    if (id === undefined) {
      id = this.tuples.length;
      this.tuples.push(row);
      this.tupleIds.set(key, id);
    }
    return id;
  }

  addFile(path: string, tuple: number): void {
    this.single.set(path, tuple);
  }

  get tupleCount(): number {
    return this.tuples.length;
  }

  get fileCount(): number {
    return this.single.size + this.multi.size;
  }

  tupleValues(t: number): readonly (string | null)[] {
    return this.tuples[t]!;
  }

  tupleOf(relPath: string): number {
    const t = this.single.get(relPath);
    if (t !== undefined) return t;
    return this.multi.has(relPath) ? MULTI_TUPLE : NO_TUPLE;
  }

  tuplesOf(relPath: string): readonly number[] {
    const t = this.single.get(relPath);
    if (t !== undefined) return [t];
    return this.multi.get(relPath) ?? [];
  }

  forEachFile(visit: (relPath: string, tuple: number) => void): void {
    for (const [p, t] of this.files()) visit(p, t);
  }

  *files(): Generator<readonly [string, number]> {
    yield* this.single;
    for (const p of this.multi.keys()) yield [p, MULTI_TUPLE];
  }
}
