/**
 * An independent, deliberately naive replay for tests: every JSON commit from version 0 (or,
 * when the early log is gone, the newest checkpoint read whole with plain hyparquet), actions
 * keyed by "path|dvId" in a Map, no compaction files, no caching, no cleverness. The product's
 * replay must agree with it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { checkpointName, commitName } from './log-text';

export interface RefFile {
  /** Decoded path relative to the table root (or the canonical absolute URI when outside). */
  path: string;
  partitionValues: Record<string, string | null>;
  dvFile?: string;
  dvCardinality?: number;
}

export interface RefState {
  version: number;
  files: Map<string, RefFile>;
  cdc: Set<string>;
}

const Z85 = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';

function z85ToUuid(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i += 5) {
    let v = 0;
    for (let j = 0; j < 5; j++) v = v * 85 + Z85.indexOf(s[i + j]!);
    bytes.push((v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255);
  }
  const h = bytes.map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

interface Dv {
  storageType: string;
  pathOrInlineDv: string;
  offset?: number | null;
  cardinality?: number | bigint;
}

function dvId(dv: Dv | null | undefined): string {
  if (!dv) return '';
  return `${dv.storageType}${dv.pathOrInlineDv}${dv.offset == null ? '' : `@${dv.offset}`}`;
}

function decode(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    return p;
  }
}

function resolve(p: string, rootUri: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(p) || p.startsWith('/')) {
    let abs = decode(p);
    if (abs.startsWith('/')) abs = `file:${abs}`;
    abs = abs.replace(/^file:\/\/\//, 'file:/').replace(/^s3a:/, 's3:');
    return abs.startsWith(`${rootUri}/`) ? abs.slice(rootUri.length + 1) : abs;
  }
  return decode(p);
}

function nullIfEmpty(pv: Record<string, string | null> | null | undefined): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(pv ?? {})) out[k] = v === '' ? null : v;
  return out;
}

export async function referenceReplay(dir: string, rootUri: string, version?: number): Promise<RefState> {
  const logDir = path.join(dir, '_delta_log');
  const names = readdirSync(logDir);
  const commits = names
    .map((n) => /^(\d{20})\.json$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
  const target = version ?? commits[commits.length - 1]!;
  const files = new Map<string, RefFile & { key: string }>();
  const cdc = new Set<string>();
  const addFile = (a: {
    path: string;
    partitionValues?: Record<string, string | null>;
    deletionVector?: Dv | null;
  }) => {
    // Keyed by the canonical location, as Delta does (a "/x" add and a "file:/x" remove match).
    const rel = resolve(a.path, rootUri);
    const key = `${rel}|${dvId(a.deletionVector)}`;
    const f: RefFile & { key: string } = { key, path: rel, partitionValues: nullIfEmpty(a.partitionValues) };
    const dv = a.deletionVector;
    if (dv?.storageType === 'u') {
      const prefix = dv.pathOrInlineDv.slice(0, -20);
      f.dvFile = `${prefix ? `${prefix}/` : ''}deletion_vector_${z85ToUuid(dv.pathOrInlineDv.slice(-20))}.bin`;
    } else if (dv?.storageType === 'p') f.dvFile = resolve(dv.pathOrInlineDv, rootUri);
    if (dv?.cardinality !== undefined) f.dvCardinality = Number(dv.cardinality);
    files.set(key, f);
  };
  let start = 0;
  if (commits[0] !== 0) {
    // The early log is gone: start from the checkpoint at the first commit (read naively).
    const cpName = names.find((n) => n === checkpointName(commits[0]!));
    if (!cpName) throw new Error(`${dir}: no commit 0 and no classic checkpoint at ${commits[0]}`);
    const buf = readFileSync(path.join(logDir, cpName));
    const rows = await parquetReadObjects({
      file: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer,
      columns: ['add'],
      compressors,
    });
    for (const r of rows) if (r.add) addFile(r.add as never);
    start = commits[0]! + 1;
  }
  for (const v of commits) {
    if (v < start || v > target) continue;
    const lines = readFileSync(path.join(logDir, commitName(v)), 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as Record<string, never>);
    // Valid commits never add and remove one key, so removes-then-adds is order-independent.
    for (const a of lines) {
      const r = a.remove as { path: string; deletionVector?: Dv } | undefined;
      if (r) files.delete(`${resolve(r.path, rootUri)}|${dvId(r.deletionVector)}`);
    }
    for (const a of lines) {
      if (a.add) addFile(a.add);
      const c = a.cdc as { path: string } | undefined;
      if (c) cdc.add(resolve(c.path, rootUri));
    }
  }
  const byPath = new Map<string, RefFile>();
  for (const f of files.values()) byPath.set(f.path, f);
  return { version: target, files: byPath, cdc };
}
