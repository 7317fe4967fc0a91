/** The fixture writer produces tables that our replay, a naive replay and hyparquet all read. */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSnapshot } from '../../lambda/delta/load-snapshot';
import {
  directoryTarget,
  escapeHivePathName,
  logPathOf,
  partitionFolder,
  writeDemoTable,
} from '../../lambda/local/delta-writer';
import { fsDeltaStorage } from '../helpers/delta-fs-storage';
import { referenceReplay } from '../helpers/delta-reference-replay';

const dir = mkdtempSync(path.join(tmpdir(), 'delta-demo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const tableUri = 's3://bucket/demo';

describe('delta writer', () => {
  it('writes the demo table: 2 partition columns, >= 6 live data files over >= 3 partitions, a checkpoint', async () => {
    await writeDemoTable(directoryTarget(dir), () => 1_700_000_000_000);
    const snap = await loadSnapshot(fsDeltaStorage(dir), { tableUri });
    expect(snap.version).toBe(4);
    expect(snap.loadInfo.checkpointVersion).toBe(2);
    expect(snap.partitionColumns.map((c) => c.logical)).toEqual(['date', 'region']);
    expect(snap.activeFileCount).toBeGreaterThanOrEqual(6);
    expect(snap.tupleCount).toBeGreaterThanOrEqual(3);
    const ref = await referenceReplay(dir, tableUri);
    const ours: string[] = [];
    snap.forEachFile((p) => ours.push(p));
    expect(ours.sort()).toEqual([...ref.files.keys()].sort());
    expect(readdirSync(path.join(dir, 'date=2024-01-02'))).toContain('region=__HIVE_DEFAULT_PARTITION__');
  });

  it('writes real Parquet data files holding the data columns', async () => {
    const snap = await loadSnapshot(fsDeltaStorage(dir), { tableUri });
    let rows = 0;
    const files: string[] = [];
    snap.forEachFile((p) => files.push(p));
    for (const f of files) {
      const b = readFileSync(path.join(dir, f));
      const data = await parquetReadObjects({
        file: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer,
      });
      expect(Object.keys(data[0]!)).toEqual(['id', 'symbol', 'price']);
      rows += data.length;
    }
    // Live: 01/us 4, 02/eu 3, 02/us 2, 02/null 1, 03/eu 2, 03/us 2, and 01/eu's compacted 5.
    expect(rows).toBe(19);
  });

  it('escapes partition folders like Spark and encodes add.path once more', () => {
    expect(escapeHivePathName('A/A')).toBe('A%2FA');
    expect(partitionFolder(['x'], { x: '+ =%0' })).toBe('x=+ %3D%250/');
    expect(logPathOf('x=+ %3D%250/f.parquet')).toBe('x=+%20%253D%25250/f.parquet');
    expect(partitionFolder(['x'], { x: null })).toBe('x=__HIVE_DEFAULT_PARTITION__/');
  });
});
