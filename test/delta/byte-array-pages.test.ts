/**
 * A streamed BYTE_ARRAY leaf (how the checkpoint reader takes `add.path`) yields, row by row,
 * exactly the values hyparquet decodes: across pages, with nulls, plain or dictionary-encoded,
 * compressed or not.
 */
import { parquetReadObjects } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { describe, expect, it } from 'vitest';
import type { DeltaStorage } from '../../lambda/delta/delta-storage';
import { openParquet, readLeaves } from '../../lambda/delta/parquet-leaves';

function memoryStorage(bytes: Uint8Array): DeltaStorage {
  return {
    list: async () => [],
    read: async (_p, r) => (r ? bytes.subarray(r.start, r.end) : bytes),
    size: async () => bytes.byteLength,
  };
}

const utf8 = new TextDecoder();

async function streamed(buf: ArrayBuffer): Promise<{ values: (string | null)[]; encodings: string[] }> {
  const bytes = new Uint8Array(buf);
  const storage = memoryStorage(bytes);
  const io = { requests: 0, bytes: 0 };
  const file = await openParquet(storage, 'x.parquet', bytes.byteLength, io);
  const out: (string | null)[] = [];
  for (let rg = 0; rg < file.metadata.row_groups.length; rg++) {
    const [leaf] = await readLeaves(storage, file, rg, [['p']], io, new Set([0]));
    const pages = leaf!.pages;
    expect(pages, 'the leaf is streamed').toBeDefined();
    for (let r = 0; r < Number(file.metadata.row_groups[rg]!.num_rows); r++) {
      out.push(pages!.next() ? utf8.decode(pages!.bytes.subarray(pages!.start, pages!.end)) : null);
    }
  }
  const encodings = file.metadata.row_groups[0]!.columns[0]!.meta_data!.encodings;
  return { values: out, encodings };
}

describe('ByteArrayPages', () => {
  const cases = [
    { name: 'plain, snappy, many pages', codec: 'SNAPPY', distinct: true },
    { name: 'plain, uncompressed', codec: 'UNCOMPRESSED', distinct: true },
    { name: 'dictionary-encoded, snappy', codec: 'SNAPPY', distinct: false },
    { name: 'dictionary-encoded, uncompressed', codec: 'UNCOMPRESSED', distinct: false },
  ] as const;
  for (const c of cases) {
    it(`reads ${c.name} like hyparquet, nulls included`, async () => {
      const data = Array.from({ length: 5000 }, (_, i) =>
        i % 7 === 3 ? null : c.distinct ? `date=2024-01-0${i % 9}/part-${i}-é.parquet` : `v${i % 5}`,
      );
      const buf = parquetWriteBuffer({
        columnData: [{ name: 'p', data, type: 'STRING' }],
        codec: c.codec,
        pageSize: 4096,
        rowGroupSize: 2000,
      });
      const expected = (await parquetReadObjects({ file: buf })).map((r) => r.p as string | null);
      expect(expected).toEqual(data);
      const { values, encodings } = await streamed(buf);
      expect(values).toEqual(data);
      expect(encodings.includes('RLE_DICTIONARY')).toBe(!c.distinct);
    });
  }
});
