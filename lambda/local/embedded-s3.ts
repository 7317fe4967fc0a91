/**
 * The embedded S3-compatible server for `npm start` and tests: s3rver on loopback, storing
 * objects in a directory. s3rver signs its listing tokens with a cipher that Node 17+ only
 * offers under `--openssl-legacy-provider` (set by the npm scripts).
 */
import S3rver from 's3rver';

export interface EmbeddedS3 {
  endpoint: string;
  port: number;
  close(): Promise<void>;
}

interface ListOptions {
  delimiter?: string;
  startAfter?: string;
  prefix?: string;
  maxKeys?: number;
}
interface ListResult {
  objects: { key: string }[];
  commonPrefixes: string[];
  isTruncated: boolean;
}
interface Store {
  listObjects(bucket: string, options: ListOptions): Promise<ListResult>;
}

const utf8Order = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/**
 * s3rver 3.7.1's filesystem listing has two faults that Hive-partitioned tables hit at once: with
 * a delimiter it prunes directories below a would-be common prefix before it has seen a key in
 * them (so `region=EU/` never appears when its files sit in `region=EU/date=…/`), and it orders
 * keys (and applies start-after) as UTF-16 instead of S3's UTF-8 bytes. List without the delimiter (which walks correctly),
 * then order and group as S3 does. Fine at demo scale: it reads the whole prefix.
 */
function patchListing(store: Store): void {
  const original = store.listObjects.bind(store);
  store.listObjects = async (bucket, options) => {
    const { delimiter = '', prefix = '', startAfter = '', maxKeys = Number.POSITIVE_INFINITY } = options;
    const all = await original(bucket, {
      prefix,
      delimiter: '',
      startAfter: '',
      maxKeys: Number.POSITIVE_INFINITY,
    });
    const objects = all.objects
      .filter((o) => utf8Order(o.key, startAfter) > 0)
      .sort((a, b) => utf8Order(a.key, b.key));
    const kept: ListResult['objects'] = [];
    const prefixes = new Set<string>();
    let isTruncated = false;
    for (const o of objects) {
      const i = delimiter ? o.key.indexOf(delimiter, prefix.length) : -1;
      if (i >= 0) {
        prefixes.add(o.key.slice(0, i + delimiter.length));
        continue;
      }
      if (kept.length >= maxKeys) {
        isTruncated = true;
        break;
      }
      kept.push(o);
    }
    return { objects: kept, commonPrefixes: [...prefixes].sort(utf8Order), isTruncated };
  };
}

export async function startEmbeddedS3(directory: string, port = 0): Promise<EmbeddedS3> {
  const server = new S3rver({ port, address: '127.0.0.1', silent: true, directory, resetOnClose: false });
  patchListing((server as unknown as { store: Store }).store);
  const { port: actual } = (await server.run()) as { port: number };
  return {
    endpoint: `http://127.0.0.1:${actual}`,
    port: actual,
    close: () => server.close(),
  };
}
