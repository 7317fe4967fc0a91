/**
 * The lookup that places a remove without partitionValues reads other log files than the one being
 * generated (earlier commits, an earlier checkpoint). When one of those is gone or malformed, the
 * file being generated is not at fault: a checkpoint must not be taken for a broken one (hidden, as
 * readers skip those) because of it. Such failures become LookupFailed, never cached: a file gone
 * or changed since the listing is a retryable 503 (the next request lists anew); a malformed one
 * is a 500, as any unreadable log (a retry would meet it again: the operator's to fix).
 */
import { DeltaLogError } from '../delta/delta-log-error';
import { FileChanged, isNotFound } from '../delta/delta-storage';
import type { PathPartitionLookup } from '../delta/path-partitions';
import { StorageError } from '../storage/storage-backend';

export class LookupFailed extends StorageError {
  /** A file the listing named is gone or changed: the next request must list the log anew. */
  readonly stale: boolean;

  constructor(override readonly cause: unknown) {
    const stale = isNotFound(cause) || cause instanceof FileChanged;
    super(
      stale ? 'Unavailable' : 'Internal',
      `placing a remove by its add failed: ${(cause as Error).message}`,
    );
    this.stale = stale;
  }
}

/** `lookup` whose missing-file and malformed-log failures are LookupFailed; other errors pass unchanged. */
export function guardedLookup(lookup: PathPartitionLookup): PathPartitionLookup {
  return {
    partitionValuesAt: (logPath, version) =>
      lookup.partitionValuesAt(logPath, version).catch((e: unknown) => {
        throw e instanceof DeltaLogError || isNotFound(e) || e instanceof FileChanged
          ? new LookupFailed(e)
          : e;
      }),
  };
}
