/** A StorageBackend that records every request the proxy makes of the real one (presigning is local). */
import type { StorageBackend } from '../../lambda/storage/storage-backend';

export interface BackendCall {
  op: 'get' | 'head' | 'list';
  /** The object key, or the listing's prefix. */
  key: string;
}

export function countingBackend(inner: StorageBackend): { backend: StorageBackend; calls: BackendCall[] } {
  const calls: BackendCall[] = [];
  const backend: StorageBackend = {
    get: (ref, o) => {
      calls.push({ op: 'get', key: ref.key });
      return inner.get(ref, o);
    },
    head: (ref, o) => {
      calls.push({ op: 'head', key: ref.key });
      return inner.head(ref, o);
    },
    list: (p) => {
      calls.push({ op: 'list', key: p.prefix });
      return inner.list(p);
    },
    presign: (ref, o) => inner.presign(ref, o),
  };
  return { backend, calls };
}
