/**
 * The folders of a snapshot's authorizable files ("a=1/", "a=1/b=2/", with every ancestor), each
 * with the partition tuples of the files directly in it. Built once per snapshot on first use (a
 * filtered listing), a few thousand files at a time so other requests run in between, and shared
 * by every caller: a caller's readable folders then cost one pass over the folders, not the files.
 *
 * Deletion-vector files are kept one by one, with their owners' tuples: one is readable only when
 * every one of them is, and a listing may hide it besides (the filtered view serves none; the raw
 * view refuses one holding a vector of a removed file of another partition), so a folder holding
 * only hidden ones is not listed.
 */
import { WorkSlices, yieldToEventLoop } from '../core/event-loop';
import { MULTI_TUPLE, type SnapshotView } from './snapshot-view';

/**
 * Work between two pauses, in characters of the paths and folders looked up (each a hash and a
 * compare of its whole length) plus PER_ITEM for each: 4,096 files of ordinary paths, ~500 of
 * the ~1,000-character paths of many partition columns or long values.
 */
const SLICE = 4096 * 128;
const PER_ITEM = 64;

export class FolderIndex {
  private constructor(
    private readonly ids: ReadonlyMap<string, number>,
    /** parents[i]: the id of folder i's parent folder, or -1 at the top. */
    readonly parents: Int32Array,
    /** Tuples of the files directly in folder i: tuples[starts[i] .. starts[i + 1]). */
    private readonly starts: Int32Array,
    private readonly tuples: Int32Array,
    /** Folders holding deletion-vector files: each one's owner tuples must all be readable. */
    private readonly vectors: ReadonlyMap<number, readonly VectorFile[]>,
    readonly bytes: number,
  ) {}

  get count(): number {
    return this.parents.length;
  }

  /** The id of a folder ("a=1/"), or -1 when no authorizable file lies under it. */
  idOf(folder: string): number {
    return this.ids.get(folder) ?? -1;
  }

  /** Folder names by id (for tests and diagnostics). */
  names(): string[] {
    const out: string[] = new Array(this.count);
    for (const [name, id] of this.ids) out[id] = name;
    return out;
  }

  /**
   * Does folder i directly hold a file that `allowed` lets through (a deletion-vector file only
   * when `vectorShown` shows it too)?
   */
  holdsReadable(
    i: number,
    allowed: (tuple: number) => boolean,
    vectorShown: (relPath: string) => boolean = () => true,
  ): boolean {
    for (let k = this.starts[i]!; k < this.starts[i + 1]!; k++) if (allowed(this.tuples[k]!)) return true;
    const files = this.vectors.get(i);
    return files?.some((f) => f.owners.every(allowed) && vectorShown(f.path)) === true;
  }

  static async build(snapshot: SnapshotView): Promise<FolderIndex> {
    const direct = new Map<string, Set<number>>();
    const vectors = new Map<string, VectorFile[]>();
    const work = new WorkSlices(SLICE);
    let lastDir = '';
    let lastSet: Set<number> | undefined;
    for (const [path, tuple] of snapshot.files()) {
      if (work.spend(PER_ITEM + path.length)) await yieldToEventLoop();
      const slash = path.lastIndexOf('/');
      if (slash < 0) continue;
      // Files of one folder mostly come together: reuse the last folder's string and set.
      const same = lastSet !== undefined && slash + 1 === lastDir.length && path.startsWith(lastDir);
      if (!same) {
        lastDir = path.slice(0, slash + 1);
        lastSet = direct.get(lastDir);
        if (!lastSet) {
          lastSet = new Set();
          direct.set(lastDir, lastSet);
        }
      }
      if (snapshot.kindOf?.(path) === 'deletionVector' || tuple === MULTI_TUPLE) {
        const files = vectors.get(lastDir) ?? [];
        files.push({ path, owners: tuple >= 0 ? [tuple] : [...snapshot.tuplesOf(path)] });
        vectors.set(lastDir, files);
      } else if (tuple >= 0) lastSet!.add(tuple);
    }
    // Every ancestor is a folder too (it holds the readable folders below it).
    const ids = new Map<string, number>();
    const add = (folder: string): number => {
      let id = ids.get(folder);
      if (id === undefined) {
        id = ids.size;
        ids.set(folder, id);
      }
      return id;
    };
    // The maps below are this build's own: iterating them across pauses is safe. An
    // over-partitioned table has a folder per file or more, so these passes pause too.
    for (const folder of direct.keys()) {
      for (let i = folder.indexOf('/'); i >= 0; i = folder.indexOf('/', i + 1)) {
        if (work.spend(PER_ITEM + i)) await yieldToEventLoop();
        add(folder.slice(0, i + 1));
      }
    }
    const count = ids.size;
    const parents = new Int32Array(count).fill(-1);
    const starts = new Int32Array(count + 1);
    let nameChars = 0;
    for (const [folder, id] of ids) {
      if (work.spend(PER_ITEM + folder.length)) await yieldToEventLoop();
      nameChars += folder.length;
      const up = folder.lastIndexOf('/', folder.length - 2);
      if (up >= 0) parents[id] = ids.get(folder.slice(0, up + 1))!;
      starts[id + 1] = direct.get(folder)?.size ?? 0;
    }
    for (let i = 0; i < count; i++) starts[i + 1]! += starts[i]!;
    const tuples = new Int32Array(starts[count]!);
    const fill = starts.slice(0, count);
    for (const [folder, set] of direct) {
      if (work.spend(PER_ITEM + set.size)) await yieldToEventLoop();
      const id = ids.get(folder)!;
      for (const t of set) tuples[fill[id]!++] = t;
    }
    const vectorsById = new Map<number, VectorFile[]>();
    let vectorBytes = 0;
    for (const [folder, files] of vectors) {
      vectorsById.set(ids.get(folder)!, files);
      for (const f of files) vectorBytes += 80 + 2 * f.path.length + 8 * f.owners.length;
    }
    // Map entry + string header per folder, the string's characters, the typed arrays.
    const bytes = count * 80 + nameChars * 2 + parents.byteLength + starts.byteLength + tuples.byteLength;
    return new FolderIndex(ids, parents, starts, tuples, vectorsById, bytes + vectorBytes);
  }
}

/** A deletion-vector file and the tuples of the data files whose vectors it holds. */
interface VectorFile {
  readonly path: string;
  readonly owners: readonly number[];
}

const built = new WeakMap<SnapshotView, Promise<FolderIndex>>();

/** The snapshot's folder index, built on first use and kept (and counted) with the snapshot. */
export function folderIndexOf(snapshot: SnapshotView): Promise<FolderIndex> {
  let p = built.get(snapshot);
  if (!p) {
    p = FolderIndex.build(snapshot);
    built.set(snapshot, p);
    p.then(
      (index) => snapshot.addBytes?.(index.bytes),
      () => built.delete(snapshot),
    );
  }
  return p;
}
