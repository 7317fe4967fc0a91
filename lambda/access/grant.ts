/**
 * A grant: a principal may read the listed partitions of a table. A partition map matches a
 * file when every key equals the file's partition value (logical column names; `null` matches
 * a null partition). `{}` matches every file, so `[{}]` grants the whole table.
 */
export type PartitionValue = string | null;
export type PartitionMap = Readonly<Record<string, PartitionValue>>;

export interface Grant {
  principal: string;
  /** Table alias from tableMapping. */
  table: string;
  partitions: readonly PartitionMap[];
}

/**
 * Where grants come from (config, allowedPartitions, DynamoDB). Throws when it cannot answer,
 * so the caller fails closed.
 */
export interface GrantStore {
  grantsFor(principal: string): Promise<readonly Grant[]>;
}
