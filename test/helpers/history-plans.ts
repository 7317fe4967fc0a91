/**
 * What readers of older versions of a table would read, for the history acceptance tests:
 * - a scan planned at each retained version with the project's own replay (loadSnapshot at that
 *   version): its data files, their deletion-vector files and the change data it names, each with
 *   its partition tuple at that version;
 * - a change-data-feed reader from the oldest retained version (delta-rs `load_cdf`, Spark
 *   `table_changes`): per commit its `cdc` files, or, for a commit without any, the files it
 *   added and removed with dataChange;
 * - when each reader reads: just after the next commit landed (the moment a rewrite could take a
 *   planned file away), taken from the commits' own timestamps.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSnapshot } from '../../lambda/delta/load-snapshot';
import type { TableFacts, Tuple } from './authz-table-facts';
import { fsDeltaStorage } from './delta-fs-storage';
import { commitKey } from './log-text';

export interface TablePlans {
  facts: TableFacts;
  versions: number[];
  /** Relative path → version → the file's tuples in the plan of that version. */
  planned: Map<string, Map<number, Tuple[]>>;
  /** When a reader of version v reads (ms): a minute after commit v+1 (or after the latest). */
  readAt(v: number): number;
  /** Change-data reads from the oldest retained version: path, tuple, and the commit. */
  changeData: { rel: string; tuple: Tuple; version: number }[];
}

interface Line {
  commitInfo?: { timestamp?: number; inCommitTimestamp?: number };
  add?: FileAction;
  remove?: FileAction & { deletionTimestamp?: number };
  cdc?: FileAction;
}

interface FileAction {
  path: string;
  partitionValues?: Record<string, string | null> | null;
  dataChange?: boolean;
}

function readCommit(dir: string, v: number): Line[] | undefined {
  try {
    return readFileSync(join(dir, commitKey(v)), 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as Line);
  } catch {
    return undefined;
  }
}

/** A commit's time: in-commit timestamp, commitInfo.timestamp, else its latest deletionTimestamp. */
function commitTime(lines: Line[]): number | undefined {
  for (const l of lines) {
    const t = l.commitInfo?.inCommitTimestamp ?? l.commitInfo?.timestamp;
    if (typeof t === 'number') return t;
  }
  const ds = lines.map((l) => l.remove?.deletionTimestamp).filter((x): x is number => typeof x === 'number');
  return ds.length ? Math.max(...ds) : undefined;
}

export async function tablePlans(facts: TableFacts): Promise<TablePlans> {
  const storage = fsDeltaStorage(facts.dir);
  const tableUri = `s3://plans/${facts.name}`;
  const versions: number[] = [];
  for (let v = facts.oldestVersion; v <= facts.version; v++) versions.push(v);
  const planned = new Map<string, Map<number, Tuple[]>>();
  for (const v of versions) {
    const snap = await loadSnapshot(storage, { tableUri, version: v });
    snap.forEachFile((rel) => {
      const tuples = snap.tuplesOf(rel).map((t) => snap.tupleValues(t));
      const byVersion = planned.get(rel) ?? new Map<number, Tuple[]>();
      byVersion.set(v, tuples);
      planned.set(rel, byVersion);
    });
  }

  const commits = new Map<number, Line[]>();
  for (const v of versions) {
    const c = readCommit(facts.dir, v);
    if (c) commits.set(v, c);
  }
  const times = new Map<number, number>();
  let last = Date.now();
  for (const v of [...versions].reverse()) {
    const t = commits.has(v) ? commitTime(commits.get(v)!) : undefined;
    if (t !== undefined) last = t;
    times.set(v, t ?? last);
  }
  const readAt = (v: number) => (times.get(Math.min(v + 1, facts.version)) ?? Date.now()) + 60_000;

  const tupleOf = (pv: FileAction['partitionValues']): Tuple =>
    facts.columns.map((c) => pv?.[c.physical] ?? null);
  const relOf = (p: string) => (/^[A-Za-z][A-Za-z0-9+.-]*:|^\//.test(p) ? undefined : decodeURIComponent(p));
  const changeData: TablePlans['changeData'] = [];
  for (const [version, lines] of commits) {
    const cdcs = lines.filter((l) => l.cdc).map((l) => l.cdc!);
    const files = cdcs.length
      ? cdcs
      : lines.flatMap((l) => [l.add, l.remove]).filter((a): a is FileAction => !!a && a.dataChange !== false);
    for (const a of files) {
      const rel = relOf(a.path);
      // A remove without partition values (old writers): its partition is the add's; not modelled.
      if (a.partitionValues == null && facts.columns.length > 0) continue;
      if (rel !== undefined) changeData.push({ rel, tuple: tupleOf(a.partitionValues), version });
    }
  }
  return { facts, versions, planned, readAt, changeData };
}
