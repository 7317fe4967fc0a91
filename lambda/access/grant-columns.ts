/**
 * A partition map that cannot match what its writer meant allows nothing (allowed-set.ts), and
 * says so: a column the table is not partitioned by (`regon`: a typo, or a grant written for
 * another partitioning), or a value that is no value of its column's type (`day=2024-13-45` on a
 * date, `year=abc` on an integer: partition-value.ts). Start-up cannot tell (the table's log has
 * not been read), so the first request that meets one says so in a warning: once per table and
 * column for a column, once per principal, table, column and value for a value. Checked once per
 * (maps, snapshot) pair: both arrays keep their identity while cached, so a request costs two
 * weak-map lookups.
 */
import { FirstTimes } from '../core/first-times';
import type { Logger } from '../core/logger';
import type { PartitionColumn } from '../delta/snapshot-view';
import type { PartitionMap, PartitionValue } from './grant';
import { grantCanonicals, grantKeysFor, HIVE_NULL_PARTITION } from './partition-value';

/** A value is logged (and remembered) by at most this many characters. */
const MAX_VALUE_CHARS = 200;
const NULL_HINT = 'the null partition is granted with null (admin CLI: --partition-null COLUMN)';

/**
 * The partition column a grant key names: the one of that logical name, else the only one equal
 * to it ignoring case (Spark resolves column names so, and Delta refuses columns that differ only
 * in case); -1 for none.
 */
export function grantColumnIndex(columns: readonly PartitionColumn[], name: string): number {
  const exact = columns.findIndex((c) => c.logical === name);
  if (exact >= 0) return exact;
  const folded = name.toLowerCase();
  const matches = columns.flatMap((c, i) => (c.logical.toLowerCase() === folded ? [i] : []));
  return matches.length === 1 ? matches[0]! : -1;
}

export class GrantColumnCheck {
  private readonly checked = new WeakMap<readonly PartitionMap[], WeakSet<readonly PartitionColumn[]>>();
  /** Warnings already given stay quiet. */
  private readonly reported = new FirstTimes();

  constructor(private readonly logger: Logger) {}

  check(
    table: string,
    principal: string,
    columns: readonly PartitionColumn[],
    maps: readonly PartitionMap[],
  ): void {
    const seen = this.checked.get(maps) ?? new WeakSet();
    if (seen.has(columns)) return;
    this.checked.set(maps, seen.add(columns));
    for (const map of maps) {
      for (const [name, value] of Object.entries(map)) {
        const column = columns[grantColumnIndex(columns, name)];
        if (column) this.checkValue(table, principal, column, value);
        else if (this.reported.first(`c\u0000${table}\u0000${name}`))
          this.logger.warn(
            'a grant names a column the table is not partitioned by: that partition map allows nothing',
            {
              table,
              column: name,
              principal,
              partitionColumns: columns.map((c) => c.logical),
            },
          );
      }
    }
  }

  private checkValue(table: string, principal: string, column: PartitionColumn, value: PartitionValue): void {
    const parses = grantCanonicals(grantKeysFor(column.type), value) !== undefined;
    const hiveNull = value === HIVE_NULL_PARTITION;
    if (parses && !hiveNull) return;
    const shown =
      typeof value === 'string' && value.length > MAX_VALUE_CHARS
        ? `${value.slice(0, MAX_VALUE_CHARS)}…`
        : value;
    const key = `v\u0000${principal}\u0000${table}\u0000${column.logical}\u0000${String(shown)}`;
    if (!this.reported.first(key)) return;
    this.logger.warn(
      parses
        ? `a grant value is the folder name of the null partition: it matches only that text, never null`
        : `a grant value is not a value of its column's type: it matches nothing`,
      {
        table,
        column: column.logical,
        value: shown,
        type: column.type,
        principal,
        ...(hiveNull || value === 'null' ? { hint: NULL_HINT } : {}),
      },
    );
  }
}
