/**
 * The proxy's own Parquet decompressors (lambda/delta/parquet-codecs.ts, assembled to keep the
 * Lambda bundle small) decode exactly what hyparquet-compressors' set decodes: page by page on
 * synthetic input, and value by value on every Parquet file of the shared Delta corpus.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { type Compressors, parquetMetadata, parquetReadObjects } from 'hyparquet';
import { compressors as reference } from 'hyparquet-compressors';
import { snappyCompress } from 'hysnappy';
import { describe, expect, it } from 'vitest';
import { parquetCodecs } from '../../lambda/delta/parquet-codecs';
import { corpusDir, corpusMissing } from '../helpers/delta-corpus';
import { withReason } from '../helpers/skips';

const CORPUS = corpusDir;

const text = new TextEncoder().encode(
  Array.from({ length: 2000 }, (_, i) => `part-${i % 37}.snappy.parquet region=EU/${i}`).join('\n'),
);

describe('parquet codecs', () => {
  it.each([
    ['GZIP', gzipSync(text)],
    ['BROTLI', brotliCompressSync(text)],
    ['SNAPPY', snappyCompress(text)],
  ] as const)('decodes a %s page like hyparquet-compressors', (codec, compressed) => {
    const ours = parquetCodecs[codec]!(compressed, text.length);
    expect(Buffer.from(ours).equals(Buffer.from(text))).toBe(true);
    expect(Buffer.from(ours).equals(Buffer.from(reference[codec]!(compressed, text.length)))).toBe(true);
  });

  it('decodes a gzip page made of several members', () => {
    const half = text.length / 2;
    const twoMembers = Buffer.concat([gzipSync(text.subarray(0, half)), gzipSync(text.subarray(half))]);
    expect(Buffer.from(parquetCodecs.GZIP!(twoMembers, text.length)).equals(Buffer.from(text))).toBe(true);
  });

  it('offers every codec the reference set offers', () => {
    expect(Object.keys(parquetCodecs).sort()).toEqual(Object.keys(reference).sort());
  });

  it.skipIf(corpusMissing !== undefined)(
    withReason('reads every Parquet file of the Delta corpus to the same values', corpusMissing),
    async () => {
      const files = execFileSync('find', [CORPUS, '-name', '*.parquet'], { encoding: 'utf8' })
        .trim()
        .split('\n');
      const codecsSeen = new Set<string>();
      for (const f of files) {
        const b = readFileSync(f);
        const file = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
        for (const rg of parquetMetadata(file).row_groups)
          for (const c of rg.columns) codecsSeen.add(c.meta_data!.codec);
        const read = (compressors: Compressors) =>
          parquetReadObjects({ file, compressors, rowFormat: 'object' }).then((rows) =>
            JSON.stringify(rows, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)),
          );
        expect([f, await read(parquetCodecs)]).toEqual([f, await read(reference as Compressors)]);
      }
      // The corpus holds snappy and zstd pages (delta-rs table_with_column_mapping is zstd).
      expect([...codecsSeen]).toEqual(expect.arrayContaining(['SNAPPY', 'ZSTD']));
    },
  );
});
