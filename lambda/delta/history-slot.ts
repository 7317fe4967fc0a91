/**
 * One table's History inside the snapshot cache: loaded on first need, brought forward when the
 * snapshot moved, shared by concurrent requests (one load or update at a time). A caller asks
 * for a recent history (enough to serve a removed file: the newest checkpoint's tombstones and
 * the commits after it: it decides for data files) or a complete one (every retained commit:
 * needed for change data); a complete history answers both, and is made from a recent one at the
 * same version by reading only the older commits' change data. Work is bounded per table: the log is read only
 * when the snapshot's version moved past the history (which the snapshot cache itself rate-limits)
 * or a complete history is needed for the first time, and after a failure it is not retried for
 * `retryMs`, so a flood of requests for unknown paths cannot turn into a flood of log reads.
 */
import type { DeltaStorage } from './delta-storage';
import type { History } from './history';
import { completeHistory, loadHistory, loadRecentHistory, updateHistory } from './load-history';
import type { Snapshot } from './snapshot';

/** How long a failed history load is answered from memory before storage is tried again. */
export const HISTORY_RETRY_MS = 1_000;

export interface HistoryCounters {
  /** Complete histories loaded (every retained commit read). */
  loads: number;
  /** Recent histories loaded (newest checkpoint's tombstones and the commits after it). */
  recentLoads: number;
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

  /** A history at `snapshot.version` or later; complete unless `complete` is false. */
  async get(
    snapshot: Snapshot,
    storage: DeltaStorage,
    now: number,
    counters: HistoryCounters,
    complete = true,
    retryMs = HISTORY_RETRY_MS,
  ): Promise<History> {
    // Wait for the work under way, then decide (it may already be what this caller needs).
    while (this.inflight) await this.inflight.then(ignore, ignore);
    const have = this.history;
    if (have && have.version >= snapshot.version && (have.complete || !complete)) return have;
    if (this.failure && now - this.failure.at < retryMs) {
      counters.failuresReused++;
      throw this.failure.error;
    }
    const work = !have
      ? complete
        ? loadHistory(storage, snapshot)
        : loadRecentHistory(storage, snapshot)
      : complete && !have.complete
        ? completeHistory(have, storage, snapshot)
        : updateHistory(have, storage, snapshot, now);
    const p = work.then(
      (h) => {
        this.inflight = undefined;
        this.failure = undefined;
        if (!this.history || h.version >= this.history.version || h.complete) this.history = h;
        const o = h.info.outcome;
        counters[o === 'loaded' ? 'loads' : o === 'recent' ? 'recentLoads' : 'updates']++;
        return h;
      },
      (error: unknown) => {
        this.inflight = undefined;
        this.failure = { at: now, error };
        counters.failures++;
        throw error;
      },
    );
    this.inflight = p;
    return p;
  }
}

function ignore(): void {}
