/**
 * A Parquet page header read from an untrusted checkpoint, checked before any of its numbers
 * sizes a buffer or positions a reader. hyparquet's header parser takes whatever the thrift
 * bytes say: a field can be missing (undefined, then NaN offsets and decoders that never end),
 * negative, or far larger than the page. Anything off is a broken file, refused here.
 */
import { parquetHeader } from 'hyparquet/src/column.js';

export type PageHeader = ReturnType<typeof parquetHeader>;

/**
 * The most values one page may declare. Writers cut pages at 20,000 rows (parquet-mr's and
 * arrow-rs's row-count limit) or about 1 MiB; this leaves 800× room while keeping the level and
 * index arrays sized from it under 64 MiB.
 */
export const MAX_PAGE_VALUES = 16 * 1024 * 1024;

const isCount = (n: unknown, max: number): n is number =>
  typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 && n <= max;

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
