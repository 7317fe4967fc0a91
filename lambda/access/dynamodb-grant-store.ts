/**
 * Grants held in DynamoDB (dynamo-schema.ts), per principal. Answers are cached for `ttlMs`
 * (default 30 s: a new or revoked grant is visible within that time), including empty answers, in a
 * bounded LRU with one query in flight per principal. Any DynamoDB failure throws an S3Error
 * (SlowDown on throttling, ServiceUnavailable otherwise), is not cached, and so never allows.
 * A malformed item (grant-item.ts: a missing or mistyped attribute, partitions that are not a
 * list of maps, an attribute the proxy does not know) is refused: it can only take access away,
 * and a warning names it, once per item. A principal longer than a key allows (MAX_PRINCIPAL_BYTES)
 * has no grants here, without a Query.
 */
import {
  type AttributeValue,
  type DynamoDBClient,
  QueryCommand,
  type QueryCommandOutput,
} from '@aws-sdk/client-dynamodb';
import { FirstTimes } from '../core/first-times';
import { type Logger, silentLogger } from '../core/logger';
import type { Clock } from '../core/types';
import { dynamoFailure, grantSkPrefix, MAX_PRINCIPAL_BYTES, principalPk } from '../store/dynamo-schema';
import { readGrantItem } from '../store/grant-item';
import { TtlCache } from '../store/ttl-cache';
import type { Grant, GrantStore } from './grant';

export const DEFAULT_GRANT_TTL_MS = 30_000;

export interface DynamoStoreOptions {
  ttlMs?: number;
  maxEntries?: number;
  clock?: Clock;
  /** Items per Query page (DynamoDB's own limit is 1 MB per page); tests use it to force paging. */
  pageSize?: number;
  /** Where a refused (malformed) grant item is reported. */
  logger?: Logger;
}

const EMPTY: readonly Grant[] = Object.freeze([]);

export class DynamoGrantStore implements GrantStore {
  private readonly cache: TtlCache<readonly Grant[]>;
  /** How many Query pages were read (for tests and metrics). */
  pagesRead = 0;

  private readonly pageSize: number | undefined;
  private readonly logger: Logger;
  /** Refused items already reported stay quiet. */
  private readonly reported = new FirstTimes();

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    options: DynamoStoreOptions = {},
  ) {
    this.pageSize = options.pageSize;
    this.logger = options.logger ?? silentLogger;
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
    // Too long for a key: it can own no grant item, and DynamoDB refuses the Query (a 503 forever).
    if (Buffer.byteLength(principal) > MAX_PRINCIPAL_BYTES) return EMPTY;
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
            ...(start ? { ExclusiveStartKey: start } : {}),
            ...(this.pageSize ? { Limit: this.pageSize } : {}),
          }),
        );
      } catch (e) {
        throw dynamoFailure(e, 'Query');
      }
      this.pagesRead++;
      for (const item of page.Items ?? []) {
        const read = readGrantItem(item);
        if ('problem' in read) this.refused(principal, item.sk?.S ?? '', read.problem);
        else grants.push({ principal, table: read.table, partitions: read.partitions });
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return grants.length === 0 ? EMPTY : Object.freeze(grants);
  }

  private refused(principal: string, sk: string, reason: string): void {
    if (!this.reported.first(`${principal}\u0000${sk}\u0000${reason}`)) return;
    this.logger.warn('a grant item in DynamoDB is malformed and refused: it grants nothing', {
      principal,
      sk,
      grantId: sk.slice(sk.lastIndexOf('#') + 1),
      reason,
    });
  }
}
