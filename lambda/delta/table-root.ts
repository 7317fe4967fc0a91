/**
 * Where a path in the log points. `add.path` (and a `p` deletion vector's path) is a
 * percent-encoded URI reference: relative to the table root, or absolute. An absolute path
 * inside the root becomes relative; one outside stays an external URI that is tracked but can
 * never match a storage key under the root. Decoded relative paths with empty, "." or ".."
 * segments are treated as external too, so nothing in the log can alias a key it does not name.
 */
import { DeltaLogError } from './delta-log-error';
import { uuidString, z85Decode } from './z85';

export type ResolvedPath =
  | { relPath: string; external?: undefined }
  | { relPath?: undefined; external: string };

const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):/;

export class TableRoot {
  /** Canonical root URI without a trailing slash, e.g. "s3://bucket/prefix". */
  readonly uri: string;
  private readonly rootSlash: string;

  constructor(tableUri: string) {
    this.uri = canonicalUri(tableUri).replace(/\/+$/, '');
    this.rootSlash = `${this.uri}/`;
  }

  resolve(logPath: string): ResolvedPath {
    if (logPath.startsWith('/') || SCHEME.test(logPath)) {
      const abs = canonicalUri(logPath);
      if (abs.startsWith(this.rootSlash)) return checkRelative(abs.slice(this.rootSlash.length), abs);
      return { external: abs };
    }
    const rel = decodePath(logPath);
    return checkRelative(rel, `${this.rootSlash}${rel}`);
  }
}

function checkRelative(rel: string, asUri: string): ResolvedPath {
  if (rel === '' || rel.includes('\\') || rel.includes('\u0000')) return { external: asUri };
  for (const seg of rel.split('/')) {
    if (seg === '' || seg === '.' || seg === '..') return { external: asUri };
  }
  return { relPath: rel };
}

/** One key per file, however the log spells its path: relative to the root, else its external URI. */
export function fileKey(r: ResolvedPath): string {
  return r.relPath ?? `\u0000${r.external}`;
}

/** Percent-decodes; a string that is not valid percent-encoding is taken literally (as written). */
export function decodePath(p: string): string {
  if (!p.includes('%')) return p;
  try {
    return decodeURIComponent(p);
  } catch {
    return p;
  }
}

/**
 * One spelling per location: scheme lower-cased, s3a/s3n → s3, "/x", "file:/x" and "file:///x"
 * → "file:/x" (Spark qualifies unqualified paths with the default file system), path decoded.
 * Runs of slashes in a path are one: Spark's Hadoop Path normalizes the URI, and delta-kernel-rs
 * reads a vector through object_store's Path::from, which drops empty segments, so both read
 * "s3://b/t//x.bin" at the key "t/x.bin".
 */
export function canonicalUri(u: string): string {
  if (u.startsWith('/')) return `file:${decodePath(oneSlash(u)).replace(/^\/+/, '/')}`;
  const m = SCHEME.exec(u);
  if (!m) return decodePath(u);
  let scheme = m[1]!.toLowerCase();
  if (scheme === 's3a' || scheme === 's3n') scheme = 's3';
  let rest = u.slice(m[0].length);
  if (scheme === 'file') {
    // file:///x and file://localhost/x name the same file as file:/x
    rest = rest.replace(/^\/\/(localhost)?(?=\/)/, '');
    return `file:${decodePath(oneSlash(rest)).replace(/^\/+/, '/')}`;
  }
  const authority = /^\/\/[^/]*/.exec(rest)?.[0] ?? '';
  return `${scheme}:${decodePath(authority + oneSlash(rest.slice(authority.length)))}`;
}

/** Before decoding: an encoded slash ("%2F") is no separator for the readers. */
function oneSlash(path: string): string {
  return path.replace(/\/{2,}/g, '/');
}

/** A deletion vector descriptor as it appears in add/remove actions. */
export interface DeletionVectorDescriptor {
  storageType: string;
  pathOrInlineDv: string;
  offset?: number | null;
}

export function dvUniqueId(dv: DeletionVectorDescriptor): string {
  return dv.offset === undefined || dv.offset === null
    ? `${dv.storageType}${dv.pathOrInlineDv}`
    : `${dv.storageType}${dv.pathOrInlineDv}@${dv.offset}`;
}

/** Where the DV's file is: relative (`u`, or `p` inside the root), external, or none (`i`). */
export function dvFile(root: TableRoot, dv: DeletionVectorDescriptor): ResolvedPath | undefined {
  // The descriptor comes from the log as it is: its fields may be missing or of another type.
  if (typeof dv.pathOrInlineDv !== 'string')
    throw new DeltaLogError('Malformed', 'deletion vector without a pathOrInlineDv string');
  switch (dv.storageType) {
    case 'i':
      return undefined;
    case 'p':
      return root.resolve(dv.pathOrInlineDv);
    case 'u': {
      const s = dv.pathOrInlineDv;
      const bytes = s.length >= 20 ? z85Decode(s.slice(-20)) : undefined;
      if (!bytes)
        throw new DeltaLogError('Malformed', `deletion vector id "${s}" is not <prefix><20 Z85 characters>`);
      const prefix = s.slice(0, -20);
      const name = `deletion_vector_${uuidString(bytes)}.bin`;
      return checkRelative(prefix ? `${prefix}/${name}` : name, `${root.uri}/${prefix}/${name}`);
    }
    default:
      throw new DeltaLogError('Malformed', `deletion vector storage type "${dv.storageType}" is unknown`);
  }
}
