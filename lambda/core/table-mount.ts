/**
 * A mapped table: its alias in the virtual bucket and its root in a backend bucket. Lives at the
 * floor so that access/, s3/ and delta/ can share it without importing each other or config.
 */

export interface TableMount {
  alias: string;
  bucket: string;
  /** "" or a prefix ending in "/". */
  prefix: string;
  /** The s3:// URI from the configuration. */
  uri: string;
}

const S3_URI = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/;

/** `s3://bucket/prefix` with a DNS-style bucket name, or undefined. Validation lives in config. */
export function matchTableUri(uri: string): { bucket: string; rawPrefix: string } | undefined {
  const m = S3_URI.exec(uri);
  return m ? { bucket: m[1]!, rawPrefix: m[2] ?? '' } : undefined;
}

/** Splits `s3://bucket/prefix` into bucket and a prefix that is "" or ends in "/". */
export function parseTableUri(uri: string): { bucket: string; prefix: string } {
  const m = matchTableUri(uri);
  if (!m) throw new TypeError(`not an s3:// URI: ${uri}`);
  const prefix = m.rawPrefix.replace(/\/+$/, '');
  return { bucket: m.bucket, prefix: prefix ? `${prefix}/` : '' };
}

export class TableMap {
  private readonly byAlias: Map<string, TableMount>;
  /** Sorted by "alias/" so that concatenated per-table listings come out in S3 key order. */
  readonly mounts: readonly TableMount[];

  constructor(mapping: Readonly<Record<string, string>>) {
    this.byAlias = new Map(
      Object.entries(mapping).map(([alias, uri]) => [alias, { alias, uri, ...parseTableUri(uri) }]),
    );
    this.mounts = [...this.byAlias.values()].sort((a, b) => compareKeys(`${a.alias}/`, `${b.alias}/`));
  }

  get(alias: string): TableMount | undefined {
    return this.byAlias.get(alias);
  }
}

/**
 * S3 orders keys by their UTF-8 bytes. JavaScript compares UTF-16 code units, which differs only
 * when surrogate pairs meet characters in U+E000..U+FFFF; take the slow path only then.
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x < 0xd800 && y < 0xd800) return x - y;
    return Buffer.compare(Buffer.from(a.slice(i)), Buffer.from(b.slice(i)));
  }
  return a.length - b.length;
}
