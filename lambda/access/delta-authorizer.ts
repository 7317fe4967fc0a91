/**
 * Default-deny authorization over Delta snapshots. A caller sees a table only with a grant on
 * it; inside, `_delta_log/` (logView raw) and the files of the current snapshot whose partition
 * tuple one of the caller's maps allows, plus what the table's retained history still references
 * in such a partition (history-lookup.ts). Everything else is refused; a table the caller has no
 * grant on answers exactly like a table that does not exist.
 */

import type { Logger } from '../core/logger';
import type { Principal } from '../core/principal';
import { S3Error } from '../core/s3-error';
import type { TableMount } from '../core/table-mount';
import { type Clock, systemClock } from '../core/types';
import { DeltaLogError } from '../delta/delta-log-error';
import { type DeltaStorage, deltaStorageFromBackend } from '../delta/delta-storage';
import { LOG_DIR, parseLogPath } from '../delta/log-path';
import { isDvFileName } from '../delta/log-replay';
import type { Snapshot } from '../delta/snapshot';
import type { SnapshotCache } from '../delta/snapshot-cache';
import { NO_TUPLE } from '../delta/snapshot-view';
import type { LogView, LogViewRequest } from '../log-view/filtered-log-view';
import { type StorageBackend, StorageError } from '../storage/storage-backend';
import type { AllowedSet, ReadableFolders, VectorFilter } from './allowed-set';
import type { AllowedSetCache } from './allowed-set-cache';
import type { Authorizer, ListingFilter, ListingScope, ObjectDecision } from './authorizer';
import { fileGrantOf } from './file-grant';
import type { GrantStore, PartitionMap } from './grant';
import { GrantColumnCheck } from './grant-columns';
import { effectivePartitions } from './grant-sources';
import type { HistoryVerdict } from './history-access';
import { HistoryLookup } from './history-lookup';

export interface DeltaAuthorizerDeps {
  grants: GrantStore;
  snapshots: SnapshotCache;
  allowedSets: AllowedSetCache;
  storage: StorageBackend;
  logger: Logger;
  /** Decides whether a removed file has passed its retention (default: the system clock). */
  clock?: Clock;
  /** The filtered `_delta_log/` view (logView "filtered"); absent: the raw log is served. */
  logView?: LogView;
}

export class DeltaAuthorizer implements Authorizer {
  private readonly tableStorage = new Map<string, DeltaStorage>();
  private readonly history: HistoryLookup;
  private readonly grantColumns: GrantColumnCheck;

  constructor(private readonly deps: DeltaAuthorizerDeps) {
    this.history = new HistoryLookup({ ...deps, clock: deps.clock ?? systemClock });
    this.grantColumns = new GrantColumnCheck(deps.logger);
  }

  async visibleTables(principal: Principal, mounts: readonly TableMount[]): Promise<readonly TableMount[]> {
    const grants = await this.deps.grants.grantsFor(principal.name);
    return mounts.filter((m) => effectivePartitions(grants, m.alias) !== undefined);
  }

  async authorizeObject(
    principal: Principal,
    mount: TableMount,
    relKey: string,
    request?: { readonly signal?: AbortSignal },
  ): Promise<ObjectDecision> {
    // Probes begun after this may answer for a commit another instance already listed or served.
    const arrived = this.deps.snapshots.probeMark();
    const maps = await this.mapsFor(principal, mount);
    if (!maps) return { allow: false, answer: 'not-found', reason: 'no grant on table', byGrant: true };
    const filtered = this.deps.logView !== undefined;
    if (relKey.startsWith(LOG_DIR)) {
      return filtered
        ? this.filteredLogObject(principal, mount, maps, relKey, arrived)
        : { allow: true, kind: 'log' };
    }

    const snapshot = await this.snapshot(mount);
    const judged = await this.dataObject(principal, mount, maps, relKey, snapshot, true, request?.signal);
    if (!('refuse' in judged)) return judged;
    // Before a refusal, one probe begun after the request arrived: a recent "nothing new" answer
    // may predate a commit (or a log cleanup) another instance has already served the file from.
    // Probes run one at a time per table, so a flood of refusals costs one listing at a time.
    const fresh = await this.snapshot(mount, judged.snapshot, arrived);
    if (fresh === judged.snapshot) return judged.refuse();
    const again = await this.dataObject(principal, mount, maps, relKey, fresh, false, request?.signal);
    return 'refuse' in again ? again.refuse() : again;
  }

  /**
   * A data file's decision on `seen` (`lookAgain`: after a cheap probe when it would refuse), or
   * the refusal still to be checked against a fresh probe: every refusal in the filtered view
   * (a forbidden file and a missing one take the same steps), one of a file the snapshot does
   * not know in the raw view.
   */
  private async dataObject(
    principal: Principal,
    mount: TableMount,
    maps: readonly PartitionMap[],
    relKey: string,
    seen: Snapshot,
    lookAgain: boolean,
    signal?: AbortSignal,
  ): Promise<ObjectDecision | PendingRefusal> {
    const filtered = this.deps.logView !== undefined;
    let snapshot = seen;
    this.refuseUnsupported(snapshot, mount);
    let allowed = await this.allowedSet(principal, mount, snapshot, maps);
    if (readable(allowed, snapshot, relKey, filtered))
      return this.removedOwnersAllow(principal, mount, snapshot, maps, relKey);

    // Filtered view: a forbidden file and a missing one take the same steps and get the same answer.
    if (lookAgain && (filtered || snapshot.tupleOf(relKey) === NO_TUPLE)) {
      // A file committed after our snapshot was taken must not be refused: look once more.
      const fresh = await this.snapshot(mount, snapshot);
      if (fresh !== snapshot) {
        snapshot = fresh;
        this.refuseUnsupported(snapshot, mount);
        allowed = await this.allowedSet(principal, mount, snapshot, maps);
        if (readable(allowed, snapshot, relKey, filtered))
          return this.removedOwnersAllow(principal, mount, snapshot, maps, relKey);
      }
    }
    const known = snapshot.tupleOf(relKey) !== NO_TUPLE;
    const refusal = (decision: ObjectDecision): PendingRefusal => ({
      snapshot,
      refuse: async () => decision,
    });
    // Older versions may still reference a file the snapshot does not know. In the filtered view
    // every refusal takes this step, so a forbidden file and a missing one cost the same, but a
    // file the snapshot knows is judged by its partition there, as in the raw view (a stale remove
    // claiming another partition must not open it; a deletion-vector file the snapshot refuses
    // holds a vector the caller may not read). Deletion-vector files are never served in the
    // filtered view (every vector is inline in the log).
    if (filtered || !known) {
      let verdict: HistoryVerdict;
      try {
        verdict = await this.historyVerdict(principal, mount, snapshot, maps, relKey);
      } catch (err) {
        // Retryable, such as a log cleanup since the snapshot (the history cannot start at its
        // version): a fresh snapshot may decide at once; if not, this answers (503).
        if (!(err instanceof S3Error && err.code === 'ServiceUnavailable')) throw err;
        return { snapshot, refuse: () => Promise.reject(err) };
      }
      if (verdict === 'readable' && !known && !(filtered && looksLikeDeletionVector(snapshot, relKey)))
        return { allow: true, kind: 'data' };
      if (filtered)
        return refusal({
          allow: false,
          answer: 'not-found',
          reason: known ? 'not granted (filtered view)' : 'not a readable file of the table',
          byGrant: known || verdict === 'forbidden',
        });
      if (verdict === 'expired')
        return refusal({ allow: false, answer: 'access-denied', reason: 'removed file past its retention' });
      if (verdict === 'forbidden')
        return refusal({ allow: false, answer: 'access-denied', reason: 'partition not granted' });
    }
    if (known) {
      return { allow: false, answer: 'access-denied', reason: 'partition not granted' };
    }
    // Not a file of the table: an orphan or side file is refused, a missing key is missing.
    return {
      snapshot,
      refuse: async () =>
        (await this.exists(mount, relKey, signal))
          ? { allow: false, answer: 'access-denied', reason: 'not an active file of the table' }
          : { allow: false, answer: 'not-found', reason: 'no such file' },
    };
  }

  async listingFilter(
    principal: Principal,
    mount: TableMount,
    scope: ListingScope,
  ): Promise<ListingFilter | undefined> {
    const maps = await this.mapsFor(principal, mount);
    if (!maps) return undefined;
    let snapshot = await this.snapshot(mount);
    // The generated log shows no version after the snapshot. Another instance may have handed the
    // caller a newer `_last_checkpoint` (readers list from its version): a listing that shows the
    // log checks it did not move, as a refusal does (rate-limited); other listings read nothing more.
    if (this.deps.logView && showsLog(scope)) snapshot = await this.snapshot(mount, snapshot);
    const onlyLog = snapshot.unsupportedReaderFeatures.length > 0;
    const allowed = await this.allowedSet(principal, mount, snapshot, maps);
    const cdc = onlyLog ? undefined : await this.changeData(principal, mount, snapshot, maps);
    let folders: ReadableFolders | undefined;
    const inLog = (rel: string) => rel.startsWith(LOG_DIR) || LOG_DIR.startsWith(rel);
    // A folder is listed only when a file under it is: not for deletion-vector files alone that
    // the listing hides (every one in the filtered view, the refused ones in the raw view).
    let vectors: VectorFilter | undefined;
    const prepareFolders = async () => {
      if (!onlyLog) folders ??= await allowed.readableFolders(vectors);
    };
    const allowPrefix = (rel: string) =>
      (folders !== undefined && containsReadable(folders, rel)) ||
      (!onlyLog && cdc?.allowPrefix(rel) === true);
    if (this.deps.logView) {
      // The log is the generated one; nothing of a table with unknown reader features is shown.
      if (onlyLog) return { allowObject: () => false, allowPrefix: () => false };
      if (snapshot.state.dvFiles.size > 0) vectors = NO_VECTORS;
      const folder = await this.logCall(mount, () =>
        this.deps.logView!.folder(this.logRequest(mount, snapshot, maps), scope.relAfter),
      );
      const virtualFolder = {
        ...folder,
        describe: (rel: string) => this.logCall(mount, () => folder.describe(rel)),
      };
      return {
        allowObject: (rel) =>
          !inLog(rel) && (readable(allowed, snapshot, rel, true) || cdc?.allowObject(rel) === true),
        allowPrefix: (rel) => !inLog(rel) && allowPrefix(rel),
        prepareFolders,
        virtualFolder,
      };
    }
    // Deletion-vector files hold the vectors of removed files too: a GET refuses one the history
    // finds a forbidden owner of, and so does the listing.
    const dvRefused =
      onlyLog || snapshot.state.dvFiles.size === 0
        ? undefined
        : await this.logCall(mount, () =>
            this.history.deletionVectorRefusals(principal, mount, this.storageOf(mount), snapshot, maps),
          );
    if (dvRefused) vectors = { key: dvRefused.key, shown: (rel) => !dvRefused.refused(rel) };
    return {
      allowObject: (rel) =>
        rel.startsWith(LOG_DIR) ||
        (!onlyLog &&
          ((allowed.isReadable(rel) && dvRefused?.refused(rel) !== true) || cdc?.allowObject(rel) === true)),
      allowPrefix: (rel) => inLog(rel) || allowPrefix(rel),
      prepareFolders,
    };
  }

  /**
   * A file the snapshot allows, with what only the retained history can tell. A deletion-vector
   * file (raw view) also holds the vectors of files removed since (a DELETE rewrote one of them, an
   * OPTIMIZE all): every one the history knows must be granted too. A change-data file: a snapshot
   * keeps the change data of every commit it replayed since it was loaded, also of commits that
   * log cleanup has removed since (an incremental refresh reads only new commits), so the history
   * decides, as it does for a snapshot loaded after the cleanup (the recent history answers for
   * commits after the newest checkpoint).
   */
  private async removedOwnersAllow(
    principal: Principal,
    mount: TableMount,
    snapshot: Snapshot,
    maps: readonly PartitionMap[],
    relKey: string,
  ): Promise<ObjectDecision> {
    const kind = snapshot.kindOf(relKey);
    if (kind !== 'deletionVector' && kind !== 'changeData') return { allow: true, kind: 'data' };
    const verdict = await this.historyVerdict(principal, mount, snapshot, maps, relKey);
    if (kind === 'deletionVector')
      return verdict === 'forbidden'
        ? { allow: false, answer: 'access-denied', reason: 'partition not granted' }
        : { allow: true, kind: 'data' };
    if (verdict === 'readable') return { allow: true, kind: 'data' };
    const reason = 'change data of a commit no longer retained';
    return this.deps.logView !== undefined
      ? { allow: false, answer: 'not-found', reason }
      : { allow: false, answer: 'access-denied', reason };
  }

  private async historyVerdict(
    principal: Principal,
    mount: TableMount,
    snapshot: Snapshot,
    maps: readonly PartitionMap[],
    relKey: string,
  ) {
    try {
      return await this.history.verdict(principal, mount, this.storageOf(mount), snapshot, maps, relKey);
    } catch (err) {
      throw backendFailure(err, mount, this.deps.logger);
    }
  }

  private async changeData(
    principal: Principal,
    mount: TableMount,
    snapshot: Snapshot,
    maps: readonly PartitionMap[],
  ) {
    try {
      return await this.history.changeDataListing(principal, mount, this.storageOf(mount), snapshot, maps);
    } catch (err) {
      throw backendFailure(err, mount, this.deps.logger);
    }
  }

  private async filteredLogObject(
    principal: Principal,
    mount: TableMount,
    maps: readonly PartitionMap[],
    relKey: string,
    arrived: number,
  ): Promise<ObjectDecision> {
    let snapshot = await this.snapshot(mount);
    this.refuseUnsupported(snapshot, mount);
    this.grantColumns.check(mount.alias, principal.name, snapshot.partitionColumns, maps);
    const objectAt = (s: Snapshot) =>
      this.logCall(mount, () => this.deps.logView!.object(this.logRequest(mount, s, maps), relKey));
    let object = await objectAt(snapshot);
    // A version after the snapshot (another instance may have listed it or named it in
    // `_last_checkpoint`): look again before answering 404. Not with a recent "nothing new"
    // answer: the commit may have been written since, and the reader saw it listed.
    if (!object && reachesPast(relKey, snapshot.version)) {
      const fresh = await this.snapshot(mount, snapshot, arrived);
      if (fresh !== snapshot) {
        snapshot = fresh;
        this.refuseUnsupported(snapshot, mount);
        this.grantColumns.check(mount.alias, principal.name, snapshot.partitionColumns, maps);
        object = await objectAt(snapshot);
      }
    }
    return object
      ? { allow: true, kind: 'generated', object }
      : { allow: false, answer: 'not-found', reason: 'not a file of the filtered log' };
  }

  private logRequest(mount: TableMount, snapshot: Snapshot, maps: readonly PartitionMap[]): LogViewRequest {
    return {
      tableUri: mount.uri.replace(/\/+$/, ''),
      storage: this.storageOf(mount),
      snapshot,
      grant: fileGrantOf(snapshot.partitionColumns, maps),
    };
  }

  private async logCall<T>(mount: TableMount, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      throw backendFailure(err, mount, this.deps.logger);
    }
  }

  private async mapsFor(
    principal: Principal,
    mount: TableMount,
  ): Promise<readonly PartitionMap[] | undefined> {
    const grants = await this.deps.grants.grantsFor(principal.name);
    return effectivePartitions(grants, mount.alias);
  }

  private storageOf(mount: TableMount): DeltaStorage {
    let s = this.tableStorage.get(mount.uri);
    if (!s) {
      s = deltaStorageFromBackend(this.deps.storage, mount.bucket, mount.prefix);
      this.tableStorage.set(mount.uri, s);
    }
    return s;
  }

  /**
   * The table's snapshot; with `seen` (a denial is coming), one refreshed if the log moved past it
   * (`after`: checked by a probe begun after that probeMark, not by a recent probe's answer).
   */
  private async snapshot(mount: TableMount, seen?: Snapshot, after?: number): Promise<Snapshot> {
    const storage = this.storageOf(mount);
    const uri = mount.uri.replace(/\/+$/, '');
    try {
      return seen
        ? await this.deps.snapshots.refreshBeforeDenial(uri, storage, uri, seen, after)
        : await this.deps.snapshots.get(uri, storage, uri);
    } catch (err) {
      throw backendFailure(err, mount, this.deps.logger);
    }
  }

  private refuseUnsupported(snapshot: Snapshot, mount: TableMount): void {
    const features = snapshot.unsupportedReaderFeatures;
    if (!features.length) return;
    this.deps.logger.warn('table uses reader features this proxy does not support; data requests refused', {
      table: mount.alias,
      features,
    });
    throw new S3Error(
      'AccessDenied',
      `Table ${mount.alias} uses Delta reader features this proxy does not support: ${features.join(', ')}`,
      {},
      `unsupported reader features: ${features.join(', ')}`,
    );
  }

  private allowedSet(
    principal: Principal,
    mount: TableMount,
    snapshot: Snapshot,
    maps: readonly PartitionMap[],
  ): Promise<AllowedSet> {
    this.grantColumns.check(mount.alias, principal.name, snapshot.partitionColumns, maps);
    return this.deps.allowedSets.get(principal.name, mount.alias, snapshot, maps);
  }

  /**
   * Is there an object at this key? A one-key listing, not a HEAD: under the stack's
   * prefix-scoped policy S3 answers a HEAD of a missing key with 403, not 404.
   */
  private async exists(mount: TableMount, relKey: string, signal?: AbortSignal): Promise<boolean> {
    const key = mount.prefix + relKey;
    try {
      const page = await this.deps.storage.list({ bucket: mount.bucket, prefix: key, maxKeys: 1, signal });
      return page.objects[0]?.key === key;
    } catch (err) {
      throw backendFailure(err, mount, this.deps.logger);
    }
  }
}

/** A refusal on `snapshot`, answered by `refuse` unless a fresher snapshot decides otherwise. */
interface PendingRefusal {
  snapshot: Snapshot;
  refuse(): Promise<ObjectDecision>;
}

/** Does this log key name a version after `version` (a compaction: one it ends after)? */
function reachesPast(relKey: string, version: number): boolean {
  const p = parseLogPath(relKey, 0);
  if (!p) return false;
  return (p.type === 'compaction' ? p.endVersion : p.version) > version;
}

/**
 * Does a listing show keys of `_delta_log/` (or common prefixes made of them)? Not a listing above
 * the log whose delimiter rolls the whole log up into `_delta_log/`.
 */
function showsLog({ relPrefix, delimiter }: ListingScope): boolean {
  if (relPrefix.startsWith(LOG_DIR)) return true;
  if (!LOG_DIR.startsWith(relPrefix)) return false;
  return delimiter === '' || !LOG_DIR.slice(relPrefix.length).includes(delimiter);
}

/**
 * Does a listing's common prefix contain a readable file? Listings ask only for folders ("/"
 * delimiter); with other delimiters the listing rolls visible keys up itself (virtual-listing.ts).
 */
function containsReadable(folders: ReadableFolders, relPrefix: string): boolean {
  return relPrefix.endsWith('/') && folders.has(relPrefix);
}

/** The filtered view's rule for deletion-vector files in listings: none is shown. */
const NO_VECTORS: VectorFilter = { key: {}, shown: () => false };

/** In the filtered view deletion-vector files are never served: every vector is inline in the log. */
function readable(allowed: AllowedSet, snapshot: Snapshot, relKey: string, filtered: boolean): boolean {
  if (!allowed.isReadable(relKey)) return false;
  return !filtered || snapshot.kindOf(relKey) !== 'deletionVector';
}

/**
 * A deletion-vector file of the snapshot, or one the history may know as one: any `.bin` file
 * outside `_delta_log/` (`u` vectors are `deletion_vector_<uuid>.bin`, `p` vectors any such name).
 */
function looksLikeDeletionVector(snapshot: Snapshot, relKey: string): boolean {
  return snapshot.kindOf(relKey) === 'deletionVector' || isDvFileName(relKey);
}

/**
 * Why a table's log (or the existence check of a key) could not be read, as an S3 error the
 * client can act on. Messages name the table alias only: never the backend bucket, prefix or the
 * storage error's text (the audit reason carries that).
 */
function backendFailure(err: unknown, mount: TableMount, logger: Logger): unknown {
  if (err instanceof S3Error) return err;
  if (err instanceof StorageError) {
    const reason = `storage ${err.kind}: ${err.message}`;
    switch (err.kind) {
      case 'Throttled':
        return new S3Error('SlowDown', undefined, {}, reason);
      case 'Unavailable':
      case 'Aborted':
        return new S3Error('ServiceUnavailable', undefined, {}, reason);
      case 'AccessDenied':
        logger.warn('the storage backend refuses the proxy; check its role and the bucket policy', {
          table: mount.alias,
        });
        return new S3Error(
          'AccessDenied',
          `The storage of table ${mount.alias} refuses this proxy`,
          {},
          reason,
        );
      default:
        return new S3Error('InternalError', `The storage of table ${mount.alias} failed`, {}, reason);
    }
  }
  if (err instanceof DeltaLogError) {
    logger.warn('cannot read Delta log; data requests refused', {
      table: mount.alias,
      kind: err.kind,
      error: err.message,
    });
    const reason = `Delta log ${err.kind}: ${err.message}`;
    if (err.kind === 'MissingLog')
      return new S3Error('AccessDenied', `Table ${mount.alias} has no readable Delta log`, {}, reason);
    return new S3Error('InternalError', `The Delta log of table ${mount.alias} cannot be read`, {}, reason);
  }
  return err;
}
