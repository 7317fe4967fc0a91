/** The admin CLI's DynamoDB target: the single-table design of lambda/store/dynamo-schema.ts. */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Grant } from '../access/grant';
import { ConfigError } from '../config';
import { DynamoAdmin, type KeyRevocation } from '../store/dynamo-admin';
import { createDynamoTable } from '../store/dynamo-schema';
import { type AdminTarget, type GrantListing, type KeyListing, keyExists } from './admin-target';
import { newGrantId } from './key-material';

export class DynamoTarget implements AdminTarget {
  private readonly admin: DynamoAdmin;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.admin = new DynamoAdmin(client, tableName);
  }

  async createKey(key: { accessKeyId: string; secretAccessKey: string; principal: string }): Promise<void> {
    try {
      await this.admin.putKey(key);
    } catch (e) {
      // putKey writes only where no item is (attribute_not_exists), revoked ones included. The SDK
      // retries a call whose answer was lost, so the item found may be this key's own first write.
      if ((e as Error).name !== 'ConditionalCheckFailedException') throw e;
      if (await this.admin.holdsKey(key)) return;
      throw new ConfigError(keyExists(key.accessKeyId, this.tableName));
    }
  }

  listKeys(): Promise<KeyListing[]> {
    return this.admin.listKeys();
  }

  revokeKey(accessKeyId: string): Promise<KeyRevocation | undefined> {
    return this.admin.revokeKeyOnce(accessKeyId);
  }

  async addGrant(grant: Grant): Promise<string> {
    const id = newGrantId();
    try {
      await this.admin.putGrant(grant, id);
    } catch (e) {
      // As for keys: a retried call whose first attempt was stored meets its own write.
      if (
        (e as Error).name !== 'ConditionalCheckFailedException' ||
        !(await this.admin.holdsGrant(grant, id))
      )
        throw e;
    }
    return id;
  }

  listGrants(principal?: string): Promise<GrantListing[]> {
    return this.admin.listGrants(principal === undefined ? {} : { principal });
  }

  revokeGrants(principal: string, table: string, id?: string): Promise<number> {
    return this.admin.revokeGrants(principal, table, id);
  }

  async init(): Promise<string> {
    const outcome = await createDynamoTable(this.client, this.tableName);
    return outcome === 'created'
      ? `created table ${this.tableName}`
      : `table ${this.tableName} already exists`;
  }

  close(): void {
    this.client.destroy();
  }
}
