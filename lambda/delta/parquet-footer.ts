/**
 * A checkpoint's Parquet footer, checked once before any of its numbers is used: the row and value
 * counts that size arrays, the offsets and lengths that become range reads, the column paths that
 * name leaves. hyparquet decodes the thrift as it comes, so a damaged or hostile footer can carry
 * missing fields, negative numbers or offsets past the file; anything off is a broken file.
 */
import type { FileMetaData } from 'hyparquet';

/**
 * The most rows one row group may claim. Arrays of a row group's length are made per column read;
 * real checkpoints hold up to a few million rows per group, and a table of this many files would
 * not fit the function's memory anyway.
 */
export const MAX_ROW_GROUP_ROWS = 64 * 1024 * 1024;

const isCount = (n: unknown, max: number): boolean => {
  const v = typeof n === 'bigint' ? Number(n) : n;
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= max;
};

/** Throws when the footer of a `size`-byte file is not sane. */
export function checkFooter(metadata: FileMetaData, size: number): void {
  const bad = (what: string) => new Error(`malformed footer: ${what}`);
  if (!Array.isArray(metadata.row_groups)) throw bad('row groups');
  for (const rg of metadata.row_groups) {
    if (!isCount(rg.num_rows, MAX_ROW_GROUP_ROWS)) throw bad('row count');
    if (!Array.isArray(rg.columns)) throw bad('columns');
    for (const c of rg.columns) {
      const m = c.meta_data;
      if (!m) throw bad('a column chunk without metadata');
      const path = m.path_in_schema;
      if (!Array.isArray(path) || !path.every((p) => typeof p === 'string')) throw bad('column path');
      if (typeof m.type !== 'string' || typeof m.codec !== 'string' || !Array.isArray(m.encodings))
        throw bad(`column ${path.join('.')} type, codec or encodings`);
      if (!isCount(m.num_values, Number.MAX_SAFE_INTEGER)) throw bad(`column ${path.join('.')} values`);
      const nulls = m.statistics?.null_count;
      if (nulls !== undefined && !isCount(nulls, Number.MAX_SAFE_INTEGER))
        throw bad(`column ${path.join('.')} null count`);
      const dict = m.dictionary_page_offset;
      if (!isCount(m.data_page_offset, size) || (dict !== undefined && !isCount(dict, size)))
        throw bad(`column ${path.join('.')} offsets`);
      const start = Math.min(Number(dict ?? m.data_page_offset), Number(m.data_page_offset));
      if (!isCount(m.total_compressed_size, size - start)) throw bad(`column ${path.join('.')} length`);
    }
  }
}
