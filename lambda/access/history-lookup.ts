/**
 * The Delta authorizer's second look, for paths its newest snapshot does not know (and shared
 * deletion-vector files it refuses): the table's retained history, loaded through the snapshot
 * cache on first need. A history that cannot be read (a malformed old commit) is logged and
 * treated as empty, so those paths stay refused, and so does every deletion-vector file but to a
 * whole-table grant (it may hold the vector of an owner only the history knows); storage trouble
 * propagates (503 / SlowDown).
 */
import type { Logger } from '../core/logger';
import type { Principal } from '../core/principal';
import type { TableMount } from '../core/table-mount';
import type { Clock } from '../core/types';
import { DeltaLogError } from '../delta/delta-log-error';
import type { DeltaStorage } from '../delta/delta-storage';
import type { History } from '../delta/history';
import { CHANGE_DATA_DIR, isDvFileName } from '../delta/log-replay';
import type { Snapshot } from '../delta/snapshot';
import type { SnapshotCache } from '../delta/snapshot-cache';
import type { AllowedSetCache } from './allowed-set-cache';
import type { PartitionMap } from './grant';
import { changeDataListing, type HistoryVerdict, historyVerdict, recentlyVouched } from './history-access';

export interface HistoryLookupDeps {
  snapshots: SnapshotCache;
  allowedSets: AllowedSetCache;
  clock: Clock;
  logger: Logger;
}

const CDF_PROPERTY = 'delta.enableChangeDataFeed';

export class HistoryLookup {
  /** Failures already logged (a failed load is answered from memory for a while: log it once). */
  private readonly logged = new WeakSet<object>();

  constructor(private readonly deps: HistoryLookupDeps) {}

  async verdict(
    principal: Principal,
    mount: TableMount,
    storage: DeltaStorage,
    snapshot: Snapshot,
    maps: readonly PartitionMap[],
    relKey: string,
  ): Promise<HistoryVerdict> {
    // Folder-like keys (pyarrow HEADs the bare alias) are never files: no reason to read history.
    if (relKey === '' || relKey.endsWith('/')) return 'unknown';
    // The recent history (the newest checkpoint's tombstones and the commits after it: a few
    // requests) decides for data and deletion-vector files: a checkpoint carries every remove
    // still within retention (protocol, Checkpoints), so a file it does not know was removed too
    // long ago or never committed, and one it knows in other partitions only stays refused (a
    // removed file whose partition values it could not find goes on to the complete history).
    // Change data is in no checkpoint: only the complete history (every retained commit) can
    // refuse it. A deletion-vector file still holds the vectors of owners removed past their
    // retention, whose tombstones the newest checkpoint no longer carries: only the complete
    // history can serve it (the recent one can only refuse it). A tombstone the recent history
    // cannot vouch for (values not in the writers' form: maybe of an older partitioning) goes on
    // to the complete history too.
    const vector = isDvFileName(relKey);
    for (const complete of [false, true]) {
      const history = await this.history(mount, storage, snapshot, complete);
      // Unreadable: a deletion-vector file may hold a vector of an owner only the history knows.
      if (!history) return vector && !grantsWholeTable(maps) ? 'forbidden' : 'unknown';
      const allowed = await this.deps.allowedSets.get(principal.name, mount.alias, history, maps);
      const now = this.deps.clock.now();
      const verdict = historyVerdict(history, allowed, relKey, now);
      if (history.complete) return verdict;
      if (vector) {
        if (verdict === 'forbidden' && !history.unplaced.has(relKey)) return verdict;
        continue;
      }
      if (verdict === 'readable') {
        if (recentlyVouched(history, allowed, relKey, now)) return verdict;
        continue;
      }
      if (!relKey.startsWith(CHANGE_DATA_DIR) && !history.unplaced.has(relKey)) return verdict;
    }
    return 'unknown';
  }

  /**
   * For a listing (raw view) of a table with deletion-vector files: which of them the history
   * refuses to the caller (they hold a vector of a removed file in a partition it may not read), so
   * a listing shows none that a GET refuses, nor a folder holding only such files. When the
   * history cannot be read, every one but to a whole-table grant (as a GET refuses them).
   */
  async deletionVectorRefusals(
    principal: Principal,
    mount: TableMount,
    storage: DeltaStorage,
    snapshot: Snapshot,
    maps: readonly PartitionMap[],
  ): Promise<{ key: object; refused(relKey: string): boolean } | undefined> {
    // The complete history: a deletion-vector file holds the vectors of owners removed past their
    // retention too, which only the retained commits still name (verdict).
    const history = await this.history(mount, storage, snapshot, true);
    if (!history) return grantsWholeTable(maps) ? undefined : EVERY_VECTOR;
    const h = history;
    const allowed = await this.deps.allowedSets.get(principal.name, mount.alias, h, maps);
    const now = this.deps.clock.now();
    // The caller's allowed set over this history names the rule (a listing's folders are cached by it).
    return {
      key: allowed,
      refused: (relKey) => isDvFileName(relKey) && historyVerdict(h, allowed, relKey, now) === 'forbidden',
    };
  }

  /**
   * What a listing adds from history: readable change-data files of every retained commit.
   * Undefined when the table shows no sign of change data (CDF off and none since the newest
   * checkpoint, no history loaded), so listings of other tables never read their history.
   */
  async changeDataListing(
    principal: Principal,
    mount: TableMount,
    storage: DeltaStorage,
    snapshot: Snapshot,
    maps: readonly PartitionMap[],
  ): Promise<Awaited<ReturnType<typeof changeDataListing>> | undefined> {
    const key = cacheKey(mount);
    const cdf =
      snapshot.metadata?.configuration[CDF_PROPERTY]?.toLowerCase() === 'true' ||
      snapshot.state.cdc.size > 0 ||
      this.deps.snapshots.loadedHistory(key) !== undefined;
    if (!cdf) return undefined;
    const history = await this.history(mount, storage, snapshot);
    if (!history) return undefined;
    return changeDataListing(
      history,
      await this.deps.allowedSets.get(principal.name, mount.alias, history, maps),
    );
  }

  private async history(
    mount: TableMount,
    storage: DeltaStorage,
    snapshot: Snapshot,
    complete = true,
  ): Promise<History | undefined> {
    const key = cacheKey(mount);
    try {
      return await this.deps.snapshots.history(key, storage, key, snapshot, complete);
    } catch (err) {
      if (!(err instanceof DeltaLogError)) throw err;
      if (this.logged.has(err)) return undefined;
      this.logged.add(err);
      this.deps.logger.warn('cannot read the retained Delta log; only the newest snapshot is served', {
        table: mount.alias,
        kind: err.kind,
        error: err.message,
      });
      return undefined;
    }
  }
}

/** `{}` grants every partition: every owner of any deletion-vector file. */
function grantsWholeTable(maps: readonly PartitionMap[]): boolean {
  return maps.some((m) => Object.keys(m).length === 0);
}

const EVERY_VECTOR = { key: {}, refused: isDvFileName };

/** The snapshot cache's key for a table (as the authorizer uses it). */
function cacheKey(mount: TableMount): string {
  return mount.uri.replace(/\/+$/, '');
}
