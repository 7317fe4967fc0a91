/**
 * The Prometheus view of one proxy process: a prom-client registry with the specification's five
 * metrics (`deltaproxy_` prefix), what an operator needs beside them, and the default process
 * metrics. Labels are bounded sets (operation, status class, decision, reason class, S3 error
 * code, backend operation, result); never a key id, principal, path or partition value.
 *
 * Every series also carries `instance_id` and `instance_start`: a scrape of a Lambda Function URL
 * reaches one execution environment, so each environment is its own series and a counter that
 * starts again from zero is visibly a new instance, not a reset.
 */
import type { RequestEvent } from '../core/observer';
import type { Clock } from '../core/types';
import type { SnapshotCacheStats, SnapshotLoad } from '../delta/snapshot-cache';
import type { FilteredLogViewStats } from '../log-view/filtered-log-view';
import type { StreamShareStats } from '../pipeline/stream-shares';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from './prom-client';
import type { BackendCall, MetricsRecorder } from './recorder';
import { WindowedDistinct, WindowedMean } from './windows';

export interface InstanceIdentity {
  id: string;
  startedAt: Date;
}

export interface PrometheusMetricsOptions {
  /** The clock of the "last minute" windows. */
  clock: Clock;
  instance: InstanceIdentity;
  /** The snapshot cache's counters, read at scrape time. */
  snapshotStats?: () => SnapshotCacheStats;
  /** The filtered log view's counters (logView "filtered"), undefined until its first use. */
  logViewStats?: () => FilteredLogViewStats | undefined;
  /** Backend streams held by proxied bodies, and refusals beyond a principal's share. */
  streamShareStats?: () => StreamShareStats;
  /**
   * process_* and nodejs_* metrics (default true), registered at the first scrape: most Lambda
   * environments are never scraped, and their GC and event-loop monitors would run for nothing
   * (the GC and event-loop-lag histograms count from the first scrape on).
   */
  processMetrics?: boolean;
}

const BACKEND_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const LOAD_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class PrometheusMetrics implements MetricsRecorder {
  readonly registry = new Registry();
  private readonly served: Counter;
  private readonly proxied: Counter;
  private readonly redirects: Counter;
  private readonly bytesOut: Counter;
  private readonly requests = new LabelledCounts(['operation', 'status_class']);
  private readonly decisions = new LabelledCounts(['decision', 'reason_class']);
  private readonly authFailures = new LabelledCounts(['code']);
  private readonly backendDuration: Histogram<'operation' | 'result'>;
  private readonly loadDuration: Histogram<'kind' | 'result'>;
  private readonly messageSize: WindowedMean;
  private readonly backendLatency: WindowedMean;
  private readonly users: WindowedDistinct;
  private processMetricsPending: boolean;

  constructor(options: PrometheusMetricsOptions) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({
      instance_id: options.instance.id,
      instance_start: options.instance.startedAt.toISOString(),
    });
    this.messageSize = new WindowedMean(options.clock);
    this.backendLatency = new WindowedMean(options.clock);
    this.users = new WindowedDistinct(options.clock);
    const { messageSize, backendLatency, users } = this;

    // The specification's five.
    this.served = new Counter({
      name: 'deltaproxy_queries_served_total',
      help: 'S3 requests answered, whatever the answer (every status, refusals included).',
      registers,
    });
    this.proxied = new Counter({
      name: 'deltaproxy_queries_proxied_total',
      help: 'GetObject requests answered 200/206 with the object streamed through the proxy.',
      registers,
    });
    new Gauge({
      name: 'deltaproxy_unique_users_last_minute',
      help: 'Distinct access key ids that authenticated in the last 60 s (whole seconds, see README).',
      registers,
      collect() {
        this.set(users.count());
      },
    });
    new Gauge({
      name: 'deltaproxy_backend_reply_latency_seconds_avg',
      help: 'Mean time until the storage backend replied (GET: reply headers), over backend calls finished in the last 60 s; NaN when there were none.',
      registers,
      collect() {
        this.set(backendLatency.mean());
      },
    });
    new Gauge({
      name: 'deltaproxy_average_message_size_bytes',
      help: 'Mean response body bytes sent per S3 request, over requests finished in the last 60 s; NaN when there were none.',
      registers,
      collect() {
        this.set(messageSize.mean());
      },
    });

    // What an operator needs beside them.
    this.requests.register(
      this.registry,
      'deltaproxy_requests_total',
      'S3 requests by operation and status class.',
    );
    this.decisions.register(
      this.registry,
      'deltaproxy_decisions_total',
      'Requests by decision (allow, deny, error) and reason class.',
    );
    this.redirects = new Counter({
      name: 'deltaproxy_redirects_total',
      help: 'GetObject requests answered with a 307 to a presigned S3 URL.',
      registers,
    });
    this.bytesOut = new Counter({
      name: 'deltaproxy_response_bytes_total',
      help: 'Response body bytes sent to clients.',
      registers,
    });
    this.authFailures.register(
      this.registry,
      'deltaproxy_auth_failures_total',
      'Requests refused by authentication, by S3 error code.',
    );
    this.backendDuration = new Histogram({
      name: 'deltaproxy_backend_request_duration_seconds',
      help: 'Time until the storage backend replied, by backend operation and result.',
      labelNames: ['operation', 'result'],
      buckets: BACKEND_BUCKETS,
      registers,
    });
    this.loadDuration = new Histogram({
      name: 'deltaproxy_snapshot_load_duration_seconds',
      help: 'Delta snapshot loads (first read of a table) and refreshes, by kind and result.',
      labelNames: ['kind', 'result'],
      buckets: LOAD_BUCKETS,
      registers,
    });
    if (options.snapshotStats) this.snapshotCacheMetrics(options.snapshotStats);
    if (options.logViewStats) this.logViewMetrics(options.logViewStats);
    if (options.streamShareStats) this.streamShareMetrics(options.streamShareStats);
    this.processMetricsPending = options.processMetrics !== false;
  }

  request(e: RequestEvent): void {
    this.served.inc();
    this.requests.add(`${e.op}\0${Math.floor(e.status / 100)}xx`);
    this.decisions.add(`${e.decision}\0${e.reasonClass}`);
    if (e.reasonClass === 'authentication') this.authFailures.add(e.code ?? 'unknown');
    if (e.proxied && e.status < 300) this.proxied.inc();
    if (e.redirected) this.redirects.inc();
    this.bytesOut.inc(e.bytes);
    this.messageSize.record(e.bytes);
    if (e.accessKeyId !== undefined) this.users.record(e.accessKeyId);
  }

  backendCall(call: BackendCall): void {
    const seconds = call.ms / 1000;
    this.backendDuration.observe({ operation: call.operation, result: call.result }, seconds);
    // A call the client abandoned says nothing about how fast the backend replies.
    if (call.result !== 'Aborted') this.backendLatency.record(seconds);
  }

  snapshotLoad(load: SnapshotLoad): void {
    this.loadDuration.observe({ kind: load.kind, result: load.ok ? 'ok' : 'error' }, load.ms / 1000);
  }

  /** The exposition text (Prometheus text format 0.0.4). */
  async render(): Promise<{ contentType: string; body: string }> {
    if (this.processMetricsPending) {
      this.processMetricsPending = false;
      collectDefaultMetrics({ register: this.registry });
    }
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** The backend streams proxied bodies hold (of s3.maxSockets), at scrape time. */
  private streamShareMetrics(stats: () => StreamShareStats): void {
    mirroredGauge(
      this.registry,
      'deltaproxy_proxied_streams',
      'Backend streams held by proxied GetObject bodies now (the pool is s3.maxSockets).',
      () => stats().held,
    );
    mirroredGauge(
      this.registry,
      'deltaproxy_proxied_stream_principals',
      'Principals holding at least one backend stream now.',
      () => stats().principals,
    );
    mirroredCounter(
      this.registry,
      'deltaproxy_stream_share_refusals_total',
      'GetObject requests answered 503 SlowDown because their principal held its share of backend streams (streamsPerPrincipal) and the pool had no share to spare.',
      () => stats().refused,
    );
  }

  /** The filtered log view's cache (generated files, parsed adds, vectors, held listings), at scrape time. */
  private logViewMetrics(read: () => FilteredLogViewStats | undefined): void {
    const stats = () => read() ?? NO_VIEW;
    const counter = (name: string, help: string, of: (s: FilteredLogViewStats) => number) =>
      mirroredCounter(this.registry, name, help, () => of(stats()));
    const gauge = (name: string, help: string, of: (s: FilteredLogViewStats) => number) =>
      mirroredGauge(this.registry, name, help, () => of(stats()));
    counter(
      'deltaproxy_filtered_log_cache_hits_total',
      'Filtered _delta_log files (and parsed adds) answered from the cache.',
      (s) => s.hits,
    );
    counter(
      'deltaproxy_filtered_log_cache_misses_total',
      'Filtered _delta_log files (and parsed adds) generated or read again.',
      (s) => s.misses,
    );
    counter(
      'deltaproxy_filtered_log_cache_evictions_total',
      'Generated files dropped to stay within what the snapshots leave of snapshotCacheBytes.',
      (s) => s.evictions,
    );
    counter(
      'deltaproxy_filtered_log_cache_not_admitted_total',
      'Generated files served but not kept: keeping them would evict more used ones.',
      (s) => s.notAdmitted,
    );
    counter(
      'deltaproxy_filtered_log_listings_dropped_total',
      'Tables whose held log listing was dropped to stay within the budget (their next read lists the log whole).',
      (s) => s.listingsDropped,
    );
    counter(
      'deltaproxy_filtered_log_entries_walked_total',
      'Held log files and listing keys gone through to make the filtered logs (a new version: what it changed, not the whole log).',
      (s) => s.logEntriesWalked,
    );
    gauge(
      'deltaproxy_filtered_log_cache_bytes',
      'Estimated memory the filtered log view holds: generated files, parsed adds, inline vectors, held listings.',
      (s) => s.bytes,
    );
    gauge(
      'deltaproxy_filtered_log_listing_bytes',
      "Of it, the tables' held listings of their real _delta_log.",
      (s) => s.listingBytes,
    );
  }

  /** Counters the snapshot cache keeps itself, copied at scrape time. */
  private snapshotCacheMetrics(stats: () => SnapshotCacheStats): void {
    const registers = [this.registry];
    const mirror = (name: string, help: string, read: (s: SnapshotCacheStats) => number) =>
      mirroredCounter(this.registry, name, help, () => read(stats()));
    mirror(
      'deltaproxy_snapshot_cache_hits_total',
      'Snapshot lookups answered from the cache.',
      (s) => s.hits,
    );
    mirror(
      'deltaproxy_snapshot_cache_misses_total',
      'Snapshot lookups that had to load the table (first read, or after eviction).',
      (s) => s.misses,
    );
    mirror(
      'deltaproxy_snapshot_cache_evictions_total',
      'Tables dropped from the cache to stay within snapshotCacheBytes.',
      (s) => s.evictions,
    );
    mirror(
      'deltaproxy_snapshot_cache_not_admitted_total',
      'Loads served but not kept: keeping them would evict more used tables (raise snapshotCacheBytes).',
      (s) => s.notAdmitted,
    );
    mirror(
      'deltaproxy_snapshot_load_errors_total',
      'Snapshot loads or refreshes that failed.',
      (s) => s.loadErrors,
    );
    mirror(
      'deltaproxy_snapshot_stale_served_total',
      'Refreshes that failed while storage was throttled or unavailable and served the previous snapshot (snapshotStaleIfErrorMs).',
      (s) => s.staleServed,
    );
    new Counter({
      name: 'deltaproxy_snapshot_refreshes_total',
      help: 'Incremental snapshot refreshes by outcome (unchanged, combined, rebuilt).',
      labelNames: ['outcome'],
      registers,
      collect() {
        this.reset();
        for (const [outcome, n] of Object.entries(stats().refreshes)) this.inc({ outcome }, n);
      },
    });
    mirroredGauge(
      this.registry,
      'deltaproxy_snapshot_cache_bytes',
      'Estimated memory held by cached snapshots.',
      () => stats().bytes,
    );
    mirroredGauge(
      this.registry,
      'deltaproxy_snapshot_cache_tables',
      'Tables with a cached snapshot.',
      () => stats().tables,
    );
  }
}

/** A counter whose value a component keeps itself, copied at scrape time. */
function mirroredCounter(registry: Registry, name: string, help: string, read: () => number): Counter {
  return new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/** A gauge read at scrape time. */
function mirroredGauge(registry: Registry, name: string, help: string, read: () => number): Gauge {
  return new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

/** What a view not loaded yet reports: nothing generated, nothing held. */
const NO_VIEW: FilteredLogViewStats = {
  hits: 0,
  misses: 0,
  evictions: 0,
  notAdmitted: 0,
  entries: 0,
  bytes: 0,
  deletionVectorBytes: 0,
  listingBytes: 0,
  listingsDropped: 0,
  logEntriesWalked: 0,
};

/**
 * A labelled counter kept as plain numbers on the request path (prom-client hashes the label
 * object on every inc, ~1 µs) and copied into a prom-client Counter when it is scraped. Keys are
 * the label values joined by NUL, which no label value contains.
 */
class LabelledCounts {
  private readonly counts = new Map<string, number>();

  constructor(private readonly labelNames: readonly string[]) {}

  add(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  register(registry: Registry, name: string, help: string): void {
    const { counts, labelNames } = this;
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const [key, n] of counts) {
          const values = key.split('\0');
          this.inc(Object.fromEntries(labelNames.map((label, i) => [label, values[i]!])), n);
        }
      },
    });
  }
}
