/**
 * The filtered checkpoint at a version where the real log has one: the real checkpoint's readable
 * adds, its scrubbed metaData and protocol, streamed from the source row group by row group into
 * the writer. Its tombstones (removes) are left out: only VACUUM reads them (readers take a
 * checkpoint's adds as the table's files), and placing them is not a function of the checkpoint
 * alone (one written without partitionValues is placed by its add in older commits, a deletion
 * vector is read from its file; a log cleanup or VACUUM deletes those). Only the checkpoint's own
 * files are read (and its adds' deletion vectors), so the same checkpoint and grant give the same
 * bytes on every instance, before and after a log cleanup.
 */
import type { CheckpointFile } from '../delta/checkpoint-reader';
import type { DeltaStorage } from '../delta/delta-storage';
import type { IoStats } from '../delta/parquet-leaves';
import { type ActionFilter, metaDataAction, protocolAction } from './action-filter';
import { type CheckpointRow, readCheckpointRows } from './checkpoint-rows';
import { CheckpointWriter, type WrittenCheckpoint } from './checkpoint-writer';
import type { TupleClassifier } from './file-grant';

export async function filterCheckpoint(
  storage: DeltaStorage,
  parts: readonly CheckpointFile[],
  filter: ActionFilter,
  classifier: TupleClassifier,
  io: IoStats = { requests: 0, bytes: 0 },
): Promise<WrittenCheckpoint> {
  const writer = new CheckpointWriter();
  await readCheckpointRows(
    storage,
    parts,
    classifier,
    async (rows) => {
      const out: CheckpointRow[] = [];
      for (const r of rows) {
        if ('add' in r) {
          const a = r.add.deletionVector ? await filter.add(r.add, true) : relativeAdd(filter, r.add);
          if (a) out.push({ add: a });
        } else if ('metaData' in r) out.push({ metaData: metaDataAction(r.metaData) });
        else out.push({ protocol: protocolAction(r.protocol) });
      }
      await writer.push(out);
    },
    io,
    (p) => filter.fileKey(p),
  );
  return writer.finish();
}

/** The common case without an await per row: no deletion vector. The row is the reader's own: updated in place. */
function relativeAdd(filter: ActionFilter, a: Record<string, unknown>): Record<string, unknown> | undefined {
  if (typeof a.path !== 'string') return undefined;
  const path = filter.relativePath(a.path);
  if (path === undefined) return undefined;
  a.path = path;
  return a;
}
