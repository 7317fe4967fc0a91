/**
 * Allowed-sets cached per (principal, table, snapshot), bounded by an LRU per snapshot. Entries
 * hang off the snapshot object through a WeakMap, so when the snapshot cache drops a snapshot
 * (a newer version, memory pressure) its allowed-sets go with it: this cache never keeps an old
 * snapshot alive. An entry is reused only for the same partition maps: when grants change (a
 * DynamoDB revocation seen after the store's TTL) the maps differ and the set is rebuilt, even if
 * the snapshot did not change.
 *
 * A set is built a slice at a time (AllowedSet.build): concurrent requests of one caller on one
 * snapshot share the build under way, and a build that fails is dropped, not kept.
 *
 * The sets' bytes are told to their snapshot as they change (an entry added, its build done, its
 * readable folders computed, the entry dropped), so the snapshot cache's budget is a running total:
 * reading it never walks the sets.
 */

import { Lru } from '../core/lru';
import type { SnapshotView } from '../delta/snapshot-view';
import { AllowedSet } from './allowed-set';
import type { PartitionMap } from './grant';

interface Entry {
  principal: string;
  table: string;
  /** Held weakly through the WeakMap's key: the entry lives in that snapshot's LRU. */
  snapshot: SnapshotView;
  set: Promise<AllowedSet>;
  /** The set, once built (its bytes count from then on). */
  built?: AllowedSet;
  maps: readonly PartitionMap[];
  fingerprint: string;
  /** Bytes told to the snapshot for this entry (addBytes). */
  counted: number;
  /** Out of the LRU: its bytes no longer count. */
  dropped?: boolean;
}

export function mapsFingerprint(maps: readonly PartitionMap[]): string {
  return JSON.stringify(maps.map((m) => Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

export class AllowedSetCache {
  private readonly bySnapshot = new WeakMap<SnapshotView, Lru<string, Entry>>();
  /** The last answer (held weakly): a burst from one caller skips the key string and the LRU touch. */
  private last?: WeakRef<Entry>;
  hits = 0;
  misses = 0;

  /** @param maxEntriesPerSnapshot how many (principal, table) sets to keep for one snapshot. */
  constructor(private readonly maxEntriesPerSnapshot = 1024) {}

  /** The allowed-set for these maps on this snapshot, built once and reused while both are unchanged. */
  get(
    principal: string,
    table: string,
    snapshot: SnapshotView,
    maps: readonly PartitionMap[],
  ): Promise<AllowedSet> {
    const last = this.last?.deref();
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
    let entries = this.bySnapshot.get(snapshot);
    if (!entries) {
      // Up to maxEntriesPerSnapshot sets live as long as the snapshot: its budget counts them.
      entries = new Lru<string, Entry>(this.maxEntriesPerSnapshot, undefined, (_key, dropped) => {
        dropped.dropped = true;
        count(dropped, 0);
      });
      this.bySnapshot.set(snapshot, entries);
    }
    const key = `${principal}\u0000${table}`;
    let entry = entries.get(key);
    if (entry && entry.maps !== maps) {
      // Stores hand out the same array while their cache holds; otherwise compare by content.
      const fingerprint = mapsFingerprint(maps);
      if (fingerprint === entry.fingerprint) entry.maps = maps;
      else entry = undefined;
    }
    if (entry) this.hits++;
    else {
      this.misses++;
      const built: Entry = {
        principal,
        table,
        snapshot,
        set: AllowedSet.build(snapshot, maps),
        maps,
        fingerprint: mapsFingerprint(maps),
        counted: 0,
      };
      const lru = entries;
      built.set.then(
        (set) => {
          built.built = set;
          const recount = () => {
            if (!built.dropped) count(built, entryBytes(built));
          };
          set.onGrow = recount;
          recount();
        },
        () => {
          if (lru.get(key) === built) lru.delete(key);
          if (this.last?.deref() === built) this.last = undefined;
        },
      );
      entry = built;
      entries.set(key, entry);
      count(built, entryBytes(built));
    }
    this.last = new WeakRef(entry);
    return entry.set;
  }

  /** Resident bytes of the sets cached for a snapshot (also counted in the snapshot's own estimate). */
  bytesFor(snapshot: SnapshotView): number {
    const entries = this.bySnapshot.get(snapshot);
    return entries ? bytesOf(entries) : 0;
  }

  /** How many sets are cached for a snapshot (tests, metrics). */
  sizeFor(snapshot: SnapshotView): number {
    return this.bySnapshot.get(snapshot)?.size ?? 0;
  }
}

/** The entries' bytes, counted anew (tests: the running total must agree). */
function bytesOf(entries: Lru<string, Entry>): number {
  let n = 0;
  for (const e of entries.values()) n += entryBytes(e);
  return n;
}

/**
 * The set's own bytes (a set still being built: its bitset, a byte per tuple) plus the entry's
 * key, maps and bookkeeping (estimated).
 */
function entryBytes(e: Entry): number {
  return (
    (e.built?.residentBytes ?? e.snapshot.tupleCount) + 160 + 2 * (e.principal.length + e.fingerprint.length)
  );
}

/** Tells the entry's snapshot that the entry now holds `bytes`. */
function count(e: Entry, bytes: number): void {
  const delta = bytes - e.counted;
  e.counted = bytes;
  if (delta !== 0) e.snapshot.addBytes?.(delta);
}
