/**
 * Access keys held in DynamoDB (lambda/store/dynamo-schema.ts: pk `KEY#<id>`, sk `KEY`). Lookups
 * are cached for `ttlMs` (default 30 s: a revocation stops authenticating within that time),
 * unknown and revoked ids included, so random key ids cannot hammer the table; the cache is a
 * bounded LRU with one read in flight per id. A DynamoDB failure throws an S3Error (SlowDown on
 * throttling, ServiceUnavailable otherwise) and is not cached: the caller fails closed.
 * An item the proxy cannot read as written (key-item.ts: an attribute outside the schema, a missing
 * or mistyped attribute, a status other than active/revoked) cannot sign, like a revoked key, and
 * a warning names its id and why, once per item (never its secret).
 */
import { type DynamoDBClient, GetItemCommand, type GetItemCommandOutput } from '@aws-sdk/client-dynamodb';
import { FirstTimes } from '../core/first-times';
import { type Logger, silentLogger } from '../core/logger';
import type { Clock } from '../core/types';
import { dynamoFailure, KEY_SK, keyPk } from '../store/dynamo-schema';
import { readKeyItem } from '../store/key-item';
import { TtlCache } from '../store/ttl-cache';
import type { AccessKey, CredentialStore, HeldKey } from './credential-store';

export const DEFAULT_KEY_TTL_MS = 30_000;

/**
 * Ids that cannot exist are unknown without a read: the charset and length config.ts allows.
 * A deployment whose keys all come from the admin CLI can pass the stricter `DLP_KEY_ID`.
 */
export const ANY_KEY_ID = /^[A-Za-z0-9+/=._-]{3,128}$/;
export const DLP_KEY_ID = /^DLP[A-Z0-9]{17}$/;

export class DynamoCredentialStore implements CredentialStore {
  private readonly cache: TtlCache<HeldKey>;
  /** How many GetItem reads were made (for tests and metrics). */
  reads = 0;
  private readonly idPattern: RegExp;
  private readonly logger: Logger;
  /** Refused items already reported stay quiet. */
  private readonly reported = new FirstTimes();

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    options: {
      ttlMs?: number;
      maxEntries?: number;
      clock?: Clock;
      accessKeyIdPattern?: RegExp;
      /** Where a refused (malformed) key item is reported. */
      logger?: Logger;
    } = {},
  ) {
    this.idPattern = options.accessKeyIdPattern ?? ANY_KEY_ID;
    this.logger = options.logger ?? silentLogger;
    this.cache = new TtlCache({
      ttlMs: options.ttlMs ?? DEFAULT_KEY_TTL_MS,
      maxEntries: options.maxEntries ?? 10_000,
      ...(options.clock ? { clock: options.clock } : {}),
    });
  }

  /** Answers cached now (bounded by maxEntries). */
  get cachedEntries(): number {
    return this.cache.size;
  }

  async lookup(accessKeyId: string): Promise<AccessKey | undefined> {
    const held = await this.held(accessKeyId);
    return held === 'inactive' ? undefined : held;
  }

  /** What the table holds under the id: the key, 'inactive' for an item that cannot sign, or nothing. */
  async held(accessKeyId: string): Promise<HeldKey | undefined> {
    if (!this.idPattern.test(accessKeyId)) return undefined;
    return this.cache.get(accessKeyId, () => this.load(accessKeyId));
  }

  private async load(accessKeyId: string): Promise<HeldKey | undefined> {
    let item: GetItemCommandOutput['Item'];
    try {
      const out = await this.client.send(
        new GetItemCommand({
          TableName: this.tableName,
          Key: { pk: { S: keyPk(accessKeyId) }, sk: { S: KEY_SK } },
          ConsistentRead: true,
        }),
      );
      item = out.Item;
    } catch (e) {
      throw dynamoFailure(e, 'GetItem');
    }
    this.reads++;
    if (!item) return undefined;
    const read = readKeyItem(item);
    if (read === 'revoked') return 'inactive';
    if ('problem' in read) {
      this.refused(accessKeyId, read.problem);
      return 'inactive';
    }
    return { accessKeyId, secretAccessKey: read.secret, principal: read.principal, status: 'active' };
  }

  private refused(accessKeyId: string, reason: string): void {
    if (!this.reported.first(`${accessKeyId}\u0000${reason}`)) return;
    this.logger.warn(
      'an access key item in DynamoDB is malformed and refused: requests signed with it get 403 InvalidAccessKeyId',
      { accessKeyId, reason },
    );
  }
}
