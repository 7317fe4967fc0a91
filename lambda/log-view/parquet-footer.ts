/**
 * The filtered checkpoint's footer (the thrift FileMetaData), encoded a row group at a time.
 * hyparquet-writer's finish() encodes every group's metadata (a column chunk per leaf) in one
 * synchronous call: for a million adds (125 groups, a footer of ~330 KB) 100-200 ms with the event
 * loop held. Here each group's RowGroup struct is encoded when the group is written (~1.5 ms), and
 * finish() splices the kept bytes into the footer's row_groups list.
 *
 * The encoding stays the library's own (writeMetadata): a group's struct is cut out of the footer
 * of that group alone, between what the footer of no group has before and after its empty list.
 * Thrift's compact protocol writes a list as a header byte (the size in the high nibble, or 15
 * and a varint after it for more than 14; the element type in the low nibble, 12 for a struct; the
 * library writes 0 for an empty list) and then the elements, so the footer of n groups is the
 * footer of none with that header replaced and the n structs after it: the same bytes as the
 * library's finish() (test/log-view/checkpoint-footer.test.ts).
 */
import type { FileMetaData, RowGroup } from 'hyparquet';
import { ByteWriter, type ParquetWriter } from 'hyparquet-writer';
import { writeMetadata } from 'hyparquet-writer/src/metadata.js';

const STRUCT = 12;

export class ParquetFooter {
  private readonly groups: Uint8Array[] = [];
  /** The footer of no row group (num_rows 0), and the offset of its row_groups list header. */
  private empty: { bytes: Uint8Array; list: number } | undefined;

  constructor(private readonly pw: ParquetWriter) {}

  /** Encodes a row group just written (the last of pw.row_groups). */
  addRowGroup(group: RowGroup): void {
    const one = this.metadata(0n, [group]);
    if (!this.empty) {
      const bytes = this.metadata(0n, []);
      let list = 0;
      while (bytes[list] === one[list]) list++;
      this.empty = { bytes, list };
    }
    const { bytes, list } = this.empty;
    const after = bytes.length - list - 1;
    if (
      bytes[list]! >> 4 !== 0 ||
      one[list] !== ((1 << 4) | STRUCT) ||
      !same(one.subarray(0, list), bytes.subarray(0, list)) ||
      !same(one.subarray(one.length - after), bytes.subarray(list + 1))
    )
      throw new Error('parquet footer: a row group does not frame as one list element');
    this.groups.push(one.slice(list + 1, one.length - after));
  }

  /** Writes the footer, its length and the closing magic: what ParquetWriter.finish() writes. */
  finish(): void {
    const pw = this.pw;
    // Page indexes and bloom filters would go before the footer; the checkpoint writes neither.
    if (pw.pendingIndexes.length) throw new Error('parquet footer: page indexes are not written');
    const all = this.metadata(pw.num_rows, []);
    const w = pw.writer;
    const start = w.offset;
    if (!this.empty) w.appendBytes(all);
    else {
      const after = this.empty.bytes.length - this.empty.list - 1;
      const list = all.length - after - 1;
      if (
        all[list] !== this.empty.bytes[this.empty.list] ||
        !same(all.subarray(list + 1), this.empty.bytes.subarray(this.empty.list + 1))
      )
        throw new Error('parquet footer: the row group list is not where it was');
      const n = this.groups.length;
      w.appendBytes(all.subarray(0, list));
      if (n > 14) {
        w.appendUint8((15 << 4) | STRUCT);
        w.appendVarInt(n);
      } else w.appendUint8((n << 4) | STRUCT);
      for (const g of this.groups) w.appendBytes(g);
      w.appendBytes(all.subarray(list + 1));
    }
    w.appendUint32(w.offset - start);
    w.appendUint32(0x31524150); // PAR1
    w.finish();
  }

  /** The library's encoding of the file's metadata with these row groups (without its length). */
  private metadata(num_rows: bigint, row_groups: RowGroup[]): Uint8Array {
    const pw = this.pw;
    const out = new ByteWriter();
    const meta = {
      version: 2,
      created_by: pw.createdBy,
      schema: pw.schema,
      num_rows,
      row_groups,
      key_value_metadata: pw.kvMetadata,
    } as FileMetaData;
    writeMetadata(out, meta, pw.statisticsTruncateLength);
    return out.getBytes().slice(0, out.offset - 4);
  }
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
