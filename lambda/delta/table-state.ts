/**
 * The reconciled state of a table at one version, kept compactly: one map entry per file
 * (path → interned partition tuple), deletion vectors only for the files that have one. Built
 * with plain Maps, then frozen into LayeredMaps so an incremental refresh can fork it cheaply.
 */
import { LayeredMap } from './layered-map';
import { PartitionTuples } from './partition-tuples';
import { PathIndex } from './path-index';
import type { PartitionColumn } from './snapshot-view';
import type { TableMetadata, TableProtocol } from './table-metadata';

export interface MapLike<K, V> extends Iterable<[K, V]> {
  readonly size: number;
  get(k: K): V | undefined;
  has(k: K): boolean;
  set(k: K, v: V): unknown;
  delete(k: K): boolean;
  forEach(visit: (v: V, k: K) => void): void;
}

/** The deletion vector of an active data file: its unique id and, when it has one, its file. */
export interface DvRef {
  readonly id: string;
  /** Relative path of the DV file when it lies inside the table root. */
  readonly file?: string;
}

/** A DV file and the tuples of the data files using it (one entry per data file). */
export interface DvFileRef {
  /** The owners' common tuple, or MULTI_TUPLE when they differ. */
  readonly tuple: number;
  readonly owners: readonly number[];
}

export interface TableState {
  version: number;
  protocol?: TableProtocol;
  metadata?: TableMetadata;
  columns: PartitionColumn[];
  tuples: PartitionTuples;
  /** Active data files inside the root: decoded relative path → tuple. */
  data: MapLike<string, number>;
  /** Active data files outside the root (absolute URIs): tracked, never authorizable. */
  external: MapLike<string, number>;
  /** Deletion vectors of active data files, keyed by relative path or "\0" + external URI. */
  dvs: MapLike<string, DvRef>;
  dvFiles: MapLike<string, DvFileRef>;
  /** `cdc` files of the commits replayed (checkpoints carry none): relative path → tuple. */
  cdc: MapLike<string, number>;
  /** Sum of the key lengths of the JS maps above (not `data`, which measures itself). */
  pathChars: number;
  /** Partition tuples when the state was last built from scratch (the interner only grows). */
  loadedTuples?: number;
}

/**
 * Combining commits into a state forever keeps change data of every commit since the load and
 * partition tuples no file uses any more. Once they outgrow the live files, a refresh that finds a
 * newer checkpoint starts over from it instead (what a fresh load would hold).
 */
export function outgrown(s: TableState): boolean {
  return s.cdc.size > 1024 + s.data.size / 4 || s.tuples.count > 1024 + 2 * (s.loadedTuples ?? 0);
}

export function emptyMaps(): Pick<TableState, 'data' | 'external' | 'dvs' | 'dvFiles' | 'cdc'> {
  return { data: new PathIndex(), external: new Map(), dvs: new Map(), dvFiles: new Map(), cdc: new Map() };
}

/** A state before any action: no version, no partitioning, no file. */
export function emptyState(): TableState {
  return { version: -1, columns: [], tuples: new PartitionTuples(0), ...emptyMaps(), pathChars: 0 };
}

function frozen<K, V>(m: MapLike<K, V>): LayeredMap<K, V> {
  if (m instanceof LayeredMap) return m;
  if (m instanceof PathIndex) m.trim();
  return LayeredMap.of(m as Map<K, V>);
}

/** Freezes the build maps; the result must not be mutated (fork it instead). */
export function freeze(s: TableState): TableState {
  return {
    ...s,
    data: frozen(s.data),
    external: frozen(s.external),
    dvs: frozen(s.dvs),
    dvFiles: frozen(s.dvFiles),
    cdc: frozen(s.cdc),
  };
}

/**
 * A mutable copy sharing the large parts; the tuple interner is shared (append-only). Copied a
 * slice at a time (LayeredMap.forkInSlices): `s` must not change meanwhile (a snapshot's never does).
 */
export async function fork(s: TableState): Promise<TableState> {
  const f = freeze(s);
  return {
    ...f,
    data: await (f.data as LayeredMap<string, number>).forkInSlices(),
    external: await (f.external as LayeredMap<string, number>).forkInSlices(),
    dvs: await (f.dvs as LayeredMap<string, DvRef>).forkInSlices(),
    dvFiles: await (f.dvFiles as LayeredMap<string, DvFileRef>).forkInSlices(),
    cdc: await (f.cdc as LayeredMap<string, number>).forkInSlices(),
  };
}

/**
 * Resident bytes: the data-file index is measured (its typed arrays); the small JS maps are
 * estimated at 64 bytes per entry beyond their key characters (V8 Map entry + string header).
 */
export function estimateBytes(s: TableState): number {
  let dataBytes = s.data.size * 160;
  if (s.data instanceof PathIndex) dataBytes = s.data.byteSize;
  else if (s.data instanceof LayeredMap) {
    const { base, top } = s.data.layers;
    dataBytes = (base instanceof PathIndex ? base.byteSize : base.size * 160) + top * 160;
  }
  const entries = s.external.size + s.dvs.size + s.dvFiles.size + s.cdc.size;
  return dataBytes + s.pathChars + entries * 64 + s.dvs.size * 48 + s.tuples.estimatedBytes + 4096;
}
