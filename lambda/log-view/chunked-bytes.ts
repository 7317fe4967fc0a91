/**
 * hyparquet-writer's output buffer for a big file, without its long blocks: its ByteWriter doubles
 * and copies the whole file when full (from 64 to 128 MB: 65-300 ms with the event loop held,
 * inside whichever column chunk crosses the size). Here a full buffer of at least CHUNK bytes is
 * kept as it is and the next write starts a new one; `joined()` copies the pieces into one array
 * a slice at a time. The library writes forward only (its own file writer also starts over at
 * index 0 after each flush), so a buffer kept is never written again.
 */
import { ByteWriter } from 'hyparquet-writer';
import { yieldToEventLoop } from '../core/event-loop';

/** Kept pieces are at least this long; a copy of this many bytes takes a few ms. */
const CHUNK = 4 << 20;

export class ChunkedBytes extends ByteWriter {
  private readonly kept: Uint8Array[] = [];

  override ensure(size: number): void {
    if (this.index + size <= this.buffer.byteLength) return;
    if (this.index < CHUNK) {
      super.ensure(size); // doubles: a copy of less than CHUNK bytes
      return;
    }
    this.kept.push(new Uint8Array(this.buffer, 0, this.index));
    this.buffer = new ArrayBuffer(Math.max(CHUNK * 2, size));
    this.view = new DataView(this.buffer);
    this.index = 0;
  }

  /** Everything written, as one array (its length is `offset`). */
  async joined(): Promise<Uint8Array> {
    const last = new Uint8Array(this.buffer, 0, this.index);
    if (this.kept.length === 0) return last;
    const out = new Uint8Array(this.offset);
    let at = 0;
    for (const piece of [...this.kept, last]) {
      out.set(piece, at);
      at += piece.length;
      await yieldToEventLoop();
    }
    return out;
  }
}
