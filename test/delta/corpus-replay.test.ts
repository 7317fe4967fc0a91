/**
 * Every table of the shared corpus replays to the same active files (with partition values),
 * DV files, CDC files and version as an independent naive replay, and to the counts
 * MANIFEST.md and the writers recorded.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parquetMetadata } from 'hyparquet';
import { describe, expect, it } from 'vitest';
import { loadSnapshot } from '../../lambda/delta/load-snapshot';
import type { Snapshot } from '../../lambda/delta/snapshot';
import { NO_TUPLE } from '../../lambda/delta/snapshot-view';
import { corpusDir, corpusMissing, corpusPresent, corpusTables, manifestRows } from '../helpers/delta-corpus';
import { fsDeltaStorage } from '../helpers/delta-fs-storage';
import { referenceReplay } from '../helpers/delta-reference-replay';
import { logVersion } from '../helpers/log-text';
import { withReason } from '../helpers/skips';

const rootOf = (t: string) => `s3://corpus-bucket/tables/${t}`;

function partitionValuesOf(s: Snapshot, relPath: string): Record<string, string | null> {
  const t = s.tupleOf(relPath);
  expect(t, `${relPath} has a tuple`).toBeGreaterThanOrEqual(0);
  const vals = s.tupleValues(t);
  return Object.fromEntries(s.partitionColumns.map((c, i) => [c.physical, vals[i] ?? null]));
}

function kinds(s: Snapshot) {
  const data = new Set<string>();
  const dv = new Set<string>();
  const cdc = new Set<string>();
  s.forEachFile((p) => {
    const k = s.kindOf(p);
    (k === 'data' ? data : k === 'deletionVector' ? dv : cdc).add(p);
  });
  return { data, dv, cdc };
}

describe.skipIf(!corpusPresent)(withReason('Delta corpus replay', corpusMissing), () => {
  const manifest = manifestRows();

  it('finds the 25 tables MANIFEST.md lists', () => {
    expect(corpusTables()).toHaveLength(25);
    expect(manifest.size).toBe(25);
  });

  for (const table of corpusTables()) {
    it(`${table}: matches the naive all-JSON replay and MANIFEST.md`, async () => {
      const dir = path.join(corpusDir, table);
      const snap = await loadSnapshot(fsDeltaStorage(dir), { tableUri: rootOf(table) });
      const ref = await referenceReplay(dir, rootOf(table));
      const { data, dv, cdc } = kinds(snap);

      expect(snap.version).toBe(ref.version);
      expect(snap.unsupportedReaderFeatures).toEqual([]);
      const refInside = [...ref.files.values()].filter((f) => !/^[a-z0-9]+:/.test(f.path));
      expect([...data].sort()).toEqual(refInside.map((f) => f.path).sort());
      expect(snap.activeFileCount).toBe(ref.files.size);
      for (const f of refInside)
        expect(partitionValuesOf(snap, f.path)).toEqual(nullsFor(snap, f.partitionValues));
      const refDv = new Set(refInside.map((f) => f.dvFile).filter((x): x is string => x !== undefined));
      expect([...dv].sort()).toEqual([...refDv].sort());
      expect([...cdc].sort()).toEqual([...ref.cdc].sort());

      const m = manifest.get(table)!;
      expect(snap.version).toBe(m.latest);
      expect(snap.activeFileCount).toBe(m.active);
      if (m.withDv !== undefined) expect(refInside.filter((f) => f.dvFile).length).toBe(m.withDv);
      for (const f of dv) expect(existsSync(path.join(dir, f)), `DV file ${f} exists`).toBe(true);
      for (const f of data) expect(existsSync(path.join(dir, f)), `data file ${f} exists`).toBe(true);
    });
  }

  it('agrees with _last_checkpoint.numOfAddFiles at each checkpoint version (time travel)', async () => {
    const expected: [string, number, number][] = [
      ['delta-basic-dv-with-checkpoint', 40, 2],
      ['delta-basic-with-inserts-overwrite-restore', 3, 4],
      ['delta-dv-partitioned-with-checkpoint', 10, 18],
      ['delta-dv-with-columnmapping', 10, 18],
      ['delta-multi-part-checkpoint', 1, 10],
      ['delta-rs-checkpoint-cdf-table', 3, 9],
      ['delta-rs-checkpoint-v2-table', 8, 7],
      ['delta-v2-checkpoint-parquet', 2, 4],
      ['kernel-v1-multi-part-partitioned-struct-stats-only', 5, 5],
    ];
    for (const [table, version, n] of expected) {
      const hint = JSON.parse(
        readFileSync(path.join(corpusDir, table, '_delta_log/_last_checkpoint'), 'utf8'),
      );
      expect(hint.numOfAddFiles ?? Number(hint.v2Checkpoint ? n : Number.NaN)).toBe(n);
      const snap = await loadSnapshot(fsDeltaStorage(path.join(corpusDir, table)), {
        tableUri: rootOf(table),
        version,
      });
      expect(snap.version, table).toBe(version);
      expect(snap.activeFileCount, table).toBe(n);
    }
  });

  it('agrees with numFiles in the latest .crc', async () => {
    for (const [table, version] of [
      ['delta-rs-checkpoint-v2-table', 9],
      ['delta-kernel-timestamp-partition-col-ISO8601', 0],
      ['delta-rs-table_with_column_mapping', 0],
      ['kernel-v1-multi-part-partitioned-struct-stats-only', 5],
    ] as const) {
      const crc = JSON.parse(
        readFileSync(path.join(corpusDir, table, `_delta_log/${logVersion(version)}.crc`), 'utf8'),
      );
      const snap = await loadSnapshot(fsDeltaStorage(path.join(corpusDir, table)), {
        tableUri: rootOf(table),
      });
      expect(snap.activeFileCount, table).toBe(crc.numFiles);
    }
  });

  it('time travels every version of every all-JSON-history table like the naive replay', async () => {
    for (const table of corpusTables()) {
      const dir = path.join(corpusDir, table);
      if (!existsSync(path.join(dir, '_delta_log/00000000000000000000.json'))) continue;
      const latest = manifest.get(table)!.latest;
      for (let v = 0; v <= latest; v++) {
        const snap = await loadSnapshot(fsDeltaStorage(dir), { tableUri: rootOf(table), version: v });
        const ref = await referenceReplay(dir, rootOf(table), v);
        expect(snap.version).toBe(v);
        expect(snap.activeFileCount, `${table}@${v}`).toBe(ref.files.size);
      }
    }
  });

  it('matches the row counts in _expected (data-file rows minus DV-deleted rows)', async () => {
    const cases: [string, string, number | undefined][] = [
      ['dat-basic_partitioned', 'expected/latest', undefined],
      ['dat-basic_partitioned', 'expected/v0', 0],
      ['dat-multi_partitioned', 'expected/latest', undefined],
      ['dat-multi_partitioned', 'expected/v1', 1],
      ['delta-basic-with-inserts-overwrite-restore', 'expected', undefined],
      ['delta-data-reader-partition-values', 'expected', undefined],
      ['delta-data-reader-timestamp_ntz-id-mode', 'expected', undefined],
      ['delta-dv-partitioned-with-checkpoint', 'expected', undefined],
      ['delta-dv-with-columnmapping', 'expected', undefined],
      ['delta-multi-part-checkpoint', 'expected', undefined],
      ['delta-v2-checkpoint-parquet', 'expected', undefined],
    ];
    let checked = 0;
    for (const [table, sub, version] of cases) {
      const expDir = path.join(corpusDir, '_expected', table, sub);
      if (!existsSync(expDir)) continue;
      const expectedRows = sumRows(
        readdirSync(expDir)
          .filter((f) => f.endsWith('.parquet'))
          .map((f) => path.join(expDir, f)),
      );
      const dir = path.join(corpusDir, table);
      const snap = await loadSnapshot(fsDeltaStorage(dir), {
        tableUri: rootOf(table),
        ...(version !== undefined ? { version } : {}),
      });
      const ref = await referenceReplay(dir, rootOf(table), version);
      const { data } = kinds(snap);
      const deleted = [...ref.files.values()].reduce((n, f) => n + (f.dvCardinality ?? 0), 0);
      expect(sumRows([...data].map((f) => path.join(dir, f))) - deleted, `${table} ${sub}`).toBe(
        expectedRows,
      );
      const meta = path.join(expDir, 'table_version_metadata.json');
      if (existsSync(meta)) expect(snap.version).toBe(JSON.parse(readFileSync(meta, 'utf8')).version);
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(9);
  });

  it('keeps the absolute path outside the root tracked but never authorizable (canonicalized-paths)', async () => {
    const dir = path.join(corpusDir, 'kernel-canonicalized-paths-special-a');
    const v0 = await loadSnapshot(fsDeltaStorage(dir), { tableUri: rootOf('x'), version: 0 });
    expect(v0.activeFileCount).toBe(1);
    expect(v0.fileCount).toBe(0);
    expect(v0.externalFiles()).toEqual(['file:/some/unqualified/with space/p@#h']);
    expect(v0.tupleOf('file:/some/unqualified/with space/p@#h')).toBe(NO_TUPLE);
    expect(v0.tupleOf('some/unqualified/with space/p@#h')).toBe(NO_TUPLE);
    // v1 removes it as file:/…: the same file once canonicalized, so nothing is left.
    const v1 = await loadSnapshot(fsDeltaStorage(dir), { tableUri: rootOf('x') });
    expect(v1.activeFileCount).toBe(0);
  });

  it('reads only the checkpoint columns it needs (never add.stats)', async () => {
    const table = 'kernel-v1-multi-part-partitioned-struct-stats-only';
    const storage = fsDeltaStorage(path.join(corpusDir, table));
    await loadSnapshot(storage, { tableUri: rootOf(table) });
    const parts = storage.reads.filter((r) => r.path.includes('.checkpoint.'));
    expect(parts.length).toBeGreaterThan(0);
    expect(parts.every((r) => r.start !== undefined)).toBe(true);
  });
});

function sumRows(files: string[]): number {
  let n = 0;
  for (const f of files) {
    const b = readFileSync(f);
    n += Number(
      parquetMetadata(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer).num_rows,
    );
  }
  return n;
}

/** The reference's partition values restricted to the partition columns (missing = null). */
function nullsFor(s: Snapshot, pv: Record<string, string | null>): Record<string, string | null> {
  return Object.fromEntries(s.partitionColumns.map((c) => [c.physical, pv[c.physical] ?? null]));
}
