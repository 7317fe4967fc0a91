/**
 * What the metrics are made of: finished requests (the observe stage's events), backend calls
 * (the timing decorator around the storage backend) and snapshot loads (the snapshot cache's
 * hook). The Prometheus registry and the EMF recorder each implement this; `fanOut` feeds both.
 */
import type { Observer, RequestEvent } from '../core/observer';
import type { SnapshotLoad } from '../delta/snapshot-cache';

/** The backend calls that go over the network (presigning is local and not timed). */
export type BackendOperation = 'get' | 'head' | 'list';

export interface BackendCall {
  operation: BackendOperation;
  /** `ok`, or the StorageError kind the call failed with (`NotFound`, `Throttled`, ...). */
  result: string;
  ms: number;
}

export interface MetricsRecorder {
  request(event: RequestEvent): void;
  backendCall(call: BackendCall): void;
  snapshotLoad(load: SnapshotLoad): void;
}

/** One recorder that feeds several; a failing recorder never affects a request or the others. */
export function fanOut(recorders: readonly MetricsRecorder[]): MetricsRecorder {
  const each =
    <A>(fn: (r: MetricsRecorder, a: A) => void) =>
    (a: A) => {
      for (const r of recorders) {
        try {
          fn(r, a);
        } catch {
          // Metrics are best effort.
        }
      }
    };
  return {
    request: each((r, e) => r.request(e)),
    backendCall: each((r, c) => r.backendCall(c)),
    snapshotLoad: each((r, l) => r.snapshotLoad(l)),
  };
}

/** The observe stage's view of a recorder. */
export function metricsObserver(recorder: MetricsRecorder): Observer {
  return { record: (event) => recorder.request(event) };
}
