/**
 * CloudWatch metrics from the Lambda, as Embedded Metric Format log lines written with
 * aws-embedded-metrics' MetricsContext and LogSerializer. Figures are gathered while an
 * invocation runs and written by `flush()`, which the Lambda adapter calls after the response
 * stream has ended, so metrics never delay a response.
 *
 * Two documents per invocation keep the number of CloudWatch metrics (each billed) small:
 * - `Requests` by Operation and StatusClass (bounded sets: S3 operations × 2xx..5xx);
 * - the fleet figures, without dimensions: Requests, Proxied, Redirected, Denied, AuthFailures,
 *   ServerErrors, BytesOut (one value per request), BackendLatency (one value per backend call),
 *   SnapshotLoads / SnapshotColdLoads (first read of a table: a cache miss) / SnapshotLoadFailures
 *   / SnapshotStaleServed (failed refreshes answered from the snapshot held) / SnapshotLoadTime
 *   (counts that are zero are left out).
 *
 * The library's environment detection (which probes the EC2 metadata address outside Lambda) is
 * never used: the lines go to stdout, which Lambda sends to CloudWatch Logs.
 */
import { MetricsContext } from 'aws-embedded-metrics/lib/logger/MetricsContext.js';
import { Unit } from 'aws-embedded-metrics/lib/logger/Unit.js';
import { LogSerializer } from 'aws-embedded-metrics/lib/serializers/LogSerializer.js';
import type { RequestEvent } from '../core/observer';
import type { SnapshotLoad } from '../delta/snapshot-cache';
import type { BackendCall, MetricsRecorder } from './recorder';

/** The CloudWatch namespace of the proxy's metrics (the stack's dashboard and alarms read it). */
export const EMF_NAMESPACE = 'DeltaLakeS3Proxy';

export interface EmfMetricsOptions {
  /**
   * Where a flush's documents go, one per line, in one call (one write(2) instead of several),
   * without a final newline (default: stdout, newline added).
   */
  write?: (lines: string) => void;
}

interface Pending {
  byOperation: Map<string, { operation: string; statusClass: string; count: number }>;
  requests: number;
  proxied: number;
  redirected: number;
  denied: number;
  authFailures: number;
  serverErrors: number;
  bytesOut: number[];
  backendMs: number[];
  loads: number;
  coldLoads: number;
  loadFailures: number;
  staleServed: number;
  loadMs: number[];
}

const empty = (): Pending => ({
  byOperation: new Map(),
  requests: 0,
  proxied: 0,
  redirected: 0,
  denied: 0,
  authFailures: 0,
  serverErrors: 0,
  bytesOut: [],
  backendMs: [],
  loads: 0,
  coldLoads: 0,
  loadFailures: 0,
  staleServed: 0,
  loadMs: [],
});

export class EmfMetrics implements MetricsRecorder {
  private pending = empty();
  private readonly serializer = new LogSerializer();
  private readonly write: (lines: string) => void;

  constructor(options: EmfMetricsOptions = {}) {
    this.write = options.write ?? ((lines) => process.stdout.write(`${lines}\n`));
  }

  request(e: RequestEvent): void {
    const p = this.pending;
    const statusClass = `${Math.floor(e.status / 100)}xx`;
    const key = `${e.op} ${statusClass}`;
    const group = p.byOperation.get(key);
    if (group) group.count++;
    else p.byOperation.set(key, { operation: e.op, statusClass, count: 1 });
    p.requests++;
    if (e.proxied && e.status < 300) p.proxied++;
    if (e.redirected) p.redirected++;
    if (e.reasonClass === 'authentication' || e.reasonClass === 'grant') p.denied++;
    if (e.reasonClass === 'authentication') p.authFailures++;
    if (e.status >= 500) p.serverErrors++;
    p.bytesOut.push(e.bytes);
  }

  backendCall(call: BackendCall): void {
    if (call.result !== 'Aborted') this.pending.backendMs.push(Math.round(call.ms * 1000) / 1000);
  }

  snapshotLoad(load: SnapshotLoad): void {
    const p = this.pending;
    p.loads++;
    if (load.kind === 'load') p.coldLoads++;
    if (load.stale) p.staleServed++;
    if (!load.ok) p.loadFailures++;
    else p.loadMs.push(load.ms);
  }

  /** Writes what was gathered since the last flush (nothing when nothing happened). */
  flush(): void {
    const p = this.pending;
    this.pending = empty();
    if (p.requests === 0 && p.loads === 0) return;
    const lines: string[] = [];
    for (const g of p.byOperation.values()) {
      const doc = context({ Operation: g.operation, StatusClass: g.statusClass });
      doc.putMetric('Requests', g.count, Unit.Count);
      lines.push(...this.serializer.serialize(doc));
    }
    const fleet = context({});
    fleet.putMetric('Requests', p.requests, Unit.Count);
    // Counts that are zero are left out (a Sum over a period is the same; each metric in a
    // document costs serialization time and log bytes on every invocation).
    const count = (name: string, n: number) => {
      if (n > 0) fleet.putMetric(name, n, Unit.Count);
    };
    count('Proxied', p.proxied);
    count('Redirected', p.redirected);
    count('Denied', p.denied);
    count('AuthFailures', p.authFailures);
    count('ServerErrors', p.serverErrors);
    for (const b of p.bytesOut) fleet.putMetric('BytesOut', b, Unit.Bytes);
    for (const ms of p.backendMs) fleet.putMetric('BackendLatency', ms, Unit.Milliseconds);
    if (p.loads > 0) {
      // Both, so that the failure rate has a denominator whenever it has a numerator.
      fleet.putMetric('SnapshotLoads', p.loads, Unit.Count);
      fleet.putMetric('SnapshotLoadFailures', p.loadFailures, Unit.Count);
      count('SnapshotColdLoads', p.coldLoads);
      count('SnapshotStaleServed', p.staleServed);
      for (const ms of p.loadMs) fleet.putMetric('SnapshotLoadTime', ms, Unit.Milliseconds);
    }
    lines.push(...this.serializer.serialize(fleet));
    this.write(lines.join('\n'));
  }
}

/** An EMF document in the proxy's namespace with one dimension set (`{}`: no dimensions). */
function context(dimensions: Record<string, string>): MetricsContext {
  const doc = MetricsContext.empty();
  doc.setNamespace(EMF_NAMESPACE);
  doc.setDimensions([dimensions]);
  return doc;
}
