/**
 * Names of the files in `_delta_log/` (PROTOCOL.md "File Types"): commits, classic / multi-part /
 * UUID-named (v2) checkpoints, log compaction files. Anything else (.crc, _last_checkpoint,
 * _autostats/, Hadoop side files) parses to undefined and is ignored by the replay.
 */
export const LOG_DIR = '_delta_log/';
export const SIDECAR_DIR = '_delta_log/_sidecars/';
export const LAST_CHECKPOINT = '_delta_log/_last_checkpoint';
/**
 * Listed log files a loop handles between two yields to the event loop: a 30-day log of a table
 * committing every 10 s holds 500,000 (a commit, its .crc, a checkpoint every ten).
 */
export const LOG_FILES_PER_SLICE = 1024;

export type ParsedLogPath =
  | { type: 'commit'; version: number; path: string; size: number }
  | { type: 'compaction'; version: number; endVersion: number; path: string; size: number }
  | {
      type: 'checkpoint';
      version: number;
      path: string;
      size: number;
      /** classic: n.checkpoint.parquet; multi: n.checkpoint.o.p.parquet; uuid: n.checkpoint.u.{json,parquet} */
      kind: 'classic' | 'multi' | 'uuid';
      part?: number;
      parts?: number;
      format: 'parquet' | 'json';
    };

const COMMIT = /^(\d{20})\.json$/;
const COMPACTION = /^(\d{20})\.(\d{20})\.compacted\.json$/;
const CLASSIC = /^(\d{20})\.checkpoint\.parquet$/;
const MULTI = /^(\d{20})\.checkpoint\.(\d{10})\.(\d{10})\.parquet$/;
const UUID = /^(\d{20})\.checkpoint\.([0-9a-fA-F-]{36})\.(json|parquet)$/;

/** Parses a path relative to the table root; only direct children of `_delta_log/` count. */
export function parseLogPath(path: string, size: number): ParsedLogPath | undefined {
  if (!path.startsWith(LOG_DIR)) return undefined;
  const name = path.slice(LOG_DIR.length);
  if (name.includes('/')) return undefined;
  let m = COMMIT.exec(name);
  if (m) return { type: 'commit', version: Number(m[1]), path, size };
  m = COMPACTION.exec(name);
  if (m) {
    const version = Number(m[1]);
    const endVersion = Number(m[2]);
    return endVersion > version ? { type: 'compaction', version, endVersion, path, size } : undefined;
  }
  m = CLASSIC.exec(name);
  if (m) return { type: 'checkpoint', kind: 'classic', version: Number(m[1]), path, size, format: 'parquet' };
  m = MULTI.exec(name);
  if (m) {
    const part = Number(m[2]);
    const parts = Number(m[3]);
    if (part < 1 || part > parts) return undefined;
    return {
      type: 'checkpoint',
      kind: 'multi',
      version: Number(m[1]),
      path,
      size,
      part,
      parts,
      format: 'parquet',
    };
  }
  m = UUID.exec(name);
  if (m) {
    return {
      type: 'checkpoint',
      kind: 'uuid',
      version: Number(m[1]),
      path,
      size,
      format: m[3] as 'json' | 'parquet',
    };
  }
  return undefined;
}

export function versionPrefix(version: number): string {
  return String(version).padStart(20, '0');
}

export function commitPath(version: number): string {
  return `${LOG_DIR}${versionPrefix(version)}.json`;
}
