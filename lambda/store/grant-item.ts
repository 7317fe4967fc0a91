/** Grant items: validation of a DynamoDB grant item and of its `partitions` JSON text. */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { PartitionMap } from '../access/grant';
import { duplicateKeyPath } from '../core/json-duplicate-key';
import { grantSkPrefix, PRINCIPAL_PK_PREFIX } from './dynamo-schema';

/** Parses and validates a PartitionMap[] (JSON text); undefined when it is not one (readGrantItem says why). */
export function parsePartitions(text: unknown): PartitionMap[] | undefined {
  const read = readPartitions(text);
  return 'problem' in read ? undefined : read.partitions;
}

/**
 * A PartitionMap[] from JSON text, or why it is not one. A column written twice in one map
 * (`{"region":"EU","region":"US"}`) is not: JSON.parse would keep the last, and which value the
 * writer meant cannot be known (the config refuses the same text).
 */
function readPartitions(text: unknown): { partitions: PartitionMap[] } | { problem: string } {
  const notList = { problem: '`partitions` is not a JSON list of maps of column names to strings or null' };
  if (typeof text !== 'string') return notList;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return notList;
  }
  if (!isPartitionList(value)) return notList;
  // Only on text JSON.parse accepted (duplicateKeyPath's precondition).
  if (duplicateKeyPath(text))
    return { problem: '`partitions` writes a column twice in one map (JSON keeps only the last)' };
  return { partitions: value };
}

export function isPartitionList(value: unknown): value is PartitionMap[] {
  return (
    Array.isArray(value) &&
    value.every(
      (m) =>
        typeof m === 'object' &&
        m !== null &&
        !Array.isArray(m) &&
        Object.entries(m).every(([k, v]) => k.length > 0 && (v === null || typeof v === 'string')),
    )
  );
}

/** Table aliases as config.ts accepts them (no "#": the sort key relies on it). */
export const TABLE_ALIAS = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function isTableAlias(alias: string): boolean {
  return TABLE_ALIAS.test(alias) && !alias.includes('..');
}

/** The attributes of a grant item (dynamo-schema.ts). Any other may be a restriction the proxy would not apply. */
const GRANT_ITEM_ATTRIBUTES = new Set([
  'pk',
  'sk',
  'principal',
  'table',
  'grantId',
  'partitions',
  'createdAt',
]);

/** What the proxy reads of a grant item: its table and partition maps, or why it refuses the item. */
export function readGrantItem(
  item: Record<string, AttributeValue>,
): { table: string; partitions: PartitionMap[] } | { problem: string } {
  const unknown = Object.keys(item).filter((k) => !GRANT_ITEM_ATTRIBUTES.has(k));
  if (unknown.length) return { problem: `unknown attribute(s): ${unknown.sort().join(', ').slice(0, 200)}` };
  const table = item.table?.S;
  if (table === undefined) return { problem: 'no `table` string attribute' };
  if (!isTableAlias(table)) return { problem: '`table` is not a table alias' };
  // The keys and their copies must tell one story: an item whose `principal` or `grantId` copy,
  // or whose sk's table, disagrees was written for someone or something else than it would grant.
  const pk = item.pk?.S ?? '';
  // A copy that is not a string disagrees too (its `.S` is undefined, not the text "undefined").
  if (
    item.principal !== undefined &&
    (item.principal.S === undefined || `${PRINCIPAL_PK_PREFIX}${item.principal.S}` !== pk)
  )
    return { problem: '`principal` disagrees with the pk' };
  const sk = item.sk?.S ?? '';
  const skPrefix = grantSkPrefix(table);
  if (!sk.startsWith(skPrefix) || sk.length === skPrefix.length)
    return { problem: "the sk is not GRANT#<table>#<grantId> for the item's `table`" };
  if (item.grantId !== undefined && sk.slice(skPrefix.length) !== item.grantId.S)
    return { problem: '`grantId` disagrees with the sk' };
  if (item.partitions?.S === undefined) return { problem: 'no `partitions` string attribute (JSON text)' };
  const partitions = readPartitions(item.partitions.S);
  if ('problem' in partitions) return partitions;
  return { table, partitions: partitions.partitions };
}
