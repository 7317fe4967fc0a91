/**
 * `npm run bench -- filtered-log [files=1000000]`: the filtered `_delta_log/` of the 1M-file bench
 * table (bench/snapshot.ts; 420 partitions over date × region) for a caller granted one region of
 * ten (10% of the partitions). Each figure comes from a fresh child process running an esbuild
 * bundle of this file, as the Lambda would:
 * - baseline: the cold snapshot load of the same table, in the same run;
 * - the first filtered checkpoint: its generation once the snapshot is loaded (what a request
 *   costs the proxy beyond the snapshot every request needs), and a fresh proxy's first
 *   `_last_checkpoint` GET end to end (snapshot load + generation), with peak RSS;
 * - warm: the cached checkpoint through the proxy (HTTP GET, SigV4) against a GET of the same
 *   bytes straight from the backend with the same client.
 */
import { rmSync } from 'node:fs';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { fileGrantOf } from '../lambda/access/file-grant';
import { startNodeServer } from '../lambda/adapters/node-server';
import { createProxy } from '../lambda/bootstrap';
import { parseConfig } from '../lambda/config';
import { silentLogger } from '../lambda/core/logger';
import { deltaStorageFromBackend } from '../lambda/delta/delta-storage';
import { loadSnapshot } from '../lambda/delta/load-snapshot';
import { FilteredLogView } from '../lambda/log-view/filtered-log-view';
import { s3Backend } from '../test/helpers/delta-s3';
import { peakRssMB } from './child/peak-rss';
import { bundleBench, runBenchChild } from './child/run-child';
import { ensureBenchTable } from './snapshot';

process.env.AWS_EC2_METADATA_DISABLED = 'true';
process.env.AWS_EMF_ENVIRONMENT = 'Local';

const GRANT = [{ region: 'region-3' }];
const KEY = {
  accessKeyId: 'AKIABENCHFILTERED01',
  secretAccessKey: 'bench-filtered-secret',
  principal: 'p10',
};
const CHECKPOINT = '_delta_log/00000000000000001000.checkpoint.parquet';
const BACKEND = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rssMB = peakRssMB;

function client(endpoint: string, credentials = BACKEND): S3Client {
  return new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials, maxAttempts: 1 });
}

async function getBytes(c: S3Client, bucket: string, key: string): Promise<Uint8Array> {
  const r = await c.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return r.Body!.transformToByteArray();
}

/** Child: one measurement in a fresh process; prints one JSON line. */
async function child(mode: string, endpoint: string, prefix: string): Promise<Record<string, unknown>> {
  const backendClient = client(endpoint);
  const storage = deltaStorageFromBackend(
    s3Backend(backendClient, { requests: 0, bytes: 0 }),
    'bench',
    prefix,
  );
  const tableUri = `s3://bench/${prefix}`;
  if (mode === 'cold') {
    const t0 = performance.now();
    const snap = await loadSnapshot(storage, { tableUri });
    return { ms: performance.now() - t0, files: snap.fileCount, peakRssMB: rssMB() };
  }
  if (mode === 'generate') {
    const t0 = performance.now();
    const snapshot = await loadSnapshot(storage, { tableUri });
    const snapshotMs = performance.now() - t0;
    const rssAfterSnapshot = rssMB();
    const view = new FilteredLogView({ budgetBytes: () => 256 * 1024 * 1024 });
    const req = { tableUri, storage, snapshot, grant: fileGrantOf(snapshot.partitionColumns, GRANT) };
    const t1 = performance.now();
    const cp = await view.object(req, CHECKPOINT);
    const generateMs = performance.now() - t1;
    const hint = JSON.parse(
      new TextDecoder().decode((await view.object(req, '_delta_log/_last_checkpoint'))!.body),
    );
    const warm: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      await view.object(req, CHECKPOINT);
      warm.push(performance.now() - t);
    }
    return {
      snapshotMs,
      generateMs,
      checkpointBytes: cp!.body.byteLength,
      actions: hint.size,
      adds: hint.numOfAddFiles,
      rssAfterSnapshotMB: rssAfterSnapshot,
      peakRssMB: rssMB(),
      warmObjectMs: median(warm),
    };
  }
  // mode proxy: the real proxy over HTTP, first request and warm GETs against backend GETs.
  const config = parseConfig({
    tableMapping: { t: tableUri },
    getMode: 'proxy',
    logView: 'filtered',
    s3: { endpoint, forcePathStyle: true, region: 'us-east-1' },
    auth: { keys: [KEY] },
    grants: [{ principal: KEY.principal, table: 't', partitions: GRANT }],
  });
  const proxy = createProxy(config, { backendCredentials: BACKEND, audit: false, logger: silentLogger });
  const server = await startNodeServer(proxy.handler, '127.0.0.1', 0);
  const viaProxy = client(server.url, KEY);
  try {
    const t0 = performance.now();
    await getBytes(viaProxy, 'datalake', 't/_delta_log/_last_checkpoint');
    const firstRequestMs = performance.now() - t0;
    const firstRssMB = rssMB();
    const bytes = await getBytes(viaProxy, 'datalake', `t/${CHECKPOINT}`);
    const copyKey = `${prefix}-filtered-copy-${process.pid}.parquet`;
    await backendClient.send(new PutObjectCommand({ Bucket: 'bench', Key: copyKey, Body: bytes }));
    const proxyMs: number[] = [];
    const backendMs: number[] = [];
    for (let i = 0; i < 10; i++) {
      let t = performance.now();
      await getBytes(viaProxy, 'datalake', `t/${CHECKPOINT}`);
      proxyMs.push(performance.now() - t);
      t = performance.now();
      await getBytes(backendClient, 'bench', copyKey);
      backendMs.push(performance.now() - t);
    }
    await backendClient.send(new DeleteObjectCommand({ Bucket: 'bench', Key: copyKey }));
    return {
      firstRequestMs,
      firstRssMB,
      checkpointBytes: bytes.byteLength,
      warmProxyGetMs: median(proxyMs),
      backendGetMs: median(backendMs),
      peakRssMB: rssMB(),
    };
  } finally {
    viaProxy.destroy();
    await server.close();
  }
}

export default async function filteredLogBench(args: string[]) {
  const files = Number(args.find((a) => /^\d+$/.test(a)) ?? 1_000_000);
  const table = await ensureBenchTable(files);
  let script: string | undefined;
  try {
    script = await bundleBench('filtered-log');
    const run = (mode: string) =>
      runBenchChild(script!, ['--filtered-log-child', mode, table.endpoint, table.prefix]);
    // Interleaved, so a change in machine load hits baseline and subject alike; each 'generate'
    // child also loads the snapshot cold right before generating, a baseline in the same process.
    const cold: Record<string, number>[] = [];
    const gen: Record<string, number>[] = [];
    for (let i = 0; i < 3; i++) {
      cold.push(await run('cold'));
      gen.push(await run('generate'));
    }
    const proxy = await run('proxy');
    const coldMs = median(cold.map((c) => c.ms!));
    const generateMs = median(gen.map((g) => g.generateMs!));
    const ratios = gen.map((g) => g.generateMs! / g.snapshotMs!);
    return {
      bench: 'filtered-log',
      table: { files, partitions: 420, grantedPartitions: 42, grant: GRANT },
      baselineColdSnapshot: {
        ms: coldMs,
        runsMs: cold.map((c) => Math.round(c.ms!)),
        peakRssMB: Math.max(...cold.map((c) => c.peakRssMB!)),
      },
      firstFilteredCheckpoint: {
        generateMs,
        runsMs: gen.map((g) => Math.round(g.generateMs!)),
        coldSnapshotSameProcessMs: gen.map((g) => Math.round(g.snapshotMs!)),
        ratioToColdSnapshotSameProcess: median(ratios),
        ratiosSameProcess: ratios.map((r) => Number(r.toFixed(2))),
        ratioToColdSnapshotRuns: generateMs / coldMs,
        rows: gen[0]!.actions,
        adds: gen[0]!.adds,
        checkpointBytes: gen[0]!.checkpointBytes,
        rssAfterSnapshotMB: gen[0]!.rssAfterSnapshotMB,
        peakRssMB: Math.max(...gen.map((g) => g.peakRssMB!)),
        warmCacheHitMs: median(gen.map((g) => g.warmObjectMs!)),
      },
      firstRequestEndToEnd: {
        note: 'fresh proxy, first GET of _last_checkpoint: snapshot load + filtered checkpoint',
        ms: proxy.firstRequestMs,
        ratioToColdSnapshot: proxy.firstRequestMs! / coldMs,
        rssMB: proxy.firstRssMB,
      },
      warm: {
        proxyGetMs: proxy.warmProxyGetMs,
        backendGetOfSameBytesMs: proxy.backendGetMs,
        ratio: proxy.warmProxyGetMs! / proxy.backendGetMs!,
        bytes: proxy.checkpointBytes,
        peakRssMB: proxy.peakRssMB,
      },
      targets: { firstCheckpointVsColdSnapshot: 2, warmVsBackendGet: 'about 1' },
      machine: {
        cpus: (await import('node:os')).cpus().length,
        loadAvg: (await import('node:os')).loadavg(),
      },
    };
  } finally {
    if (script) rmSync(script, { force: true });
    await table.close();
  }
}

if (process.argv[2] === '--filtered-log-child') {
  console.log(JSON.stringify(await child(process.argv[3]!, process.argv[4]!, process.argv[5]!)));
  process.exit(0);
}
