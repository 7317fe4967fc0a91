/**
 * hyparquet as patched (patches/hyparquet+*.patch), where a file's numbers could make it loop
 * forever or grow without bound. The RLE / bit-packed hybrid decoder, which the checkpoint reader
 * and hyparquet's own page decoders (levels, dictionary indices) all go through: a run's length
 * may fill the output but never grow it, and a reader position that is not a number is refused
 * instead of read from byte 0 forever. The footer's schema walk: a negative child count is
 * refused instead of stepping back to the same element forever. Each case hung or exhausted
 * memory before the patch.
 */
import { readRleBitPackedHybrid } from 'hyparquet/src/encoding.js';
import { markGeoColumns } from 'hyparquet/src/geoparquet.js';
import { describe, expect, it } from 'vitest';
import { varint } from '../helpers/varint';

const reader = (bytes: number[]) => ({ view: new DataView(Uint8Array.from(bytes).buffer), offset: 0 });

describe('the RLE / bit-packed hybrid decoder on hostile runs', () => {
  it('an RLE run longer than the output fills the output and stops (an Array does not grow)', () => {
    const bytes = [...varint(2 ** 20 * 2), 7]; // one RLE run of 2^20 sevens
    const output: number[] = new Array(4);
    readRleBitPackedHybrid(reader(bytes), 3, output, bytes.length);
    expect(output).toEqual([7, 7, 7, 7]);
  });

  it('a bit-packed run whose length overflows int32 reads what the output needs', () => {
    // 2^28 groups of 8 values: 2^31 values, negative in int32 arithmetic. Width 1, one byte.
    const bytes = [...varint(2 ** 28 * 2 + 1), 0b1010_0101];
    const output = new Uint8Array(8);
    readRleBitPackedHybrid(reader(bytes), 1, output, bytes.length);
    expect([...output]).toEqual([1, 0, 1, 0, 0, 1, 0, 1]);
  });

  it('a length that is not a number is refused', () => {
    expect(() => readRleBitPackedHybrid(reader([2, 1]), 1, new Uint8Array(1), Number.NaN)).toThrow(
      /rle\/bit-packed hybrid/,
    );
    const r = reader([2, 1]);
    r.offset = Number.NaN;
    expect(() => readRleBitPackedHybrid(r, 1, new Uint8Array(1), 2)).toThrow(/rle\/bit-packed hybrid/);
  });
});

describe('the footer schema walk on a hostile schema', () => {
  it('refuses a negative child count', () => {
    const schema = [
      { name: 'root', num_children: 1 },
      { name: 'metaData', num_children: -22 },
    ];
    expect(() => markGeoColumns(schema as never, undefined)).toThrow(/metaData has -22 children/);
  });
});
