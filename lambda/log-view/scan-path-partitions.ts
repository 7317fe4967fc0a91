/**
 * PathPartitionLookup answered from the retained log itself: the commits at or before the version
 * and after the newest checkpoint before it, newest first, then that checkpoint (a broken one:
 * the commits and checkpoint before it). Only needed for the removes of commits whose
 * partitionValues are not complete (rare: none from old writers, null values left out by Spark
 * 3.3), so it is simple. A generated checkpoint never asks: it leaves its tombstones out. When a
 * log cleanup took the add, the tombstones of the newest and oldest checkpoints may still place
 * the file (tombstonesOf), as they do for the history.
 *
 * What it parses (a checkpoint's map of every file, hundreds of MB for a multi-million-file table)
 * is kept in the caller's byte budget (`AddsCache`: the filtered view's, within
 * `snapshotCacheBytes`), and otherwise read again. One generation of a filtered commit holds what
 * it parsed until it ends (session()), so a commit of many such removes reads each file once.
 */
import { readCheckpointFileActions } from '../delta/checkpoint-file-actions';
import { DeltaLogError } from '../delta/delta-log-error';
import type { DeltaStorage } from '../delta/delta-storage';
import { forEachAction, isValueMap } from '../delta/log-replay';
import { conflictingAdds, type PartitionValues, type PathPartitionLookup } from '../delta/path-partitions';
import { fileKey, type TableRoot } from '../delta/table-root';
import { readCheckpointRows } from './checkpoint-rows';
import { TupleClassifier } from './file-grant';
import type { RealLog } from './real-log';

type Adds = Map<string, PartitionValues>;

/** One log file's adds by file key, and the bytes they hold (estimated). */
export interface ParsedAdds {
  readonly adds: Adds;
  readonly bytes: number;
  /** A commit that holds a metaData (it may change the partitioning). */
  readonly metaData?: boolean;
  /** A checkpoint's tombstones that carry partition values: every such value map, by file key. */
  readonly tombstones?: ReadonlyMap<string, readonly PartitionValues[]>;
}

/** Where the newest add of a file at or before a version was found. */
export interface FoundAdd {
  readonly values: PartitionValues;
  /** The commit's version, or the checkpoint's (the add is at or before it). */
  readonly version: number;
  readonly inCheckpoint: boolean;
  /** A commit after `version`, up to the version asked about, holds a metaData. */
  readonly metaDataSince: boolean;
}

/** A tombstone's partition values and the version of the checkpoint that holds it. */
export interface FoundTombstone {
  readonly values: PartitionValues;
  readonly version: number;
  /** Of the oldest checkpoint shown (the one the complete history reads), not only the newest. */
  readonly oldest: boolean;
}

/** A lookup that also says where it found the add (the filtered log's, see action-filter.ts). */
export interface AddLocator extends PathPartitionLookup {
  addAt(logPath: string, version: number): Promise<FoundAdd | undefined>;
  /**
   * The file's tombstones with partition values in the newest and the oldest checkpoint shown:
   * where the history finds the partition of a removed file whose add a log cleanup took (it
   * reads the one or the other's tombstones, history-builder.ts). Asked only when addAt finds none.
   */
  tombstonesOf(logPath: string): Promise<FoundTombstone[]>;
}

/** Parsed adds by the file's source (name, size, Last-Modified, ETag): `load` when not held. */
export type AddsCache = (id: string, load: () => Promise<ParsedAdds>) => Promise<ParsedAdds>;

/** Values no partitioned table's grant matches (a key of no partition column): a refusal. */
const CONFLICTING: PartitionValues = { '\u0000conflicting adds': null };

/** Classifies nothing away: every add of a checkpoint, with its full partitionValues. */
const EVERY_FILE = new TupleClassifier({ columns: [], allows: () => true, fingerprint: '*' });

/**
 * Heap per map entry beyond its key's characters: the key string's header and rounding, and the
 * Map's slot, which is up to half empty after the table doubles (measured with V8 20: 57-80 bytes).
 */
const ENTRY_BYTES = 80;

/** A map key's heap: a key of any character past Latin-1 is stored two bytes a character. */
const keyBytes = (key: string) => ENTRY_BYTES + (/[^\x00-\xff]/.test(key) ? 2 : 1) * key.length;

export class ScanPathPartitions implements PathPartitionLookup {
  constructor(
    private readonly storage: DeltaStorage,
    private readonly root: TableRoot,
    private readonly log: () => RealLog,
    private readonly cache: AddsCache,
  ) {}

  /** A lookup for one generation: what it parses is held until it is dropped. */
  session(): AddLocator {
    const held = new Map<string, Promise<ParsedAdds>>();
    return {
      partitionValuesAt: async (logPath, version) => (await this.lookUp(logPath, version, held))?.values,
      addAt: (logPath, version) => this.lookUp(logPath, version, held),
      tombstonesOf: (logPath) => this.tombstonesOf(logPath, held),
    };
  }

  async partitionValuesAt(logPath: string, version: number): Promise<PartitionValues | undefined> {
    return (await this.lookUp(logPath, version, new Map()))?.values;
  }

  private async lookUp(
    logPath: string,
    version: number,
    held: Map<string, Promise<ParsedAdds>>,
  ): Promise<FoundAdd | undefined> {
    const key = this.key(logPath);
    const log = this.log();
    const adds = (id: string, load: () => Promise<ParsedAdds>) => this.heldOr(held, id, load);
    let metaDataSince = false;
    // A checkpoint at `version` itself already lacks the file its remove there took away; the one
    // before holds every add up to it, so only the commits after it need reading. A broken one
    // (readers skip it) sends the search on to the commits and checkpoint before it.
    let upTo = version;
    for (const cp of [...log.checkpoints.filter((c) => c.version < version), undefined]) {
      // Newest first, by version: not a pass over every commit of a long log per lookup.
      const from = Math.max(cp ? cp.version : -1, log.oldest - 1);
      for (let v = upTo; v > from; v--) {
        const c = log.commits.get(v);
        if (!c) continue;
        const parsed = await adds(c.source, () => this.commitAdds(c.path));
        const values = parsed.adds.get(key);
        if (values) return { values, version: v, inCheckpoint: false, metaDataSince };
        if (parsed.metaData) metaDataSince = true;
      }
      if (!cp) return undefined;
      try {
        const values = (await adds(cp.source, () => this.checkpointAdds(cp.parts))).adds.get(key);
        return values && { values, version: cp.version, inCheckpoint: true, metaDataSince };
      } catch (e) {
        // A checkpoint gone since the listing (a log cleanup) is not broken: the add may be in the
        // newer checkpoint the cleanup kept, so the not-found goes up and the view lists anew.
        if (!(e instanceof DeltaLogError)) throw e;
        upTo = cp.version;
      }
    }
    return undefined;
  }

  private async tombstonesOf(
    logPath: string,
    held: Map<string, Promise<ParsedAdds>>,
  ): Promise<FoundTombstone[]> {
    const key = this.key(logPath);
    const cps = this.log().checkpoints;
    const out: FoundTombstone[] = [];
    for (const cp of new Set([cps[0], cps.at(-1)])) {
      if (!cp) continue;
      let parsed: ParsedAdds;
      try {
        parsed = await this.heldOr(held, `${cp.source}\u0000tombstones`, () =>
          this.checkpointTombstones(cp.parts),
        );
      } catch (e) {
        // A broken checkpoint (readers skip it) gives no evidence; one gone goes up, as in lookUp.
        if (e instanceof DeltaLogError) continue;
        throw e;
      }
      const oldest = cp === cps.at(-1);
      for (const values of parsed.tombstones?.get(key) ?? [])
        out.push({ values, version: cp.version, oldest });
    }
    return out;
  }

  /** What this generation already parsed under `id`, else from the cache (loaded when not held). */
  private heldOr(
    held: Map<string, Promise<ParsedAdds>>,
    id: string,
    load: () => Promise<ParsedAdds>,
  ): Promise<ParsedAdds> {
    let p = held.get(id);
    if (!p) {
      p = this.cache(id, load);
      held.set(id, p);
    }
    return p;
  }

  private key(logPath: string): string {
    return fileKey(this.root.resolve(logPath));
  }

  private async commitAdds(path: string): Promise<ParsedAdds> {
    const out = new AddsBuilder();
    const adds: { path: string; partitionValues?: PartitionValues }[] = [];
    let metaData = false;
    await forEachAction(await this.storage.read(path), path, (a) => {
      if (a.metaData) metaData = true;
      const add = a.add as { path?: unknown; partitionValues?: PartitionValues } | undefined;
      if (add && typeof add.path === 'string')
        adds.push({ path: add.path, partitionValues: add.partitionValues });
    });
    for (const add of adds) out.set(this.key(add.path), add.partitionValues ?? {});
    // A file this commit adds with conflicting values is placed nowhere (the search stops here).
    if (adds.length > 1) for (const k of conflictingAdds(adds, (p) => this.key(p))) out.set(k, CONFLICTING);
    return { ...out.parsed(), metaData };
  }

  private async checkpointAdds(parts: RealLog['checkpoints'][number]['parts']): Promise<ParsedAdds> {
    const out = new AddsBuilder();
    await readCheckpointRows(
      this.storage,
      parts,
      EVERY_FILE,
      async (rows) => {
        for (const r of rows) {
          if ('add' in r) out.set(this.key(r.add.path as string), r.add.partitionValues as PartitionValues);
        }
      },
      { requests: 0, bytes: 0 },
      (p) => this.key(p),
    );
    return out.parsed();
  }

  private async checkpointTombstones(parts: RealLog['checkpoints'][number]['parts']): Promise<ParsedAdds> {
    const out = new AddsBuilder();
    await readCheckpointFileActions(this.storage, parts, 'remove', { requests: 0, bytes: 0 }, (t) => {
      if (isValueMap(t.partitionValues)) out.push(this.key(t.path), t.partitionValues);
    });
    return out.parsed();
  }
}

/**
 * A map of adds that shares one values object per partition (a file costs its key and a slot,
 * not a copy of its partition's values) and estimates its bytes as it grows.
 */
class AddsBuilder {
  private readonly adds: Adds = new Map();
  private readonly tombstones = new Map<string, PartitionValues[]>();
  private readonly values = new Map<string, PartitionValues>();
  private bytes = 256;

  set(key: string, pv: PartitionValues): void {
    const shared = this.shared(pv);
    const had = this.adds.has(key);
    this.adds.set(key, shared);
    if (!had) this.bytes += keyBytes(key);
  }

  /** One more tombstone's values for `key` (a file removed twice has two). */
  push(key: string, pv: PartitionValues): void {
    const shared = this.shared(pv);
    const list = this.tombstones.get(key);
    if (!list) {
      this.tombstones.set(key, [shared]);
      this.bytes += keyBytes(key) + ENTRY_BYTES;
    } else if (!list.includes(shared)) {
      list.push(shared);
      this.bytes += 8;
    }
  }

  private shared(pv: PartitionValues): PartitionValues {
    const text = String(JSON.stringify(pv));
    let shared = this.values.get(text);
    if (!shared) {
      shared = pv;
      this.values.set(text, pv);
      this.bytes += ENTRY_BYTES * 2 + text.length * 4;
    }
    return shared;
  }

  parsed(): ParsedAdds {
    return this.tombstones.size
      ? { adds: this.adds, bytes: this.bytes, tombstones: this.tombstones }
      : { adds: this.adds, bytes: this.bytes };
  }
}
