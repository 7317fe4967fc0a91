/**
 * The filtered checkpoint's footer (the thrift FileMetaData) is what hyparquet-writer's own
 * finish() writes for the same row groups, whatever way CheckpointWriter gets there: one row
 * group, a group boundary, the last count whose row-group list has its length in the list
 * header's nibble (14) and the first that carries it in a varint (15). And pyarrow, the reader
 * most Delta clients sit on, reads the file back as the rows written.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parquetMetadata } from 'hyparquet';
import { ByteWriter, type ParquetWriter } from 'hyparquet-writer';
import { describe, expect, it } from 'vitest';
import type { CheckpointRow } from '../../lambda/log-view/checkpoint-rows';
import { CheckpointWriter, type WrittenCheckpoint } from '../../lambda/log-view/checkpoint-writer';
import { pythonPackageMissing, withReason } from '../helpers/skips';
import { tempDir } from '../helpers/temp-dir';
import { parquetRows } from '../helpers/virtual-log-replay';

const dv = {
  storageType: 'i',
  pathOrInlineDv: 'wi5b=000010000siXQKl0rr91000f55c8Xg0@fTk',
  sizeInBytes: 34,
  cardinality: 2,
};

/** `n` actions: protocol, metaData and a tombstone first (their columns keep min/max statistics), then adds. */
function actions(n: number): CheckpointRow[] {
  const head: CheckpointRow[] = [
    {
      protocol: {
        minReaderVersion: 3,
        minWriterVersion: 7,
        readerFeatures: ['deletionVectors'],
        writerFeatures: [],
      },
    },
    {
      metaData: {
        id: 't',
        format: { provider: 'parquet', options: {} },
        schemaString: '{"type":"struct","fields":[]}',
        partitionColumns: ['a'],
        configuration: { 'delta.enableDeletionVectors': 'true' },
        createdTime: 5,
      },
    },
    {
      remove: {
        path: 'a=1/gone.parquet',
        deletionTimestamp: 9,
        dataChange: false,
        size: 3,
        deletionVector: dv,
      },
    },
  ];
  const rows = head.slice(0, n);
  for (let i = rows.length; i < n; i++)
    rows.push({
      add: {
        path: `a=${i % 3}/f${i}.parquet`,
        partitionValues: { a: String(i % 3) },
        size: 1000 + i,
        modificationTime: 1_700_000_000_000 + i,
        dataChange: true,
        ...(i % 5 === 0 ? { stats: `{"numRecords":${i}}` } : {}),
        ...(i % 13 === 0 ? { deletionVector: dv } : {}),
      },
    });
  return rows;
}

async function written(n: number): Promise<{ w: CheckpointWriter; out: WrittenCheckpoint }> {
  const w = new CheckpointWriter();
  await w.push(actions(n));
  return { w, out: await w.finish() };
}

const metadataLength = (b: Uint8Array) =>
  new DataView(b.buffer, b.byteOffset + b.length - 8, 4).getUint32(0, true);
const arrayBuffer = (b: Uint8Array) =>
  b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

/**
 * The same file with the footer hyparquet-writer's ParquetWriter.finish() writes for the writer's
 * row groups (its state, read through CheckpointWriter's private field), after the same data pages.
 */
function withLibraryFooter(w: CheckpointWriter, bytes: Uint8Array): Uint8Array {
  const pw = (w as unknown as { pw: ParquetWriter }).pw;
  const footer = new ByteWriter();
  pw.writer = footer;
  pw.finish();
  const body = bytes.subarray(0, bytes.length - 8 - metadataLength(bytes));
  const file = new Uint8Array(body.length + footer.offset);
  file.set(body);
  file.set(footer.getBytes(), body.length);
  return file;
}

// Rows per group: 1,024, 2,048, 4,096, then 8,192 (CheckpointWriter).
const GROUPS: [rows: number, groups: number][] = [
  [1, 1],
  [1_024, 1],
  [1_025, 2],
  [7_168 + 11 * 8_192, 14],
  [7_168 + 11 * 8_192 + 1, 15],
];

describe('the filtered checkpoint footer', () => {
  for (const [n, groups] of GROUPS)
    it(`is hyparquet-writer's own for ${n.toLocaleString('en')} actions (${groups} row group${groups === 1 ? '' : 's'})`, async () => {
      const { w, out } = await written(n);
      const library = withLibraryFooter(w, out.bytes);

      const ours = parquetMetadata(arrayBuffer(out.bytes));
      expect(ours.row_groups.length).toBe(groups);
      expect(ours.num_rows).toBe(BigInt(n));
      expect(ours).toEqual(parquetMetadata(arrayBuffer(library)));
      // The data pages are the same bytes: the rows are the same when the footer places them alike.
      // Read back in full for the small files (pyarrow reads a big one, below).
      if (n > 2_000) return;
      const json = (rows: unknown[]) =>
        JSON.stringify(rows, (_, v) => (typeof v === 'bigint' ? String(v) : v));
      const rows = await parquetRows(out.bytes);
      expect(rows.length).toBe(n);
      expect(json(rows)).toBe(json(await parquetRows(library)));
    });

  const pyarrowMissing = pythonPackageMissing('pyarrow');
  it.skipIf(pyarrowMissing !== undefined)(
    withReason(
      'reads back in pyarrow as the rows written, with the row groups hyparquet reads',
      pyarrowMissing,
    ),
    { timeout: 120_000 },
    async () => {
      const dir = tempDir('checkpoint-footer-');
      for (const [n, groups] of [GROUPS[2]!, GROUPS[4]!]) {
        const { out } = await written(n);
        const file = join(dir, `${n}.checkpoint.parquet`);
        writeFileSync(file, out.bytes);
        const script = [
          'import json, sys, pyarrow.parquet as pq',
          'f = pq.ParquetFile(sys.argv[1])',
          'm = f.metadata',
          't = f.read()',
          'rows = t.to_pylist()',
          'def kind(r): return next(k for k in ("add", "remove", "metaData", "protocol") if r[k] is not None)',
          'print(json.dumps({"created_by": m.created_by, "num_rows": m.num_rows,',
          '  "groups": [m.row_group(i).num_rows for i in range(m.num_row_groups)],',
          '  "kinds": [kind(r) for r in rows],',
          '  "adds": [[r["add"]["path"], r["add"]["size"], r["add"]["stats"], r["add"]["deletionVector"] is not None] for r in rows if r["add"]],',
          '  "remove": [r["remove"] for r in rows if r["remove"]][0]["path"],',
          '  "protocol": [r["protocol"] for r in rows if r["protocol"]][0]["readerFeatures"]}))',
        ].join('\n');
        const got = JSON.parse(
          execFileSync('python3', ['-c', script, file], { encoding: 'utf8', maxBuffer: 256 << 20 }),
        );

        const want = actions(n);
        const meta = parquetMetadata(arrayBuffer(out.bytes));
        expect(got.created_by).toBe(meta.created_by);
        expect(got.num_rows).toBe(n);
        expect(got.groups.length).toBe(groups);
        expect(got.groups).toEqual(meta.row_groups.map((g) => Number(g.num_rows)));
        expect(got.kinds).toEqual(want.map((r) => Object.keys(r)[0]));
        const adds = want.flatMap((r) => ('add' in r ? [r.add] : []));
        expect(JSON.stringify(got.adds)).toBe(
          JSON.stringify(adds.map((a) => [a.path, a.size, a.stats ?? null, a.deletionVector !== undefined])),
        );
        expect(got.remove).toBe('a=1/gone.parquet');
        expect(got.protocol).toEqual(['deletionVectors']);
      }
    },
  );
});
