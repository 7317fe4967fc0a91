/**
 * Load at CI size (LOAD_SCALE=full: the bench's 200 clients × 60 s): concurrent clients mixing
 * listings, HEADs, small and medium GETs, Range reads and denied requests against the proxy in
 * its own process, in front of s3rver holding a Delta table from the project's writer, through
 * node:http and through the Lambda adapter. Every answer must be what the backend holds (status,
 * exact bytes, headers), every denied request denied, memory back where it was, no unhandled
 * rejection, no error line, the process alive. Speed is the bench's business (`npm run bench --
 * load`), never asserted here.
 *
 * One suite, two tiers: `npm test` (test/integration/load.test.ts) loads the Lambda adapter (the
 * deployed path) and checks that the load checks catch wrong answers; `npm run test:full`
 * (test/full/) loads node:http.
 */
import { Agent } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendChecked } from './load-generator';
import { LOAD_OPS, type LoadSpec, signLoadSpecs } from './load-mix';
import { calibrateListings, type LoadStack, loadPhase, recordAnswers, startLoadStack } from './load-session';
import { type FixedAnswer, type LoadTargetMode, startLoadTarget } from './load-target';

const FULL = process.env.LOAD_SCALE === 'full';
const SCALE = FULL
  ? { concurrency: 200, durationMs: 60_000, warmupMs: 3_000 }
  : { concurrency: 50, durationMs: 5_000, warmupMs: 1_500 };

/**
 * Growth allowed between before and after the run, both measured after a forced full GC in the
 * server's process. The heap and Buffer bounds catch a leak of a few hundred bytes per request;
 * RSS also holds what the allocator keeps after a peak of concurrent bodies (it rises to a
 * plateau in the first seconds of load and stays there).
 */
const HEAP_GROWTH_MB = 8;
const RSS_GROWTH_MB = FULL ? 160 : 96;

let stack: LoadStack;
let specs: LoadSpec[];
/** The proxy's answer to each request of the mix, for the wrong-on-purpose server. */
let answers: FixedAnswer[];

export function loadSuite(tier: 'core' | 'full'): void {
  beforeAll(async () => {
    stack = await startLoadStack('s3rver');
    // Listing bodies are checked once against the keys the grant allows, then fixed byte for byte.
    const probe = await startLoadTarget({
      mode: 'node',
      config: stack.config,
      backendCredentials: stack.backendCredentials,
    });
    try {
      specs = await calibrateListings(stack.specs, probe.url);
      answers = await recordAnswers(specs, probe.url);
    } finally {
      await probe.stop();
    }
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  });

  const MODES: [string, LoadTargetMode][] =
    tier === 'core' ? [['the Lambda adapter (Function URL shim)', 'lambda']] : [['node:http', 'node']];

  describe.each(MODES)('under load through %s', (_name, mode) => {
    it(
      `${SCALE.concurrency} clients for ${SCALE.durationMs / 1000} s: every answer right, every denial denied, memory flat`,
      async () => {
        const target = await startLoadTarget({
          mode,
          config: stack.config,
          backendCredentials: stack.backendCredentials,
        });
        try {
          const phase = await loadPhase(target, specs, SCALE);
          const { run, memory } = phase;

          // Every answer is what the backend holds (or the denial it must be).
          expect(run.errorSamples).toEqual([]);
          expect(run.errors).toBe(0);
          expect(phase.warmupErrors).toBe(0);
          for (const op of LOAD_OPS) expect(run.latency[op].count, op).toBeGreaterThan(0);
          expect(run.denied.sent).toBeGreaterThan(0);
          expect(run.denied.deniedAsExpected).toBe(run.denied.sent);

          // The process survived, quietly.
          expect(target.exited()).toBeUndefined();
          expect(phase.target.unhandledRejections).toBe(0);
          expect(phase.target.uncaughtExceptions).toBe(0);
          expect(phase.target.errorLogLines).toBe(0);

          // Memory back where it was.
          const seen = JSON.stringify(memory);
          expect(memory.heapUsedAfterMB, seen).toBeLessThanOrEqual(memory.heapUsedBeforeMB + HEAP_GROWTH_MB);
          expect(memory.externalAfterMB, seen).toBeLessThanOrEqual(memory.externalBeforeMB + HEAP_GROWTH_MB);
          expect(memory.rssAfterMB, seen).toBeLessThanOrEqual(memory.rssBeforeMB + RSS_GROWTH_MB);
        } finally {
          await target.stop();
        }
      },
      SCALE.durationMs + SCALE.warmupMs + 90_000,
    );
  });

  if (tier === 'full') return;
  it('the load checks catch every kind of wrong answer (a server wrong on purpose)', async () => {
    const wrong = new Map<number, FixedAnswer>();
    const indexOf = (pred: (s: LoadSpec) => boolean) => specs.findIndex(pred);
    const flip = (b: Buffer) => Buffer.concat([b.subarray(0, 10), Buffer.from([b[10]! ^ 1]), b.subarray(11)]);
    const small = indexOf((s) => s.op === 'GetObject small');
    wrong.set(small, { ...answers[small]!, body: flip(answers[small]!.body) });
    const medium = indexOf((s) => s.op === 'GetObject medium');
    const cut = answers[medium]!.body.subarray(0, 1000);
    wrong.set(medium, { ...answers[medium]!, body: cut, headers: { 'content-length': '1000' } });
    const range = indexOf((s) => s.op === 'GetObject range');
    wrong.set(range, { ...answers[range]!, status: 200 });
    const head = indexOf((s) => s.op === 'HeadObject');
    wrong.set(head, { ...answers[head]!, headers: { ...answers[head]!.headers, etag: '"0"' } });
    const listing = indexOf((s) => s.op === 'ListObjectsV2');
    const xml = answers[listing]!.body.toString().replace('</Key>', '-x</Key>');
    wrong.set(listing, { ...answers[listing]!, body: Buffer.from(xml), headers: {} });
    // A silent allow: a forbidden file served, and a bad signature answered with another code.
    const denied = indexOf((s) => s.op === 'denied' && s.expect.code === 'NoSuchKey');
    wrong.set(denied, { status: 200, headers: {}, body: answers[small]!.body });
    const badSig = indexOf((s) => s.expect.code === 'SignatureDoesNotMatch');
    const otherCode = answers[badSig]!.body.toString().replace('SignatureDoesNotMatch', 'AccessDenied');
    wrong.set(badSig, { ...answers[badSig]!, body: Buffer.from(otherCode), headers: {} });

    const served = answers.map((a, i) => wrong.get(i) ?? a);
    const target = await startLoadTarget({ mode: 'bare', answers: served });
    const agent = new Agent({ keepAlive: true });
    try {
      const failed: number[] = [];
      const requests = await signLoadSpecs(specs, target.url);
      for (const [i, r] of requests.entries()) {
        if ((await sendChecked(new URL(target.url), agent, r, 10_000)).error) failed.push(i);
      }
      expect(failed).toEqual([...wrong.keys()].sort((a, b) => a - b));
    } finally {
      agent.destroy();
      await target.stop();
    }
  });
}
