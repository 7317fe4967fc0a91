/**
 * Adds whose stats make each commit line ~1.5 KB: 12,000 of them are a ~20 MB commit, more than
 * loopback socket buffers absorb from a client that stopped reading.
 */
import type { AddFile } from '../../lambda/local/delta-writer';

export function wideAdds(n: number): AddFile[] {
  const stats = JSON.stringify({
    numRecords: 1,
    minValues: { id: 1, s: 'a'.repeat(700) },
    maxValues: { id: 2, s: 'z'.repeat(700) },
    nullCount: { id: 0 },
  });
  return Array.from({ length: n }, (_, i) => ({
    path: `part-${i}.parquet`,
    partitionValues: {},
    size: 1,
    modificationTime: 0,
    dataChange: true,
    stats,
  }));
}
