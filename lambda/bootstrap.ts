/**
 * Builds the proxy from a validated Config: the one place where concrete implementations are
 * chosen (S3 backend, key and grant stores, caches, observers). Adapters call this once per
 * process; in Lambda the result lives in module scope so caches survive warm invocations.
 */
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { AllowedSetCache } from './access/allowed-set-cache';
import { DeltaAuthorizer } from './access/delta-authorizer';
import type { NodeServerOptions } from './adapters/node-server';
import { SigV4Authenticator } from './auth/sigv4-authenticator';
import { type Config, loadConfig } from './config';
import { resolveSecrets } from './config-secrets';
import { jsonLogger, type Logger } from './core/logger';
import { combineObservers, type Observer } from './core/observer';
import { newRequestId } from './core/request-id';
import { TableMap } from './core/table-mount';
import { type Clock, type ProxyHandler, type Runtime, systemClock } from './core/types';
import { SnapshotCache } from './delta/snapshot-cache';
import type { LogView } from './log-view/filtered-log-view';
import { LazyLogView } from './log-view/lazy-log-view';
import { EmfMetrics } from './metrics/emf-metrics';
import { PrometheusMetrics } from './metrics/prometheus-metrics';
import { fanOut, metricsObserver } from './metrics/recorder';
import { TimedStorage } from './metrics/timed-storage';
import { createApp } from './pipeline/app';
import { withMetricsEndpoint } from './pipeline/metrics-endpoint';
import { auditLogObserver } from './pipeline/observe';
import { StreamShares } from './pipeline/stream-shares';
import { type TransportRefusal, transportRefusals } from './pipeline/transport-refusal';
import { ListingTokens } from './s3/listing-token';
import { compileRedirectClients, patternsMatchingEveryAgent } from './s3/redirect-policy';
import { S3Backend } from './storage/s3-backend';
import type { StorageBackend } from './storage/storage-backend';
import { storesFromConfig } from './store/stores-from-config';

export interface ProxyOverrides {
  storage?: StorageBackend;
  clock?: Clock;
  observers?: Observer[];
  logger?: Logger;
  /** Explicit backend credentials (tests); otherwise the SDK's standard chain. */
  backendCredentials?: S3ClientConfig['credentials'];
  /** Write the audit line to stdout (default true). */
  audit?: boolean;
  /** Gather EMF metrics, written by `emf.flush()` (the Lambda entry flushes per invocation). */
  emf?: boolean | { write: (lines: string) => void };
  /** process_* and nodejs_* metrics in the Prometheus registry (default true). */
  processMetrics?: boolean;
  /** Where the adapter runs the core (default node): in Lambda, streamed responses are bounded. */
  runtime?: Runtime;
}

export interface ProxyInstance {
  handler: ProxyHandler;
  config: Config;
  snapshots: SnapshotCache;
  storage: StorageBackend;
  /** The filtered log view (logView "filtered"), loaded by the first request that reads a log. */
  logView?: LogView;
  /** This process's Prometheus registry (served on metricsPort locally, /metrics with a token). */
  metrics: PrometheusMetrics;
  /** Records a request the transport refused before the core saw it (node:http's parser). */
  refused: (refusal: TransportRefusal) => void;
  emf?: EmfMetrics;
}

export function createProxy(config: Config, overrides: ProxyOverrides = {}): ProxyInstance {
  // A named secret not read (resolveSecrets) would leave a random listing key or no /metrics.
  if (
    (config.listingTokenKeySecret !== undefined && config.listingTokenKey === undefined) ||
    (config.metricsTokenSecret !== undefined && config.metricsToken === undefined)
  )
    throw new Error('createProxy: the config names secrets that were not read (resolveSecrets)');
  const clock = overrides.clock ?? systemClock;
  const logger = overrides.logger ?? jsonLogger();
  // loadConfig fills s3.region from AWS_REGION; us-east-1 only for a config built without one.
  const region = config.s3.region ?? 'us-east-1';

  // Made here, not by the app, so that /metrics can show what they hold.
  const streamShares = new StreamShares(config.streamsPerPrincipal, config.s3.maxSockets);
  const metrics = new PrometheusMetrics({
    clock,
    instance: { id: newRequestId().toLowerCase(), startedAt: new Date(clock.now()) },
    snapshotStats: () => snapshots.stats(),
    streamShareStats: () => streamShares.stats(),
    ...(config.logView === 'filtered' ? { logViewStats: () => logView?.stats() } : {}),
    processMetrics: overrides.processMetrics,
  });
  const emf = overrides.emf
    ? new EmfMetrics({ write: overrides.emf === true ? undefined : overrides.emf.write })
    : undefined;
  const recorder = fanOut(emf ? [metrics, emf] : [metrics]);

  const storage = new TimedStorage(
    overrides.storage ??
      new S3Backend({
        endpoint: config.s3.endpoint,
        region,
        forcePathStyle: config.s3.forcePathStyle,
        credentials: overrides.backendCredentials,
        maxSockets: config.s3.maxSockets,
        maxPendingRequests: config.s3.maxPendingRequests,
        maxAttempts: config.s3.maxAttempts,
        requestTimeoutMs: config.s3.requestTimeoutMs,
      }),
    (call) => recorder.backendCall(call),
  );

  const stores = storesFromConfig(config, { clock, logger });
  const redirectClients = compileRedirectClients(config.redirectClients);
  for (const i of patternsMatchingEveryAgent(redirectClients))
    logger.warn(
      'a redirectClients pattern matches every User-Agent, even an empty one: every client is redirected, and most S3 clients cannot follow (README, "Which clients follow a redirect")',
      { field: `redirectClients[${i}]`, pattern: config.redirectClients[i] },
    );

  const snapshots = new SnapshotCache({
    ttlMs: config.snapshotTtlMs,
    staleIfErrorMs: config.snapshotStaleIfErrorMs,
    maxBytes: config.snapshotCacheBytes,
    clock,
    onLoad: (load) => recorder.snapshotLoad(load),
  });
  // Generated log files share the snapshot cache's budget: they get what the snapshots leave.
  const logView =
    config.logView === 'filtered'
      ? new LazyLogView({
          budgetBytes: () => config.snapshotCacheBytes - snapshots.bytes,
          listingTtlMs: config.snapshotTtlMs,
          clock,
        })
      : undefined;
  const authorizer = new DeltaAuthorizer({
    grants: stores.grants,
    snapshots,
    allowedSets: new AllowedSetCache(),
    storage,
    logger,
    clock,
    ...(logView ? { logView } : {}),
  });
  const authenticator = new SigV4Authenticator({
    credentials: stores.credentials,
    clock,
    allowAnonymous: config.auth.allowAnonymous,
  });
  const observers = [
    ...(overrides.audit === false ? [] : [auditLogObserver()]),
    metricsObserver(recorder),
    ...(overrides.observers ?? []),
  ];
  const observer = combineObservers(observers);
  const app = createApp({
    options: {
      readOnly: config.readOnly,
      region,
      getMode: config.getMode,
      proxyPartial: config.proxyPartial,
      redirectClients,
      presignExpiresSeconds: config.presignExpiresSeconds,
      limits: {
        timeoutMs: config.requestTimeoutMs,
        maxUrlBytes: config.maxUrlBytes,
        maxHeaderBytes: config.maxHeaderBytes,
      },
      lambdaStreaming: overrides.runtime === 'lambda' ? config.lambdaStreaming : undefined,
    },
    tables: new TableMap(config.tableMapping),
    storage,
    requestStorage: (tally) => storage.forRequest(tally),
    authenticator,
    authorizer,
    clock,
    observer,
    listingTokens: new ListingTokens(config.listingTokenKey),
    streamShares,
  });
  const handler = config.metricsToken
    ? withMetricsEndpoint(app, config.metricsToken, () => metrics.render())
    : app;
  const refused = transportRefusals(observer, clock);
  return { handler, config, snapshots, storage, metrics, refused, emf, ...(logView ? { logView } : {}) };
}

/**
 * The node:http server's options for this proxy. Its own parser's header limit (which counts
 * the request line too) sits above the core's limits, so the core answers oversized requests with
 * the precise S3 error; anything beyond gets the parser's RequestHeaderSectionTooLarge, which the
 * proxy records like any other refusal.
 */
export function nodeServerOptions({ config, refused }: ProxyInstance): NodeServerOptions {
  return {
    clientIdleTimeoutMs: config.clientIdleTimeoutMs,
    maxHeaderSize: config.maxUrlBytes + config.maxHeaderBytes + 1024,
    refused,
  };
}

let fromEnv: Promise<ProxyInstance> | undefined;

/**
 * The Lambda's proxy: configuration from PROXY_* variables (and the secrets they name, read here
 * at cold start), built once per execution environment, with EMF metrics for the adapter to flush
 * after each invocation. A failed start is forgotten, so the next request tries again instead of
 * failing forever (meanwhile every request is an InternalError: nothing is served).
 */
export function createProxyFromEnv(runtime: Runtime): Promise<ProxyInstance> {
  if (fromEnv) return fromEnv;
  const starting = Promise.resolve()
    .then(() => resolveSecrets(loadConfig()))
    .then((config) => createProxy(config, { emf: true, runtime }));
  fromEnv = starting;
  starting.catch(() => {
    if (fromEnv === starting) fromEnv = undefined;
  });
  return starting;
}
