/**
 * Deletion vectors in the filtered view are always inline (`storageType: "i"`): the vector's bytes
 * (magic + portable Roaring bitmap) are copied out of its file into the descriptor, Z85-encoded and
 * zero-padded to a multiple of 4 as Spark does, `sizeInBytes` the unpadded length, no offset, the
 * same cardinality. No DV file is ever served in filtered mode, so the vectors of forbidden files
 * that share a DV file with readable ones never reach a reader. The rewrite is deterministic, so an
 * add and a later remove of the same (path, DV) get the same new unique id.
 *
 * A vector that cannot be read (its file vacuumed, a bad checksum) gets a stable placeholder that
 * no reader can decode: the versions that need it were unreadable through the raw log too.
 *
 * Inline copies are kept in a cache bounded by bytes (the filtered view's: one for every table,
 * counted in `snapshotCacheBytes`): a vector is usually tens of bytes, but one of a big file with
 * scattered deletes is megabytes, and a count of entries would let a few of them pin a lot.
 */
import { createHash } from 'node:crypto';
import { Lru } from '../core/lru';
import { DeltaLogError } from '../delta/delta-log-error';
import { type DeltaStorage, isNotFound } from '../delta/delta-storage';
import { type DeletionVectorDescriptor, dvFile, dvUniqueId, type TableRoot } from '../delta/table-root';
import { z85Encode } from '../delta/z85';

/** A deletion vector descriptor as it appears in an action (JSON numbers, optional fields). */
export interface DvDescriptor extends DeletionVectorDescriptor {
  sizeInBytes?: number;
  cardinality?: number;
  maxRowIndex?: number | null;
}

const MAGIC = 1681511377;

/** An inline copy as cached, with the bytes it holds (estimated). */
export interface InlinedVector {
  readonly dv: DvDescriptor;
  readonly bytes: number;
}

/** Inline copies by table and vector id ("<table uri>\0<id>"), bounded by their bytes. */
export type InlinedVectors = Lru<string, InlinedVector>;

/** Heap per cached copy beyond its characters: the descriptor object, its key, the Map's slot. */
const ENTRY_BYTES = 200;

/** Bytes of inline copies a DvInliner keeps on its own (tests; the proxy shares the view's cache). */
const OWN_CACHE_BYTES = 4 * 1024 * 1024;

export function inlinedVectorCache(maxBytes: () => number): InlinedVectors {
  return new Lru(Number.POSITIVE_INFINITY, { weigh: (v) => v.bytes, maxWeight: maxBytes });
}

export class DvInliner {
  /** Reads under way: concurrent generations wait for one read of a vector. */
  private readonly reading = new Map<string, Promise<DvDescriptor>>();

  constructor(
    private readonly storage: DeltaStorage,
    private readonly root: TableRoot,
    private readonly cache: InlinedVectors = inlinedVectorCache(() => OWN_CACHE_BYTES),
  ) {}

  inline(dv: DvDescriptor): Promise<DvDescriptor> {
    // A malformed descriptor (no id string) gets the placeholder, as one whose file is gone.
    if (typeof dv.pathOrInlineDv !== 'string') return Promise.resolve(placeholder(dv));
    if (dv.storageType === 'i') return Promise.resolve(inlineCopy(dv));
    const key = `${this.root.uri}\u0000${dvUniqueId(dv)}`;
    const cached = this.cache.get(key);
    if (cached) return Promise.resolve(cached.dv);
    let p = this.reading.get(key);
    if (!p) {
      const read = this.read(dv).catch((e: unknown) => {
        if (e instanceof DeltaLogError || isNotFound(e)) return placeholder(dv);
        throw e;
      });
      p = read;
      this.reading.set(key, read);
      // A transient failure is not kept: the next generation reads again.
      read.then(
        (inlined) => {
          this.reading.delete(key);
          this.cache.set(key, {
            dv: inlined,
            bytes: ENTRY_BYTES + key.length + inlined.pathOrInlineDv.length,
          });
        },
        () => this.reading.delete(key),
      );
    }
    return p;
  }

  private async read(dv: DvDescriptor): Promise<DvDescriptor> {
    const file = dvFile(this.root, dv);
    if (file?.relPath === undefined)
      throw new DeltaLogError('Unreadable', 'deletion vector outside the table');
    const offset = typeof dv.offset === 'number' ? dv.offset : 1;
    const size = dv.sizeInBytes;
    if (typeof size !== 'number' || size < 4) throw new DeltaLogError('Malformed', 'deletion vector size');
    const bytes = await this.storage.read(file.relPath, { start: offset, end: offset + 4 + size + 4 });
    if (bytes.byteLength !== size + 8) throw new DeltaLogError('Unreadable', 'deletion vector truncated');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const data = bytes.subarray(4, 4 + size);
    if (
      view.getUint32(0, false) !== size ||
      view.getUint32(4, true) !== MAGIC ||
      view.getUint32(4 + size, false) !== crc32(data)
    ) {
      throw new DeltaLogError('Unreadable', 'deletion vector does not match its descriptor');
    }
    const padded = new Uint8Array(Math.ceil(size / 4) * 4);
    padded.set(data);
    return described(dv, z85Encode(padded), size);
  }
}

function described(dv: DvDescriptor, inline: string, sizeInBytes: number): DvDescriptor {
  return {
    storageType: 'i',
    pathOrInlineDv: inline,
    sizeInBytes,
    ...(dv.cardinality !== undefined ? { cardinality: dv.cardinality } : {}),
    ...(typeof dv.maxRowIndex === 'number' ? { maxRowIndex: dv.maxRowIndex } : {}),
  };
}

function inlineCopy(dv: DvDescriptor): DvDescriptor {
  return described(dv, dv.pathOrInlineDv, dv.sizeInBytes ?? 0);
}

/** 16 bytes derived from the original id: stable, and never a valid vector (no magic). */
function placeholder(dv: DvDescriptor): DvDescriptor {
  const h = createHash('sha256').update(dvUniqueId(dv)).digest().subarray(0, 16);
  h.writeUInt32LE((MAGIC ^ 0xffffffff) >>> 0, 0);
  return described(dv, z85Encode(new Uint8Array(h)), 16);
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (ISO HDLC, as java.util.zip.CRC32): node:zlib has it only from Node 20.15. */
export function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
