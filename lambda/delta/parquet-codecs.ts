/**
 * The Parquet page decompressors handed to hyparquet. Same codecs as hyparquet-compressors'
 * `compressors`, assembled here so the Lambda bundle stays small and its init stays fast:
 * - GZIP and BROTLI use node:zlib (native, and no 80 KB brotli dictionary in the bundle);
 * - ZSTD uses fzstd and LZ4 / LZ4_RAW hyparquet-compressors' own decoder, as before;
 * - SNAPPY uses hysnappy's WebAssembly decoder, instantiated on the first snappy page rather
 *   than at module load (hyparquet-compressors compiles it at import time).
 */
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { decompress as decompressZstd } from 'fzstd';
import type { Compressors } from 'hyparquet';
import { decompressLz4, decompressLz4Raw } from 'hyparquet-compressors/src/lz4.js';
import { snappyUncompressor } from 'hysnappy';

type Decompress = (input: Uint8Array, outputLength: number) => Uint8Array;

let snappy: Decompress | undefined;

export const parquetCodecs: Compressors = {
  SNAPPY: (input, outputLength) => {
    snappy ??= snappyUncompressor();
    return snappy(input, outputLength);
  },
  GZIP: (input) => gunzipSync(input),
  BROTLI: (input) => brotliDecompressSync(input),
  ZSTD: (input) => decompressZstd(input),
  LZ4: decompressLz4,
  LZ4_RAW: decompressLz4Raw,
};
