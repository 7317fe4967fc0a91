/**
 * The numbers of an untrusted Parquet file (a checkpoint), checked before any of them sizes a
 * buffer, positions a reader or becomes a range read. hyparquet decodes the thrift as it comes:
 * a field can be missing (undefined, then NaN offsets and decoders that never end), negative, or
 * far larger than the file. Anything off is a broken file, refused here.
 * - readPageHeader: each page header, as the page readers reach it;
 * - checkFooter: the footer's row and value counts, column paths, offsets and lengths, once.
 */
import type { FileMetaData } from 'hyparquet';
import { parquetHeader } from 'hyparquet/src/column.js';

export type PageHeader = ReturnType<typeof parquetHeader>;

/**
 * The most values one page may declare. Writers cut pages at 20,000 rows (parquet-mr's and
 * arrow-rs's row-count limit) or about 1 MiB; this leaves 800× room while keeping the level and
 * index arrays sized from it under 64 MiB.
 */
export const MAX_PAGE_VALUES = 16 * 1024 * 1024;

/**
 * The most rows one row group may claim. Arrays of a row group's length are made per column read;
 * real checkpoints hold up to a few million rows per group, and a table of this many files would
 * not fit the function's memory anyway.
 */
export const MAX_ROW_GROUP_ROWS = 64 * 1024 * 1024;

/** A number that is a safe integer in [0, max]. */
export const isCount = (n: unknown, max: number): n is number =>
  typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 && n <= max;

/** Thrift i64 fields (footer counts and offsets) arrive as bigint. */
const int64 = (n: unknown): unknown => (typeof n === 'bigint' ? Number(n) : n);

/** The next page header of a column chunk, whose bytes end at `end`; throws when it is not sane. */
export function readPageHeader(reader: { view: DataView; offset: number }, end: number): PageHeader {
  const header = parquetHeader(reader);
  const bad = (what: string) => new Error(`malformed page header: ${what}`);
  if (!isCount(header.compressed_page_size, end - reader.offset)) throw bad('compressed size');
  if (!isCount(header.uncompressed_page_size, Number.MAX_SAFE_INTEGER)) throw bad('uncompressed size');
  if (header.type === 'DICTIONARY_PAGE') {
    if (!isCount(header.dictionary_page_header?.num_values, MAX_PAGE_VALUES)) throw bad('dictionary values');
  } else if (header.type === 'DATA_PAGE') {
    if (!isCount(header.data_page_header?.num_values, MAX_PAGE_VALUES)) throw bad('values');
  } else if (header.type === 'DATA_PAGE_V2') {
    const h = header.data_page_header_v2;
    if (!h || !isCount(h.num_values, MAX_PAGE_VALUES)) throw bad('values');
    if (!isCount(h.num_nulls, h.num_values) || !isCount(h.num_rows, h.num_values)) throw bad('nulls or rows');
    const levels = header.compressed_page_size;
    if (
      !isCount(h.repetition_levels_byte_length, levels) ||
      !isCount(h.definition_levels_byte_length, levels)
    )
      throw bad('level lengths');
    const levelBytes = h.repetition_levels_byte_length + h.definition_levels_byte_length;
    if (levelBytes > levels || levelBytes > header.uncompressed_page_size) throw bad('level lengths');
  }
  return header;
}

/** Throws when the footer of a `size`-byte file is not sane. */
export function checkFooter(metadata: FileMetaData, size: number): void {
  const bad = (what: string) => new Error(`malformed footer: ${what}`);
  if (!Array.isArray(metadata.row_groups)) throw bad('row groups');
  for (const rg of metadata.row_groups) {
    if (!isCount(int64(rg.num_rows), MAX_ROW_GROUP_ROWS)) throw bad('row count');
    if (!Array.isArray(rg.columns)) throw bad('columns');
    for (const c of rg.columns) {
      const m = c.meta_data;
      if (!m) throw bad('a column chunk without metadata');
      const path = m.path_in_schema;
      if (!Array.isArray(path) || !path.every((p) => typeof p === 'string')) throw bad('column path');
      if (typeof m.type !== 'string' || typeof m.codec !== 'string' || !Array.isArray(m.encodings))
        throw bad(`column ${path.join('.')} type, codec or encodings`);
      if (!isCount(int64(m.num_values), Number.MAX_SAFE_INTEGER))
        throw bad(`column ${path.join('.')} values`);
      const nulls = m.statistics?.null_count;
      if (nulls !== undefined && !isCount(int64(nulls), Number.MAX_SAFE_INTEGER))
        throw bad(`column ${path.join('.')} null count`);
      const dict = m.dictionary_page_offset;
      if (!isCount(int64(m.data_page_offset), size) || (dict !== undefined && !isCount(int64(dict), size)))
        throw bad(`column ${path.join('.')} offsets`);
      const start = Math.min(Number(dict ?? m.data_page_offset), Number(m.data_page_offset));
      if (!isCount(int64(m.total_compressed_size), size - start))
        throw bad(`column ${path.join('.')} length`);
    }
  }
}
