/**
 * The proxy's own Parquet decompressors (lambda/delta/parquet-codecs.ts, assembled to keep the
 * Lambda bundle small) decode exactly what hyparquet-compressors' set decodes: page by page on
 * synthetic input, and value by value on every Parquet file of the shared Delta corpus. A hostile
 * page (a huge claimed size, or a stream that inflates past its claim) is refused before the
 * memory is taken, and a checkpoint made of such pages fails closed.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { type Compressors, parquetMetadata, parquetReadObjects } from 'hyparquet';
import { compressors as reference } from 'hyparquet-compressors';
import { snappyCompress } from 'hysnappy';
import { describe, expect, it } from 'vitest';
import { DeltaLogError } from '../../lambda/delta/delta-log-error';
import { loadSnapshot } from '../../lambda/delta/load-snapshot';
import {
  codecsWithin,
  inflationBudget,
  MAX_PAGE_BYTES,
  parquetCodecs,
} from '../../lambda/delta/parquet-codecs';
import { corpusDir, corpusMissing } from '../helpers/delta-corpus';
import { MemoryDeltaStorage } from '../helpers/delta-memory-storage';
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

const MiB = 1024 * 1024;
/** 16 gzip members of 1 MiB of zeros each: 16 MiB out of about 16 KB in. */
const gzipBomb = Buffer.concat(Array.from({ length: 16 }, () => gzipSync(Buffer.alloc(MiB))));

describe('hostile pages', () => {
  it.each(Object.keys(parquetCodecs))(
    '%s refuses a page claiming more than MAX_PAGE_BYTES, or no size, before decoding it',
    (codec) => {
      for (const claim of [MAX_PAGE_BYTES + 1, 2 ** 31 - 1, -1, Number.NaN])
        expect(
          () => parquetCodecs[codec as keyof typeof parquetCodecs]!(gzipBomb, claim),
          String(claim),
        ).toThrow(/uncompressed bytes \(at most 67108864 are read\)/);
    },
  );

  it('gzip and brotli stop at the claimed size instead of inflating a bomb', () => {
    const brotliBomb = brotliCompressSync(Buffer.alloc(16 * MiB), {
      params: { [constants.BROTLI_PARAM_QUALITY]: 1 },
    });
    expect(brotliBomb.length).toBeLessThan(64 * 1024);
    expect(() => parquetCodecs.GZIP!(gzipBomb, 4096)).toThrow(
      'a page decompresses past its claimed 4096 bytes',
    );
    expect(() => parquetCodecs.BROTLI!(brotliBomb, 4096)).toThrow(
      'a page decompresses past its claimed 4096 bytes',
    );
  });

  it('zstd writes into a buffer of the claimed size, whatever its frame header says', () => {
    // 13 bytes: magic, a single-segment header whose Frame_Content_Size claims 1 GiB, and one
    // last RLE block of 4 zero bytes. Sized from its header, fzstd would allocate the 1 GiB.
    const frame = new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0xa0, 0, 0, 0, 0x40, 0x23, 0, 0, 0]);
    const out = parquetCodecs.ZSTD!(frame, 16);
    expect(out.byteLength).toBe(16);
    expect([...out.subarray(0, 4)]).toEqual([0, 0, 0, 0]);
  });

  it("one file's codecs share one budget, whatever the codec of each page", () => {
    const page = new Uint8Array(6000).fill(7);
    const codecs = codecsWithin(15_000);
    expect(Uint8Array.from(codecs.GZIP!(gzipSync(page), 6000))).toEqual(page);
    expect(Uint8Array.from(codecs.BROTLI!(brotliCompressSync(page), 6000))).toEqual(page);
    expect(() => codecs.GZIP!(gzipSync(page), 6000)).toThrow(/decompresses past 15000 bytes/);
    // Another file's read has a budget of its own.
    expect(Uint8Array.from(codecsWithin(15_000).GZIP!(gzipSync(page), 6000))).toEqual(page);
  });
});

describe('a checkpoint of hostile pages', () => {
  async function tableWithCheckpoint(compressGzip: (page: Uint8Array) => Uint8Array) {
    const adds = Array.from({ length: 50 }, (_, i) => ({
      path: `region=EU/part-${i}.parquet`,
      partitionValues: { region: 'EU' },
    }));
    const s = await new MemoryDeltaStorage().checkpoint(0, adds, {
      codec: 'GZIP',
      compressors: { GZIP: compressGzip },
    });
    // Only the checkpoint, as after log cleanup: no commit to fall back on.
    return s;
  }

  it('is read when its gzip pages are honest', async () => {
    const s = await tableWithCheckpoint((page) => gzipSync(page));
    const snapshot = await loadSnapshot(s, { tableUri: 's3://bucket/t' });
    expect(snapshot.fileCount).toBe(50);
  });

  it('fails closed when its honest pages together decompress past 100× its size', async () => {
    // 20 MB of paths that gzip 1000:1: every page is within its claim, the file is ~50 KB.
    const adds = Array.from({ length: 200 }, (_, i) => ({
      path: `region=EU/${'x'.repeat(100_000)}-${i}.parquet`,
      partitionValues: { region: 'EU' },
    }));
    const s = await new MemoryDeltaStorage().checkpoint(0, adds, {
      codec: 'GZIP',
      compressors: { GZIP: (page) => gzipSync(page) },
    });
    const size = s.files.get('_delta_log/00000000000000000000.checkpoint.parquet')!.byteLength;
    expect(20_000_000).toBeGreaterThan(inflationBudget(size));
    const failure = await loadSnapshot(s, { tableUri: 's3://bucket/t' }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(DeltaLogError);
    expect(String((failure as Error).message)).toMatch(/the file decompresses past 16777216 bytes/);
  });

  it('fails closed, naming the bound, when a page inflates past its claimed size', async () => {
    const s = await tableWithCheckpoint((page) => Buffer.concat([gzipSync(page), gzipBomb]));
    const failure = await loadSnapshot(s, { tableUri: 's3://bucket/t' }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(DeltaLogError);
    expect(String((failure as Error).message)).toMatch(/decompresses past its claimed \d+ bytes/);
  });
});
