/**
 * The DynamoDB grant and key stores over one shared client. The Lambda bundle loads this module
 * (and with it the DynamoDB client) as a chunk of its own, when a request first needs it:
 * stores-from-config.ts.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoGrantStore, type DynamoStoreOptions } from '../access/dynamodb-grant-store';
import { DynamoCredentialStore } from '../auth/dynamodb-credential-store';
import { createDynamoClient, type DynamoClientOptions, type DynamoTarget } from './dynamo-client';

export interface DynamoStores {
  grants: DynamoGrantStore;
  credentials: DynamoCredentialStore;
  client: DynamoDBClient;
}

export function dynamoStores(
  target: DynamoTarget,
  cacheOptions: Pick<DynamoStoreOptions, 'clock' | 'ttlMs' | 'logger'>,
  client: DynamoDBClient | undefined,
  clientOptions: DynamoClientOptions | undefined,
): DynamoStores {
  const shared = client ?? createDynamoClient(target, clientOptions);
  return {
    grants: new DynamoGrantStore(shared, target.tableName, cacheOptions),
    credentials: new DynamoCredentialStore(shared, target.tableName, cacheOptions),
    client: shared,
  };
}
