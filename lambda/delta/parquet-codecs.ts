/**
 * The Parquet page decompressors handed to hyparquet. Same codecs as hyparquet-compressors'
 * `compressors`, assembled here so the Lambda bundle stays small and its init stays fast:
 * - GZIP and BROTLI use node:zlib (native, and no 80 KB brotli dictionary in the bundle);
 * - ZSTD uses fzstd and LZ4 / LZ4_RAW hyparquet-compressors' own decoder, as before;
 * - SNAPPY uses hysnappy's WebAssembly decoder, instantiated on the first snappy page rather
 *   than at module load (hyparquet-compressors compiles it at import time).
 *
 * A checkpoint is untrusted input, and a page names its own uncompressed size: every codec is
 * held to that claim, and the claim to MAX_PAGE_BYTES, before anything is allocated. Without the
 * bound a few hundred bytes could make the reader allocate gigabytes (snappy's WebAssembly memory
 * never shrinks again; a zstd frame header sizes fzstd's window; gzip and brotli members repeat).
 */
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { decompress as decompressZstd } from 'fzstd';
import type { Compressors } from 'hyparquet';
import { decompressLz4, decompressLz4Raw } from 'hyparquet-compressors/src/lz4.js';
import { snappyUncompressor } from 'hysnappy';
import { isCount } from './parquet-checks';

type Decompress = (input: Uint8Array, outputLength: number) => Uint8Array;

/**
 * The largest page a checkpoint may decompress to. Writers cut pages at about 1 MiB (parquet-mr's
 * and arrow-rs's defaults; a page grows past it only by one value), so this leaves 64× room.
 */
export const MAX_PAGE_BYTES = 64 * 1024 * 1024;

/** Refuses a claimed size outside [0, MAX_PAGE_BYTES] before the codec sees the page. */
function bounded(decompress: Decompress): Decompress {
  return (input, outputLength) => {
    if (!isCount(outputLength, MAX_PAGE_BYTES))
      throw new Error(
        `a page claims ${outputLength} uncompressed bytes (at most ${MAX_PAGE_BYTES} are read)`,
      );
    return decompress(input, outputLength);
  };
}

/** node:zlib stops at the page's claim instead of inflating whatever the stream holds. */
function zlibHeldTo(inflate: typeof gunzipSync): Decompress {
  return (input, outputLength) => {
    try {
      return inflate(input, { maxOutputLength: Math.max(outputLength, 1) });
    } catch (e) {
      if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE')
        throw new Error(`a page decompresses past its claimed ${outputLength} bytes`);
      throw e;
    }
  };
}

/**
 * How much a Parquet file may decompress to in all, per byte of the file. Each
 * page is held to MAX_PAGE_BYTES; without a total, a small file of many bomb pages (zstd and
 * brotli pass 1000:1) could still make a load decompress gigabytes. The corpus's checkpoints
 * decompress to at most 2.4× their compressed pages; 100× leaves room for any writer.
 */
const MAX_INFLATION = 100;
/** The budget of a small file (its footer alone can be most of it). */
const MIN_INFLATION_BUDGET = 16 * 1024 * 1024;

/** The budget of a file of `size` bytes: MAX_INFLATION× its size, and at least 16 MiB. */
export function inflationBudget(size: number): number {
  return Math.max(MIN_INFLATION_BUDGET, MAX_INFLATION * size);
}

/**
 * The codecs, sharing one budget of `limitBytes` decompressed bytes: one set per file read, so a
 * file's pages together stop at its budget.
 */
export function codecsWithin(limitBytes: number): Compressors {
  let left = limitBytes;
  const spend =
    (decompress: Decompress | undefined): Decompress =>
    (input, outputLength) => {
      left -= outputLength;
      if (left < 0)
        throw new Error(
          `the file decompresses past ${limitBytes} bytes (${MAX_INFLATION}× its size, at least ${MIN_INFLATION_BUDGET / 1024 / 1024} MiB)`,
        );
      return decompress!(input, outputLength);
    };
  const out: Compressors = {};
  for (const [codec, decompress] of Object.entries(parquetCodecs))
    out[codec as keyof Compressors] = spend(decompress);
  return out;
}

let snappy: Decompress | undefined;

export const parquetCodecs: Compressors = {
  SNAPPY: bounded((input, outputLength) => {
    snappy ??= snappyUncompressor();
    return snappy(input, outputLength);
  }),
  GZIP: bounded(zlibHeldTo(gunzipSync)),
  BROTLI: bounded(zlibHeldTo(brotliDecompressSync)),
  // Given the output buffer, fzstd writes into it and sizes nothing from the frame header.
  ZSTD: bounded((input, outputLength) => decompressZstd(input, new Uint8Array(outputLength))),
  LZ4: bounded(decompressLz4),
  LZ4_RAW: bounded(decompressLz4Raw),
};
