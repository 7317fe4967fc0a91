/** What the admin CLI edits: the JSON config file or the DynamoDB table. */
import type { Grant } from '../access/grant';
import type { KeyRevocation } from '../store/dynamo-admin';

export interface KeyListing {
  accessKeyId: string;
  principal: string;
  status: 'active' | 'revoked' | 'refused';
  createdAt?: string;
  revokedAt?: string;
  /** Why the proxy refuses this DynamoDB item (status 'refused'); never read from the secret's value. */
  refused?: string;
}

export interface GrantListing extends Grant {
  id: string;
  createdAt?: string;
  /** Why the proxy refuses this DynamoDB item (its partitions are then []). */
  refused?: string;
}

/** Why a key is not stored: an id names one key for good, no command replaces its secret or principal. */
export function keyExists(accessKeyId: string, where: string): string {
  return `access key ${accessKeyId} already exists in ${where}: a key is never replaced (revoke it and create a new one)`;
}

export interface AdminTarget {
  /** Said (stderr) after each change: what it takes for a running proxy to see it, when not obvious. */
  readonly editNote?: string;
  /** Stores a new key, refused (ConfigError) when its id exists; the secret is only ever returned here. */
  createKey(key: { accessKeyId: string; secretAccessKey: string; principal: string }): Promise<void>;
  listKeys(): Promise<KeyListing[]>;
  /** Undefined when there is no such key; `already` when it was revoked before (and stays as it was). */
  revokeKey(accessKeyId: string): Promise<KeyRevocation | undefined>;
  /** Stores a grant and returns its id. */
  addGrant(grant: Grant): Promise<string>;
  listGrants(principal?: string): Promise<GrantListing[]>;
  /** Removes the principal's grants on the table (only the one with `id` if given); returns how many. */
  revokeGrants(principal: string, table: string, id?: string): Promise<number>;
  /** Prepares the target (creates the DynamoDB table); returns a one-line outcome. */
  init(): Promise<string>;
  close(): void;
}
