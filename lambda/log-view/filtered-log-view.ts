/**
 * The filtered `_delta_log/`: per (table, caller's file grant) a Delta log that contains only the
 * caller's readable files, at the real version numbers. The authorizer reaches it through two
 * calls: folder() for listings, object() for GET/HEAD of a log key. Generated files are cached per
 * (grant fingerprint, file) in one byte budget, with what the lookup of commits' removes' adds
 * parsed (per table) and the inline copies of deletion vectors; a checkpoint is generated once per
 * grant and version, whatever the number of concurrent requests.
 */
import { createHash } from 'node:crypto';
import { yieldToEventLoop } from '../core/event-loop';
import { firstIndex } from '../core/first-index';
import type { GeneratedObject, GeneratedObjectMeta } from '../core/generated-object';
import type { VirtualFolder } from '../core/listing-filter';
import { prefetch } from '../core/prefetch';
import type { Clock } from '../core/types';
import { DeltaLogError } from '../delta/delta-log-error';
import { type DeltaStorage, FileChanged, isNotFound, readListed } from '../delta/delta-storage';
import { LAST_CHECKPOINT, LOG_DIR, parseLogPath } from '../delta/log-path';
import type { PathPartitionLookup } from '../delta/path-partitions';
import type { Snapshot } from '../delta/snapshot';
import { TableRoot } from '../delta/table-root';
import { StorageError } from '../storage/storage-backend';
import { ActionFilter } from './action-filter';
import { DvInliner, type InlinedVectors, inlinedVectorCache } from './dv-inliner';
import { type FileGrant, TupleClassifier } from './file-grant';
import { filterCheckpoint } from './filtered-checkpoint';
import { filterCommit } from './filtered-commit';
import { GeneratedCache, type GeneratedCacheStats } from './generated-cache';
import { HeldLogListing } from './held-log-listing';
import { keysOf, nextRealLog } from './next-real-log';
import { type EpochPosition, type ParsedPartitioning, PartitioningEpoch } from './partitioning-epoch';
import {
  checkpointExistsAt,
  dropCheckpoint,
  type RealCheckpoint,
  type RealLog,
  virtualFile,
} from './real-log';
import { type ParsedAdds, ScanPathPartitions } from './scan-path-partitions';

export interface LogViewRequest {
  /** Canonical table root, e.g. "s3://bucket/prefix". */
  tableUri: string;
  storage: DeltaStorage;
  /** The authorizer's snapshot: the view shows no version after it, and lists the log once per snapshot. */
  snapshot: Snapshot;
  grant: FileGrant;
}

/** The seam the authorizer uses (filtered mode on when it has one). */
export interface LogView {
  /** `relAfter`: the key the listing starts after (readers list from `_last_checkpoint`'s version). */
  folder(req: LogViewRequest, relAfter?: string): Promise<VirtualFolder>;
  object(req: LogViewRequest, relKey: string): Promise<GeneratedObject | undefined>;
}

export interface FilteredLogViewOptions {
  /** Bytes the generated files may take now (what the snapshot cache leaves of its budget). */
  budgetBytes: () => number;
  /** Optional: partition values of removed files from another index (the history work). */
  lookup?: (storage: DeltaStorage, root: TableRoot) => PathPartitionLookup;
  /**
   * How long a listing of the real log is used for one snapshot (default: as long as the
   * snapshot). A snapshot lives on while no commit comes; a checkpoint and a log cleanup at its
   * version still change what the log holds (the proxy passes `snapshotTtlMs`).
   */
  listingTtlMs?: number;
  /** How often the whole log is listed at least (default 1 hour); else only what can have changed. */
  fullListingMs?: number;
  /**
   * Make the log of each new version by walking the whole held listing (the bench's baseline),
   * not from the log before (next-real-log.ts).
   */
  wholeLogPerVersion?: boolean;
  clock?: Clock;
}

/** What the cache holds: generated files, the lookup's parsed adds and the log files' partitionings. */
type Cached = Generated | ParsedAdds | ParsedPartitioning;

interface Generated extends GeneratedObject {
  readonly bytes: number;
  /** Checkpoints: rows and adds, for `_last_checkpoint`. */
  readonly actions?: number;
  readonly adds?: number;
}

interface TableState {
  root: TableRoot;
  inliner: DvInliner;
  lookup: PathPartitionLookup;
  /** The real log's files, listed again only where they can have changed. */
  listing: HeldLogListing;
  latest?: RealLog;
  /** The log made of the newest listing: the next one is made from it (next-real-log.ts). */
  made?: RealLog;
  logs: WeakMap<Snapshot, { at: number; log: Promise<RealLog> }>;
  /** The last look for a checkpoint the listing lacks (checkpointAt()). */
  probe?: { version: number; at: number; found: Promise<boolean> };
}

const CONTENT_TYPE = 'application/octet-stream';
/** Generations started ahead of a listing page (each a log read at most). */
const PREFETCH = 8;
/** At most one look per table this often for a checkpoint the listing lacks (as for refusals). */
const PROBE_MS = 50;
/** A listing from a version, as delta-kernel-rs and delta-rs list from `_last_checkpoint`'s. */
const FROM_VERSION = /^_delta_log\/(\d{20})$/;

/** Inline copies of deletion vectors kept at most (bytes, every table), and a quarter of the budget at most. */
const VECTOR_CACHE_BYTES = 16 * 1024 * 1024;

export interface FilteredLogViewStats extends GeneratedCacheStats {
  /** Of `bytes`: the inline copies of deletion vectors kept (read again once dropped). */
  deletionVectorBytes: number;
  /** Of `bytes`: the tables' held listings of their real logs. */
  listingBytes: number;
  /** Tables whose held listing was dropped to stay within the budget (listed whole when read again). */
  listingsDropped: number;
  /**
   * Held log files and listing keys gone through to make the logs and listings shown: a new
   * version of a long log adds the files listed again, not the whole log.
   */
  logEntriesWalked: number;
}

export class FilteredLogView implements LogView {
  private readonly tables = new Map<string, TableState>();
  private readonly cache: GeneratedCache<Cached>;
  private readonly vectors: InlinedVectors;
  private listingsDropped = 0;
  private readonly walked = { entries: 0 };
  /** Where the newest partitioning starts, per listed log (found as far as asked). */
  private readonly epochs = new WeakMap<RealLog, PartitioningEpoch>();

  constructor(private readonly opts: FilteredLogViewOptions) {
    // What the snapshots leave, as of the last look up of a generated file (every generation
    // starts with one): a table's vectors are many, each reads this bound.
    let left = 0;
    this.vectors = inlinedVectorCache(() => Math.min(VECTOR_CACHE_BYTES, left / 4));
    // The generated files get what the snapshots, the tables' held listings and the vectors leave.
    this.cache = new GeneratedCache<Cached>(() => {
      left = Math.max(0, opts.budgetBytes() - this.listingBytes());
      return left - this.vectors.weight;
    });
  }

  /** What the view holds; `bytes` is all of it (generated files, parsed adds, vectors, listings). */
  stats(): FilteredLogViewStats {
    const generated = this.cache.stats();
    const deletionVectorBytes = this.vectors.weight;
    const listingBytes = this.listingBytes();
    return {
      ...generated,
      bytes: generated.bytes + deletionVectorBytes + listingBytes,
      deletionVectorBytes,
      listingBytes,
      listingsDropped: this.listingsDropped,
      logEntriesWalked: this.walked.entries,
    };
  }

  /**
   * The real logs' listings the tables hold (a long log's is tens of MB). The generated files
   * yield to them; past the budget, the least recently read tables' are dropped (dropListings()).
   */
  private listingBytes(): number {
    let n = 0;
    for (const t of this.tables.values()) n += t.listing.bytes;
    return n;
  }

  /**
   * Drops the state of the least recently read tables (their held listing, the logs made of it)
   * while the listings together exceed the budget: memory stays bounded whatever the number of
   * long logs read. Not `keep`'s (the table being answered): one listing larger than the whole
   * budget is still held, as it is needed for the answer. A dropped table's next read lists its
   * log whole again (~10 rounds of requests for a 90,000-key log: whole-log-listing.ts); a
   * generation of it under way that must place a remove without partitionValues answers a
   * retryable 503, as after a log cleanup (ScanPathPartitions finds no log held).
   */
  private dropListings(keep: TableState): void {
    const budget = this.opts.budgetBytes();
    let total = this.listingBytes();
    // Oldest read first: table() moves a table to the end of the map at each read.
    for (const [uri, t] of this.tables) {
      if (total <= budget) break;
      if (t === keep || t.listing.bytes === 0) continue;
      total -= t.listing.bytes;
      this.tables.delete(uri);
      this.listingsDropped++;
    }
  }

  async folder(req: LogViewRequest, relAfter?: string): Promise<VirtualFolder> {
    const from = relAfter === undefined ? undefined : FROM_VERSION.exec(relAfter)?.[1];
    let log = await this.realLog(req);
    if (from !== undefined) log = await this.checkpointAt(req, log, Number(from));
    // Nothing shown at the snapshot's version: a log cleanup deleted it, the log moved past this
    // snapshot. Its listing would be empty or cut short, which readers take for a missing table;
    // a retry (503) meets a refreshed snapshot.
    if (!log.commits.get(log.version) && !log.checkpoints.some((c) => c.version === log.version))
      throw new StorageError('Unavailable', 'the log moved past the snapshot since it was listed');
    const { keys, index } = await folderKeys(log, this.walked);
    // Keys before this index were started by this listing already.
    let ahead = 0;
    return {
      prefix: LOG_DIR,
      keys,
      describe: async (relKey) => {
        const i = index(relKey);
        if (i === undefined) throw new Error(`${relKey} is not in the filtered log`);
        // Listings describe keys in order: start the next few generations now (each once).
        const end = Math.min(keys.length, i + 1 + PREFETCH);
        for (let k = Math.max(i + 1, ahead); k < end; k++) this.generate(req, log, keys[k]!)?.catch(() => {});
        ahead = Math.max(ahead, end);
        const g = await this.shown(req, log, relKey).catch((e: unknown) => {
          // A file this listing named is gone (a log cleanup since): generate() made the next
          // request list the log again, so this one answers 503 and the client's retry gets a
          // listing that holds together (this one's keys no longer do).
          if (isNotFound(e))
            throw new StorageError('Unavailable', `${relKey} is gone since the log was listed`);
          throw e;
        });
        return g && meta(g);
      },
    };
  }

  async object(req: LogViewRequest, relKey: string): Promise<GeneratedObject | undefined> {
    let log = await this.realLog(req);
    const p = parseLogPath(relKey, 0);
    if (p?.type === 'checkpoint' && p.kind === 'classic')
      log = await this.checkpointAt(req, log, p.version, true);
    try {
      return await this.shown(req, log, relKey);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      // A file the listing named is gone (a log cleanup since): answer from a new listing. Gone
      // again (a cleanup deleting file by file): 503, which clients retry, not a 500.
      return this.shown(req, await this.realLog(req), relKey).catch((again: unknown) => {
        if (isNotFound(again))
          throw new StorageError('Unavailable', `${relKey} is gone since the log was listed`);
        throw again;
      });
    }
  }

  /**
   * The generated file, or undefined when the key is not (or no longer) in the view: a checkpoint
   * found broken, and a `_last_checkpoint` left without a checkpoint, are hidden (readers skip a
   * broken checkpoint and list from 0 without a hint), never an error.
   */
  private async shown(req: LogViewRequest, log: RealLog, relKey: string): Promise<Generated | undefined> {
    try {
      return await this.generate(req, log, relKey);
    } catch (e) {
      if (!virtualFile(log, relKey)) return undefined;
      throw e;
    }
  }

  private generate(req: LogViewRequest, log: RealLog, relKey: string): Promise<Generated> | undefined {
    const t = this.table(req);
    return this.generateFrom(req, log, relKey, t)?.catch((e: unknown) => {
      // A checkpoint written again since the listing (a new size, a new ETag): this answer is a
      // 503, and the next request lists the log again instead of pinning the old size forever.
      // Likewise a file the listing named that is gone (a log cleanup since the listing), also
      // one the lookup of a commit's remove's add read.
      if (e instanceof FileChanged || isNotFound(e)) {
        // Listing only the newest versions would not see it: the next listing is whole.
        t.listing.forget();
        t.logs.delete(req.snapshot);
        if (t.latest === log) t.latest = undefined;
      }
      throw e;
    });
  }

  private generateFrom(
    req: LogViewRequest,
    log: RealLog,
    relKey: string,
    t: TableState,
  ): Promise<Generated> | undefined {
    const file = virtualFile(log, relKey);
    if (!file) return undefined;
    const base = `${req.tableUri}\u0000${req.grant.fingerprint}\u0000`;
    switch (file.kind) {
      case 'commit': {
        const c = file.commit;
        return (async () => {
          // In the key: a file generated before a later change of partitioning is not served after it.
          const pos = await this.epoch(req, log).position(file.version, true);
          return this.cache.get(`${base}${c.source}\u0000${pos}`, async () => {
            const bytes = await readListed(req.storage, c);
            const filter = this.filter(t, req.grant, pos, this.epoch(req, log)).actions;
            const body = await filterCommit(bytes, c.path, file.version, filter);
            return generatedInSlices(body, c.lastModified);
          });
        })();
      }
      case 'checkpoint':
        return this.checkpoint(req, log, t, base, file.checkpoint);
      case 'lastCheckpoint':
        return this.lastCheckpoint(req, log, t, base);
    }
  }

  /** The hint names the newest checkpoint that generates; a broken one is skipped for the next. */
  private async lastCheckpoint(
    req: LogViewRequest,
    log: RealLog,
    t: TableState,
    base: string,
  ): Promise<Generated> {
    for (;;) {
      const cp = log.checkpoints[0];
      // shown() answers 404: every checkpoint turned out broken.
      if (!cp) throw new DeltaLogError('Unreadable', 'no readable checkpoint left for _last_checkpoint');
      // Outside the try: a log file this reads that is broken does not make the checkpoint so.
      const pos = await this.epoch(req, log).position(cp.version, false);
      try {
        return await this.cache.get(`${base}${LAST_CHECKPOINT}\u0000${cp.source}\u0000${pos}`, async () => {
          const g = await this.checkpoint(req, log, t, base, cp, pos);
          const hint = {
            version: cp.version,
            size: g.actions,
            sizeInBytes: g.body.byteLength,
            numOfAddFiles: g.adds,
          };
          return generated(new TextEncoder().encode(JSON.stringify(hint)), cp.lastModified);
        });
      } catch (e) {
        // Not a broken checkpoint: a real failure. A checkpoint file gone since the listing (a log
        // cleanup; a newer checkpoint was written first) makes this listing stale, and does not make
        // the next older checkpoint the hint: answered from a new listing (see generate()).
        if (!(e instanceof DeltaLogError)) throw e;
        // Dropped here too: the hint's generation may have been another listing's.
        dropCheckpoint(log, cp.version);
      }
    }
  }

  private async checkpoint(
    req: LogViewRequest,
    log: RealLog,
    t: TableState,
    base: string,
    cp: RealCheckpoint,
    known?: EpochPosition,
  ): Promise<Generated> {
    const pos = known ?? (await this.epoch(req, log).position(cp.version, false));
    return this.cache
      .get(`${base}checkpoint\u0000${cp.source}\u0000${pos}`, async () => {
        const filter = this.filter(t, req.grant, pos, this.epoch(req, log));
        const w = await filterCheckpoint(req.storage, cp.parts, filter.actions, filter.classifier);
        return { ...generated(w.bytes, cp.lastModified), actions: w.actions, adds: w.adds };
      })
      .catch((e: unknown) => {
        // A broken checkpoint (a failed write, a missing sidecar) is hidden, as readers skip it:
        // dropped from the listing of every request that met it (one generation is shared by
        // requests holding different listings). One whose file is gone since the listing (a log
        // cleanup) is not broken: that listing is stale, and the request is answered from a new
        // one (generate(), object()).
        if (e instanceof DeltaLogError) dropCheckpoint(log, cp.version);
        throw e;
      });
  }

  private filter(
    t: TableState,
    grant: FileGrant,
    position: EpochPosition,
    epoch: PartitioningEpoch,
  ): { actions: ActionFilter; classifier: TupleClassifier } {
    // Before the newest partitioning starts, no file is anyone's (the snapshot and history refuse them).
    const classifier = new TupleClassifier(position === 'before' ? { ...grant, allows: () => false } : grant);
    // One filter per generation: it holds what its lookups parse until it is done.
    const lookup = t.lookup instanceof ScanPathPartitions ? t.lookup.session() : t.lookup;
    return {
      classifier,
      actions: new ActionFilter({
        root: t.root,
        classifier,
        dv: t.inliner,
        lookup,
        position,
        positionOf: (v, checkpoint) => epoch.position(v, !checkpoint),
      }),
    };
  }

  private epoch(req: LogViewRequest, log: RealLog): PartitioningEpoch {
    let e = this.epochs.get(log);
    if (!e) {
      e = new PartitioningEpoch(log, req.snapshot.partitionColumns, req.storage, (id, load) =>
        this.cache.get(`${req.tableUri}\u0000\u0002partitioning\u0000${id}`, load),
      );
      this.epochs.set(log, e);
    }
    return e;
  }

  private table(req: LogViewRequest): TableState {
    let t = this.tables.get(req.tableUri);
    if (t) {
      // Most recently read last: dropListings() drops from the front.
      this.tables.delete(req.tableUri);
      this.tables.set(req.tableUri, t);
    } else {
      const root = new TableRoot(req.tableUri);
      const state: TableState = {
        root,
        inliner: new DvInliner(req.storage, root, this.vectors),
        lookup: undefined as unknown as PathPartitionLookup,
        listing: new HeldLogListing(req.storage, () => this.now(), this.opts.fullListingMs),
        logs: new WeakMap(),
      };
      state.lookup =
        this.opts.lookup?.(req.storage, root) ??
        new ScanPathPartitions(
          req.storage,
          root,
          () => {
            // Forgotten since this generation began (a file gone or changed, see generate()): "no
            // log" is not "no add" (a remove placed nowhere is dropped, its file left active), so
            // this generation fails, uncached, and the next request lists the log anew.
            if (!state.latest) throw new StorageError('Unavailable', 'the table log is being listed again');
            return state.latest;
          },
          // In the generated files' budget, shared by every caller of the table.
          (id, load) => this.cache.get(`${req.tableUri}\u0000\u0001adds\u0000${id}`, load),
        );
      t = state;
      this.tables.set(req.tableUri, t);
    }
    return t;
  }

  /**
   * `log`, or a new listing when the log holds a checkpoint at `version` that `log` did not list:
   * writers checkpoint right after their commit, so an instance that listed the version first
   * lacks it, while another one's `_last_checkpoint` already names it and readers list from there
   * ("Had a _last_checkpoint hint but didn't find any checkpoints") or GET it. One short listing
   * per table per PROBE_MS at most. Nothing is read for a version outside the listing's range; for
   * a listing from a version (`get` false), nor for one not after its newest checkpoint (a hint
   * names the newest; readers also list from their own snapshot's version), nor for 0 (kernel
   * lists from 0 without a hint: every read of a table without checkpoints would look). A GET of a
   * checkpoint the listing lacks looks at any version: readers GET one they were shown, and
   * another instance may have listed one written long after its commit, which only this
   * instance's hourly whole listing would see (held-log-listing.ts).
   */
  private async checkpointAt(
    req: LogViewRequest,
    log: RealLog,
    version: number,
    get = false,
  ): Promise<RealLog> {
    if (version > log.version || version < log.oldest || log.listedCheckpoints.has(version)) return log;
    if (!get && (version === 0 || version <= log.newestListedCheckpoint)) return log;
    const t = this.table(req);
    const now = this.now();
    let probe = t.probe;
    if (!probe || now - probe.at >= PROBE_MS) {
      // A failure too is the answer for PROBE_MS (a throttled store is not asked more often).
      probe = { version, at: now, found: prefetch(checkpointExistsAt(req.storage, version)) };
      t.probe = probe;
    } else if (probe.version !== version) return log;
    let found: boolean;
    try {
      found = await probe.found;
    } catch (e) {
      // A listing answers from the listing held, as before the look; a GET of the checkpoint
      // answers the failure (retried), not a 404 (never retried: the reader's table read fails).
      if (get) throw e;
      return log;
    }
    if (!found) return log;
    // Listed again unless the listing held now began after the look (it holds what the look saw);
    // one begun in the same clock tick may have been before the checkpoint was written.
    const held = t.logs.get(req.snapshot);
    if (held && held.at <= probe.at) t.logs.delete(req.snapshot);
    return this.realLog(req, version);
  }

  private now(): number {
    return this.opts.clock?.now() ?? Date.now();
  }

  /** `from`: a version the log is listed again from, if it is listed (a checkpoint found there). */
  private realLog(req: LogViewRequest, from?: number): Promise<RealLog> {
    const t = this.table(req);
    const now = this.now();
    const held = t.logs.get(req.snapshot);
    if (held && now - held.at < (this.opts.listingTtlMs ?? Number.POSITIVE_INFINITY)) return held.log;
    const entry = {
      at: now,
      log: t.listing.list(from, req.snapshot.version).then(async (files) => {
        this.dropListings(t);
        const before = this.opts.wholeLogPerVersion ? undefined : t.made;
        const log = await nextRealLog(before, files, req.snapshot.version, this.walked);
        t.made = log;
        if (!t.latest || log.version >= t.latest.version || replaced(t.latest, log)) t.latest = log;
        return log;
      }),
    };
    t.logs.set(req.snapshot, entry);
    entry.log.catch(() => {
      if (t.logs.get(req.snapshot) === entry) t.logs.delete(req.snapshot);
    });
    return entry.log;
  }
}

/**
 * Is `log` (of a lower version) another table than `latest`, one deleted and written again at its
 * path? Its commit at its version is then another file. A late listing for an older snapshot of
 * the same table names the same file there, and does not replace the newer log the removes of
 * newer commits are placed by.
 */
function replaced(latest: RealLog, log: RealLog): boolean {
  const theirs = latest.commits.get(log.version);
  return theirs !== undefined && theirs.source !== log.commits.get(log.version)?.source;
}

/**
 * The sorted keys of a listed log and their positions, made once per listing of it (a long log has
 * tens of thousands of commits: sorting them for every listing request would hold the event loop),
 * and from the keys of the log before where it was made from it (keysOf()). A checkpoint dropped
 * since (a new `checkpoints` array) makes them again.
 */
async function folderKeys(
  log: RealLog,
  walked: { entries: number },
): Promise<{ keys: string[]; index: (key: string) => number | undefined }> {
  const keys = await keysOf(log, walked);
  // Found by binary search: a Map of every key would rehash them all in one block as it grows.
  return {
    keys,
    index: (key) => {
      const at = firstIndex(keys, (k) => k >= key);
      return keys[at] === key ? at : undefined;
    },
  };
}

function generated(body: Uint8Array, lastModified: Date): Generated {
  const etag = `"${createHash('md5').update(body).digest('hex')}"`;
  return { body, etag, lastModified, contentType: CONTENT_TYPE, bytes: body.byteLength + 256 };
}

/** Bytes hashed between two yields: a filtered commit may be tens of MB. */
const HASH_SLICE_BYTES = 1024 * 1024;

/** generated(), hashing a big body a slice at a time. */
async function generatedInSlices(body: Uint8Array, lastModified: Date): Promise<Generated> {
  if (body.byteLength <= HASH_SLICE_BYTES) return generated(body, lastModified);
  const hash = createHash('md5');
  for (let i = 0; i < body.byteLength; i += HASH_SLICE_BYTES) {
    hash.update(body.subarray(i, i + HASH_SLICE_BYTES));
    await yieldToEventLoop();
  }
  const etag = `"${hash.digest('hex')}"`;
  return { body, etag, lastModified, contentType: CONTENT_TYPE, bytes: body.byteLength + 256 };
}

function meta(g: Generated): GeneratedObjectMeta {
  return { size: g.body.byteLength, etag: g.etag, lastModified: g.lastModified };
}
