/**
 * The keys of the config file (auth.keys) and of DynamoDB together (databaseEnabled). An id
 * belongs in one of them. When both hold it, the copies must be one key: the same secret and
 * principal, active in DynamoDB. Otherwise which copy signs would be a guess, and a key revoked
 * in DynamoDB would live on through the file, so the id authenticates nowhere (403
 * InvalidAccessKeyId) and an error line names it and where it is (never a secret), once per id.
 * DynamoDB is therefore asked about config ids too (cached like any key lookup).
 */
import { FirstTimes } from '../core/first-times';
import type { Logger } from '../core/logger';
import { S3Error } from '../core/s3-error';
import type { AccessKey, CredentialStore, HeldKey } from './credential-store';

export interface DatabaseKeys {
  /** `inConfig`: the config holds the id too (its absence from the table is cached like a key). */
  held(accessKeyId: string, inConfig: boolean): Promise<HeldKey | undefined>;
}

export class KeySources implements CredentialStore {
  private readonly fromConfig = new Map<string, { key: AccessKey; index: number }>();
  /** Ids already reported stay quiet. */
  private readonly reported = new FirstTimes();

  constructor(
    configKeys: readonly AccessKey[],
    private readonly database: DatabaseKeys,
    private readonly databaseName: string,
    private readonly logger: Logger,
  ) {
    for (const [index, key] of configKeys.entries()) this.fromConfig.set(key.accessKeyId, { key, index });
  }

  async lookup(accessKeyId: string): Promise<AccessKey | undefined> {
    const own = this.fromConfig.get(accessKeyId);
    const held = await this.database.held(accessKeyId, own !== undefined);
    if (!own) return held === 'inactive' ? undefined : held;
    if (held === undefined) return own.key;
    const conflict =
      held === 'inactive'
        ? 'is revoked (or an item that cannot sign)'
        : held.secretAccessKey !== own.key.secretAccessKey
          ? 'has a different secret'
          : held.principal !== own.key.principal
            ? 'has a different principal'
            : undefined;
    if (conflict === undefined) return own.key;
    this.report(accessKeyId, `auth.keys[${own.index}]`, conflict);
    throw new S3Error(
      'InvalidAccessKeyId',
      undefined,
      { AWSAccessKeyId: accessKeyId },
      `access key id in auth.keys[${own.index}] and in DynamoDB, where it ${conflict}`,
    );
  }

  private report(accessKeyId: string, configPath: string, conflict: string): void {
    if (!this.reported.first(accessKeyId)) return;
    this.logger.error(
      `access key ${accessKeyId} is in ${configPath} and in DynamoDB table ${this.databaseName}, where it ${conflict}: requests signed with it are refused until one copy is removed`,
      { accessKeyId, configPath, table: this.databaseName },
    );
  }
}
