/**
 * A partition map naming a column the table is not partitioned by (`regon`) allows nothing
 * (allowed-set.ts): most likely a typo in the grant, or a grant written for another partitioning.
 * Start-up cannot tell (the table's log has not been read), so the first request that meets one
 * says so in a warning, once per table and column. Checked once per (maps, snapshot) pair: both
 * arrays keep their identity while cached, so a request costs two weak-map lookups.
 */
import type { Logger } from '../core/logger';
import type { PartitionColumn } from '../delta/snapshot-view';
import type { PartitionMap } from './grant';

/** Table-and-column pairs already reported stay quiet; past this many the set starts over. */
const MAX_REPORTED = 1024;

export class GrantColumnCheck {
  private readonly checked = new WeakMap<readonly PartitionMap[], WeakSet<readonly PartitionColumn[]>>();
  private readonly reported = new Set<string>();

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
      for (const column of Object.keys(map)) {
        if (columns.some((c) => c.logical === column)) continue;
        const key = `${table}\u0000${column}`;
        if (this.reported.has(key)) continue;
        if (this.reported.size >= MAX_REPORTED) this.reported.clear();
        this.reported.add(key);
        this.logger.warn(
          'a grant names a column the table is not partitioned by: that partition map allows nothing',
          {
            table,
            column,
            principal,
            partitionColumns: columns.map((c) => c.logical),
          },
        );
      }
    }
  }
}
