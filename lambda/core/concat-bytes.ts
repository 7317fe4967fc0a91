/** One byte array from parts (a body received in chunks, output encoded in slices). */
import { WorkSlices, yieldToEventLoop } from './event-loop';

/** Bytes copied between two yields to the event loop. */
const COPY_SLICE_BYTES = 1024 * 1024;

/**
 * The parts one after another in one array (a single part is returned as it is, not copied). A
 * body of tens of MB is copied a slice at a time, letting other requests run in between.
 */
export async function concatBytes(parts: readonly Uint8Array[]): Promise<Uint8Array> {
  if (parts.length === 1) return parts[0]!;
  let total = 0;
  for (const p of parts) total += p.byteLength;
  const out = new Uint8Array(total);
  const slices = new WorkSlices(COPY_SLICE_BYTES);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
    if (slices.spend(p.byteLength)) await yieldToEventLoop();
  }
  return out;
}
