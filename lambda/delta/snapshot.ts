/**
 * A table at one version, as the proxy needs it: which relative paths are authorizable and the
 * partition tuple of each. Immutable; a refresh returns a new Snapshot sharing most memory.
 */
import { NO_TUPLE, type PartitionColumn, type SnapshotView } from './snapshot-view';
import { type TableMetadata, type TableProtocol, unsupportedReaderFeatures } from './table-metadata';
import type { TableRoot } from './table-root';
import { type DvRef, estimateBytes, type TableState } from './table-state';

export interface LoadInfo {
  /** Version of the checkpoint the state was built from (undefined: replayed from JSON only). */
  checkpointVersion?: number;
  /** Commit / compaction files read after the checkpoint (or since the previous snapshot). */
  logFilesRead: number;
  requests: number;
  bytesRead: number;
  /**
   * The commit file at `version` as listed when this snapshot was made (absent: not listed). A
   * refresh that finds another file there, or none and nothing newer, knows the log no longer
   * continues this snapshot: the table was deleted and recreated, or rolled back.
   */
  head?: LogFileStamp;
}

/** What a listing tells of one log file: enough to see it was written again. */
export interface LogFileStamp {
  size: number;
  /** Last-Modified in ms, where the store reports one (S3: to the second). */
  lastModified?: number;
  /** ETag, where the store reports one. */
  etag?: string;
}

export class Snapshot implements SnapshotView {
  readonly version: number;
  readonly partitionColumns: readonly PartitionColumn[];
  readonly unsupportedReaderFeatures: readonly string[];
  readonly tupleCount: number;
  readonly fileCount: number;
  /** The replayed state's own estimate; see estimatedBytes. */
  private readonly stateBytes: number;
  /** What was built for this snapshot later (addBytes), kept as a running total. */
  private addedBytes = 0;
  private onBytes?: () => void;
  /** Canonical table root URI, e.g. "s3://bucket/prefix". */
  readonly tableRoot: string;
  readonly metadata: TableMetadata | undefined;
  readonly protocol: TableProtocol | undefined;

  constructor(
    /** @internal frozen; shared with snapshots forked from this one. */
    readonly state: TableState,
    readonly root: TableRoot,
    readonly loadInfo: LoadInfo,
  ) {
    this.version = state.version;
    this.partitionColumns = state.columns;
    this.unsupportedReaderFeatures = unsupportedReaderFeatures(state.protocol, state.metadata);
    this.tupleCount = state.tuples.count;
    this.fileCount = state.data.size + state.dvFiles.size + state.cdc.size;
    this.stateBytes = estimateBytes(state);
    this.tableRoot = root.uri;
    this.metadata = state.metadata;
    this.protocol = state.protocol;
  }

  /** Resident bytes: the state, and what was built for this snapshot later (addBytes). O(1). */
  get estimatedBytes(): number {
    return this.stateBytes + this.addedBytes;
  }

  addBytes(delta: number): void {
    this.addedBytes += delta;
    this.onBytes?.();
  }

  /** @internal the snapshot cache's: told when estimatedBytes changed (one listener). */
  watchBytes(listener: (() => void) | undefined): void {
    this.onBytes = listener;
  }

  tupleValues(t: number): readonly (string | null)[] {
    return this.state.tuples.tupleValues(t);
  }

  tupleOf(relPath: string): number {
    const s = this.state;
    const t = s.data.get(relPath);
    if (t !== undefined) return t;
    const dv = s.dvFiles.get(relPath);
    if (dv !== undefined) return dv.tuple;
    return s.cdc.get(relPath) ?? NO_TUPLE;
  }

  tuplesOf(relPath: string): readonly number[] {
    const s = this.state;
    const t = s.data.get(relPath) ?? s.cdc.get(relPath);
    if (t !== undefined) return [t];
    const dv = s.dvFiles.get(relPath);
    return dv ? [...new Set(dv.owners)] : [];
  }

  forEachFile(visit: (relPath: string, tuple: number) => void): void {
    this.state.data.forEach((t, p) => {
      visit(p, t);
    });
    this.state.dvFiles.forEach((r, p) => {
      visit(p, r.tuple);
    });
    this.state.cdc.forEach((t, p) => {
      visit(p, t);
    });
  }

  *files(): Generator<readonly [string, number]> {
    yield* this.state.data;
    for (const [p, r] of this.state.dvFiles) yield [p, r.tuple];
    yield* this.state.cdc;
  }

  /** Active data files including those outside the table root (the Delta "numFiles"). */
  get activeFileCount(): number {
    return this.state.data.size + this.state.external.size;
  }

  /** Active data files whose absolute path lies outside the table root (never authorizable). */
  externalFiles(): string[] {
    const out: string[] = [];
    this.state.external.forEach((_t, uri) => {
      out.push(uri);
    });
    return out;
  }

  /** The deletion vector of an active data file (relative path), if it has one. */
  deletionVectorOf(relPath: string): DvRef | undefined {
    return this.state.dvs.get(relPath);
  }

  /** Which kind of authorizable file a relative path is, or undefined. */
  kindOf(relPath: string): 'data' | 'deletionVector' | 'changeData' | undefined {
    if (this.state.data.has(relPath)) return 'data';
    if (this.state.dvFiles.has(relPath)) return 'deletionVector';
    if (this.state.cdc.has(relPath)) return 'changeData';
    return undefined;
  }
}
