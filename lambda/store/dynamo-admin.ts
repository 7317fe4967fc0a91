/**
 * The write side of the DynamoDB design (dynamo-schema.ts), used by the admin CLI and tests.
 * The proxy itself only reads. Key listings never read the `secret` attribute (whether it can sign
 * is tested inside DynamoDB, by a filter); grant listings read whole items (to see what the proxy
 * refuses), only of grant items (filtered on pk and sk).
 */
import {
  type AttributeValue,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { Grant } from '../access/grant';
import {
  GRANT_SK_PREFIX,
  grantSk,
  KEY_PK_PREFIX,
  KEY_SK,
  keyPk,
  PRINCIPAL_PK_PREFIX,
  principalPk,
} from './dynamo-schema';
import { readGrantItem } from './grant-item';
import { keyItemProblem, MIN_SECRET_LENGTH } from './key-item';

export interface KeyRecord {
  accessKeyId: string;
  principal: string;
  status: 'active' | 'revoked' | 'refused';
  createdAt?: string;
  revokedAt?: string;
  /** Why the proxy refuses this item (key-item.ts), as far as a listing can see without the secret. */
  refused?: string;
}

export interface GrantRecord extends Grant {
  id: string;
  createdAt?: string;
  /** Why the proxy refuses this item (grant-item.ts); its partitions are then []. */
  refused?: string;
}

/** A key's revocation: now, or earlier (`already`, keeping the time it was revoked then). */
export interface KeyRevocation {
  already: boolean;
  revokedAt?: string;
}

type Item = Record<string, AttributeValue>;

async function* pages(
  client: DynamoDBClient,
  make: (start: Item | undefined) => QueryCommand | ScanCommand,
): AsyncGenerator<Item> {
  let start: Item | undefined;
  do {
    const out = await client.send(make(start) as QueryCommand);
    for (const item of out.Items ?? []) yield item;
    start = out.LastEvaluatedKey;
  } while (start);
}

export class DynamoAdmin {
  constructor(
    private readonly client: DynamoDBClient,
    readonly tableName: string,
  ) {}

  async putKey(key: { accessKeyId: string; secretAccessKey: string; principal: string }, now = new Date()) {
    await this.client.send(
      new PutItemCommand({
        TableName: this.tableName,
        Item: {
          pk: { S: keyPk(key.accessKeyId) },
          sk: { S: KEY_SK },
          accessKeyId: { S: key.accessKeyId },
          principal: { S: key.principal },
          secret: { S: key.secretAccessKey },
          status: { S: 'active' },
          createdAt: { S: now.toISOString() },
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  /**
   * Whether the key item stored under the key's id is this key (its secret and principal, active),
   * tested by DynamoDB with a conditional no-op update: the secret is never returned.
   */
  async holdsKey(key: { accessKeyId: string; secretAccessKey: string; principal: string }): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { pk: { S: keyPk(key.accessKeyId) }, sk: { S: KEY_SK } },
          UpdateExpression: 'SET #s = #s',
          ConditionExpression: 'secret = :secret AND principal = :principal AND #s = :active',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: {
            ':secret': { S: key.secretAccessKey },
            ':principal': { S: key.principal },
            ':active': { S: 'active' },
          },
        }),
      );
      return true;
    } catch (e) {
      if ((e as Error).name === 'ConditionalCheckFailedException') return false;
      throw e;
    }
  }

  /**
   * Keys as the proxy reads them, without their secrets. An attribute outside the schema cannot be
   * seen without reading the whole item, secret included: only the proxy's warning names it.
   */
  async listKeys(): Promise<KeyRecord[]> {
    const out: KeyRecord[] = [];
    const badSecrets = await this.keysWithBadSecrets();
    const items = this.keyItems(
      // Never read the secret.
      'pk, accessKeyId, principal, #s, createdAt, revokedAt',
      '',
      {},
    );
    for await (const item of items) {
      const pk = item.pk?.S ?? '';
      const problem =
        keyItemProblem(item) ??
        (badSecrets.has(pk) ? `no \`secret\` string of at least ${MIN_SECRET_LENGTH} characters` : undefined);
      out.push({
        // The id the proxy looks the key up by (and `keys revoke` addresses): its pk.
        accessKeyId: pk.slice(KEY_PK_PREFIX.length),
        principal: item.principal?.S ?? '?',
        status: problem === undefined ? 'active' : problem === 'revoked' ? 'revoked' : 'refused',
        ...(problem !== undefined && problem !== 'revoked' ? { refused: problem } : {}),
        ...(item.createdAt?.S ? { createdAt: item.createdAt.S } : {}),
        ...(item.revokedAt?.S ? { revokedAt: item.revokedAt.S } : {}),
      });
    }
    return out.sort((a, b) => (a.principal + a.accessKeyId).localeCompare(b.principal + b.accessKeyId));
  }

  /** The pks of key items whose secret cannot sign (key-item.ts), tested by DynamoDB: its value is never returned. */
  private async keysWithBadSecrets(): Promise<Set<string>> {
    const pks = new Set<string>();
    const items = this.keyItems('pk', ' AND NOT (attribute_type(secret, :string) AND size(secret) >= :min)', {
      ':string': { S: 'S' },
      ':min': { N: String(MIN_SECRET_LENGTH) },
    });
    for await (const item of items) if (item.pk?.S) pks.add(item.pk.S);
    return pks;
  }

  private keyItems(projection: string, filter: string, values: Item): AsyncGenerator<Item> {
    return pages(
      this.client,
      (start) =>
        new ScanCommand({
          TableName: this.tableName,
          ConsistentRead: true,
          FilterExpression: `sk = :k AND begins_with(pk, :pk)${filter}`,
          ExpressionAttributeValues: { ':k': { S: KEY_SK }, ':pk': { S: KEY_PK_PREFIX }, ...values },
          ProjectionExpression: projection,
          ...(projection.includes('#s') ? { ExpressionAttributeNames: { '#s': 'status' } } : {}),
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
    );
  }

  /** Marks a key revoked (kept for audit). False when there is no such key. */
  async revokeKey(accessKeyId: string, now = new Date()): Promise<boolean> {
    return (await this.revokeKeyOnce(accessKeyId, now)) !== undefined;
  }

  /**
   * Marks a key revoked, once: a key revoked before keeps its `revokedAt` (the audit trail's
   * answer to "since when"). Undefined when there is no such key.
   */
  async revokeKeyOnce(accessKeyId: string, now = new Date()): Promise<KeyRevocation | undefined> {
    const key = { pk: { S: keyPk(accessKeyId) }, sk: { S: KEY_SK } };
    const revokedAt = now.toISOString();
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: 'SET #s = :r, revokedAt = :t',
          ConditionExpression: 'attribute_exists(pk) AND NOT (#s = :r)',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':r': { S: 'revoked' }, ':t': { S: revokedAt } },
        }),
      );
      return { already: false, revokedAt };
    } catch (e) {
      if ((e as Error).name !== 'ConditionalCheckFailedException') throw e;
    }
    // No such item, or one revoked before: which, without reading its secret.
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: key,
        ConsistentRead: true,
        ProjectionExpression: 'pk, revokedAt',
      }),
    );
    if (!out.Item) return undefined;
    // The SDK retries an update whose answer was lost: its first attempt revoked the key, now.
    if (out.Item.revokedAt?.S === revokedAt) return { already: false, revokedAt };
    return { already: true, ...(out.Item.revokedAt?.S ? { revokedAt: out.Item.revokedAt.S } : {}) };
  }

  async putGrant(grant: Grant, id: string, now = new Date()): Promise<void> {
    await this.client.send(
      new PutItemCommand({
        TableName: this.tableName,
        Item: {
          pk: { S: principalPk(grant.principal) },
          sk: { S: grantSk(grant.table, id) },
          principal: { S: grant.principal },
          table: { S: grant.table },
          grantId: { S: id },
          partitions: { S: JSON.stringify(grant.partitions) },
          createdAt: { S: now.toISOString() },
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  /** Whether the grant item stored under the grant's keys is this grant, tested by DynamoDB (a conditional no-op update). */
  async holdsGrant(grant: Grant, id: string): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { pk: { S: principalPk(grant.principal) }, sk: { S: grantSk(grant.table, id) } },
          UpdateExpression: 'SET grantId = grantId',
          ConditionExpression: 'principal = :p AND #t = :t AND grantId = :id AND #m = :parts',
          // Both reserved words in DynamoDB's expressions.
          ExpressionAttributeNames: { '#t': 'table', '#m': 'partitions' },
          ExpressionAttributeValues: {
            ':p': { S: grant.principal },
            ':t': { S: grant.table },
            ':id': { S: id },
            ':parts': { S: JSON.stringify(grant.partitions) },
          },
        }),
      );
      return true;
    } catch (e) {
      if ((e as Error).name === 'ConditionalCheckFailedException') return false;
      throw e;
    }
  }

  /**
   * Grants as the proxy reads them: the principal from the item's pk, the table from its `table`
   * attribute; the id is the end of its sk. (An item written by another tool may carry copies
   * that disagree: `principal`, `grantId` and the table in the sk are not what the proxy reads.)
   */
  async listGrants(filter: { principal?: string; table?: string } = {}): Promise<GrantRecord[]> {
    return (await this.grantItems(filter)).map(({ record }) => record);
  }

  private async grantItems(filter: {
    principal?: string;
    table?: string;
  }): Promise<{ key: Item; record: GrantRecord }[]> {
    const items =
      filter.principal !== undefined
        ? pages(
            this.client,
            (start) =>
              new QueryCommand({
                TableName: this.tableName,
                ConsistentRead: true,
                KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
                ExpressionAttributeValues: {
                  ':pk': { S: principalPk(filter.principal!) },
                  ':prefix': { S: GRANT_SK_PREFIX },
                },
                ...(start ? { ExclusiveStartKey: start } : {}),
              }),
          )
        : pages(
            this.client,
            (start) =>
              new ScanCommand({
                TableName: this.tableName,
                ConsistentRead: true,
                FilterExpression: 'begins_with(pk, :pk) AND begins_with(sk, :prefix)',
                ExpressionAttributeValues: {
                  ':pk': { S: PRINCIPAL_PK_PREFIX },
                  ':prefix': { S: GRANT_SK_PREFIX },
                },
                ...(start ? { ExclusiveStartKey: start } : {}),
              }),
          );
    const out: { key: Item; record: GrantRecord }[] = [];
    for await (const item of items) {
      const pk = item.pk?.S ?? '';
      const sk = item.sk?.S ?? '';
      const table = item.table?.S;
      if (filter.table !== undefined && table !== filter.table) continue;
      const read = readGrantItem(item);
      out.push({
        key: { pk: { S: pk }, sk: { S: sk } },
        record: {
          id: sk.slice(sk.lastIndexOf('#') + 1),
          principal: pk.slice(PRINCIPAL_PK_PREFIX.length),
          table: table ?? '?',
          // A malformed item grants nothing (what the proxy makes of it), and says why.
          ...('problem' in read
            ? { partitions: [], refused: read.problem }
            : { partitions: read.partitions }),
          ...(item.createdAt?.S ? { createdAt: item.createdAt.S } : {}),
        },
      });
    }
    return out;
  }

  /**
   * Deletes the principal's grants on the table (one grant when id is given), chosen as the proxy
   * reads them, each by its own key; returns how many of them are gone. An item found and then
   * already gone counts: the SDK retries a delete whose answer was lost, and its first attempt
   * (or another revocation) removed it.
   */
  async revokeGrants(principal: string, table: string, id?: string): Promise<number> {
    let removed = 0;
    for (const { key, record } of await this.grantItems({ principal, table })) {
      if (id !== undefined && record.id !== id) continue;
      try {
        await this.client.send(
          new DeleteItemCommand({
            TableName: this.tableName,
            Key: key,
            ConditionExpression: 'attribute_exists(pk)',
          }),
        );
      } catch (e) {
        if ((e as Error).name !== 'ConditionalCheckFailedException') throw e;
      }
      removed++;
    }
    return removed;
  }
}
