/** An in-memory DeltaStorage for synthetic logs, counting what is listed and read. */
import type { DeltaStorage, ListedFile } from '../../lambda/delta/delta-storage';
import { type CheckpointPages, writeCheckpoint } from '../../lambda/local/delta-writer';
import { StorageError } from '../../lambda/storage/storage-backend';
import { commitKey, commitText, metaData, protocolV1 } from './log-text';

/** The log's actions, for the tests that import them with the storage. */
export { add, metaData, protocolV1, remove } from './log-text';

export class MemoryDeltaStorage implements DeltaStorage {
  readonly files = new Map<string, Uint8Array>();
  lists = 0;
  reads: string[] = [];
  /** Listed as every file's Last-Modified when set (a real store always reports one). */
  lastModified?: Date;
  /** Per-file Last-Modified, over `lastModified` (a file written again at another time). */
  readonly modified = new Map<string, Date>();

  put(path: string, content: string | Uint8Array): this {
    this.files.set(path, typeof content === 'string' ? new TextEncoder().encode(content) : content);
    return this;
  }

  /** Writes a commit of JSON actions (one per line). */
  commit(version: number, actions: object[]): this {
    return this.put(commitKey(version), commitText(actions));
  }

  /**
   * Writes a checkpoint at `version` (protocol 1/2, partitioned by `region`) of files given by
   * path and partition values; `pages` picks its page codec.
   */
  async checkpoint(
    version: number,
    files: readonly { path: string; partitionValues: Record<string, string | null> }[],
    pages?: CheckpointPages,
  ): Promise<this> {
    await writeCheckpoint(
      { put: async (rel, bytes) => void this.put(rel, bytes) },
      version,
      protocolV1.protocol,
      metaData(['region']).metaData,
      files.map((f, i) => ({ ...f, size: 100 + i, modificationTime: i, dataChange: false })),
      { pages },
    );
    return this;
  }

  async list(dir: string, startAfter?: string): Promise<ListedFile[]> {
    this.lists++;
    return [...this.files.keys()]
      .filter((p) => p.startsWith(dir) && (startAfter === undefined || p > startAfter))
      .sort()
      .map((p) => {
        const lastModified = this.modified.get(p) ?? this.lastModified;
        return { path: p, size: this.files.get(p)!.byteLength, ...(lastModified ? { lastModified } : {}) };
      });
  }

  async read(path: string, range?: { start: number; end: number }): Promise<Uint8Array> {
    const b = this.files.get(path);
    if (!b) throw new StorageError('NotFound', `${path} not found`);
    this.reads.push(path);
    return range ? b.subarray(range.start, Math.min(range.end, b.byteLength)) : b;
  }

  async size(path: string): Promise<number> {
    const b = this.files.get(path);
    if (!b) throw new StorageError('NotFound', `${path} not found`);
    return b.byteLength;
  }
}

/**
 * A table partitioned by (region, b) whose checkpoint at version 0 holds `twice.parquet`, its map
 * naming `region` twice and `b` never (Parquet maps may repeat a key), and `whole.parquet` in
 * (EU, null); commit 0 holds only protocol and metaData.
 */
export async function repeatedKeyCheckpoint(): Promise<MemoryDeltaStorage> {
  const s = new MemoryDeltaStorage();
  s.commit(0, [{ commitInfo: { timestamp: 1 } }, protocolV1, metaData(['region', 'b'])]);
  const file = (path: string, partitionValues: unknown) => ({
    path,
    partitionValues: partitionValues as Record<string, string | null>,
    size: 1,
    modificationTime: 0,
    dataChange: false,
  });
  await writeCheckpoint(
    { put: async (rel, bytes) => void s.put(rel, bytes) },
    0,
    protocolV1.protocol,
    metaData(['region', 'b']).metaData,
    [
      file('twice.parquet', [
        { key: 'region', value: 'EU' },
        { key: 'region', value: 'EU' },
      ]),
      file('whole.parquet', { region: 'EU', b: null }),
    ],
  );
  return s;
}
