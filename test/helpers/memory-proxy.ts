/**
 * The proxy on node:http over a table held in memory (MemoryDeltaStorage under `s3://lake/t`, alias
 * `t`), with the filtered log view and one caller, `eu`, granted region EU: for the loop tests that
 * time what one request costs without a backend server's own work beside it.
 */
import { type NodeServer, startNodeServer } from '../../lambda/adapters/node-server';
import { createProxy } from '../../lambda/bootstrap';
import { parseConfig } from '../../lambda/config';
import { silentLogger } from '../../lambda/core/logger';
import { keyFor } from './authz-harness';
import type { MemoryDeltaStorage } from './delta-memory-storage';
import { memoryBackend } from './memory-authz';
import { BACKEND_CREDENTIALS } from './s3-servers';

export function startMemoryProxy(s: MemoryDeltaStorage): Promise<NodeServer> {
  const config = parseConfig({
    getMode: 'proxy',
    logView: 'filtered',
    tableMapping: { t: 's3://lake/t' },
    grants: [{ principal: 'eu', table: 't', partitions: [{ region: 'EU' }] }],
    s3: { endpoint: 'http://127.0.0.1:1', forcePathStyle: true, region: 'us-east-1' },
    auth: { keys: [keyFor('eu')], allowAnonymous: false },
  });
  const proxy = createProxy(config, {
    backendCredentials: BACKEND_CREDENTIALS,
    audit: false,
    logger: silentLogger,
    storage: memoryBackend(s, 't/'),
  });
  return startNodeServer(proxy.handler, '127.0.0.1', 0);
}
