/**
 * Deletion vectors as Delta writers store them, written here without the project's code (the
 * tests compare the proxy's reading of them with these bytes): the Roaring bitmap of the rows,
 * its CRC-32 for a vector file's frame, and an inline descriptor (PROTOCOL.md "Deletion Vectors").
 */
import { z85Encode } from '../../lambda/delta/z85';

const MAGIC = 1681511377;

/** Magic + portable 64-bit Roaring bitmap (one 32-bit bitmap, one array container) of `rows`. */
export function vectorBytes(rows: number[]): Uint8Array {
  const b = Buffer.alloc(4 + 8 + 4 + 16 + 2 * rows.length);
  b.writeUInt32LE(MAGIC, 0);
  b.writeBigUInt64LE(1n, 4); // one 32-bit bitmap
  b.writeUInt32LE(0, 12); // its high 32 bits
  b.writeUInt32LE(12346, 16); // SERIAL_COOKIE_NO_RUNCONTAINER
  b.writeUInt32LE(1, 20); // one container
  b.writeUInt16LE(0, 24); // its key
  b.writeUInt16LE(rows.length - 1, 26); // cardinality - 1
  b.writeUInt32LE(16, 28); // the container's offset in the 32-bit bitmap
  for (const [i, r] of rows.entries()) b.writeUInt16LE(r, 32 + 2 * i);
  return new Uint8Array(b);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32 (ISO HDLC), as a vector file's frame carries it after the bitmap. */
export function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The descriptor of an inline vector of `rows` (Z85 of the bitmap padded to 4 bytes). */
export function inlineVector(rows: number[]) {
  const data = vectorBytes(rows);
  const padded = new Uint8Array(Math.ceil(data.byteLength / 4) * 4);
  padded.set(data);
  return {
    storageType: 'i',
    pathOrInlineDv: z85Encode(padded),
    sizeInBytes: data.byteLength,
    cardinality: rows.length,
  };
}
