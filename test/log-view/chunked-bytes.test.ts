/**
 * The filtered checkpoint's output buffer (ChunkedBytes) holds exactly what hyparquet-writer's
 * ByteWriter would: the same appends, in pieces of every size around its 4 MB chunks, give the
 * same bytes and the same offset.
 */
import fc from 'fast-check';
import { ByteWriter } from 'hyparquet-writer';
import { expect, it } from 'vitest';
import { ChunkedBytes } from '../../lambda/log-view/chunked-bytes';

type Append =
  | { kind: 'u8' | 'u32' | 'i64' | 'varint'; value: number }
  | { kind: 'bytes'; size: number; seed: number };

const MB = 1 << 20;
const append = fc.oneof(
  fc.record({ kind: fc.constantFrom('u8' as const), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    kind: fc.constantFrom('u32' as const, 'varint' as const),
    value: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  }),
  fc.record({ kind: fc.constantFrom('i64' as const), value: fc.integer() }),
  fc.record({
    kind: fc.constant('bytes' as const),
    size: fc.oneof(
      fc.integer({ min: 0, max: 64 }),
      fc.integer({ min: MB - 10, max: 3 * MB }),
      fc.constantFrom(4 * MB, 9 * MB),
    ),
    seed: fc.integer({ min: 0, max: 255 }),
  }),
);

function apply(w: ByteWriter, a: Append): void {
  if (a.kind === 'bytes') {
    const b = new Uint8Array(a.size);
    for (let i = 0; i < b.length; i += 4099) b[i] = (a.seed + i) & 255;
    w.appendBytes(b);
  } else if (a.kind === 'u8') w.appendUint8(a.value);
  else if (a.kind === 'u32') w.appendUint32(a.value);
  else if (a.kind === 'i64') w.appendInt64(BigInt(a.value));
  else w.appendVarInt(a.value);
}

it('gives the bytes ByteWriter gives, for any appends', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(append, { maxLength: 30 }), async (appends) => {
      const plain = new ByteWriter();
      const chunked = new ChunkedBytes();
      for (const a of appends) {
        apply(plain, a);
        apply(chunked, a);
      }
      expect(chunked.offset).toBe(plain.offset);
      const joined = await chunked.joined();
      expect(joined.length).toBe(plain.offset);
      expect(Buffer.from(joined).equals(Buffer.from(plain.getBytes()))).toBe(true);
    }),
    { numRuns: 40, seed: 20261207 },
  );
});
