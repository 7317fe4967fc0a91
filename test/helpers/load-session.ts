/**
 * The load suite's and bench's common steps: a real S3 server holding the load table, the mix
 * with its expected answers, and one measured phase against a target process (sign, check each
 * request once, warm up, then the measured run with the target's memory and event loop).
 */
import type { ConfigInput } from '../../lambda/config';
import { sendRaw } from './lambda-http-client';
import { type LoadRunResult, runLoad, verifyEach } from './load-generator';
import {
  buildLoadSpecs,
  calibrateListing,
  type LoadSpec,
  loadProxyConfig,
  loadSchedule,
  signLoadSpecs,
} from './load-mix';
import { type LoadFile, writeLoadTable } from './load-table';
import type { FixedAnswer, LoadTarget, LoadTargetStats } from './load-target';
import { childPid, processCpuMs } from './process-cpu';
import { BACKEND_CREDENTIALS, backendClient, type S3Server, startMoto, startS3rver } from './s3-servers';

export interface LoadStack {
  backend: S3Server;
  files: LoadFile[];
  specs: LoadSpec[];
  config: ConfigInput;
  backendCredentials: typeof BACKEND_CREDENTIALS;
  /** The backend's process (Linux), for its CPU share. */
  backendPid?: number;
  stop(): Promise<void>;
}

export async function startLoadStack(kind: 's3rver' | 'moto' = 's3rver'): Promise<LoadStack> {
  const backend = kind === 'moto' ? await startMoto() : await startS3rver();
  try {
    const client = backendClient(backend.endpoint);
    const files = await writeLoadTable(client);
    const specs = await buildLoadSpecs(client, files, { suffixRanges: kind === 'moto' });
    client.destroy();
    return {
      backend,
      files,
      specs,
      config: loadProxyConfig(backend.endpoint),
      backendCredentials: BACKEND_CREDENTIALS,
      backendPid: childPid(kind === 'moto' ? 'moto.server' : 's3rver-main'),
      stop: () => backend.stop(),
    };
  } catch (e) {
    await backend.stop();
    throw e;
  }
}

/** Listings checked against the keys they must show; their bytes become the expected bodies. */
export async function calibrateListings(specs: LoadSpec[], url: string): Promise<LoadSpec[]> {
  const out: LoadSpec[] = [];
  for (const spec of specs) {
    if (!spec.expect.listing) {
      out.push(spec);
      continue;
    }
    const [signed] = await signLoadSpecs([spec], url);
    const res = await sendRaw(url, { method: signed!.method, path: signed!.path, headers: signed!.headers });
    out.push(calibrateListing(spec, res.status, res.body));
  }
  return out;
}

const KEPT_HEADERS = [
  'content-type',
  'content-length',
  'content-range',
  'etag',
  'last-modified',
  'accept-ranges',
];

/** The target's answer to each request, recorded as the bare server's fixed answers. */
export async function recordAnswers(specs: LoadSpec[], url: string): Promise<FixedAnswer[]> {
  const answers: FixedAnswer[] = [];
  for (const r of await signLoadSpecs(specs, url)) {
    const res = await sendRaw(url, { method: r.method, path: r.path, headers: r.headers });
    const headers: Record<string, string> = {};
    for (const name of KEPT_HEADERS) {
      const v = res.headers[name];
      if (typeof v === 'string') headers[name] = v;
    }
    if (r.method === 'GET') headers['content-length'] = String(res.body.length);
    answers.push({
      status: res.status,
      headers,
      body: res.body,
    });
  }
  return answers;
}

export interface PhaseOptions {
  concurrency: number;
  durationMs: number;
  warmupMs: number;
  /** The backend's process, to report its CPU share of the run (the likely bottleneck). */
  backendPid?: number;
}

export interface PhaseResult {
  run: LoadRunResult;
  warmupErrors: number;
  /** The target process: memory after a forced GC before and after the run, peak while it ran. */
  memory: {
    rssBeforeMB: number;
    rssAfterMB: number;
    peakRssMB: number;
    heapUsedBeforeMB: number;
    heapUsedAfterMB: number;
    /** Buffers and other memory outside the JS heap. */
    externalBeforeMB: number;
    externalAfterMB: number;
    rssTimelineMB: number[];
  };
  target: Omit<LoadTargetStats, 'rssMB' | 'peakRssMB' | 'heapUsedMB' | 'externalMB' | 'rssTimelineMB'>;
  /** CPU time of the backend process over wall time of the run (100 = one core). */
  backendCpuPercent?: number;
}

/** Re-sign every 5 minutes: SigV4 headers are accepted for 15 minutes of clock skew. */
const RESIGN_MS = 5 * 60_000;

/** Checks each request once, warms up, then measures a run of `concurrency` clients. */
export async function loadPhase(
  target: LoadTarget,
  calibrated: LoadSpec[],
  o: PhaseOptions,
): Promise<PhaseResult> {
  const sign = () => signLoadSpecs(calibrated, target.url);
  const requests = await sign();
  await verifyEach(target.url, requests);
  const schedule = loadSchedule(requests);
  const common = { url: target.url, requests, schedule, concurrency: o.concurrency };
  const warmup = await runLoad({ ...common, durationMs: o.warmupMs });
  const before = await target.stats(true);
  const backendCpuBefore = o.backendPid ? processCpuMs(o.backendPid) : undefined;
  const started = performance.now();
  const run = await runLoad({ ...common, durationMs: o.durationMs, resign: { everyMs: RESIGN_MS, sign } });
  const backendCpuAfter = o.backendPid ? processCpuMs(o.backendPid) : undefined;
  const wallMs = performance.now() - started;
  const after = await target.stats(false);
  const { rssMB: _r, peakRssMB: _p, heapUsedMB: _h, externalMB: _e, rssTimelineMB, ...rest } = after;
  return {
    run,
    warmupErrors: warmup.errors,
    memory: {
      rssBeforeMB: before.rssMB,
      rssAfterMB: after.rssMB,
      peakRssMB: after.peakRssMB,
      heapUsedBeforeMB: before.heapUsedMB,
      heapUsedAfterMB: after.heapUsedMB,
      externalBeforeMB: before.externalMB,
      externalAfterMB: after.externalMB,
      rssTimelineMB,
    },
    target: rest,
    backendCpuPercent:
      backendCpuBefore !== undefined && backendCpuAfter !== undefined
        ? Math.round(((backendCpuAfter - backendCpuBefore) / wallMs) * 1000) / 10
        : undefined,
  };
}
