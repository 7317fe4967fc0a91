/**
 * A DeltaStorage over a local directory, counting requests and bytes like hyparquet's test
 * buffers do, so tests can assert what a replay read.
 */
import { open, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { DeltaStorage, ListedFile } from '../../lambda/delta/delta-storage';
import { StorageError } from '../../lambda/storage/storage-backend';

export interface CountingStorage extends DeltaStorage {
  reads: { path: string; start?: number; end?: number; bytes: number }[];
  lists: number;
  reset(): void;
}

export function fsDeltaStorage(root: string): CountingStorage {
  const reads: CountingStorage['reads'] = [];
  const s: CountingStorage = {
    reads,
    lists: 0,
    reset() {
      reads.length = 0;
      s.lists = 0;
    },
    async list(dir, startAfter) {
      s.lists++;
      const out: ListedFile[] = [];
      const walk = async (rel: string) => {
        let entries: import('node:fs').Dirent[];
        try {
          entries = await readdir(path.join(root, rel), { withFileTypes: true });
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
          throw e;
        }
        for (const e of entries) {
          const r = rel + e.name;
          if (e.isDirectory()) await walk(`${r}/`);
          else {
            const st = await stat(path.join(root, r));
            out.push({ path: r, size: st.size, lastModified: st.mtime });
          }
        }
      };
      await walk(dir);
      out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
      return startAfter === undefined ? out : out.filter((f) => f.path > startAfter);
    },
    async read(rel, range) {
      let bytes: Buffer;
      try {
        if (range) {
          const fh = await open(path.join(root, rel), 'r');
          try {
            const { size } = await fh.stat();
            bytes = Buffer.allocUnsafe(Math.max(0, Math.min(range.end, size) - range.start));
            if (bytes.length) await fh.read(bytes, 0, bytes.length, range.start);
          } finally {
            await fh.close();
          }
        } else bytes = await readFile(path.join(root, rel));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT')
          throw new StorageError('NotFound', `${rel} not found`);
        throw e;
      }
      reads.push({
        path: rel,
        ...(range ? { start: range.start, end: range.end } : {}),
        bytes: bytes.byteLength,
      });
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
    async size(rel) {
      try {
        return (await stat(path.join(root, rel))).size;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT')
          throw new StorageError('NotFound', `${rel} not found`);
        throw e;
      }
    },
  };
  return s;
}
