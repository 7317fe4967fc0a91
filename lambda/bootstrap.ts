/**
 * Builds the proxy from a validated Config: the one place where concrete implementations are
 * chosen (S3 backend, key and grant stores, caches, observers). Adapters call this once per
 * process; in Lambda the result lives in module scope so caches survive warm invocations.
 */
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { AllowedSetCache } from './access/allowed-set-cache';
import { DeltaAuthorizer } from './access/delta-authorizer';
import { SigV4Authenticator } from './auth/sigv4-authenticator';
import { assertServable, type Config, loadConfig } from './config';
import { jsonLogger, type Logger } from './core/logger';
import { combineObservers, type Observer } from './core/observer';
import { TableMap } from './core/table-mount';
import { type Clock, type ProxyHandler, type Runtime, systemClock } from './core/types';
import { SnapshotCache } from './delta/snapshot-cache';
import { createApp } from './pipeline/app';
import { auditLogObserver } from './pipeline/observe';
import { compileRedirectClients } from './s3/redirect-policy';
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
  /** Where the adapter runs the core (default node): in Lambda, streamed responses are bounded. */
  runtime?: Runtime;
}

export interface ProxyInstance {
  handler: ProxyHandler;
  config: Config;
  snapshots: SnapshotCache;
  storage: StorageBackend;
}

export function createProxy(config: Config, overrides: ProxyOverrides = {}): ProxyInstance {
  assertServable(config);
  const clock = overrides.clock ?? systemClock;
  const logger = overrides.logger ?? jsonLogger();
  const region = config.s3.region ?? 'us-east-1';
  const storage =
    overrides.storage ??
    new S3Backend({
      endpoint: config.s3.endpoint,
      region,
      forcePathStyle: config.s3.forcePathStyle,
      credentials: overrides.backendCredentials,
    });

  const stores = storesFromConfig(config, { clock });

  const snapshots = new SnapshotCache({
    ttlMs: config.snapshotTtlMs,
    maxBytes: config.snapshotCacheBytes,
    clock,
  });
  const authorizer = new DeltaAuthorizer({
    grants: stores.grants,
    snapshots,
    allowedSets: new AllowedSetCache(),
    storage,
    logger,
  });
  const authenticator = new SigV4Authenticator({
    credentials: stores.credentials,
    clock,
    allowAnonymous: config.auth.allowAnonymous,
  });
  const observers = [
    ...(overrides.audit === false ? [] : [auditLogObserver()]),
    ...(overrides.observers ?? []),
  ];
  const handler = createApp({
    options: {
      readOnly: config.readOnly,
      region,
      getMode: config.getMode,
      proxyPartial: config.proxyPartial,
      redirectClients: compileRedirectClients(config.redirectClients),
      presignExpiresSeconds: config.presignExpiresSeconds,
      lambdaStreaming: overrides.runtime === 'lambda' ? config.lambdaStreaming : undefined,
    },
    tables: new TableMap(config.tableMapping),
    storage,
    authenticator,
    authorizer,
    clock,
    observer: combineObservers(observers),
  });
  return { handler, config, snapshots, storage };
}

let fromEnv: Promise<ProxyHandler> | undefined;

/** The proxy configured by PROXY_* variables, built once per process (per Lambda execution environment). */
export function createProxyFromEnv(runtime: Runtime): Promise<ProxyHandler> {
  fromEnv ??= Promise.resolve().then(() => createProxy(loadConfig(), { runtime }).handler);
  return fromEnv;
}
