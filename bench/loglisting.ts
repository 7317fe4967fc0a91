/**
 * `npm run bench -- loglisting [rounds=3] [latencyMs=30]`: the whole `_delta_log/` of a long log
 * listed as a cold instance lists it (the filtered view's first listing, a history's complete
 * one), over a model of S3's LIST: keys sorted in memory, at most 1,000 a page, StartAfter and
 * continuation tokens as S3 has them, every answer `latencyMs` late (S3's LIST answers in tens of
 * ms). The work is waiting, so the model is what is measured: rounds of requests one after another.
 * - baseline: the listing page after page (each page names the next; how delta-rs, delta-kernel-rs
 *   and Spark list, and what this proxy did before);
 * - ours: lambda/delta/whole-log-listing.ts (a first page, then ranges of versions side by side).
 * Logs: 30 days of a table committing every minute (a .crc per commit, a checkpoint every ten,
 * older versions cleaned up), the same copied from a Hadoop file system (a hidden .N.json.crc per
 * commit too), and a short log of 300 commits.
 */
import { deltaStorageFromBackend } from '../lambda/delta/delta-storage';
import { versionPrefix } from '../lambda/delta/log-path';
import { listWholeLog } from '../lambda/delta/whole-log-listing';
import { sortedListingBackend } from '../test/helpers/sorted-listing';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function logKeys(first: number, commits: number, hadoop: boolean): string[] {
  const keys = ['_delta_log/_last_checkpoint'];
  for (let v = first; v < first + commits; v++) {
    const name = `_delta_log/${versionPrefix(v)}`;
    keys.push(`${name}.json`, `${name}.crc`);
    if (v % 10 === 0) keys.push(`${name}.checkpoint.parquet`);
    if (hadoop) keys.push(`_delta_log/.${versionPrefix(v)}.json.crc`);
  }
  return keys.sort();
}

async function measure(keys: string[], newest: number, rounds: number, latencyMs: number) {
  const { backend, stats } = sortedListingBackend(keys, latencyMs);
  const storage = deltaStorageFromBackend(backend, 'lake', '');
  const out: Record<string, { ms: number; requests: number; files: number }> = {};
  const runs: Record<string, number[]> = { baseline: [], ours: [] };
  let files: Record<string, number> = {};
  let requests: Record<string, number> = {};
  let reference: string[] | undefined;
  for (let r = 0; r < rounds; r++)
    for (const reader of ['baseline', 'ours'] as const) {
      stats.requests = 0;
      const t0 = performance.now();
      const listed =
        reader === 'baseline' ? await storage.list('_delta_log/') : await listWholeLog(storage, newest);
      runs[reader]!.push(performance.now() - t0);
      const paths = listed.map((f) => f.path);
      reference ??= paths;
      if (paths.join('\n') !== reference.join('\n')) throw new Error(`${reader} listed other files`);
      files = { ...files, [reader]: paths.length };
      requests = { ...requests, [reader]: stats.requests };
    }
  for (const reader of ['baseline', 'ours'])
    out[reader] = {
      ms: Math.round(median(runs[reader]!)),
      requests: requests[reader]!,
      files: files[reader]!,
    };
  return { ...out, speedup: Number((out.baseline!.ms / out.ours!.ms).toFixed(2)) };
}

export default async function loglisting(args: string[]) {
  const rounds = Number(args[0] ?? 3);
  const latencyMs = Number(args[1] ?? 30);
  const month = 30 * 24 * 60;
  // A table a year old: the versions of the last 30 days are kept.
  const first = 365 * 24 * 60 - month;
  const newest = first + month - 1;
  return {
    bench: 'loglisting',
    node: process.version,
    measured:
      'whole _delta_log/ listing over an in-memory model of S3 LIST (1,000 keys a page, every answer ' +
      `${latencyMs} ms late); ms = median of ${rounds} rounds (interleaved); requests = LIST calls`,
    thirtyDays: await measure(logKeys(first, month, false), newest, rounds, latencyMs),
    thirtyDaysHadoop: await measure(logKeys(first, month, true), newest, rounds, latencyMs),
    short300: await measure(logKeys(0, 300, false), 299, rounds, latencyMs),
  };
}
