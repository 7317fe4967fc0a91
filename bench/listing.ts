/**
 * `npm run bench -- listing [commits=43000]`: the CPU of one listing page over a table whose
 * filtered `_delta_log/` holds `commits` generated keys (listVirtual in process; the backend is
 * an in-memory page holding the table root's folders, so only the proxy's own work is timed).
 * - baseline: one pass over the generated keys rolling each up (what a listing that walks the
 *   whole log costs, in the same run);
 * - the table root with "/" (what Spark, delta-rs and the aws cli ask first), with "_" (the whole
 *   log rolls up into one common prefix), and `_delta_log/` with "." (a common prefix per
 *   commit: 1000 a page).
 * - backendPage: one 1,000-key ListObjectsV2 page from s3rver through S3Backend (the SDK's request,
 *   the page read from the raw body a slice at a time), its CPU and the longest stretch it holds
 *   the event loop; beside it the SDK's own parse and deserializer of the same page (what
 *   S3Backend did before), and the page fetched by a presigned URL and scanned with one regular
 *   expression pass (what any reader of the same bytes costs at least).
 */
import path from 'node:path';
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { ListingFilter } from '../lambda/core/listing-filter';
import type { TableMount } from '../lambda/core/table-mount';
import { listVirtual, rollUp, type VisibleTable } from '../lambda/s3/virtual-listing';
import { S3Backend } from '../lambda/storage/s3-backend';
import type { StorageBackend } from '../lambda/storage/storage-backend';
import { loopBlocks } from '../test/helpers/loop-watch';
import {
  BACKEND_CREDENTIALS,
  backendClient,
  createBucket,
  REPO_ROOT,
  startS3rver,
} from '../test/helpers/s3-servers';

process.env.AWS_EC2_METADATA_DISABLED = 'true';
process.env.AWS_EMF_ENVIRONMENT = 'Local';

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
  const mount = { alias: 't', bucket: 'listing', prefix: 'lg/t/' } as TableMount;
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
    backendPage: await backendPage(),
  };
}

const PAGE_KEYS = 1000;
const PAGE_RUNS = 15;

/** One 1,000-key backend LIST page: CPU and longest loop stretch, through the SDK and by hand. */
async function backendPage() {
  const s3 = await startS3rver({ dir: path.join(REPO_ROOT, '.bench-cache', 'listing-s3rver') });
  const client = backendClient(s3.endpoint);
  const backend = new S3Backend({
    endpoint: s3.endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: BACKEND_CREDENTIALS,
  });
  try {
    const prefix = 'lg/t/_delta_log/';
    await createBucket(client, 'listing').catch(() => undefined); // kept from an earlier run
    const have = await backend.list({ bucket: 'listing', prefix, maxKeys: PAGE_KEYS });
    if (have.objects.length < PAGE_KEYS) {
      const keys = Array.from(
        { length: PAGE_KEYS },
        (_, v) => `${prefix}${String(v).padStart(20, '0')}.json`,
      );
      for (let i = 0; i < keys.length; i += 50)
        await Promise.all(
          keys
            .slice(i, i + 50)
            .map((Key) => client.send(new PutObjectCommand({ Bucket: 'listing', Key, Body: '{}' }))),
        );
    }
    const measure = async (list: () => Promise<number>) => {
      const cpu: number[] = [];
      const longest: number[] = [];
      let keys = 0;
      for (let i = 0; i < PAGE_RUNS + 2; i++) {
        const c0 = process.cpuUsage();
        const { result, blocks } = await loopBlocks(list);
        const c = process.cpuUsage(c0);
        if (i < 2) continue; // warm-up: the first pages compile the parsers
        keys = result;
        cpu.push((c.user + c.system) / 1000);
        longest.push(blocks.reduce((worst, b) => Math.max(worst, b.cpuMs), 0));
      }
      return {
        keys,
        cpuMs: Number(median(cpu).toFixed(2)),
        longestBlockMs: Number(median(longest).toFixed(2)),
      };
    };
    const s3Backend = await measure(
      async () => (await backend.list({ bucket: 'listing', prefix, maxKeys: PAGE_KEYS })).objects.length,
    );
    const sdkParse = await measure(
      async () =>
        (
          await client.send(
            new ListObjectsV2Command({ Bucket: 'listing', Prefix: prefix, MaxKeys: PAGE_KEYS }),
          )
        ).Contents!.length,
    );
    const byHand = await measure(async () => {
      const url = await getSignedUrl(
        client,
        new ListObjectsV2Command({ Bucket: 'listing', Prefix: prefix, MaxKeys: PAGE_KEYS }),
      );
      const xml = await (await fetch(url, { signal: AbortSignal.timeout(10_000) })).text();
      let n = 0;
      for (const m of xml.matchAll(/<Contents><Key>([^<]*)<\/Key>[\s\S]*?<Size>(\d+)<\/Size>/g))
        if (m[1] && m[2]) n++;
      return n;
    });
    return { unit: 'ms per 1,000-key page (median of 15)', s3Backend, sdkParse, byHand };
  } finally {
    backend.destroy();
    client.destroy();
    await s3.stop();
  }
}
