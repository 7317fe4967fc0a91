/**
 * What a table folder holds and which of its files a grant may open, computed by the test
 * itself and independently of lambda/delta: a straight replay of the retained log — every JSON
 * commit when they all exist, else the oldest checkpoint that the remaining commits follow (read
 * with hyparquet) plus those commits — keyed by (path, deletion-vector id) as the Delta protocol
 * says.
 *
 * Listed files: active data files, the deletion-vector files they point to, and the `cdc` files
 * of every retained commit. Readable besides (GET/HEAD, never listed): files removed by a retained
 * commit or named by the oldest checkpoint's tombstones with partition values, and their
 * deletion-vector files, until deletionTimestamp + `delta.deletedFileRetentionDuration`.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';

export interface ColumnFact {
  logical: string;
  physical: string;
  type: string;
}

export type Tuple = readonly (string | null)[];

export interface FileFact {
  kind: 'data' | 'dv' | 'cdc';
  /** Partition tuples (aligned with columns) of the file; a shared DV file may have several. */
  tuples: Tuple[];
}

/** A file a retained version referenced that the newest one does not. */
export interface RemovedFact {
  /** One entry per remove (tuple and deletion time, ms). */
  removals: { tuple: Tuple; deletedAt: number }[];
}

export interface TableFacts {
  name: string;
  dir: string;
  columns: ColumnFact[];
  version: number;
  /** The oldest version the retained log reconstructs. */
  oldestVersion: number;
  /** Every object on storage, relative to the table root. */
  objects: string[];
  /** Listed (and readable): active files, their DV files, change data of every retained commit. */
  authorizable: Map<string, FileFact>;
  /** Readable until deletedAt + retentionMs, never listed. */
  removed: Map<string, RemovedFact>;
  retentionMs: number;
  /** Distinct tuples of active files, removed files and cdc files: material for grants. */
  knownTuples: Tuple[];
}

export function walkFiles(dir: string): string[] {
  const walk = (d: string): string[] =>
    readdirSync(d).flatMap((name) => {
      const p = join(d, name);
      return statSync(p).isDirectory() ? walk(p) : [relative(dir, p).split('\\').join('/')];
    });
  return walk(dir);
}

interface Action {
  add?: FileAction;
  remove?: FileAction;
  cdc?: FileAction;
  metaData?: { schemaString: string; partitionColumns: string[]; configuration?: Record<string, string> };
  protocol?: unknown;
}

interface FileAction {
  path: string;
  partitionValues?: Record<string, string | null> | null;
  deletionVector?: { storageType: string; pathOrInlineDv: string } | null;
  deletionTimestamp?: number | bigint | null;
}

const Z85 = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';

function z85Uuid(text: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i += 5) {
    let n = 0;
    for (const ch of text.slice(i, i + 5)) n = n * 85 + Z85.indexOf(ch);
    bytes.push((n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
  }
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The file a deletion vector lives in (relative), or undefined for inline / absolute ones. */
function dvFileOf(dv: FileAction['deletionVector']): string | undefined {
  if (dv?.storageType !== 'u') return undefined;
  const p = dv.pathOrInlineDv;
  const prefix = p.slice(0, p.length - 20);
  return `${prefix ? `${prefix}/` : ''}deletion_vector_${z85Uuid(p.slice(-20))}.bin`;
}

function dvId(dv: FileAction['deletionVector']): string {
  return dv ? `${dv.storageType}${dv.pathOrInlineDv}` : '';
}

/** add.path is a URI reference; absolute ones (scheme or leading "/") are not under the root here. */
function relPathOf(path: string): string | undefined {
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(path) || path.startsWith('/')) return undefined;
  return decodeURIComponent(path);
}

/** A classic checkpoint, or all parts of a multi-part one. */
function checkpointComplete(files: string[]): boolean {
  const parts = files.map((f) => /\.checkpoint\.\d{10}\.(\d{10})\.parquet$/.exec(f)?.[1]);
  return parts.every((p) => p === undefined) || parts.length === Number(parts[0]);
}

function readJsonCommit(file: string): Action[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Action);
}

async function readCheckpoint(files: string[]): Promise<Action[]> {
  const out: Action[] = [];
  for (const f of files) {
    const rows = (await parquetReadObjects({
      file: await asyncBufferFromFile(f),
      columns: ['add', 'remove', 'metaData', 'protocol'],
    })) as Action[];
    for (const r of rows) {
      for (const k of ['add', 'remove', 'metaData', 'protocol'] as const) if (r[k] == null) delete r[k];
      out.push(r);
    }
  }
  return out;
}

export async function readTableFacts(dir: string, name = dir.split('/').at(-1)!): Promise<TableFacts> {
  const objects = walkFiles(dir).sort();
  const logDir = join(dir, '_delta_log');
  const logNames = readdirSync(logDir);
  const commits = new Map<number, string>();
  const checkpoints = new Map<number, string[]>();
  for (const n of logNames) {
    let m = /^(\d{20})\.json$/.exec(n);
    if (m) commits.set(Number(m[1]), join(logDir, n));
    m = /^(\d{20})\.checkpoint(?:\.(\d{10})\.(\d{10}))?\.parquet$/.exec(n);
    if (m) {
      const v = Number(m[1]);
      checkpoints.set(v, [...(checkpoints.get(v) ?? []), join(logDir, n)]);
    }
  }
  const latest = Math.max(...commits.keys());
  // The retained range: every commit from 0, else the oldest checkpoint the commits follow.
  let low = latest;
  while (low > 0 && commits.has(low - 1)) low--;
  const oldestCheckpoint = Math.min(
    ...[...checkpoints.keys()].filter(
      (v) => v >= low - 1 && v <= latest && checkpointComplete(checkpoints.get(v)!),
    ),
  );
  const fullHistory = low === 0;
  const oldest = fullHistory ? 0 : oldestCheckpoint;
  if (!Number.isFinite(oldest)) throw new Error(`${name}: neither full JSON history nor a checkpoint`);
  const batches: { version: number; actions: Action[]; checkpoint?: boolean }[] = [];
  if (!fullHistory) {
    batches.push({
      version: oldest,
      actions: await readCheckpoint(checkpoints.get(oldest)!.sort()),
      checkpoint: true,
    });
  }
  for (let v = oldest; v <= latest; v++) {
    if (commits.has(v)) batches.push({ version: v, actions: readJsonCommit(commits.get(v)!) });
  }

  let meta: Action['metaData'];
  const active = new Map<string, FileAction>();
  const cdc = new Map<string, FileAction>();
  /** Every path ever added in the retained range, with its values (for removes without any). */
  const addedValues = new Map<string, Record<string, string | null>>();
  const removes: { action: FileAction; values: Record<string, string | null> | undefined; at: number }[] = [];
  const seenValues: Record<string, string | null>[] = [];
  for (const { actions, checkpoint } of batches) {
    const ci = actions.find((a) => (a as { commitInfo?: unknown }).commitInfo) as
      | { commitInfo: { timestamp?: number; inCommitTimestamp?: number } }
      | undefined;
    const commitAt = ci?.commitInfo.inCommitTimestamp ?? ci?.commitInfo.timestamp;
    for (const a of actions) {
      if (a.metaData) meta = a.metaData;
      if (a.add) addedValues.set(a.add.path, a.add.partitionValues ?? {});
    }
    for (const a of actions) {
      if (a.remove) {
        active.delete(`${a.remove.path}\u0000${dvId(a.remove.deletionVector)}`);
        seenValues.push(a.remove.partitionValues ?? {});
        const values = a.remove.partitionValues ?? (checkpoint ? undefined : addedValues.get(a.remove.path));
        const at = a.remove.deletionTimestamp ?? commitAt;
        if (at !== undefined && at !== null) removes.push({ action: a.remove, values, at: Number(at) });
      }
      if (a.add) {
        active.set(`${a.add.path}\u0000${dvId(a.add.deletionVector)}`, a.add);
        seenValues.push(a.add.partitionValues ?? {});
      }
      if (a.cdc) {
        seenValues.push(a.cdc.partitionValues ?? {});
        cdc.set(a.cdc.path, a.cdc);
      }
    }
  }
  if (!meta) throw new Error(`${name}: no metaData`);
  const mode = meta.configuration?.['delta.columnMapping.mode'] ?? 'none';
  const fields = (
    JSON.parse(meta.schemaString) as {
      fields: { name: string; type: unknown; metadata?: Record<string, unknown> }[];
    }
  ).fields;
  const columns = meta.partitionColumns.map((logical) => {
    const f = fields.find((x) => x.name === logical);
    const physicalName = f?.metadata?.['delta.columnMapping.physicalName'];
    return {
      logical,
      physical: mode !== 'none' && typeof physicalName === 'string' ? physicalName : logical,
      type: typeof f?.type === 'string' ? f.type : JSON.stringify(f?.type),
    };
  });
  const tupleOf = (pv: Record<string, string | null> | null | undefined): Tuple =>
    columns.map((c) => pv?.[c.physical] ?? null);

  const authorizable = new Map<string, FileFact>();
  const addTo = (rel: string | undefined, kind: FileFact['kind'], t: Tuple) => {
    if (rel === undefined) return;
    const cur = authorizable.get(rel);
    if (cur) cur.tuples.push(t);
    else authorizable.set(rel, { kind, tuples: [t] });
  };
  for (const a of active.values()) {
    const t = tupleOf(a.partitionValues);
    addTo(relPathOf(a.path), 'data', t);
    addTo(dvFileOf(a.deletionVector), 'dv', t);
  }
  for (const c of cdc.values()) addTo(relPathOf(c.path), 'cdc', tupleOf(c.partitionValues));

  const removed = new Map<string, RemovedFact>();
  const physical = new Set(columns.map((c) => c.physical));
  for (const r of removes) {
    // Values keyed by a column the table does not (now) have belong to another partitioning.
    if (!r.values || Object.keys(r.values).some((k) => !physical.has(k))) continue;
    const t = tupleOf(r.values);
    for (const rel of [relPathOf(r.action.path), dvFileOf(r.action.deletionVector)]) {
      if (rel === undefined) continue;
      const cur = removed.get(rel) ?? { removals: [] };
      cur.removals.push({ tuple: t, deletedAt: r.at });
      removed.set(rel, cur);
    }
  }
  const retention = meta.configuration?.['delta.deletedFileRetentionDuration'];
  if (retention !== undefined) throw new Error(`${name}: a retention property the facts do not model`);

  const distinct = new Map<string, Tuple>();
  for (const pv of seenValues) {
    const t = tupleOf(pv);
    distinct.set(JSON.stringify(t), t);
  }
  return {
    name,
    dir,
    columns,
    version: latest,
    oldestVersion: oldest,
    objects,
    authorizable,
    removed,
    retentionMs: 7 * 24 * 3600 * 1000,
    knownTuples: [...distinct.values()],
  };
}
