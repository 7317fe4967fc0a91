/**
 * The Delta module's only I/O seam: a table root that can list a folder and read (part of) a
 * file. Paths are relative to the table root and never start with "/". The module never opens
 * a connection of its own; the caller passes one of these in.
 */
import { concatBytes } from '../core/concat-bytes';
import { WorkSlices, yieldToEventLoop } from '../core/event-loop';
import { resumeAfter } from '../storage/list-resume';
import type { GetResult, StorageBackend } from '../storage/storage-backend';
import { StorageError } from '../storage/storage-backend';
import { DeltaLogError } from './delta-log-error';

export interface ListedFile {
  /** Relative to the table root, e.g. "_delta_log/00000000000000000000.json". */
  path: string;
  size: number;
  lastModified?: Date;
  /** The store's ETag, where it reports one: tells a file written again within the same second. */
  etag?: string;
}

/** A byte range: start inclusive, end exclusive (slice semantics, not HTTP's inclusive end). */
export interface ReadRange {
  start: number;
  end: number;
}

export interface DeltaStorage {
  /**
   * Every file under `dirRelPath` (e.g. "_delta_log/"), recursively, sorted by path. When
   * `startAfter` is given, only paths sorting strictly after it (S3 StartAfter), which lets the
   * log listing begin at the last checkpoint instead of at version 0. `limit` lets a probe stop
   * after the first few files, `until` a range end at a path (no page after one past it is
   * asked for); an implementation may return more than either: callers filter.
   */
  list(dirRelPath: string, startAfter?: string, limit?: number, until?: string): Promise<ListedFile[]>;
  /**
   * The whole file, or `range` of it. Throws StorageError('NotFound') when it does not exist.
   * With a `pin`, every read sees the same version of the file, or throws FileChanged.
   */
  read(relPath: string, range?: ReadRange, pin?: FilePin): Promise<Uint8Array>;
  /** Size in bytes. Throws StorageError('NotFound') when it does not exist. */
  size(relPath: string): Promise<number>;
}

/**
 * One version of a file read in several ranges: a Parquet checkpoint, footer first, then its
 * column chunks. A checkpoint can be written again in place (two writers checkpointing the same
 * version; S3 has no rename), and ranges of two versions would pair one version's paths with the
 * other's partition values. The first read records the version's ETag; later reads send it as
 * If-Match and compare the answer's ETag (a backend may ignore If-Match); a total size other than
 * the listed one is another version too.
 */
export interface FilePin {
  /** The size the listing gave, or the log (`sizeFromLog`). */
  readonly size: number;
  /**
   * The size is the log's own claim (a sidecar's sizeInBytes): a first read of another size is a
   * malformed log, not a file that changed since a listing.
   */
  readonly sizeFromLog?: boolean;
  /** Set by the first read. */
  etag?: string;
}

/**
 * A pinned file changed between two of its reads. Reading it again from a fresh listing gets the
 * new version whole; whoever does not retry answers 503 (Unavailable), which clients retry.
 */
export class FileChanged extends StorageError {
  constructor(readonly path: string) {
    super('Unavailable', `${path} changed while it was being read`);
  }
}

export function isNotFound(e: unknown): boolean {
  return e instanceof StorageError && e.kind === 'NotFound';
}

/**
 * Whether a file that may not exist is there, by listing its folder from just before its name.
 * Never by GET or HEAD: S3 answers those with 403, not 404, for a missing key when the caller's
 * s3:ListBucket does not cover it, as under the stack's prefix-scoped policy; a listing inside the
 * table's prefix is what that policy allows (Delta readers probe the log the same way).
 */
export async function listedFile(storage: DeltaStorage, relPath: string): Promise<ListedFile | undefined> {
  const dir = relPath.slice(0, relPath.lastIndexOf('/') + 1);
  // Start just before the name: only names sharing all but its last character come first.
  const files = await storage.list(dir, relPath.slice(0, -1), 8);
  return files.find((f) => f.path === relPath);
}

/**
 * A whole log file that a listing named, checked against the size listed. Commits are never
 * rewritten, so a body of another length is a truncated or corrupt read, not a newer version: a
 * commit cut at a line boundary would otherwise replay as a valid shorter one, silently losing an
 * action (a `remove`, and a removed file would be served again).
 */
export async function readListed(
  storage: DeltaStorage,
  file: { path: string; size: number },
): Promise<Uint8Array> {
  const bytes = await storage.read(file.path);
  if (bytes.byteLength !== file.size)
    throw new DeltaLogError(
      'Unreadable',
      `${file.path} read as ${bytes.byteLength} bytes, listed as ${file.size}: truncated or corrupt`,
    );
  return bytes;
}

/** A DeltaStorage over a StorageBackend, for a table at s3://bucket/prefix. */
export function deltaStorageFromBackend(
  backend: StorageBackend,
  bucket: string,
  prefix: string,
): DeltaStorage {
  const root = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
  const storage: DeltaStorage = {
    async list(dirRelPath, startAfter, limit, until) {
      const out: ListedFile[] = [];
      let continuationToken: string | undefined;
      let after = startAfter !== undefined ? root + startAfter : undefined;
      for (;;) {
        const page = await backend.list({
          bucket,
          prefix: root + dirRelPath,
          maxKeys: Math.min(1000, limit ?? 1000),
          ...(after !== undefined && continuationToken === undefined ? { startAfter: after } : {}),
          ...(continuationToken !== undefined ? { continuationToken } : {}),
        });
        for (const o of page.objects) {
          out.push({
            path: o.key.slice(root.length),
            size: o.size,
            lastModified: o.lastModified,
            ...(o.etag ? { etag: o.etag } : {}),
          });
        }
        if (!page.isTruncated) break;
        if (
          (limit !== undefined && out.length >= limit) ||
          (until !== undefined && (out.at(-1)?.path ?? '') > until)
        )
          break;
        continuationToken = page.nextContinuationToken;
        if (continuationToken === undefined) {
          // "Truncated" without a token (list-resume.ts).
          const next = resumeAfter(page, after);
          if (next === undefined)
            throw new StorageError('Unavailable', 'backend listing page truncated without a way to resume');
          after = next;
        }
      }
      out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
      return out;
    },
    async read(relPath, range, pin) {
      if (range && range.end <= range.start) return new Uint8Array(0);
      let res: GetResult;
      try {
        res = await backend.get(
          { bucket, key: root + relPath },
          {
            ...(range ? { range: { start: range.start, end: range.end - 1 } } : {}),
            ...(pin?.etag ? { ifMatch: pin.etag } : {}),
          },
        );
      } catch (e) {
        if (pin?.etag && e instanceof StorageError && e.kind === 'PreconditionFailed')
          throw new FileChanged(relPath);
        // A pinned range lies within the size pinned: a 416 means the file is shorter now (a
        // backend that ignores If-Match answers so for a shorter rewrite), or, for a size the log
        // declares, that the log is wrong.
        if (pin && range && e instanceof StorageError && e.kind === 'InvalidRange') {
          if (pin.etag === undefined && pin.sizeFromLog)
            throw new DeltaLogError('Malformed', `${relPath} is shorter than the log says (${pin.size})`);
          throw new FileChanged(relPath);
        }
        throw await missingIfUnlisted(storage, relPath, e);
      }
      if (pin) {
        const etag = res.meta.etag || undefined;
        // meta.size is the whole object's, also for a range (Content-Range's total).
        if (res.meta.size !== pin.size && pin.etag === undefined && pin.sizeFromLog) {
          await closeBody(res.body);
          throw new DeltaLogError(
            'Malformed',
            `${relPath} is ${res.meta.size} bytes; the log says ${pin.size}`,
          );
        }
        if (res.meta.size !== pin.size || (pin.etag && etag !== pin.etag)) {
          await closeBody(res.body);
          throw new FileChanged(relPath);
        }
        pin.etag ??= etag;
      }
      // A pinned range lies within the pinned size, so the version pinned has every byte of it: a
      // body of another length (a 200 ignoring the Range, a 206 cut short) is not that range, and
      // read as it, would put other bytes at the chunk's offsets. Told by the answer's length
      // before the body is read (a 200 can be the whole object), else by the body's.
      const want = pin && range ? Math.min(range.end, pin.size) - range.start : undefined;
      if (want !== undefined && res.contentLength !== undefined && res.contentLength !== want) {
        await closeBody(res.body);
        throw new FileChanged(relPath);
      }
      const bytes = await collect(res.body);
      if (want !== undefined && bytes.byteLength !== want) throw new FileChanged(relPath);
      return bytes;
    },
    async size(relPath) {
      try {
        return (await backend.head({ bucket, key: root + relPath })).size;
      } catch (e) {
        throw await missingIfUnlisted(storage, relPath, e);
      }
    },
  };
  return storage;
}

/**
 * The error to throw for a failed read of `relPath`. S3 answers 403, not 404, for a missing key
 * when the caller's s3:ListBucket does not cover it (IAM's rule; the stack's prefix-scoped policy
 * can leave a table's keys so): a 403 for a file not listed is a missing file (NotFound), which
 * the log's readers treat as a cleanup since they listed it (list again, skip a broken
 * checkpoint), not as a table that refuses the proxy. A 403 for a listed file stays a refusal;
 * so does every 403 when the listing is refused too.
 */
async function missingIfUnlisted(storage: DeltaStorage, relPath: string, e: unknown): Promise<unknown> {
  if (!(e instanceof StorageError && e.kind === 'AccessDenied')) return e;
  const listed = await listedFile(storage, relPath).catch(() => true);
  return listed ? e : new StorageError('NotFound', `${relPath} is not listed (the store answered 403)`);
}

/**
 * Ends a body that will not be read, so its connection is released: leaving a loop closes the
 * stream underneath (a wrapper's generator only passes that on once it has started).
 */
async function closeBody(body: AsyncIterable<Uint8Array>): Promise<void> {
  try {
    for await (const _ of body) break;
  } catch {
    // already failed: nothing to release
  }
}

/** Bytes received between two yields: a body already buffered is read without one. */
const COLLECT_SLICE_BYTES = 1024 * 1024;

async function collect(body: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const slices = new WorkSlices(COLLECT_SLICE_BYTES);
  for await (const c of body) {
    chunks.push(c);
    if (slices.spend(c.byteLength)) await yieldToEventLoop();
  }
  return concatBytes(chunks);
}
