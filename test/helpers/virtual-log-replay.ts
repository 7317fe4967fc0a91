/**
 * Reads a Delta log the way a reader does, written for the filtered-log tests without any project
 * code: the newest checkpoint at or before the version (hyparquet, whole file), then the commits
 * after it; or every commit from 0. Keyed by (path, deletion-vector id) as PROTOCOL.md says.
 * Also: every file action ever written in a real table folder (for the leak checks).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { checkpointName, commitName } from './log-text';

export interface ReplayedFile {
  path: string;
  partitionValues: Record<string, string | null>;
  deletionVector?: {
    storageType: string;
    pathOrInlineDv: string;
    sizeInBytes?: number;
    cardinality?: number;
  };
}

type Obj = Record<string, unknown>;

const dvId = (dv: Obj | null | undefined) =>
  dv ? `${dv.storageType}${dv.pathOrInlineDv}${dv.offset == null ? '' : `@${dv.offset}`}` : '';

export async function parquetRows(bytes: Uint8Array, columns?: string[]): Promise<Obj[]> {
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return (await parquetReadObjects({ file, compressors, ...(columns ? { columns } : {}) })) as Obj[];
}

/** A parquet MAP as hyparquet returns it (object, or [{key, value}] entries) → plain object. */
export function mapOf(m: unknown): Record<string, string | null> {
  if (!m) return {};
  if (Array.isArray(m))
    return Object.fromEntries(m.map((e: Obj) => [e.key, (e.value ?? null) as string | null]));
  return m as Record<string, string | null>;
}

export function jsonLines(bytes: Uint8Array): Obj[] {
  return new TextDecoder()
    .decode(bytes)
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Obj);
}

/**
 * The active files at `version` of a log given as name → bytes (names relative to _delta_log/),
 * keyed by decoded path. Throws when the version cannot be reconstructed from what is there.
 */
export async function replayLog(
  files: Map<string, Uint8Array>,
  version: number,
): Promise<Map<string, ReplayedFile>> {
  return new Map((await replayEntries(files, version)).map((f) => [f.path, f]));
}

/**
 * The active (path, deletion vector) entries at `version`, as replayLog but not merged by path:
 * two entries of one path mean a remove did not match its add's vector, and a reader would read
 * the file twice.
 */
export async function replayEntries(
  files: Map<string, Uint8Array>,
  version: number,
): Promise<ReplayedFile[]> {
  const active = new Map<string, ReplayedFile>();
  const put = (a: Obj) => {
    const dv = (a.deletionVector ?? null) as Obj | null;
    active.set(`${a.path}|${dvId(dv)}`, {
      path: decodeURIComponent(a.path as string),
      partitionValues: mapOf(a.partitionValues),
      ...(dv ? { deletionVector: dv as ReplayedFile['deletionVector'] } : {}),
    });
  };
  const cps = [...files.keys()]
    .map((n) => /^(\d{20})\.checkpoint\.parquet$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .filter((v) => v <= version)
    .sort((a, b) => b - a);
  let start = 0;
  if (cps.length) {
    for (const r of await parquetRows(files.get(checkpointName(cps[0]!))!, ['add'])) {
      if (r.add) put(r.add as Obj);
    }
    start = cps[0]! + 1;
  }
  for (let v = start; v <= version; v++) {
    const c = files.get(commitName(v));
    if (!c) throw new Error(`commit ${v} missing from the log (start ${start})`);
    const actions = jsonLines(c);
    for (const a of actions) {
      const r = a.remove as Obj | undefined;
      if (r) active.delete(`${r.path}|${dvId(r.deletionVector as Obj)}`);
    }
    for (const a of actions) if (a.add) put(a.add as Obj);
  }
  return [...active.values()];
}

export interface LoggedFile {
  /** As written in the log. */
  raw: string;
  decoded: string;
  partitionValues: Record<string, string | null>;
  dv?: string;
}

/** Every add / remove / cdc of every commit and checkpoint (and sidecar) in a real table folder. */
export async function everyLoggedFile(tableDir: string): Promise<LoggedFile[]> {
  const out: LoggedFile[] = [];
  const take = (a: Obj | null | undefined) => {
    if (!a || typeof a.path !== 'string') return;
    let decoded = a.path;
    try {
      decoded = decodeURIComponent(a.path);
    } catch {}
    const dv = a.deletionVector as Obj | null | undefined;
    out.push({
      raw: a.path,
      decoded,
      partitionValues: mapOf(a.partitionValues),
      ...(dv && dv.storageType !== 'i' ? { dv: String(dv.pathOrInlineDv) } : {}),
    });
  };
  const logDir = join(tableDir, '_delta_log');
  const names = readdirSync(logDir);
  const sidecars = names.includes('_sidecars')
    ? readdirSync(join(logDir, '_sidecars')).map((n) => `_sidecars/${n}`)
    : [];
  for (const n of [...names, ...sidecars]) {
    if (/^\d{20}\.(json|\d{20}\.compacted\.json|checkpoint\.[0-9a-f-]{36}\.json)$/.test(n)) {
      for (const a of jsonLines(readFileSync(join(logDir, n)))) {
        take(a.add as Obj);
        take(a.remove as Obj);
        take(a.cdc as Obj);
      }
    } else if (n.endsWith('.parquet')) {
      const rows = await parquetRows(readFileSync(join(logDir, n)));
      for (const r of rows) {
        take(r.add as Obj);
        take(r.remove as Obj);
      }
    }
  }
  return out;
}
