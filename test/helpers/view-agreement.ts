/**
 * The oracle of the view-agreement tests: for a grant, the filtered `_delta_log/` is read as a
 * reader reads it (listed, every generated file downloaded) and replayed at every version it
 * holds; the authorizer's two looks (the newest snapshot, then the retained history, through the
 * same SnapshotCache and HistoryLookup the proxy uses) are asked about every file the view names
 * (active at some version, a remove, a change-data file) and about every file the real log's shown
 * files name that the view does not: the commits the view shows and the adds of the checkpoints
 * it shows (a checkpoint's tombstones are not shown: see lambda/log-view/filtered-checkpoint.ts;
 * nor are compaction files, or log files older than the oldest version the log can rebuild). A
 * named file must be served; a file the authorizer refuses must not be named.
 */
import { AllowedSetCache } from '../../lambda/access/allowed-set-cache';
import { fileGrantOf } from '../../lambda/access/file-grant';
import type { PartitionMap } from '../../lambda/access/grant';
import { HistoryLookup } from '../../lambda/access/history-lookup';
import { silentLogger } from '../../lambda/core/logger';
import { parseLogPath, versionPrefix } from '../../lambda/delta/log-path';
import { SnapshotCache } from '../../lambda/delta/snapshot-cache';
import { TableRoot } from '../../lambda/delta/table-root';
import { FilteredLogView } from '../../lambda/log-view/filtered-log-view';
import type { MemoryDeltaStorage } from './delta-memory-storage';
import { jsonLines, parquetRows, type ReplayedFile, replayEntries } from './virtual-log-replay';

const URI = 's3://bucket/t';
const MOUNT = { alias: 't', bucket: 'bucket', prefix: 't/', uri: URI };

type Obj = Record<string, unknown>;

export interface Agreement {
  /** Paths the view names (decoded, relative) that the authorizer refuses, with where. */
  namedButRefused: string[];
  /** Paths of the real log the authorizer serves that no version of the view shows. */
  servedButHidden: string[];
  /** Paths of the real log the authorizer serves. */
  served: string[];
  /** Active files of the view at each version it can replay. */
  at: Map<number, string[]>;
  /** The same with their values and deletion vectors, as a reader replays them. */
  files: Map<number, ReplayedFile[]>;
  /** Paths active twice at a version (a remove that missed its add's deletion vector), with where. */
  twice: string[];
  text: string;
}

/** The paths named by file actions in a commit (JSON lines) or checkpoint (Parquet) body. */
async function namedPaths(name: string, body: Uint8Array): Promise<{ path: string; kind: string }[]> {
  const out: { path: string; kind: string }[] = [];
  const take = (kind: string, a: unknown) => {
    if (a && typeof (a as Obj).path === 'string') out.push({ path: (a as Obj).path as string, kind });
  };
  if (name.endsWith('.json') && name !== '_last_checkpoint') {
    for (const a of jsonLines(body)) for (const k of ['add', 'remove', 'cdc']) take(k, a[k]);
  } else if (name.endsWith('.parquet')) {
    for (const r of await parquetRows(body)) for (const k of ['add', 'remove']) take(k, r[k]);
  }
  return out;
}

export async function checkAgreement(
  s: MemoryDeltaStorage,
  maps: PartitionMap[],
  now: number,
): Promise<Agreement> {
  const clock = { now: () => now };
  const snapshots = new SnapshotCache({ ttlMs: 1e12, maxBytes: 1 << 26, clock });
  const allowedSets = new AllowedSetCache();
  const lookup = new HistoryLookup({ snapshots, allowedSets, clock, logger: silentLogger });
  const snapshot = await snapshots.get(URI, s, URI);
  const allowed = await allowedSets.get('p', 't', snapshot, maps);
  const principal = { name: 'p', anonymous: false };
  const served = async (rel: string) =>
    (allowed.isReadable(rel) && snapshot.kindOf(rel) !== 'deletionVector') ||
    (await lookup.verdict(principal, MOUNT, s, snapshot, maps, rel)) === 'readable';

  const view = new FilteredLogView({ budgetBytes: () => 1 << 24 });
  const req = { tableUri: URI, storage: s, snapshot, grant: fileGrantOf(snapshot.partitionColumns, maps) };
  const files = new Map<string, Uint8Array>();
  for (const key of (await view.folder(req)).keys) {
    files.set(key.slice('_delta_log/'.length), (await view.object(req, key))!.body);
  }
  const root = new TableRoot(URI);
  const rel = (p: string) => root.resolve(p).relPath ?? `<external ${p}>`;

  const named = new Map<string, string>();
  for (const [name, body] of files) {
    for (const { path, kind } of await namedPaths(name, body)) named.set(rel(path), `${kind} in ${name}`);
  }
  const at = new Map<number, string[]>();
  const atFiles = new Map<number, ReplayedFile[]>();
  const twice: string[] = [];
  for (const name of files.keys()) {
    const m = /^(\d{20})\.json$/.exec(name);
    if (!m) continue;
    const v = Number(m[1]);
    let active: ReplayedFile[];
    try {
      active = await replayEntries(files, v);
    } catch {
      continue; // not reconstructable from what the view lists
    }
    const paths = active.map((f) => f.path).sort();
    for (const [i, p] of paths.entries()) if (paths[i - 1] === p) twice.push(`${p} at v${v}`);
    at.set(v, [...new Set(paths)]);
    atFiles.set(v, active);
    for (const p of paths) named.set(p, `active at v${v}`);
  }

  const namedButRefused: string[] = [];
  for (const [p, where] of named) if (!(await served(p))) namedButRefused.push(`${p} (${where})`);

  const real = new Set<string>();
  const shownSidecars = new Set<string>();
  const logFiles = [...s.files].map(([path, body]) => ({
    path,
    body,
    p: parseLogPath(path, body.byteLength),
  }));
  for (const { body, p } of logFiles) {
    if (
      p?.type !== 'checkpoint' ||
      p.kind !== 'uuid' ||
      !files.has(`${versionPrefix(p.version)}.checkpoint.parquet`)
    )
      continue;
    const rows = p.format === 'json' ? jsonLines(body) : await parquetRows(body);
    for (const r of rows) if (r.sidecar) shownSidecars.add(`_delta_log/_sidecars/${(r.sidecar as Obj).path}`);
  }
  for (const { path, body, p } of logFiles) {
    const commit = p?.type === 'commit' && files.has(`${versionPrefix(p.version)}.json`);
    const checkpoint =
      (p?.type === 'checkpoint' && files.has(`${versionPrefix(p.version)}.checkpoint.parquet`)) ||
      shownSidecars.has(path);
    if (!commit && !checkpoint) continue;
    for (const { path: named, kind } of await namedPaths(path.slice('_delta_log/'.length), body)) {
      const r = root.resolve(named).relPath;
      if (r !== undefined && (commit || kind === 'add')) real.add(r);
    }
  }
  const servedButHidden: string[] = [];
  const servedPaths: string[] = [];
  for (const p of real) {
    if (!(await served(p))) continue;
    servedPaths.push(p);
    if (!named.has(p)) servedButHidden.push(p);
  }

  const text = [...files.values()].map((b) => Buffer.from(b).toString('latin1')).join('\n');
  return {
    namedButRefused: namedButRefused.sort(),
    servedButHidden: servedButHidden.sort(),
    served: servedPaths.sort(),
    at,
    files: atFiles,
    twice,
    text,
  };
}
