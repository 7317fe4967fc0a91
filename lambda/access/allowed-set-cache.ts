/**
 * Allowed-sets cached per (principal, table, snapshot version), bounded by an LRU. An entry is
 * reused only for the same snapshot object and the same partition maps: when grants change (a
 * DynamoDB revocation seen after the store's TTL) the maps differ and the set is rebuilt, even if
 * the snapshot version did not move.
 */
import type { SnapshotView } from '../delta/snapshot-view';
import { Lru } from '../store/lru';
import { AllowedSet } from './allowed-set';
import type { PartitionMap } from './grant';

interface Entry {
  set: AllowedSet;
  maps: readonly PartitionMap[];
  fingerprint: string;
}

export function mapsFingerprint(maps: readonly PartitionMap[]): string {
  return JSON.stringify(maps.map((m) => Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

export class AllowedSetCache {
  private readonly entries: Lru<string, Entry>;
  /** The last answer: a burst of requests from one caller skips the key string and the LRU touch. */
  private last?: {
    principal: string;
    table: string;
    snapshot: SnapshotView;
    maps: readonly PartitionMap[];
    set: AllowedSet;
  };
  hits = 0;
  misses = 0;

  constructor(maxEntries = 1024) {
    this.entries = new Lru(maxEntries);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The allowed-set for these maps on this snapshot, built once and reused while both are unchanged. */
  get(principal: string, table: string, snapshot: SnapshotView, maps: readonly PartitionMap[]): AllowedSet {
    const last = this.last;
    if (
      last !== undefined &&
      last.maps === maps &&
      last.snapshot === snapshot &&
      last.principal === principal &&
      last.table === table
    ) {
      this.hits++;
      return last.set;
    }
    const set = this.lookup(principal, table, snapshot, maps);
    this.last = { principal, table, snapshot, maps, set };
    return set;
  }

  private lookup(
    principal: string,
    table: string,
    snapshot: SnapshotView,
    maps: readonly PartitionMap[],
  ): AllowedSet {
    const key = `${principal}\u0000${table}\u0000${snapshot.version}`;
    const entry = this.entries.get(key);
    if (entry && entry.set.snapshot === snapshot) {
      // Stores hand out the same array while their cache holds: the cheap identity check usually wins.
      if (entry.maps === maps) {
        this.hits++;
        return entry.set;
      }
      const fingerprint = mapsFingerprint(maps);
      if (fingerprint === entry.fingerprint) {
        entry.maps = maps;
        this.hits++;
        return entry.set;
      }
    }
    this.misses++;
    const set = new AllowedSet(snapshot, maps);
    this.entries.set(key, { set, maps, fingerprint: mapsFingerprint(maps) });
    return set;
  }

  clear(): void {
    this.last = undefined;
    this.entries.clear();
  }
}
