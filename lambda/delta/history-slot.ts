/**
 * One table's History inside the snapshot cache: loaded on first need, brought forward when the
 * snapshot moved, shared by concurrent requests (one load or update at a time). Work is bounded
 * per table: the history reads the log only when the snapshot's version moved past it (which the
 * snapshot cache itself rate-limits), and after a failure it is not retried for `retryMs`, so a
 * flood of requests for unknown paths cannot turn into a flood of log reads.
 */
import type { DeltaStorage } from './delta-storage';
import type { History } from './history';
import { loadHistory, updateHistory } from './load-history';
import type { Snapshot } from './snapshot';

/** How long a failed history load is answered from memory before storage is tried again. */
export const HISTORY_RETRY_MS = 1_000;

export interface HistoryCounters {
  loads: number;
  updates: number;
  failures: number;
  /** Requests answered with the failure of a recent attempt, without touching storage. */
  failuresReused: number;
}

export class HistorySlot {
  history?: History;
  private inflight?: Promise<History>;
  private failure?: { at: number; error: unknown };

  get estimatedBytes(): number {
    return this.history?.estimatedBytes ?? 0;
  }

  /** The history at `snapshot.version` or later. */
  get(
    snapshot: Snapshot,
    storage: DeltaStorage,
    now: number,
    counters: HistoryCounters,
    retryMs = HISTORY_RETRY_MS,
  ): Promise<History> {
    if (this.inflight) return this.inflight;
    const have = this.history;
    if (have && have.version >= snapshot.version) return Promise.resolve(have);
    if (this.failure && now - this.failure.at < retryMs) {
      counters.failuresReused++;
      return Promise.reject(this.failure.error);
    }
    const work = have ? updateHistory(have, storage, snapshot, now) : loadHistory(storage, snapshot);
    const p = work.then(
      (h) => {
        if (this.inflight === p) this.inflight = undefined;
        this.failure = undefined;
        if (!this.history || h.version >= this.history.version) this.history = h;
        if (h.info.outcome === 'loaded') counters.loads++;
        else counters.updates++;
        return h;
      },
      (error: unknown) => {
        if (this.inflight === p) this.inflight = undefined;
        this.failure = { at: now, error };
        counters.failures++;
        throw error;
      },
    );
    this.inflight = p;
    return p;
  }
}
