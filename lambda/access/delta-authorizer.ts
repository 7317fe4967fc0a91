/**
 * Default-deny authorization over Delta snapshots. A caller sees a table only with a grant on
 * it; inside, `_delta_log/` (logView raw) and the files of the current snapshot whose partition
 * tuple one of the caller's maps allows. Everything else is refused; a table the caller has no
 * grant on answers exactly like a table that does not exist.
 */

import type { Logger } from '../core/logger';
import type { Principal } from '../core/principal';
import { S3Error } from '../core/s3-error';
import type { TableMount } from '../core/table-mount';
import { DeltaLogError } from '../delta/delta-log-error';
import { type DeltaStorage, deltaStorageFromBackend } from '../delta/delta-storage';
import { LOG_DIR } from '../delta/log-path';
import type { Snapshot } from '../delta/snapshot';
import type { SnapshotCache } from '../delta/snapshot-cache';
import { NO_TUPLE } from '../delta/snapshot-view';
import type { LogView, LogViewRequest } from '../log-view/filtered-log-view';
import { type StorageBackend, StorageError } from '../storage/storage-backend';
import type { AllowedSet } from './allowed-set';
import type { AllowedSetCache } from './allowed-set-cache';
import type { Authorizer, ListingFilter, ObjectDecision } from './authorizer';
import { fileGrantOf } from './file-grant';
import type { GrantStore, PartitionMap } from './grant';
import { effectivePartitions } from './grant-sources';

export interface DeltaAuthorizerDeps {
  grants: GrantStore;
  snapshots: SnapshotCache;
  allowedSets: AllowedSetCache;
  storage: StorageBackend;
  logger: Logger;
  /** The filtered `_delta_log/` view (logView "filtered"); absent: the raw log is served. */
  logView?: LogView;
}

export class DeltaAuthorizer implements Authorizer {
  private readonly tableStorage = new Map<string, DeltaStorage>();

  constructor(private readonly deps: DeltaAuthorizerDeps) {}

  async visibleTables(principal: Principal, mounts: readonly TableMount[]): Promise<readonly TableMount[]> {
    const grants = await this.deps.grants.grantsFor(principal.name);
    return mounts.filter((m) => effectivePartitions(grants, m.alias) !== undefined);
  }

  async authorizeObject(principal: Principal, mount: TableMount, relKey: string): Promise<ObjectDecision> {
    const maps = await this.mapsFor(principal, mount);
    if (!maps) return { allow: false, answer: 'not-found', reason: 'no grant on table' };
    const filtered = this.deps.logView !== undefined;
    if (relKey.startsWith(LOG_DIR)) {
      return filtered ? this.filteredLogObject(mount, maps, relKey) : { allow: true, kind: 'log' };
    }

    let snapshot = await this.snapshot(mount);
    this.refuseUnsupported(snapshot, mount);
    let allowed = this.allowedSet(principal, mount, snapshot, maps);
    if (readable(allowed, snapshot, relKey, filtered)) return { allow: true, kind: 'data' };

    // Filtered view: a forbidden file and a missing one take the same steps and get the same answer.
    if (filtered || snapshot.tupleOf(relKey) === NO_TUPLE) {
      // A file committed after our snapshot was taken must not be refused: look once more.
      const fresh = await this.snapshot(mount, true);
      if (fresh !== snapshot) {
        snapshot = fresh;
        this.refuseUnsupported(snapshot, mount);
        allowed = this.allowedSet(principal, mount, snapshot, maps);
        if (readable(allowed, snapshot, relKey, filtered)) return { allow: true, kind: 'data' };
      }
    }
    if (filtered) {
      const known = snapshot.tupleOf(relKey) !== NO_TUPLE;
      return {
        allow: false,
        answer: 'not-found',
        reason: known ? 'not granted (filtered view)' : 'not a file of the table',
      };
    }
    if (snapshot.tupleOf(relKey) !== NO_TUPLE) {
      return { allow: false, answer: 'access-denied', reason: 'partition not granted' };
    }
    // Not a file of the table: an orphan or side file is refused, a missing key is missing.
    const exists = await this.exists(mount, relKey);
    return exists
      ? { allow: false, answer: 'access-denied', reason: 'not an active file of the table' }
      : { allow: false, answer: 'not-found', reason: 'no such file' };
  }

  async listingFilter(principal: Principal, mount: TableMount): Promise<ListingFilter | undefined> {
    const maps = await this.mapsFor(principal, mount);
    if (!maps) return undefined;
    const snapshot = await this.snapshot(mount);
    const onlyLog = snapshot.unsupportedReaderFeatures.length > 0;
    const allowed = this.allowedSet(principal, mount, snapshot, maps);
    const inLog = (rel: string) => rel.startsWith(LOG_DIR) || LOG_DIR.startsWith(rel);
    if (this.deps.logView) {
      // The log is the generated one; nothing of a table with unknown reader features is shown.
      if (onlyLog) return { allowObject: () => false, allowPrefix: () => false };
      const folder = await this.logCall(mount, () =>
        this.deps.logView!.folder(this.logRequest(mount, snapshot, maps)),
      );
      const virtualFolder = {
        ...folder,
        describe: (rel: string) => this.logCall(mount, () => folder.describe(rel)),
      };
      return {
        allowObject: (rel) => !inLog(rel) && readable(allowed, snapshot, rel, true),
        allowPrefix: (rel) => !inLog(rel) && containsReadable(allowed, rel),
        virtualFolder,
      };
    }
    return {
      allowObject: (rel) => rel.startsWith(LOG_DIR) || (!onlyLog && allowed.isReadable(rel)),
      allowPrefix: (rel) => inLog(rel) || (!onlyLog && containsReadable(allowed, rel)),
    };
  }

  private async filteredLogObject(
    mount: TableMount,
    maps: readonly PartitionMap[],
    relKey: string,
  ): Promise<ObjectDecision> {
    const snapshot = await this.snapshot(mount);
    this.refuseUnsupported(snapshot, mount);
    const object = await this.logCall(mount, () =>
      this.deps.logView!.object(this.logRequest(mount, snapshot, maps), relKey),
    );
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
      throw snapshotFailure(err, mount, this.deps.logger);
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

  private async snapshot(mount: TableMount, beforeDenial = false): Promise<Snapshot> {
    const storage = this.storageOf(mount);
    const uri = mount.uri.replace(/\/+$/, '');
    try {
      return beforeDenial
        ? await this.deps.snapshots.refreshBeforeDenial(uri, storage, uri)
        : await this.deps.snapshots.get(uri, storage, uri);
    } catch (err) {
      throw snapshotFailure(err, mount, this.deps.logger);
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
  ): AllowedSet {
    return this.deps.allowedSets.get(principal.name, mount.alias, snapshot, maps);
  }

  private async exists(mount: TableMount, relKey: string): Promise<boolean> {
    try {
      await this.deps.storage.head({ bucket: mount.bucket, key: mount.prefix + relKey });
      return true;
    } catch (err) {
      if (err instanceof StorageError && err.kind === 'NotFound') return false;
      throw err;
    }
  }
}

/** In the filtered view deletion-vector files are never served: every vector is inline in the log. */
function readable(allowed: AllowedSet, snapshot: Snapshot, relKey: string, filtered: boolean): boolean {
  if (!allowed.isReadable(relKey)) return false;
  return !filtered || snapshot.kindOf(relKey) !== 'deletionVector';
}

/** Does a listing's common prefix (any delimiter) contain a readable file? */
function containsReadable(allowed: AllowedSet, relPrefix: string): boolean {
  if (allowed.allowsNone) return false;
  const folders = allowed.readableFolders();
  if (folders.has(relPrefix)) return true;
  if (relPrefix.endsWith('/')) return false;
  // A delimiter other than "/" (rare): scan the snapshot's files once for this prefix.
  let found = false;
  allowed.snapshot.forEachFile((path) => {
    if (!found && path.startsWith(relPrefix) && allowed.isReadable(path)) found = true;
  });
  return found;
}

function snapshotFailure(err: unknown, mount: TableMount, logger: Logger): unknown {
  if (err instanceof S3Error) return err;
  if (err instanceof StorageError) {
    if (err.kind === 'Throttled')
      return new S3Error('SlowDown', undefined, {}, `log read throttled: ${err.message}`);
    if (err.kind === 'Unavailable')
      return new S3Error('ServiceUnavailable', undefined, {}, `log read failed: ${err.message}`);
  }
  if (err instanceof DeltaLogError) {
    logger.warn('cannot read Delta log; data requests refused', {
      table: mount.alias,
      kind: err.kind,
      error: err.message,
    });
    if (err.kind === 'MissingLog')
      return new S3Error('AccessDenied', `Table ${mount.alias} has no readable Delta log`, {}, err.message);
    return new S3Error('InternalError', undefined, {}, `Delta log of ${mount.alias}: ${err.message}`);
  }
  return err;
}
