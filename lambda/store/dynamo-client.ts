/**
 * The DynamoDB client the stores use. Tight timeouts and few attempts: a request waiting on
 * DynamoDB holds a caller, and a failure is answered (503) rather than retried for long.
 * Credentials come from the SDK's default chain unless given (Lambda: the function role).
 */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';

export interface DynamoTarget {
  tableName: string;
  endpoint?: string;
  region?: string;
}

export interface DynamoClientOptions {
  credentials?: DynamoDBClientConfig['credentials'];
  maxAttempts?: number;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
}

export function createDynamoClient(target: DynamoTarget, options: DynamoClientOptions = {}): DynamoDBClient {
  return new DynamoDBClient({
    ...(target.endpoint ? { endpoint: target.endpoint } : {}),
    ...(target.region ? { region: target.region } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    maxAttempts: options.maxAttempts ?? 2,
    requestHandler: {
      connectionTimeout: options.connectionTimeoutMs ?? 1_000,
      requestTimeout: options.requestTimeoutMs ?? 3_000,
    },
  });
}
