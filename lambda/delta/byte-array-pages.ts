/**
 * A non-repeated BYTE_ARRAY leaf (a checkpoint's `add.path`) read page by page, row by row,
 * as raw byte slices: a page is decompressed when the cursor reaches it and dropped when it
 * moves on, so a row group's paths never exist all at once, neither as bytes nor as strings.
 * Handles PLAIN and dictionary-encoded pages (v1 and v2), which is what Delta writers produce;
 * callers check `streamable()` first and take hyparquet's general decoder otherwise.
 */
import type { CompressionCodec, Compressors } from 'hyparquet';
import { decompressPage } from 'hyparquet/src/datapage.js';
import { readRleBitPackedHybrid } from 'hyparquet/src/encoding.js';
import { DeltaLogError } from './delta-log-error';
import { readPageHeader } from './parquet-checks';

const STREAMABLE = new Set(['PLAIN', 'PLAIN_DICTIONARY', 'RLE_DICTIONARY', 'RLE', 'BIT_PACKED']);

/** Can a column chunk with these encodings be read by ByteArrayPages? */
export function streamable(encodings: readonly string[]): boolean {
  return encodings.every((e) => STREAMABLE.has(e));
}

const bitWidth = (v: number) => 32 - Math.clz32(v);

export class ByteArrayPages {
  /** The current value (after next() returned true): bytes[start, end). */
  bytes: Uint8Array = new Uint8Array(0);
  start = 0;
  end = 0;

  private readonly reader: { view: DataView; offset: number };
  /** Current data page: its values, definition levels (undefined: all present), slots. */
  private page: Uint8Array = new Uint8Array(0);
  private def: Uint8Array | undefined;
  private slot = 0;
  private slots = 0;
  private vo = 0;
  /** Dictionary-encoded page: indexes into the dictionary. */
  private idx: Int32Array | undefined;
  private vi = 0;
  private dict: { bytes: Uint8Array; start: Int32Array; end: Int32Array } | undefined;

  constructor(
    private readonly chunk: Uint8Array,
    private readonly codec: CompressionCodec,
    private readonly compressors: Compressors,
    private readonly maxDef: number,
    /** For error messages: file and column. */
    private readonly where: string,
  ) {
    this.reader = { view: new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength), offset: 0 };
  }

  /** Moves to the next row: true with the value in bytes/start/end, false for a null. */
  next(): boolean {
    while (this.slot === this.slots) {
      try {
        this.nextPage();
      } catch (e) {
        throw new DeltaLogError('Unreadable', `${this.where}: cannot decode page: ${(e as Error).message}`, {
          cause: e,
        });
      }
    }
    const d = this.def === undefined ? this.maxDef : this.def[this.slot]!;
    this.slot++;
    if (d !== this.maxDef) return false;
    if (this.idx !== undefined) {
      const k = this.idx[this.vi++]!;
      const dict = this.dict!;
      if (k >= dict.start.length)
        throw new DeltaLogError('Unreadable', `${this.where}: bad dictionary index`);
      this.bytes = dict.bytes;
      this.start = dict.start[k]!;
      this.end = dict.end[k]!;
      return true;
    }
    const page = this.page;
    const len =
      (page[this.vo]! |
        (page[this.vo + 1]! << 8) |
        (page[this.vo + 2]! << 16) |
        (page[this.vo + 3]! << 24)) >>>
      0;
    this.start = this.vo + 4;
    this.end = this.start + len;
    if (this.end > page.length)
      throw new DeltaLogError('Unreadable', `${this.where}: value runs past its page`);
    this.vo = this.end;
    this.bytes = page;
    return true;
  }

  private nextPage(): void {
    const r = this.reader;
    if (r.offset >= this.chunk.byteLength - 1) throw new Error('column chunk ended before its rows');
    const header = readPageHeader(r, this.chunk.byteLength);
    const body = this.chunk.subarray(r.offset, r.offset + header.compressed_page_size);
    r.offset += header.compressed_page_size;
    const size = Number(header.uncompressed_page_size);
    if (header.type === 'DICTIONARY_PAGE') {
      this.dict = plainByteArrays(this.decompress(body, size), header.dictionary_page_header!.num_values);
      return;
    }
    if (header.type !== 'DATA_PAGE' && header.type !== 'DATA_PAGE_V2') return;
    let page: Uint8Array;
    let count: number;
    let encoding: string;
    let def: Uint8Array | undefined;
    if (header.type === 'DATA_PAGE') {
      const h = header.data_page_header!;
      count = h.num_values;
      encoding = h.encoding;
      page = this.decompress(body, size);
      const lr = { view: new DataView(page.buffer, page.byteOffset, page.byteLength), offset: 0 };
      if (this.maxDef) def = readLevels(lr, this.maxDef, count, undefined);
      page = page.subarray(lr.offset);
    } else {
      const h = header.data_page_header_v2!;
      count = h.num_values;
      encoding = h.encoding;
      const lr = { view: new DataView(body.buffer, body.byteOffset, body.byteLength), offset: 0 };
      lr.offset = h.repetition_levels_byte_length;
      if (this.maxDef) def = readLevels(lr, this.maxDef, count, h.definition_levels_byte_length);
      const levelBytes = h.repetition_levels_byte_length + h.definition_levels_byte_length;
      const values = body.subarray(levelBytes);
      const valuesSize = size - levelBytes;
      page = h.is_compressed !== false && valuesSize ? this.decompress(values, valuesSize) : values;
    }
    this.def = def;
    this.slot = 0;
    this.slots = count;
    this.page = page;
    this.vo = 0;
    this.idx = undefined;
    if (encoding === 'PLAIN_DICTIONARY' || encoding === 'RLE_DICTIONARY') {
      if (!this.dict) throw new Error('dictionary-encoded page without a dictionary');
      let present = count;
      if (def) {
        present = 0;
        for (let i = 0; i < count; i++) if (def[i] === this.maxDef) present++;
      }
      const idx = new Int32Array(present);
      const width = page[0]!;
      const vr = { view: new DataView(page.buffer, page.byteOffset, page.byteLength), offset: 1 };
      if (width) readRleBitPackedHybrid(vr, width, idx, page.byteLength - 1);
      this.idx = idx;
      this.vi = 0;
    } else if (encoding !== 'PLAIN') throw new Error(`unexpected encoding ${encoding}`);
  }

  private decompress(body: Uint8Array, size: number): Uint8Array {
    return decompressPage(body, size, this.codec, this.compressors);
  }
}

/** Repetition or definition levels of a page (RLE / bit-packed hybrid). */
export function readLevels(
  reader: { view: DataView; offset: number },
  max: number,
  count: number,
  length: number | undefined,
): Uint8Array {
  const out = new Uint8Array(count);
  readRleBitPackedHybrid(reader, bitWidth(max), out, length);
  return out;
}

/** The n PLAIN byte arrays of a dictionary page, as offsets into it. */
function plainByteArrays(page: Uint8Array, n: number) {
  const start = new Int32Array(n);
  const end = new Int32Array(n);
  const view = new DataView(page.buffer, page.byteOffset, page.byteLength);
  let o = 0;
  for (let i = 0; i < n; i++) {
    const len = view.getUint32(o, true);
    start[i] = o + 4;
    end[i] = o + 4 + len;
    o += 4 + len;
  }
  if (o > page.length) throw new Error('dictionary page too short');
  return { bytes: page, start, end };
}
