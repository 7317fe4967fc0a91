/**
 * Hostile checkpoints: a footer's numbers and a page's run-length levels are the writer's word, and
 * a few bytes of them must not make the proxy allocate or spin out of proportion to the file (a
 * 20 KB checkpoint held the event loop 13 s, a 4 KB one decoded 64M level slots, a 2-file snapshot
 * reserved 134 MB of index).
 */
import { type FileMetaData, parquetMetadata } from 'hyparquet';
import { ByteWriter } from 'hyparquet-writer';
import { writeMetadata } from 'hyparquet-writer/src/metadata.js';
import { serializeTCompactProtocol } from 'hyparquet-writer/src/thrift.js';
import { describe, expect, it } from 'vitest';
import { loadSnapshot } from '../../lambda/delta/load-snapshot';
import { openParquet, readLeaves } from '../../lambda/delta/parquet-leaves';
import { MemoryDeltaStorage, metaData, protocolV1 } from '../helpers/delta-memory-storage';
import { longestLoopBlock } from '../helpers/loop-watch';
import { varint } from '../helpers/varint';

const tableUri = 's3://bucket/t';
const CHECKPOINT = '_delta_log/00000000000000000000.checkpoint.parquet';

/** The file with its footer replaced by `change(footer)`, re-serialized (pages untouched). */
function refooter(bytes: Uint8Array, change: (m: FileMetaData) => void): Uint8Array {
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const m = parquetMetadata(ab);
  const footerLen = new DataView(ab).getUint32(bytes.byteLength - 8, true);
  const body = bytes.subarray(0, bytes.byteLength - 8 - footerLen);
  change(m);
  const w = new ByteWriter();
  writeMetadata(w, m);
  w.appendBytes(new TextEncoder().encode('PAR1'));
  const footer = new Uint8Array(w.getBuffer());
  const out = new Uint8Array(body.byteLength + footer.byteLength);
  out.set(body, 0);
  out.set(footer, body.byteLength);
  return out;
}

async function smallTable(): Promise<MemoryDeltaStorage> {
  const s = await new MemoryDeltaStorage().checkpoint(0, [
    { path: 'region=EU/a.parquet', partitionValues: { region: 'EU' } },
    { path: 'region=US/b.parquet', partitionValues: { region: 'US' } },
  ]);
  s.commit(0, [protocolV1, metaData(['region'])]);
  return s;
}

describe('a checkpoint footer with absurd counts', () => {
  it('a row group claiming 64M rows does not hold the event loop while its small actions are read', async () => {
    const s = await smallTable();
    const cp = s.files.get(CHECKPOINT)!;
    s.put(
      CHECKPOINT,
      refooter(cp, (m) => {
        for (const rg of m.row_groups) rg.num_rows = 64n * 1024n * 1024n;
      }),
    );
    expect(s.files.get(CHECKPOINT)!.byteLength).toBeLessThan(20_000);
    const { longestBlockMs } = await longestLoopBlock(() =>
      loadSnapshot(s, { tableUri }).then(
        () => 'loaded',
        (e: Error) => e.message,
      ),
    );
    expect(longestBlockMs).toBeLessThan(200);
  }, 120_000);

  it('an add.path column claiming 10M values does not make a 2-file snapshot hold hundreds of MB', async () => {
    const s = await smallTable();
    const cp = s.files.get(CHECKPOINT)!;
    s.put(
      CHECKPOINT,
      refooter(cp, (m) => {
        for (const rg of m.row_groups)
          for (const c of rg.columns)
            if (c.meta_data?.path_in_schema.join('.') === 'add.path') {
              c.meta_data.num_values = 10_000_000n;
              if (c.meta_data.statistics) c.meta_data.statistics.null_count = undefined;
            }
      }),
    );
    expect(s.files.get(CHECKPOINT)!.byteLength).toBeLessThan(20_000);
    const snapshot = await loadSnapshot(s, { tableUri });
    expect(snapshot.fileCount).toBe(2);
    expect(snapshot.estimatedBytes).toBeLessThan(1024 * 1024);
  }, 120_000);
});

/**
 * An UNCOMPRESSED v1 data page of `count` slots whose repetition and definition levels are each
 * one RLE run of zeros (every slot a null row): a few bytes, whatever `count`.
 */
function levelBombPage(count: number): Uint8Array {
  const run = [...varint(count * 2), 0];
  const levels = [run.length, 0, 0, 0, ...run];
  const body = Uint8Array.from([...levels, ...levels]);
  const w = new ByteWriter();
  serializeTCompactProtocol(w, {
    field_1: 0, // DATA_PAGE
    field_2: body.byteLength,
    field_3: body.byteLength,
    field_5: { field_1: count, field_2: 0, field_3: 3, field_4: 3 }, // PLAIN values, RLE levels
  });
  const header = new Uint8Array(w.getBuffer());
  const page = new Uint8Array(header.byteLength + body.byteLength);
  page.set(header, 0);
  page.set(body, header.byteLength);
  return page;
}

/** The checkpoint with the chunk of `column` replaced by `pages` (appended before the footer). */
function withChunk(bytes: Uint8Array, column: string, pages: Uint8Array[]): Uint8Array {
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const footerLen = new DataView(ab).getUint32(bytes.byteLength - 8, true);
  const bodyEnd = bytes.byteLength - 8 - footerLen;
  const chunkLen = pages.reduce((n, p) => n + p.byteLength, 0);
  const grown = new Uint8Array(bodyEnd + chunkLen + 8 + footerLen);
  grown.set(bytes.subarray(0, bodyEnd), 0);
  let o = bodyEnd;
  for (const p of pages) {
    grown.set(p, o);
    o += p.byteLength;
  }
  grown.set(bytes.subarray(bodyEnd), o);
  return refooter(grown, (m) => {
    for (const rg of m.row_groups)
      for (const c of rg.columns) {
        const md = c.meta_data!;
        if (md.path_in_schema.join('.') !== column) continue;
        md.codec = 'UNCOMPRESSED';
        md.encodings = ['PLAIN', 'RLE'];
        md.data_page_offset = BigInt(bodyEnd);
        md.dictionary_page_offset = undefined;
        md.total_compressed_size = BigInt(chunkLen);
        md.total_uncompressed_size = BigInt(chunkLen);
        md.num_values = BigInt(pages.length * 16 * 1024 * 1024);
        md.statistics = undefined;
        md.encoding_stats = undefined;
      }
  });
}

describe('a checkpoint column chunk of run-length levels', () => {
  const FEATURES = 'protocol.readerFeatures.list.element';

  it('a repeated leaf is not decoded to more level slots than its file could honestly hold', async () => {
    const s = await smallTable();
    const pages = Array.from({ length: 4 }, () => levelBombPage(16 * 1024 * 1024));
    const bytes = withChunk(s.files.get(CHECKPOINT)!, FEATURES, pages);
    s.put(CHECKPOINT, bytes);
    // Four pages of 33 bytes each declare 64M slots; nothing caps a repeated leaf but the chunk's
    // end, so N such pages (33·N bytes) decode to N·16M slots, 2 bytes each (levels), plus copies.
    expect(pages.reduce((n, p) => n + p.byteLength, 0)).toBeLessThan(200);
    const io = { requests: 0, bytes: 0 };
    const file = await openParquet(s, CHECKPOINT, bytes.byteLength, io);
    const leaves = await readLeaves(s, file, 0, [FEATURES.split('.')], io).then(
      (l) => l,
      (e: Error) => e,
    );
    const slots = leaves instanceof Error ? 0 : leaves[0]!.n;
    // Expected: refused (a DeltaLogError) or bounded by the file; actual: 64M slots (128 MB of levels).
    expect(slots).toBeLessThan(100 * bytes.byteLength);
  }, 120_000);
});
