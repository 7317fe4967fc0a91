/**
 * The two GET modes at full load, each against the simplest alternative measured in the same run:
 *
 * - redirects: 307 answers per second of a presigned-mode proxy (SigV4 verified, authorized on a
 *   cached snapshot, URL presigned, audit line written) against a bare node:http server answering
 *   a constant 307 of the same shape (the baseline, target ≥ 50 %), and against the simple
 *   alternative that does the redirect's own work with the AWS SDK's parts (SigV4 verified by
 *   @smithy/signature-v4, URL presigned by @aws-sdk/s3-request-presigner; no grants, no audit:
 *   bench/child/sdk-redirector.ts). Load from wrk in its own process.
 *   The same bare server spending a fixed 25 and 50 µs of CPU per answer (a busy wait) shows the
 *   cost model: what any server doing that much work per answer reaches here (the proxy's handler
 *   alone, called in a loop without HTTP, takes about 50 µs per 307).
 * - proxied: throughput of one big object streamed through a proxy-mode proxy (node:http, and the
 *   Lambda adapter with its runtime shim) against reading it directly from the same backend.
 *   Target ≥ 90 %. A bare node:http pipe proxy of the same backend GET gives the floor of the
 *   proxy's CPU per GiB (socket reads and writes, HTTP parsing, buffers). The node server runs
 *   with npm start's flags; the same server on V8's defaults is measured beside it: after a few
 *   seconds idle (each round's reads follow the wrk runs) V8's memory reducer leaves the old
 *   generation's limit just above its live size, and a stream's buffers then start a major GC
 *   every ~16 MB.
 * - helper: the client helper (delta-proxy-client) in front of a presigned-mode proxy, following
 *   the 307 itself, against downloading the presigned URL directly.
 *
 * Every server is a process of its own on 127.0.0.1 (s3rver backend, proxies, helper, bare
 * server); the bench process is the client. Rounds interleave and medians are reported: the
 * machine has 2 cores and may be shared.
 *
 * Usage: npm run bench -- getmodes [objectMB=1024] [rounds=3]
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { putBigObject } from '../test/helpers/big-object';
import { writeSpecialTable } from '../test/helpers/fixture-tables';
import { ANALYST } from '../test/helpers/proxy-harness';
import { type ProxyProcess, startProxyProcess } from '../test/helpers/proxy-process';
import {
  BACKEND_CREDENTIALS,
  backendClient,
  createBucket,
  REPO_ROOT,
  startS3rver,
  uploadDir,
} from '../test/helpers/s3-servers';
import { encodeKeyPath, signHeaders } from '../test/helpers/signed-fetch';

const run = promisify(execFile);
const MB = 1024 * 1024;
const WRK_SECONDS = 5;
const WRK_CONNECTIONS = 32;
const HELPER_AGENT = 'delta-proxy-client/0.1.0 bench';
/** CPU the cost-model servers burn per answer, µs. */
const WORK_MICROS = [25, 50];

// The simplest alternative for the 307 path: node:http answering the same shape of redirect
// (Location of a presigned URL's length, a small XML body) without any work; or, with argv[1],
// after busy-waiting that many microseconds (the cost model, not a baseline).
const BARE_307 = `
const http = require('node:http');
const workMs = Number(process.argv[1] ?? 0) / 1000;
const location = 'http://127.0.0.1:9/lake/t/region%3DEU/part-00000.snappy.parquet?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=S3RVER%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&x-id=GetObject&X-Amz-Signature=' + '0'.repeat(64);
const body = '<?xml version="1.0" encoding="UTF-8"?>\\n<Error><Code>TemporaryRedirect</Code><Message>Please re-send this request to the specified temporary endpoint.</Message><Endpoint>127.0.0.1:9</Endpoint><RequestId>0123456789ABCDEF</RequestId></Error>';
const server = http.createServer((req, res) => {
  if (workMs > 0) for (const end = performance.now() + workMs; performance.now() < end; );
  res.writeHead(307, { location, 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body), 'x-amz-request-id': '0123456789ABCDEF' });
  res.end(body);
});
server.keepAliveTimeout = 65000;
server.listen(0, '127.0.0.1', () => process.stdout.write('READY http://127.0.0.1:' + server.address().port + '\\n'));
process.on('SIGTERM', () => process.exit(0));
`;

// The simplest alternative for the proxied path: node:http piping one backend GET (the presigned
// URL in argv) to the client, with keep-alive to the backend and nothing else.
const BARE_PIPE = `
const http = require('node:http');
const target = process.argv[1];
const agent = new http.Agent({ keepAlive: true });
const server = http.createServer((req, res) => {
  http.get(target, { agent }, (up) => {
    res.writeHead(up.statusCode, { 'content-length': up.headers['content-length'] });
    up.pipe(res);
    res.on('close', () => up.destroy());
  }).on('error', () => res.destroy());
});
server.listen(0, '127.0.0.1', () => process.stdout.write('READY http://127.0.0.1:' + server.address().port + '\\n'));
process.on('SIGTERM', () => process.exit(0));
`;

interface Child {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** CPU seconds (user + system) a process has used so far (Linux /proc; clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Spawns a server process that prints a line matching `ready`; returns the captured URL. */
async function spawnServer(args: string[], ready: RegExp): Promise<Child> {
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
  });
  child.stdout!.resume();
  return {
    url,
    pid: child.pid!,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/**
 * wrk's requests per second for one signed GET replayed on keep-alive connections, and the
 * server process's CPU microseconds per request (independent of what else the machine runs).
 */
async function wrkRate(
  pid: number,
  url: string,
  headers: Record<string, string>,
): Promise<{ perSec: number; cpuMicros: number }> {
  const cpuBefore = cpuSeconds(pid);
  const args = ['-t1', `-c${WRK_CONNECTIONS}`, `-d${WRK_SECONDS}s`];
  for (const [name, value] of Object.entries(headers))
    if (name !== 'host') args.push('-H', `${name}: ${value}`);
  const { stdout } = await run('wrk', [...args, url], { timeout: (WRK_SECONDS + 30) * 1000 });
  const rate = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  const bad = /Non-2xx or 3xx responses: (\d+)/.exec(stdout);
  const total = /(\d+) requests in/.exec(stdout);
  if (!rate || !total) throw new Error(`wrk printed no rate:\n${stdout}`);
  if (bad) throw new Error(`wrk saw ${bad[1]} error answers:\n${stdout}`);
  return { perSec: Number(rate[1]), cpuMicros: ((cpuSeconds(pid) - cpuBefore) * 1e6) / Number(total[1]) };
}

/** One signed GET that must answer 307 with a Location that downloads with no auth header. */
async function followOnce(url: string, headers: Record<string, string>): Promise<void> {
  const { host: _host, ...sendHeaders } = headers;
  const res = await fetch(url, { headers: sendHeaders, redirect: 'manual' });
  const location = res.headers.get('location');
  await res.arrayBuffer();
  if (res.status !== 307 || !location) throw new Error(`${url}: expected a 307, got ${res.status}`);
  const got = await fetch(location);
  const bytes = (await got.arrayBuffer()).byteLength;
  if (got.status !== 200 || bytes === 0) throw new Error(`${location.split('?')[0]}: HTTP ${got.status}`);
}

/** Downloads a URL, counting bytes only; MB/s (MiB). */
function throughput(url: string, headers: Record<string, string>, expectBytes?: number): Promise<number> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let bytes = 0;
    const req = request(
      { hostname: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, headers },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          return reject(new Error(`${url.split('?')[0]}: HTTP ${res.statusCode}`));
        }
        res.on('data', (c: Buffer) => {
          bytes += c.length;
        });
        res.on('end', () => {
          if (expectBytes !== undefined && bytes !== expectBytes)
            return reject(new Error(`got ${bytes} of ${expectBytes} bytes`));
          resolve(bytes / MB / ((performance.now() - started) / 1000));
        });
      },
    );
    req.setTimeout(600_000, () => req.destroy(new Error('download timed out')));
    req.on('error', reject);
    req.end();
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round1 = (x: number) => Math.round(x * 10) / 10;
const round2 = (x: number) => Math.round(x * 100) / 100;
const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;

export default async function main(args: string[]): Promise<unknown> {
  const objectBytes = Number(args[0] ?? 1024) * MB;
  const rounds = Number(args[1] ?? 3);
  await run('wrk', ['--version']).catch((e: { stdout?: string }) => {
    if (!e.stdout?.includes('wrk'))
      throw new Error('wrk is needed for the 307 figure: apt-get install -y wrk');
  });

  const stops: (() => Promise<void>)[] = [];
  try {
    const s3 = await startS3rver();
    stops.push(() => s3.stop());
    const backend = backendClient(s3.endpoint);
    await createBucket(backend, 'lake');
    const keys = await uploadDir(
      backend,
      'lake',
      't/',
      await writeSpecialTable(['EU', 'US'], ['2024-01-01']),
    );
    const data = keys.filter((k) => k.endsWith('.parquet') && !k.includes('_delta_log'));
    await putBigObject(backend, 'lake', data[0]!, objectBytes);
    const bigKey = `sales/${data[0]!.slice(2)}`;
    const smallKey = `sales/${data[1]!.slice(2)}`;
    const directUrl = await getSignedUrl(backend, new GetObjectCommand({ Bucket: 'lake', Key: data[0]! }), {
      expiresIn: 3600,
    });

    const config = (getMode: 'proxy' | 'presignedUrl') => ({
      tableMapping: { sales: 's3://lake/t' },
      getMode,
      s3: { endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1' },
      auth: { keys: [ANALYST] },
      grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{}] }],
      presignExpiresSeconds: 3600,
      lambdaStreaming: { maxResponseBytes: 8 * 1024 * MB, throttledBytesPerSecond: 1024 * MB },
    });
    const started: ProxyProcess[] = [];
    const proxyProcess = async (
      getMode: 'proxy' | 'presignedUrl',
      transport: 'node' | 'lambda',
      plainNode = false,
    ) => {
      const p = await startProxyProcess(config(getMode), transport, { audit: 'line', plainNode });
      started.push(p);
      stops.push(() => p.stop());
      return p;
    };
    const presigned = await proxyProcess('presignedUrl', 'node');
    const proxied = await proxyProcess('proxy', 'node');
    const proxiedLambda = await proxyProcess('proxy', 'lambda');
    // The same node server without npm start's --no-memory-reducer (README "Proxied reads").
    const proxiedPlain = await proxyProcess('proxy', 'node', true);
    const bare = await spawnServer(['-e', BARE_307], /READY (\S+)/);
    stops.push(() => bare.stop());
    const working: Record<number, Child> = {};
    for (const micros of WORK_MICROS) {
      working[micros] = await spawnServer(['-e', BARE_307, String(micros)], /READY (\S+)/);
      stops.push(() => working[micros]!.stop());
    }
    const sdkRedirector = await spawnServer(
      [
        '--import',
        'tsx',
        join(REPO_ROOT, 'bench/child/sdk-redirector.ts'),
        JSON.stringify({
          keys: [ANALYST],
          backend: { endpoint: s3.endpoint, region: 'us-east-1', ...BACKEND_CREDENTIALS },
          tables: { sales: 's3://lake/t' },
        }),
      ],
      /READY (\S+)/,
    );
    stops.push(() => sdkRedirector.stop());
    const barePipe = await spawnServer(['-e', BARE_PIPE, directUrl], /READY (\S+)/);
    stops.push(() => barePipe.stop());
    const helper = await spawnServer(
      [join(REPO_ROOT, 'bin/delta-proxy-client.mjs'), '--target', presigned.url, '--port', '0'],
      /delta-proxy-client on (\S+)/,
    );
    stops.push(() => helper.stop());

    const signedFor = async (endpoint: string, key: string, extra: Record<string, string> = {}) => {
      const path = `/datalake/${encodeKeyPath(key)}`;
      return {
        url: `${endpoint}${path}`,
        headers: await signHeaders(endpoint, 'GET', path, '', extra, ANALYST),
      };
    };
    // Snapshots loaded and SDK clients warm before anything is timed.
    for (const p of started) {
      const small = await signedFor(p.url, smallKey);
      await throughput(small.url, small.headers);
    }

    const redirect = await signedFor(presigned.url, smallKey, { 'user-agent': HELPER_AGENT });
    const sdkRedirect = await signedFor(sdkRedirector.url, smallKey, { 'user-agent': HELPER_AGENT });
    // Both redirectors answer a 307 whose Location downloads the object (the wrk runs only count).
    for (const r of [redirect, sdkRedirect]) await followOnce(r.url, r.headers);
    // CPU the proxy (or helper) process spends per GiB it forwards: independent of machine load.
    const cpuPerGiB = async (pid: number, read: () => Promise<number>) => {
      const before = cpuSeconds(pid);
      const rate = await read();
      cpuSamples.get(pid)?.push(((cpuSeconds(pid) - before) * 1024 * MB) / objectBytes);
      return rate;
    };
    const cpuSamples = new Map<number, number[]>([
      [proxied.pid, []],
      [proxiedLambda.pid, []],
      [proxiedPlain.pid, []],
      [helper.pid, []],
      [barePipe.pid, []],
    ]);
    const samples = {
      proxy307: [] as number[],
      bare307: [] as number[],
      proxy307CpuMicros: [] as number[],
      bareWithWork: Object.fromEntries(WORK_MICROS.map((w) => [w, [] as number[]])),
      bare307CpuMicros: [] as number[],
      sdk307: [] as number[],
      sdk307CpuMicros: [] as number[],
      direct: [] as number[],
      proxied: [] as number[],
      proxiedLambda: [] as number[],
      proxiedPlain: [] as number[],
      barePipe: [] as number[],
      presignedDirect: [] as number[],
      helper: [] as number[],
    };
    for (let r = 0; r < rounds; r++) {
      const bareRun = await wrkRate(bare.pid, bare.url, {});
      const proxyRun = await wrkRate(presigned.pid, redirect.url, redirect.headers);
      const sdkRun = await wrkRate(sdkRedirector.pid, sdkRedirect.url, sdkRedirect.headers);
      samples.sdk307.push(sdkRun.perSec);
      samples.sdk307CpuMicros.push(sdkRun.cpuMicros);
      for (const micros of WORK_MICROS)
        samples.bareWithWork[micros]!.push(
          (await wrkRate(working[micros]!.pid, working[micros]!.url, {})).perSec,
        );
      samples.bare307.push(bareRun.perSec);
      samples.bare307CpuMicros.push(bareRun.cpuMicros);
      samples.proxy307.push(proxyRun.perSec);
      samples.proxy307CpuMicros.push(proxyRun.cpuMicros);
      samples.direct.push(await throughput(directUrl, {}, objectBytes));
      const viaProxy = await signedFor(proxied.url, bigKey);
      samples.proxied.push(
        await cpuPerGiB(proxied.pid, () => throughput(viaProxy.url, viaProxy.headers, objectBytes)),
      );
      samples.barePipe.push(await cpuPerGiB(barePipe.pid, () => throughput(barePipe.url, {}, objectBytes)));
      const viaPlain = await signedFor(proxiedPlain.url, bigKey);
      samples.proxiedPlain.push(
        await cpuPerGiB(proxiedPlain.pid, () => throughput(viaPlain.url, viaPlain.headers, objectBytes)),
      );
      const viaLambda = await signedFor(proxiedLambda.url, bigKey);
      samples.proxiedLambda.push(
        await cpuPerGiB(proxiedLambda.pid, () => throughput(viaLambda.url, viaLambda.headers, objectBytes)),
      );
      const presignedNow = await getSignedUrl(
        backend,
        new GetObjectCommand({ Bucket: 'lake', Key: data[0]! }),
        {
          expiresIn: 600,
        },
      );
      samples.presignedDirect.push(await throughput(presignedNow, {}, objectBytes));
      const viaHelper = await signedFor(helper.url, bigKey);
      samples.helper.push(
        await cpuPerGiB(helper.pid, () => throughput(viaHelper.url, viaHelper.headers, objectBytes)),
      );
    }
    backend.destroy();

    const { bareWithWork, ...series } = samples;
    const m = Object.fromEntries(Object.entries(series).map(([k, v]) => [k, median(v)])) as Record<
      keyof typeof series,
      number
    >;
    return {
      benchmark: 'getmodes',
      node: process.version,
      loadAverage: loadavg().map(round1),
      rounds,
      redirects: {
        load: `wrk, 1 thread, ${WRK_CONNECTIONS} keep-alive connections, ${WRK_SECONDS} s per round`,
        proxyAnswersPerSec: Math.round(m.proxy307),
        bareNode307PerSec: Math.round(m.bare307),
        ratio: ratio(m.proxy307, m.bare307),
        target: 0.5,
        proxyCpuMicrosPerAnswer: round1(m.proxy307CpuMicros),
        bareCpuMicrosPerAnswer: round1(m.bare307CpuMicros),
        // The simple alternative doing the redirect's own work (verify, presign) with the SDK.
        sdkRedirectorPerSec: Math.round(m.sdk307),
        sdkRedirectorCpuMicrosPerAnswer: round1(m.sdk307CpuMicros),
        ratioToSdkRedirector: ratio(m.proxy307, m.sdk307),
        // Answers/s of the bare server burning this many µs of CPU per answer, and its ratio.
        costModel: Object.fromEntries(
          WORK_MICROS.map((w) => {
            const perSec = median(bareWithWork[w]!);
            return [
              `bareWith${w}MicrosWork`,
              { perSec: Math.round(perSec), ratio: ratio(perSec, m.bare307) },
            ];
          }),
        ),
      },
      proxied: {
        objectMB: objectBytes / MB,
        directFromBackendMBps: round1(m.direct),
        nodeHttpMBps: round1(m.proxied),
        nodeHttpRatio: ratio(m.proxied, m.direct),
        lambdaAdapterMBps: round1(m.proxiedLambda),
        lambdaAdapterRatio: ratio(m.proxiedLambda, m.direct),
        target: 0.9,
        proxyCpuSecondsPerGiB: round2(median(cpuSamples.get(proxied.pid)!)),
        // The node server without --no-memory-reducer: V8's defaults after idle.
        plainNodeMBps: round1(m.proxiedPlain),
        plainNodeRatio: ratio(m.proxiedPlain, m.direct),
        plainNodeCpuSecondsPerGiB: round2(median(cpuSamples.get(proxiedPlain.pid)!)),
        lambdaAdapterCpuSecondsPerGiB: round2(median(cpuSamples.get(proxiedLambda.pid)!)),
        // The floor of any node:http proxy here: a bare pipe of the same backend GET.
        barePipeProxyMBps: round1(m.barePipe),
        barePipeProxyCpuSecondsPerGiB: round2(median(cpuSamples.get(barePipe.pid)!)),
      },
      helper: {
        objectMB: objectBytes / MB,
        directPresignedMBps: round1(m.presignedDirect),
        throughHelperMBps: round1(m.helper),
        ratio: ratio(m.helper, m.presignedDirect),
        helperCpuSecondsPerGiB: round2(median(cpuSamples.get(helper.pid)!)),
      },
      samples: {
        ...Object.fromEntries(Object.entries(series).map(([k, v]) => [k, v.map(round1)])),
        bareWithWork,
      },
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
}
