/**
 * DynamoDB single-table design for access keys and grants.
 *
 * Table: partition key `pk` (S), sort key `sk` (S), on-demand billing, no secondary index.
 * The stack encrypts it with a customer-managed KMS key (rotated; its key policy lets the account
 * use it only through DynamoDB, and IAM decides which principals: the function role is granted
 * read, operators need their own grant) and enables point-in-time recovery.
 * Secrets are stored as a plain `secret` attribute inside that encrypted table: the proxy needs
 * the secret itself to recompute SigV4 signatures, so it cannot be hashed.
 *
 * | item          | pk                  | sk                         | attributes                                           |
 * | ------------- | ------------------- | -------------------------- | ---------------------------------------------------- |
 * | access key    | `KEY#<accessKeyId>` | `KEY`                      | accessKeyId, principal, secret, status (active/revoked), createdAt, revokedAt? |
 * | grant         | `PRINCIPAL#<name>`  | `GRANT#<table>#<grantId>`  | principal, table, grantId, partitions (JSON text of PartitionMap[]), createdAt |
 *
 * Access patterns:
 * - authenticate: GetItem `KEY#<id>`/`KEY`, ConsistentRead (proxy, hot path, cached).
 * - grants of a caller: Query pk=`PRINCIPAL#<name>` and begins_with(sk, `GRANT#`), ConsistentRead,
 *   following LastEvaluatedKey (proxy, hot path, cached).
 * - grants of a caller on one table (revoke): the caller's grants as above, picked by their `table`
 *   attribute (what the proxy reads, whatever the sk says), each deleted by its own key.
 * - list all keys / all grants (admin CLI only, rare): Scan with a filter on sk; for keys a
 *   projection that never includes `secret` (plus a Scan whose filter tests it, projecting pk), for grants whole items (only grant items pass the
 *   filter) so that the listing shows an item the proxy refuses.
 * A grant item with any attribute not in the table above, or whose principal/table/grantId copies
 * disagree with its pk and sk, is refused by the proxy (grant-item.ts):
 * it may be a restriction (an expiry, a condition) the proxy would not apply. So is an active key
 * item (key-item.ts), which then cannot sign; key listings see every defect but that one, since
 * they never read `secret` (its type and length are tested by a Scan filter).
 * Revoking a key sets status=revoked (kept for audit); revoking a grant deletes the item.
 * `partitions` is JSON text rather than a DynamoDB map so that JSON null (the null partition) and
 * empty maps (`{}` = whole table) round-trip exactly.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { S3Error } from '../core/s3-error';

export const KEY_SK = 'KEY';
export const GRANT_SK_PREFIX = 'GRANT#';

export const KEY_PK_PREFIX = 'KEY#';
export const PRINCIPAL_PK_PREFIX = 'PRINCIPAL#';

export const keyPk = (accessKeyId: string): string => `${KEY_PK_PREFIX}${accessKeyId}`;
/** DynamoDB holds a partition key of at most 2,048 bytes: a principal's grants are under `PRINCIPAL#<name>`. */
export const MAX_PRINCIPAL_BYTES = 2048 - Buffer.byteLength(PRINCIPAL_PK_PREFIX);
export const principalPk = (principal: string): string => `${PRINCIPAL_PK_PREFIX}${principal}`;
export const grantSk = (table: string, grantId: string): string => `${GRANT_SK_PREFIX}${table}#${grantId}`;
export const grantSkPrefix = (table?: string): string =>
  table === undefined ? GRANT_SK_PREFIX : `${GRANT_SK_PREFIX}${table}#`;

const THROTTLING = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'Throttling',
  'TooManyRequestsException',
]);

/**
 * Every DynamoDB failure on the request path becomes a refusal, never an allow: SlowDown when
 * DynamoDB throttles, ServiceUnavailable for anything else (network, missing table, ...).
 */
export function dynamoFailure(error: unknown, operation: string): S3Error {
  const name = (error as { name?: string } | null)?.name ?? 'Error';
  const reason = `dynamodb ${operation} failed: ${name}`;
  if (THROTTLING.has(name)) return new S3Error('SlowDown', undefined, {}, reason);
  return new S3Error('ServiceUnavailable', undefined, {}, reason);
}

const EXPECTED_KEY_SCHEMA = 'pk (S, HASH), sk (S, RANGE)';

/** A table's key schema as text, e.g. `pk (S, HASH), sk (S, RANGE)`. */
function keySchemaOf(table: TableDescription | undefined): string {
  const types = new Map((table?.AttributeDefinitions ?? []).map((a) => [a.AttributeName, a.AttributeType]));
  return (table?.KeySchema ?? [])
    .map((k) => `${k.AttributeName} (${types.get(k.AttributeName) ?? '?'}, ${k.KeyType})`)
    .join(', ');
}

/**
 * Creates the table (pk/sk, on-demand) and waits until it is ACTIVE; an existing table is fine
 * when its key schema is this design's (pk and sk strings), and an error otherwise.
 */
export async function createDynamoTable(
  client: DynamoDBClient,
  tableName: string,
  options: { timeoutMs?: number } = {},
): Promise<'created' | 'exists'> {
  let outcome: 'created' | 'exists' = 'created';
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
      }),
    );
  } catch (e) {
    if (!(e instanceof ResourceInUseException) && (e as Error).name !== 'ResourceInUseException') throw e;
    outcome = 'exists';
  }
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    const d = await client.send(new DescribeTableCommand({ TableName: tableName }));
    // A table of that name made for something else: every read of the proxy would fail (503).
    if (outcome === 'exists') {
      const schema = keySchemaOf(d.Table);
      if (schema !== EXPECTED_KEY_SCHEMA)
        throw new Error(
          `table ${tableName} already exists with another key schema (${schema || 'none'}), not ${EXPECTED_KEY_SCHEMA}: it is not a table of this proxy`,
        );
    }
    if (d.Table?.TableStatus === 'ACTIVE') return outcome;
    if (Date.now() > deadline) throw new Error(`table ${tableName} did not become ACTIVE in time`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
