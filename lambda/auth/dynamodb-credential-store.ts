/**
 * Access keys held in DynamoDB (lambda/store/dynamo-schema.ts: pk `KEY#<id>`, sk `KEY`). Items
 * found (active or revoked) are cached for `ttlMs` (default 30 s: a revocation stops
 * authenticating within that time) in an LRU of `maxEntries`; ids the table does not hold, for
 * `unknownTtlMs` (5 s: a key created after its id was tried signs that soon) in an LRU of their
 * own (`maxUnknownEntries`), so a flood of random ids evicts only other unknown ids, never a key
 * in use. One read in flight per id. An id the config file holds (key-sources.ts) is a key in use
 * though the table lacks it: its absence is kept like a found item. A DynamoDB failure throws an
 * S3Error (SlowDown on throttling, ServiceUnavailable otherwise) and is not cached: the caller
 * fails closed.
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
export const DEFAULT_UNKNOWN_KEY_TTL_MS = 5_000;
const DEFAULT_KEY_ENTRIES = 10_000;
const DEFAULT_UNKNOWN_KEY_ENTRIES = 1_024;
/** The table's answer for an id the config holds and the table does not (cached like a key). */
const ABSENT = 'absent';

/**
 * Ids that cannot exist are unknown without a read: the charset and length config.ts allows.
 * A deployment whose keys all come from the admin CLI can pass the stricter `DLP_KEY_ID`.
 */
export const ANY_KEY_ID = /^[A-Za-z0-9+/=._-]{3,128}$/;
export const DLP_KEY_ID = /^DLP[A-Z0-9]{17}$/;

export class DynamoCredentialStore implements CredentialStore {
  private readonly cache: TtlCache<HeldKey | typeof ABSENT>;
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
      /** How long an id the table does not hold is remembered (default 5 s, at most `ttlMs`). */
      unknownTtlMs?: number;
      maxUnknownEntries?: number;
      clock?: Clock;
      accessKeyIdPattern?: RegExp;
      /** Where a refused (malformed) key item is reported. */
      logger?: Logger;
    } = {},
  ) {
    this.idPattern = options.accessKeyIdPattern ?? ANY_KEY_ID;
    this.logger = options.logger ?? silentLogger;
    const ttlMs = options.ttlMs ?? DEFAULT_KEY_TTL_MS;
    this.cache = new TtlCache({
      ttlMs,
      maxEntries: options.maxEntries ?? DEFAULT_KEY_ENTRIES,
      misses: {
        ttlMs: Math.min(ttlMs, options.unknownTtlMs ?? DEFAULT_UNKNOWN_KEY_TTL_MS),
        maxEntries: options.maxUnknownEntries ?? DEFAULT_UNKNOWN_KEY_ENTRIES,
      },
      ...(options.clock ? { clock: options.clock } : {}),
    });
  }

  /** Answers cached now, unknown ids included (bounded by maxEntries + maxUnknownEntries). */
  get cachedEntries(): number {
    return this.cache.size;
  }

  async lookup(accessKeyId: string): Promise<AccessKey | undefined> {
    const held = await this.held(accessKeyId);
    return held === 'inactive' ? undefined : held;
  }

  /**
   * What the table holds under the id: the key, 'inactive' for an item that cannot sign, or
   * nothing. `inConfig`: the config file holds the id, so it is a key in use either way.
   */
  async held(accessKeyId: string, inConfig = false): Promise<HeldKey | undefined> {
    if (!this.idPattern.test(accessKeyId)) return undefined;
    const held = await this.cache.get(accessKeyId, async () => {
      const loaded = await this.load(accessKeyId);
      return loaded === undefined && inConfig ? ABSENT : loaded;
    });
    return held === ABSENT ? undefined : held;
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
