/**
 * The proxy core in the four observation set-ups `npm run bench -- observe` compares, built from
 * the same configuration and backend: bare (no observer, the raw backend), audit (the audit line
 * only), metrics (createProxy: Prometheus registry and backend timing, no audit), all (audit,
 * Prometheus, timing, and the EMF documents flushed after every request as the Lambda does).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { AllowedSetCache } from '../../lambda/access/allowed-set-cache';
import { DeltaAuthorizer } from '../../lambda/access/delta-authorizer';
import { SigV4Authenticator } from '../../lambda/auth/sigv4-authenticator';
import { createProxy } from '../../lambda/bootstrap';
import type { Config } from '../../lambda/config';
import { silentLogger } from '../../lambda/core/logger';
import { combineObservers, type Observer } from '../../lambda/core/observer';
import { TableMap } from '../../lambda/core/table-mount';
import type { Clock, ProxyHandler } from '../../lambda/core/types';
import { SnapshotCache } from '../../lambda/delta/snapshot-cache';
import { createApp } from '../../lambda/pipeline/app';
import { auditLogObserver } from '../../lambda/pipeline/observe';
import { compileRedirectClients } from '../../lambda/s3/redirect-policy';
import type { StorageBackend } from '../../lambda/storage/storage-backend';
import { storesFromConfig } from '../../lambda/store/stores-from-config';

export const VARIANTS = ['bare', 'audit', 'metrics', 'all'] as const;
export type Variant = (typeof VARIANTS)[number];

/** The core as createProxy wires it, with the given observer and the undecorated backend. */
function core(config: Config, storage: StorageBackend, clock: Clock, observer: Observer): ProxyHandler {
  const stores = storesFromConfig(config, { clock });
  const snapshots = new SnapshotCache({
    ttlMs: config.snapshotTtlMs,
    maxBytes: config.snapshotCacheBytes,
    clock,
  });
  return createApp({
    options: {
      readOnly: config.readOnly,
      region: config.s3.region ?? 'us-east-1',
      getMode: config.getMode,
      proxyPartial: config.proxyPartial,
      redirectClients: compileRedirectClients(config.redirectClients),
      presignExpiresSeconds: config.presignExpiresSeconds,
    },
    tables: new TableMap(config.tableMapping),
    storage,
    authenticator: new SigV4Authenticator({ credentials: stores.credentials, clock, allowAnonymous: false }),
    authorizer: new DeltaAuthorizer({
      grants: stores.grants,
      snapshots,
      allowedSets: new AllowedSetCache(),
      storage,
      logger: silentLogger,
    }),
    clock,
    observer,
  });
}

/** Lines go to /dev/null through write(2), as real log lines cost a system call each. */
export function devNullWriter(): { write: (line: string) => void; close: () => void } {
  const fd = openSync('/dev/null', 'w');
  return {
    write: (line) => {
      writeSync(fd, `${line}\n`);
    },
    close: () => closeSync(fd),
  };
}

export function observedCore(
  variant: Variant,
  config: Config,
  storage: StorageBackend,
  clock: Clock,
  write: (line: string) => void,
): ProxyHandler {
  const overrides = { storage, clock, logger: silentLogger, audit: false as const };
  switch (variant) {
    case 'bare':
      return core(config, storage, clock, combineObservers([]));
    case 'audit':
      return core(config, storage, clock, auditLogObserver(write));
    case 'metrics':
      return createProxy(config, overrides).handler;
    case 'all': {
      const flush = { record: () => proxy.emf!.flush() };
      const proxy = createProxy(config, {
        ...overrides,
        emf: { write },
        // The Lambda adapter flushes after each response; here, right after the event.
        observers: [auditLogObserver(write), flush],
      });
      return proxy.handler;
    }
  }
}
