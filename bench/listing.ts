/**
 * `npm run bench -- listing [commits=43000]`: the CPU of one listing page over a table whose
 * filtered `_delta_log/` holds `commits` generated keys (listVirtual in process; the backend is
 * an in-memory page holding the table root's folders, so only the proxy's own work is timed).
 * - baseline: one pass over the generated keys rolling each up (what a listing that walks the
 *   whole log costs, in the same run);
 * - the table root with "/" (what Spark, delta-rs and the aws cli ask first), with "_" (the whole
 *   log rolls up into one common prefix), and `_delta_log/` with "." (a common prefix per
 *   commit: 1000 a page).
 */
import type { ListingFilter } from '../lambda/core/listing-filter';
import type { TableMount } from '../lambda/core/table-mount';
import { listVirtual, rollUp, type VisibleTable } from '../lambda/s3/virtual-listing';
import type { StorageBackend } from '../lambda/storage/storage-backend';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function timed(runs: number, fn: () => unknown): Promise<number> {
  return (async () => {
    const ms: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await fn();
      ms.push(performance.now() - t0);
    }
    return Number(median(ms).toFixed(3));
  })();
}

export default async function listing(args: string[]) {
  const commits = Number(args[0] ?? 43_000);
  const keys = Array.from({ length: commits }, (_, v) => `_delta_log/${String(v).padStart(20, '0')}.json`);
  const fail = () => Promise.reject(new Error('not in this bench'));
  const storage: StorageBackend = {
    get: fail,
    head: fail,
    presign: fail,
    list: async () => ({
      objects: [],
      commonPrefixes: ['lg/t/_delta_log/', 'lg/t/region=EU/'],
      isTruncated: false,
    }),
  };
  const filter: ListingFilter = {
    allowObject: () => false,
    allowPrefix: (rel) => rel === 'region=EU/',
    virtualFolder: {
      prefix: '_delta_log/',
      keys,
      describe: async () => ({ size: 1, etag: '"0"', lastModified: new Date(0) }),
    },
  };
  const mount = { alias: 't', bucket: 'b', prefix: 'lg/t/' } as TableMount;
  const tables: VisibleTable[] = [{ mount, filter: async () => filter }];
  const page = (prefix: string, delimiter: string) => () =>
    listVirtual(storage, tables, { prefix, delimiter, after: '', maxKeys: 1000 });
  const runs = 31;
  return {
    commits,
    unit: 'ms per listing page (median)',
    baseline_walk_every_key: await timed(runs, () => {
      let n = 0;
      for (const k of keys) if (rollUp(`t/${k}`, 't/', '/') !== undefined) n++;
      return n;
    }),
    root_slash: await timed(runs, page('t/', '/')),
    root_underscore: await timed(runs, page('t/', '_')),
    log_dot: await timed(runs, page('t/_delta_log/', '.')),
  };
}
