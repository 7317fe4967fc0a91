/**
 * What a table folder holds and which of its files a grant may open, computed by the test
 * itself and independently of lambda/delta: a straight replay of the JSON commits (or, when the
 * early log is gone, of the newest checkpoint read with hyparquet plus the later commits), keyed
 * by (path, deletion-vector id) as the Delta protocol says.
 *
 * Authorizable files: active data files, the deletion-vector files they point to, and the
 * `cdc` files of the commits after the newest checkpoint (checkpoints carry no cdc actions;
 * that is the set a reader replaying the current snapshot can name).
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

export interface TableFacts {
  name: string;
  dir: string;
  columns: ColumnFact[];
  version: number;
  /** Every object on storage, relative to the table root. */
  objects: string[];
  authorizable: Map<string, FileFact>;
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
  const newestCheckpoint = Math.max(-1, ...[...checkpoints.keys()].filter((v) => v <= latest));
  // Full JSON history when we have it (independent of checkpoints); else the newest checkpoint.
  const fullHistory = [...Array(latest + 1).keys()].every((v) => commits.has(v));
  const start = fullHistory ? 0 : newestCheckpoint + 1;
  const batches: { version: number; actions: Action[] }[] = [];
  if (!fullHistory) {
    if (newestCheckpoint < 0) throw new Error(`${name}: neither full JSON history nor a checkpoint`);
    batches.push({
      version: newestCheckpoint,
      actions: await readCheckpoint(checkpoints.get(newestCheckpoint)!.sort()),
    });
  }
  for (let v = start; v <= latest; v++)
    batches.push({ version: v, actions: readJsonCommit(commits.get(v)!) });

  let meta: Action['metaData'];
  const active = new Map<string, FileAction>();
  const cdc = new Map<string, FileAction>();
  const seenValues: Record<string, string | null>[] = [];
  for (const { version, actions } of batches) {
    for (const a of actions) {
      if (a.metaData) meta = a.metaData;
      if (a.remove) {
        active.delete(`${a.remove.path}\u0000${dvId(a.remove.deletionVector)}`);
        seenValues.push(a.remove.partitionValues ?? {});
      }
      if (a.add) {
        active.set(`${a.add.path}\u0000${dvId(a.add.deletionVector)}`, a.add);
        seenValues.push(a.add.partitionValues ?? {});
      }
      if (a.cdc) {
        seenValues.push(a.cdc.partitionValues ?? {});
        if (version > newestCheckpoint) cdc.set(a.cdc.path, a.cdc);
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
    objects,
    authorizable,
    knownTuples: [...distinct.values()],
  };
}
