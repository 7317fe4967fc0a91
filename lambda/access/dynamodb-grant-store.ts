/**
 * Grants held in DynamoDB (dynamo-schema.ts), per principal. Answers are cached for `ttlMs`
 * (default 30 s: a new or revoked grant is visible within that time), including empty answers, in a
 * bounded LRU with one query in flight per principal. Any DynamoDB failure throws an S3Error
 * (SlowDown on throttling, ServiceUnavailable otherwise), is not cached, and so never allows.
 * A malformed item is skipped: it can only take access away.
 */
import {
  type AttributeValue,
  type DynamoDBClient,
  QueryCommand,
  type QueryCommandOutput,
} from '@aws-sdk/client-dynamodb';
import type { Clock } from '../core/types';
import { dynamoFailure, grantSkPrefix, principalPk } from '../store/dynamo-schema';
import { isTableAlias, parsePartitions } from '../store/grant-item';
import { TtlCache } from '../store/ttl-cache';
import type { Grant, GrantStore } from './grant';

export const DEFAULT_GRANT_TTL_MS = 30_000;

export interface DynamoStoreOptions {
  ttlMs?: number;
  maxEntries?: number;
  clock?: Clock;
  /** Items per Query page (DynamoDB's own limit is 1 MB per page); tests use it to force paging. */
  pageSize?: number;
}

const EMPTY: readonly Grant[] = Object.freeze([]);

export class DynamoGrantStore implements GrantStore {
  private readonly cache: TtlCache<readonly Grant[]>;
  /** How many Query pages were read (for tests and metrics). */
  pagesRead = 0;

  private readonly pageSize: number | undefined;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    options: DynamoStoreOptions = {},
  ) {
    this.pageSize = options.pageSize;
    this.cache = new TtlCache({
      ttlMs: options.ttlMs ?? DEFAULT_GRANT_TTL_MS,
      maxEntries: options.maxEntries ?? 10_000,
      ...(options.clock ? { clock: options.clock } : {}),
    });
  }

  /** Answers cached now (bounded by maxEntries). */
  get cachedEntries(): number {
    return this.cache.size;
  }

  async grantsFor(principal: string): Promise<readonly Grant[]> {
    return (await this.cache.get(principal, () => this.load(principal))) ?? EMPTY;
  }

  private async load(principal: string): Promise<readonly Grant[]> {
    const grants: Grant[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      let page: QueryCommandOutput;
      try {
        page = await this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            ConsistentRead: true,
            KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
            ExpressionAttributeValues: {
              ':pk': { S: principalPk(principal) },
              ':prefix': { S: grantSkPrefix() },
            },
            ProjectionExpression: '#t, #p',
            ExpressionAttributeNames: { '#t': 'table', '#p': 'partitions' },
            ...(start ? { ExclusiveStartKey: start } : {}),
            ...(this.pageSize ? { Limit: this.pageSize } : {}),
          }),
        );
      } catch (e) {
        throw dynamoFailure(e, 'Query');
      }
      this.pagesRead++;
      for (const item of page.Items ?? []) {
        const table = item.table?.S;
        const partitions = parsePartitions(item.partitions?.S);
        if (table === undefined || !isTableAlias(table) || !partitions) continue;
        grants.push({ principal, table, partitions });
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return grants.length === 0 ? EMPTY : Object.freeze(grants);
  }
}
