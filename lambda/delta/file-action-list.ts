/**
 * The file actions of one log file, held from its parse until it is applied, in a form the GC
 * does not trace object by object: paths as UTF-8 in 1 MiB chunks, a few int32 per action, and
 * partitionValues maps shared by their JSON text (a table has far fewer partitions than files).
 * Held as objects, a commit of 400k adds was ~1.2M small heap objects alive across its parse:
 * every scavenge copied the new ones, and the mark-compacts that followed paused the loop for
 * tens of ms. An action is made an object again (short-lived) when it is read.
 */
import { ShardedMap } from '../core/sharded-map';
import type { DeletionVectorDescriptor } from './table-root';

export interface FileAction {
  path: string;
  partitionValues?: Record<string, string | null | undefined> | null;
  deletionVector?: DeletionVectorDescriptor | null;
}

const CHUNK = 1 << 20;
/** Int32 slots per action in `meta`: chunk, offset, byte length (-1: in `oddPaths`), map. */
const SLOTS = 4;
/** Actions per `meta` block (blocks are never copied as the list grows). */
const BLOCK_BITS = 12;
const BLOCK = 1 << BLOCK_BITS;
/** partitionValues ids of the two values most tables have. */
const UNDEFINED = 0;
const NULL = 1;
/** A UTF-16 surrogate: a path with one may hold an unpaired one, which UTF-8 cannot carry. */
const SURROGATE = /[\uD800-\uDFFF]/;

const encoder = new TextEncoder();
/** ignoreBOM: a path's leading U+FEFF is kept, as it was written. */
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

export class FileActionList {
  private chunks: Uint8Array[] = [];
  private chunkUsed = 0;
  private meta: Int32Array[] = [];
  private count = 0;
  private readonly maps: unknown[] = [undefined, null];
  private mapIds?: ShardedMap<string, number>;
  private oddPaths?: Map<number, string>;
  private dvs?: (DeletionVectorDescriptor | null | undefined)[];

  get length(): number {
    return this.count;
  }

  push(a: FileAction): void {
    const i = this.count++;
    const block = i >>> BLOCK_BITS;
    // The first block starts small and doubles (most log files hold a few actions); later ones are whole.
    if (block === this.meta.length) this.meta.push(new Int32Array((block === 0 ? 16 : BLOCK) * SLOTS));
    let m = this.meta[block]!;
    const at = (i & (BLOCK - 1)) * SLOTS;
    if (at === m.length) {
      m = growInto(new Int32Array(m.length * 2), m);
      this.meta[block] = m;
    }
    if (SURROGATE.test(a.path)) {
      this.oddPaths ??= new Map();
      this.oddPaths.set(i, a.path);
      m[at + 2] = -1;
    } else {
      const room = a.path.length * 3;
      if (this.chunks.length === 0 || this.chunkUsed + room > this.chunks.at(-1)!.length) {
        // 1 KiB, then twice as much each time up to CHUNK: a small file's list stays small.
        this.chunks.push(
          new Uint8Array(Math.max(room, Math.min(CHUNK, 1024 << Math.min(10, this.chunks.length)))),
        );
        this.chunkUsed = 0;
      }
      const written = encoder.encodeInto(a.path, this.chunks.at(-1)!.subarray(this.chunkUsed)).written;
      m[at] = this.chunks.length - 1;
      m[at + 1] = this.chunkUsed;
      m[at + 2] = written;
      this.chunkUsed += written;
    }
    m[at + 3] = this.mapId(a.partitionValues);
    if (a.deletionVector != null || this.dvs) {
      this.dvs ??= [];
      while (this.dvs.length < i) this.dvs.push(undefined);
      this.dvs.push(a.deletionVector);
    }
  }

  /** Action i (0 <= i < length), as a new object. */
  at(i: number): FileAction {
    const m = this.meta[i >>> BLOCK_BITS]!;
    const at = (i & (BLOCK - 1)) * SLOTS;
    const len = m[at + 2]!;
    const path =
      len < 0
        ? this.oddPaths!.get(i)!
        : decoder.decode(this.chunks[m[at]!]!.subarray(m[at + 1]!, m[at + 1]! + len));
    const partitionValues = this.maps[m[at + 3]!] as FileAction['partitionValues'];
    return { path, partitionValues, deletionVector: this.dvs?.[i] };
  }

  /**
   * One id per distinct map: maps with the same JSON text read the same everywhere (readPartitionMap
   * walks keys in the order JSON.stringify writes them, and tells values apart as it does).
   */
  private mapId(pv: unknown): number {
    if (pv === undefined) return UNDEFINED;
    if (pv === null) return NULL;
    if (typeof pv !== 'object') return this.maps.push(pv) - 1;
    const text = JSON.stringify(pv);
    this.mapIds ??= new ShardedMap();
    let id = this.mapIds.get(text);
    if (id === undefined) {
      id = this.maps.push(pv) - 1;
      this.mapIds.set(text, id);
    }
    return id;
  }
}

function growInto(to: Int32Array, from: Int32Array): Int32Array {
  to.set(from);
  return to;
}
