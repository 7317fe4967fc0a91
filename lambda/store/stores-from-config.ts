/**
 * Wiring of the grant and key sources named by the config: config grants + allowedPartitions
 * always, DynamoDB on top when `databaseEnabled` (the union counts; keys: config first, then
 * DynamoDB). One DynamoDB client is shared by both stores.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoGrantStore } from '../access/dynamodb-grant-store';
import type { GrantStore } from '../access/grant';
import { ConfigGrantStore, UnionGrantStore } from '../access/grant-sources';
import {
  ChainedCredentialStore,
  type CredentialStore,
  StaticCredentialStore,
} from '../auth/credential-store';
import { DynamoCredentialStore } from '../auth/dynamodb-credential-store';
import { type Config, ConfigError } from '../config';
import type { Clock } from '../core/types';
import { createDynamoClient, type DynamoClientOptions } from './dynamo-client';

export interface Stores {
  grants: GrantStore;
  credentials: CredentialStore;
  /** Present when DynamoDB is in use (close it with destroy() at shutdown). */
  dynamo?: DynamoDBClient;
}

export interface StoreOptions {
  clock?: Clock;
  /** Cache TTL of DynamoDB answers (default 30 s). */
  ttlMs?: number;
  /** An existing client (tests), else one is made from config.database. */
  dynamoClient?: DynamoDBClient;
  dynamoClientOptions?: DynamoClientOptions;
}

export function storesFromConfig(config: Config, options: StoreOptions = {}): Stores {
  const configGrants = new ConfigGrantStore(config);
  const configKeys = new StaticCredentialStore(config.auth.keys);
  if (!config.databaseEnabled) return { grants: configGrants, credentials: configKeys };
  if (!config.database) throw new ConfigError('database: required when databaseEnabled is true');
  const client = options.dynamoClient ?? createDynamoClient(config.database, options.dynamoClientOptions);
  const cacheOptions = {
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.ttlMs !== undefined ? { ttlMs: options.ttlMs } : {}),
  };
  return {
    grants: new UnionGrantStore([
      configGrants,
      new DynamoGrantStore(client, config.database.tableName, cacheOptions),
    ]),
    credentials: new ChainedCredentialStore([
      configKeys,
      new DynamoCredentialStore(client, config.database.tableName, cacheOptions),
    ]),
    dynamo: client,
  };
}
