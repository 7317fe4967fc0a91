/** Grant items: validation of the `partitions` JSON text stored in DynamoDB (and given to the CLI). */
import type { PartitionMap } from '../access/grant';

/** Parses and validates a PartitionMap[] (JSON text); undefined when it is not one. */
export function parsePartitions(text: unknown): PartitionMap[] | undefined {
  if (typeof text !== 'string') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return isPartitionList(value) ? value : undefined;
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
