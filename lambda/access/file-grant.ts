/**
 * A caller's grant on a table as the filtered log view needs it: the typed rule of AllowedSet
 * applied to any partition tuple (also tuples of removed files the snapshot no longer holds),
 * evaluated against the newest snapshot's partition columns.
 */
import { createHash } from 'node:crypto';
import type { PartitionColumn, SnapshotView } from '../delta/snapshot-view';
import type { FileGrant } from '../log-view/file-grant';
import { AllowedSet } from './allowed-set';
import { mapsFingerprint } from './allowed-set-cache';
import type { PartitionMap } from './grant';

export function fileGrantOf(columns: readonly PartitionColumn[], maps: readonly PartitionMap[]): FileGrant {
  const fingerprint = createHash('sha256')
    .update(JSON.stringify(columns.map((c) => [c.logical, c.physical, c.type])))
    .update('\u0000')
    .update(mapsFingerprint(maps))
    .digest('base64url')
    .slice(0, 32);
  return {
    columns,
    fingerprint,
    allows(values) {
      // One tuple, decided by the same code as every other authorization decision.
      const view: SnapshotView = {
        version: 0,
        partitionColumns: columns,
        unsupportedReaderFeatures: [],
        tupleCount: 1,
        fileCount: 0,
        tupleValues: () => values,
        tupleOf: () => 0,
        tuplesOf: () => [0],
        forEachFile: () => {},
        files: () => [],
      };
      return new AllowedSet(view, maps).isTupleAllowed(0);
    },
  };
}
