/**
 * Wiring of the grant and key sources named by the config: config grants + allowedPartitions
 * always, DynamoDB on top when `databaseEnabled` (the union counts; keys: either, and an id in
 * both must be the same key there: key-sources.ts). One DynamoDB client is shared by both stores; it and the DynamoDB SDK load when a
 * request first asks DynamoDB (dynamo-stores.ts, a chunk of its own in the Lambda bundle).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Grant, GrantStore } from '../access/grant';
import { ConfigGrantStore, UnionGrantStore } from '../access/grant-sources';
import { type CredentialStore, StaticCredentialStore } from '../auth/credential-store';
import { KeySources } from '../auth/key-sources';
import { type Config, enabledDatabase } from '../config';
import { lazyModule } from '../core/lazy-module';
import { jsonLogger, type Logger } from '../core/logger';
import type { Clock } from '../core/types';
import type { DynamoClientOptions } from './dynamo-client';
import type { DynamoStores } from './dynamo-stores';

export interface Stores {
  grants: GrantStore;
  credentials: CredentialStore;
  /** Present when DynamoDB is in use: its client, made on first use (destroy() it at shutdown). */
  dynamo?: () => Promise<DynamoDBClient>;
}

export interface StoreOptions {
  clock?: Clock;
  /** Cache TTL of DynamoDB answers (default 30 s). */
  ttlMs?: number;
  /** An existing client (tests), else one is made from config.database. */
  dynamoClient?: DynamoDBClient;
  dynamoClientOptions?: DynamoClientOptions;
  /**
   * Where a key id held by both the config and DynamoDB, as two different keys, and a malformed
   * DynamoDB grant or access key item are reported.
   */
  logger?: Logger;
}

const loadDynamoStores = lazyModule('the DynamoDB stores', () => import('./dynamo-stores'));

export function storesFromConfig(config: Config, options: StoreOptions = {}): Stores {
  const configGrants = new ConfigGrantStore(config);
  const configKeys = new StaticCredentialStore(config.auth.keys);
  const target = enabledDatabase(config);
  if (!target) return { grants: configGrants, credentials: configKeys };
  const logger = options.logger ?? jsonLogger();
  const cacheOptions = {
    logger,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.ttlMs !== undefined ? { ttlMs: options.ttlMs } : {}),
  };
  let made: DynamoStores | undefined;
  const dynamo = async (): Promise<DynamoStores> => {
    if (made) return made;
    const { dynamoStores } = await loadDynamoStores();
    // Requests that raced to the first load share the first client and caches.
    made ??= dynamoStores(target, cacheOptions, options.dynamoClient, options.dynamoClientOptions);
    return made;
  };
  const dynamoGrants: GrantStore = {
    grantsFor: async (principal: string): Promise<readonly Grant[]> =>
      (await dynamo()).grants.grantsFor(principal),
  };
  const dynamoKeys = {
    held: async (accessKeyId: string, inConfig: boolean) =>
      (await dynamo()).credentials.held(accessKeyId, inConfig),
  };
  return {
    grants: new UnionGrantStore([configGrants, dynamoGrants]),
    credentials: new KeySources(config.auth.keys, dynamoKeys, target.tableName, logger),
    dynamo: async () => (await dynamo()).client,
  };
}
