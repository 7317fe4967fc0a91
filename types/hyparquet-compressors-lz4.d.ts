// hyparquet-compressors ships types for its index only; its LZ4 module is imported on its own
// (lambda/delta/parquet-codecs.ts) so that the bundle does not carry its brotli dictionary.
declare module 'hyparquet-compressors/src/lz4.js' {
  export function decompressLz4(input: Uint8Array, outputLength: number): Uint8Array;
  export function decompressLz4Raw(input: Uint8Array, outputLength: number): Uint8Array;
}
