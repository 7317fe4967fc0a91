/**
 * PathPartitionLookup answered from the retained log itself: the commits at or before the version
 * and after the newest checkpoint before it, newest first, then that checkpoint (a broken one:
 * the commits and checkpoint before it). Only needed for removes whose partitionValues are not
 * complete (rare: none from old writers, null values left out by Spark 3.3), so it is simple and
 * caches what it parsed.
 */
import { Lru } from '../core/lru';
import { DeltaLogError } from '../delta/delta-log-error';
import { type DeltaStorage, isNotFound } from '../delta/delta-storage';
import { forEachAction } from '../delta/log-replay';
import { conflictingAdds, type PartitionValues, type PathPartitionLookup } from '../delta/path-partitions';
import { fileKey, type TableRoot } from '../delta/table-root';
import { readCheckpointRows } from './checkpoint-rows';
import { TupleClassifier } from './file-grant';
import type { RealLog } from './real-log';

type Adds = Map<string, PartitionValues>;

/** Values no partitioned table's grant matches (a key of no partition column): a refusal. */
const CONFLICTING: PartitionValues = { '\u0000conflicting adds': null };

/** Classifies nothing away: every add of a checkpoint, with its full partitionValues. */
const EVERY_FILE = new TupleClassifier({ columns: [], allows: () => true, fingerprint: '*' });

export class ScanPathPartitions implements PathPartitionLookup {
  private readonly parsed = new Lru<string, Promise<Adds>>(256);

  constructor(
    private readonly storage: DeltaStorage,
    private readonly root: TableRoot,
    private readonly log: () => RealLog,
  ) {}

  async partitionValuesAt(logPath: string, version: number): Promise<PartitionValues | undefined> {
    const key = this.key(logPath);
    const log = this.log();
    // A checkpoint at `version` itself already lacks the file its remove there took away; the one
    // before holds every add up to it, so only the commits after it need reading. A broken one
    // (readers skip it) sends the search on to the commits and checkpoint before it.
    let upTo = version;
    for (const cp of [...log.checkpoints.filter((c) => c.version < version), undefined]) {
      const from = cp ? cp.version : -1;
      const versions = [...log.commits.keys()].filter((v) => v > from && v <= upTo).sort((a, b) => b - a);
      for (const v of versions) {
        const c = log.commits.get(v)!;
        const pv = (await this.adds(c.source, () => this.commitAdds(c.path))).get(key);
        if (pv) return pv;
      }
      if (!cp) return undefined;
      try {
        return (await this.adds(cp.source, () => this.checkpointAdds(cp.parts))).get(key);
      } catch (e) {
        if (!(e instanceof DeltaLogError || isNotFound(e))) throw e;
        upTo = cp.version;
      }
    }
    return undefined;
  }

  private key(logPath: string): string {
    return fileKey(this.root.resolve(logPath));
  }

  /** `id`: the file's source (name, size, Last-Modified, ETag): a table written again misses. */
  private adds(id: string, load: () => Promise<Adds>): Promise<Adds> {
    let p = this.parsed.get(id);
    if (!p) {
      p = load();
      this.parsed.set(id, p);
      p.catch(() => this.parsed.delete(id));
    }
    return p;
  }

  private async commitAdds(path: string): Promise<Adds> {
    const out: Adds = new Map();
    const adds: { path: string; partitionValues?: PartitionValues }[] = [];
    await forEachAction(await this.storage.read(path), path, (a) => {
      const add = a.add as { path?: unknown; partitionValues?: PartitionValues } | undefined;
      if (add && typeof add.path === 'string')
        adds.push({ path: add.path, partitionValues: add.partitionValues });
    });
    for (const add of adds) out.set(this.key(add.path), add.partitionValues ?? {});
    // A file this commit adds with conflicting values is placed nowhere (the search stops here).
    if (adds.length > 1) for (const k of conflictingAdds(adds, (p) => this.key(p))) out.set(k, CONFLICTING);
    return out;
  }

  private async checkpointAdds(parts: RealLog['checkpoints'][number]['parts']): Promise<Adds> {
    const out: Adds = new Map();
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
    );
    return out;
  }
}
