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
} from '../../lambda/local/delta-writer';
import { writeDemoTable } from '../../lambda/local/demo-table';
import { fsDeltaStorage } from '../helpers/delta-fs-storage';
import { referenceReplay } from '../helpers/delta-reference-replay';

const dir = mkdtempSync(path.join(tmpdir(), 'delta-demo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const tableUri = 's3://bucket/demo';

describe('delta writer', () => {
  it('writes the demo table: 2 partition columns, >= 6 live data files over >= 3 partitions, a checkpoint', async () => {
    await writeDemoTable(directoryTarget(dir));
    const snap = await loadSnapshot(fsDeltaStorage(dir), { tableUri });
    expect(snap.version).toBe(3);
    expect(snap.loadInfo.checkpointVersion).toBe(2);
    expect(snap.partitionColumns.map((c) => c.logical)).toEqual(['region', 'date']);
    expect(snap.activeFileCount).toBeGreaterThanOrEqual(6);
    expect(snap.tupleCount).toBeGreaterThanOrEqual(3);
    const ref = await referenceReplay(dir, tableUri);
    const ours: string[] = [];
    snap.forEachFile((p) => ours.push(p));
    expect(ours.sort()).toEqual([...ref.files.keys()].sort());
    // The file removed after the checkpoint stays on storage as an orphan.
    expect(readdirSync(path.join(dir, 'region=APAC'))).toEqual(['date=2024-01-01']);
    expect(ours.some((p) => p.startsWith('region=APAC/'))).toBe(false);
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
      expect(Object.keys(data[0]!)).toEqual(['id', 'customer', 'amount']);
      rows += data.length;
    }
    // Five files of 5 rows, three of 3, one of 4; the removed APAC file (5 rows) is not live.
    expect(rows).toBe(33);
  });

  it('escapes partition folders like Spark and encodes add.path once more', () => {
    expect(escapeHivePathName('A/A')).toBe('A%2FA');
    expect(partitionFolder(['x'], { x: '+ =%0' })).toBe('x=+ %3D%250/');
    expect(logPathOf('x=+ %3D%250/f.parquet')).toBe('x=+%20%253D%25250/f.parquet');
    expect(partitionFolder(['x'], { x: null })).toBe('x=__HIVE_DEFAULT_PARTITION__/');
  });
});
