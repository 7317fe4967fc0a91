/**
 * A subset of the corpus replayed through S3 (s3rver on loopback) via deltaStorageFromBackend:
 * same snapshots as from the file system, checkpoints read with ranged GETs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deltaStorageFromBackend } from '../../lambda/delta/delta-storage';
import { loadSnapshot, refreshSnapshot } from '../../lambda/delta/load-snapshot';
import type { Snapshot } from '../../lambda/delta/snapshot';
import { corpusDir, corpusMissing, corpusPresent } from '../helpers/delta-corpus';
import { fsDeltaStorage } from '../helpers/delta-fs-storage';
import { type LocalS3, startLocalS3 } from '../helpers/delta-s3';
import { uploadDir } from '../helpers/s3-servers';
import { withReason } from '../helpers/skips';

const tables = [
  'delta-dv-with-columnmapping',
  'delta-rs-checkpoint-v2-table',
  'delta-v2-checkpoint-parquet',
  'kernel-v1-multi-part-partitioned-struct-stats-only',
  'delta-rs-table_failed_last_checkpoint_update',
  'kernel-compacted-log-files-table',
  'dat-multi_partitioned',
];

function files(s: Snapshot): string[] {
  const out: string[] = [];
  s.forEachFile((p, t) => out.push(`${p} ${t < 0 ? t : JSON.stringify(s.tupleValues(t))}`));
  return out.sort();
}

describe.skipIf(!corpusPresent)(withReason('Delta replay through S3', corpusMissing), () => {
  let s3: LocalS3;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'delta-s3-'));
    s3 = await startLocalS3(dir, ['lake']);
    for (const t of tables) await uploadDir(s3.client, 'lake', `gold/${t}/`, path.join(corpusDir, t));
  });
  afterAll(async () => {
    await s3?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const t of tables) {
    it(`${t}: same snapshot from S3 as from the file system`, async () => {
      const uri = `s3://lake/gold/${t}`;
      const fromS3 = await loadSnapshot(deltaStorageFromBackend(s3.backend, 'lake', `gold/${t}`), {
        tableUri: uri,
      });
      const fromFs = await loadSnapshot(fsDeltaStorage(path.join(corpusDir, t)), { tableUri: uri });
      expect(fromS3.version).toBe(fromFs.version);
      expect(fromS3.activeFileCount).toBe(fromFs.activeFileCount);
      expect(files(fromS3)).toEqual(files(fromFs));
      expect(fromS3.loadInfo.checkpointVersion).toBe(fromFs.loadInfo.checkpointVersion);
    });
  }

  it('refreshes from S3 without change when nothing was committed', async () => {
    const t = tables[0]!;
    const storage = deltaStorageFromBackend(s3.backend, 'lake', `gold/${t}`);
    const snap = await loadSnapshot(storage, { tableUri: `s3://lake/gold/${t}` });
    const before = s3.traffic.requests;
    const r = await refreshSnapshot(snap, storage, { tableUri: `s3://lake/gold/${t}` });
    expect(r.outcome).toBe('unchanged');
    expect(s3.traffic.requests - before).toBe(1);
  });
});
