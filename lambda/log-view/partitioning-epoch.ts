/**
 * Where the newest partitioning (column names and types) starts in a listed log: the version E of
 * the metaData that last changed it. The snapshot and the history start over at E (files of an
 * older partitioning are refused: `p STRING` "01" is not `p INT` 1, and `a` -> none -> `a` drops
 * the first `a` files), so the filtered log shows no file action before E and no remove at E (the
 * removes of the changing commit are of the old partitioning; the history never places them).
 *
 * Found by reading the commits down from the newest only as far as a question needs: a version
 * after the newest checkpoint needs the commits after it (and that checkpoint's metaData when a
 * commit there holds one), so a table read at its newest version pays no read of its older log.
 */
import { Buffer } from 'node:buffer';
import { readCheckpointHeader } from '../delta/checkpoint-file-actions';
import { DeltaLogError } from '../delta/delta-log-error';
import { type DeltaStorage, readListed } from '../delta/delta-storage';
import { forEachAction, metadataOf } from '../delta/log-replay';
import type { PartitionColumn } from '../delta/snapshot-view';
import { partitionColumnsOf, sameColumns } from '../delta/table-metadata';
import type { RealCommit, RealLog } from './real-log';

/** A version's place: before E (no file action shown), at E (no remove shown), or after. */
export type EpochPosition = 'before' | 'start' | 'after';

/** One log file's partitioning (undefined: a commit without metaData), kept in the view's budget. */
export interface ParsedPartitioning {
  readonly columns: readonly PartitionColumn[] | undefined;
  readonly bytes: number;
}

export type PartitioningCache = (
  id: string,
  load: () => Promise<ParsedPartitioning>,
) => Promise<ParsedPartitioning>;

const METADATA = Buffer.from('"metaData"');
/** A JSON escape: a key may be spelled with one ("meta\\u0044ata" is metaData to a parser). */
const ESCAPE = Buffer.from('\\u');
/**
 * Commits read ahead of the walk down, at once: a time-travel read far below the newest version
 * would otherwise wait for each commit in turn (a thousand commits, a thousand round trips).
 */
const READ_AHEAD = 16;

export class PartitioningEpoch {
  /** Commits [lo, newest] were read. */
  private lo: number;
  /** The partitioning is the newest at every version from `sameFrom` on. */
  private sameFrom: number;
  /** The partitioning before `sameFrom` is not known yet (commit `sameFrom` holds a metaData, or is missing). */
  private open = false;
  private epoch?: number;
  private running: Promise<unknown> = Promise.resolve();
  /** The lowest commit version read ahead so far. */
  private ahead: number;

  constructor(
    private readonly log: RealLog,
    private readonly newest: readonly PartitionColumn[],
    private readonly storage: DeltaStorage,
    private readonly cache: PartitioningCache,
  ) {
    // The partitioning at the log's version is the newest by definition.
    this.lo = log.version + 1;
    this.sameFrom = log.version + 1;
    this.ahead = log.version + 1;
  }

  /** `commit`: a commit asks whether it is E itself (its removes); a checkpoint only whether it is before E. */
  position(version: number, commit: boolean): Promise<EpochPosition> {
    const p = this.running.then(() => this.positionNow(version, commit));
    this.running = p.catch(() => {});
    return p;
  }

  private async positionNow(v: number, commit: boolean): Promise<EpochPosition> {
    for (;;) {
      const e = this.epoch;
      if (e !== undefined) return v < e ? 'before' : v === e ? 'start' : 'after';
      const known = this.open ? this.sameFrom : this.sameFrom - 1;
      if (commit ? v > this.sameFrom || (v === this.sameFrom && !this.open) : v >= known) return 'after';
      // The walk reads down to v's commit (a checkpoint's question: to the commit after it), and
      // while the partitioning below is open, down to the checkpoint that settles it.
      const target = commit ? v : v + 1;
      this.readAhead(this.open ? Math.min(target, this.checkpointBelow(this.lo) + 1) : target);
      await this.step();
    }
  }

  /** One version down: its commit, or first its checkpoint when the partitioning there is open. */
  private async step(): Promise<void> {
    const x = this.lo - 1;
    if (x < this.log.oldest) {
      // Nothing older is shown: fail closed where the partitioning before is unknown. A metaData
      // in the oldest commit itself is no change: the history starts there from its checkpoint's
      // partitioning (the newest), and places that commit's removes by the checkpoint's tombstones.
      this.epoch = this.open && this.sameFrom > this.log.oldest ? this.sameFrom : this.log.oldest - 1;
      return;
    }
    const c = this.log.commits.get(x);
    if (!this.open) {
      // The partitioning at x is known to be the newest; below it, commit x decides.
      const own = c ? await this.commitColumns(c) : undefined;
      this.lo = this.sameFrom = x;
      this.open = !c || own !== undefined;
      return;
    }
    const atCheckpoint = await this.checkpointColumns(x);
    if (atCheckpoint !== undefined) {
      if (!sameColumns(atCheckpoint, this.newest)) this.epoch = this.sameFrom;
      else {
        // Known at x (commits up to sameFrom hold no metaData); commit x is read if asked.
        this.sameFrom = x + 1;
        this.open = false;
      }
      return;
    }
    // A missing commit without a checkpoint: the partitioning there is unknown.
    if (!c) {
      this.epoch = this.sameFrom;
      return;
    }
    const own = await this.commitColumns(c);
    if (own !== undefined && !sameColumns(own, this.newest)) {
      this.epoch = this.sameFrom;
      return;
    }
    this.lo = x;
    if (own !== undefined) this.sameFrom = x;
  }

  /** The newest listed checkpoint's version below `version` (the oldest retained one's - 1 if none). */
  private checkpointBelow(version: number): number {
    // Newest first, none below the oldest retained version: the first one below is the newest.
    return this.log.checkpoints.find((cp) => cp.version < version)?.version ?? this.log.oldest - 1;
  }

  /** Starts the reads of the next commits the walk down to `target` needs (into the cache). */
  private readAhead(target: number): void {
    const from = Math.max(target, this.log.oldest, this.lo - READ_AHEAD);
    for (let x = Math.min(this.ahead, this.lo) - 1; x >= from; x--) {
      const c = this.log.commits.get(x);
      // A failed read is not cached: the walk reads that commit again and meets the failure itself.
      if (c) this.commitColumns(c).catch(() => {});
    }
    this.ahead = Math.min(this.ahead, from);
  }

  private async commitColumns(c: RealCommit): Promise<readonly PartitionColumn[] | undefined> {
    const parsed = await this.cache(c.source, async () => {
      const bytes = await readListed(this.storage, c);
      let columns: PartitionColumn[] | undefined;
      // Most commits hold no metaData: not parsed.
      const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      if (b.includes(METADATA) || b.includes(ESCAPE)) {
        await forEachAction(bytes, c.path, (a, at) => {
          if (a.metaData) columns = partitionColumnsOf(metadataOf(a.metaData, at));
        });
      }
      return { columns, bytes: 256 + (columns?.length ?? 0) * 128 };
    });
    return parsed.columns;
  }

  /** The checkpoint's partitioning at x; undefined when none is listed there (or it is broken). */
  private async checkpointColumns(x: number): Promise<readonly PartitionColumn[] | undefined> {
    const cp = this.log.checkpoints.find((c) => c.version === x);
    if (!cp) return undefined;
    try {
      const parsed = await this.cache(cp.source, async () => {
        const h = await readCheckpointHeader(this.storage, cp.parts, { requests: 0, bytes: 0 });
        // A checkpoint without metaData is broken: no partitioning known from it.
        const columns = h.metadata ? partitionColumnsOf(h.metadata) : undefined;
        return { columns, bytes: 256 + (columns?.length ?? 0) * 128 };
      });
      return parsed.columns;
    } catch (e) {
      // A broken checkpoint (readers skip it): the commits below decide.
      if (e instanceof DeltaLogError) return undefined;
      throw e;
    }
  }
}
