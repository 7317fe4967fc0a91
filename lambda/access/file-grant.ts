/**
 * A caller's grant on a table as the filtered log view needs it: the typed rule of AllowedSet
 * applied to any partition tuple (also tuples of removed files the snapshot no longer holds),
 * evaluated against the newest snapshot's partition columns.
 */
import { createHash } from 'node:crypto';
import type { PartitionColumn } from '../delta/snapshot-view';
import type { FileGrant } from '../log-view/file-grant';
import { tupleRule } from './allowed-set';
import { mapsFingerprint } from './allowed-set-cache';
import type { PartitionMap } from './grant';

export function fileGrantOf(columns: readonly PartitionColumn[], maps: readonly PartitionMap[]): FileGrant {
  const fingerprint = createHash('sha256')
    .update(JSON.stringify(columns.map((c) => [c.logical, c.physical, c.type])))
    .update('\u0000')
    .update(mapsFingerprint(maps))
    .digest('base64url')
    .slice(0, 32);
  // Compiled once: the log view asks this of every distinct tuple of every file action.
  const rule = tupleRule(columns, maps);
  return {
    columns,
    fingerprint,
    allows(values) {
      // One tuple, decided by the same rule as every other authorization decision.
      return rule.whole || rule.allows(values);
    },
  };
}
