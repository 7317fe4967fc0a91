/**
 * A long `_delta_log/` as the filtered view holds it (held-log-listing.ts, real-log.ts): a table
 * committing every 20 s keeps 30 days of ~130,000 commits, each with its .crc, a checkpoint every
 * ten. Its whole listing on a cold instance, and the log made of the held listing at every new
 * version (and the keys a listing of the filtered log shows), run over every file: none of it may
 * hold the event loop (each block is held against the CPU the work cost, as in the other `*-loop`
 * tests: what is left are the young generation's collections of what the listing holds, 10-40 ms
 * here), and nothing spreads the log into one call's arguments (past ~120,000, a RangeError).
 */
import { expect, it } from 'vitest';
import { yieldToEventLoop } from '../../lambda/core/event-loop';
import type { DeltaStorage, ListedFile } from '../../lambda/delta/delta-storage';
import { versionPrefix } from '../../lambda/delta/log-path';
import { HeldLogListing } from '../../lambda/log-view/held-log-listing';
import { realLogOf, virtualKeys } from '../../lambda/log-view/real-log';
import { longestLoopBlock } from '../helpers/loop-watch';
import { measured, retryMeasured } from '../helpers/measured';

const FIRST = 1_000_000;
const COMMITS = 150_000;

/** A sorted log in memory, listed as S3 lists it (after a key); only the listing is needed here. */
class SortedLog implements DeltaStorage {
  readonly keys: ListedFile[] = [];
  private readonly at = new Date(0);

  add(path: string): void {
    this.keys.push({ path, size: 100, lastModified: this.at, etag: '"e"' });
  }

  async list(_dir: string, startAfter?: string, limit?: number, until?: string): Promise<ListedFile[]> {
    await yieldToEventLoop();
    let lo = 0;
    let hi = this.keys.length;
    while (startAfter !== undefined && lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keys[mid]!.path <= startAfter) lo = mid + 1;
      else hi = mid;
    }
    let end = this.keys.length;
    if (until !== undefined) {
      let a = lo;
      while (a < end) {
        const mid = (a + end) >>> 1;
        if (this.keys[mid]!.path <= until) a = mid + 1;
        else end = mid;
      }
    }
    if (limit !== undefined) end = Math.min(end, lo + limit);
    // Pages of 1,000 as S3 answers, each its own turn of the event loop.
    const out: ListedFile[] = [];
    for (let i = lo; i < end; i += 1000) {
      out.push(...this.keys.slice(i, Math.min(end, i + 1000)));
      await yieldToEventLoop();
    }
    return out;
  }

  read(): Promise<Uint8Array> {
    return Promise.reject(new Error('not read here'));
  }

  size(): Promise<number> {
    return Promise.reject(new Error('not read here'));
  }
}

function commit(log: SortedLog, v: number): void {
  const name = `_delta_log/${versionPrefix(v)}`;
  if (v % 10 === 0) log.add(`${name}.checkpoint.parquet`);
  log.add(`${name}.crc`);
  log.add(`${name}.json`);
}

it(`lists a log of ${COMMITS.toLocaleString('en')} commits, and makes its log per version, in slices`, {
  ...retryMeasured,
  timeout: 120_000,
}, async () => {
  const log = new SortedLog();
  for (let v = FIRST; v < FIRST + COMMITS; v++) commit(log, v);
  log.keys.sort((a, b) => (a.path < b.path ? -1 : 1));
  log.add('_delta_log/_last_checkpoint');
  let newest = FIRST + COMMITS - 1;
  let now = 0;
  const listing = new HeldLogListing(log, () => now);

  const cold = await longestLoopBlock(async () => realLogOf(await listing.list(undefined, newest), newest));
  expect(cold.result.oldest).toBe(FIRST);
  expect(cold.result.commits.size).toBe(COMMITS);
  expect(cold.result.checkpoints[0]!.version).toBe(newest - 9);
  measured(cold.longestBlockMs, 'cold: longest loop block, ms').toBeLessThan(cold.cpuMs / 10);

  // A new version: two short listings, then the log again over every held file.
  log.keys.pop();
  commit(log, ++newest);
  log.add('_delta_log/_last_checkpoint');
  now += 1000;
  // And the keys a listing of the filtered log shows, in S3's order.
  const next = await longestLoopBlock(async () => {
    const real = await realLogOf(await listing.list(undefined, newest), newest);
    return { real, keys: await virtualKeys(real) };
  });
  expect(next.result.real.commits.size).toBe(COMMITS + 1);
  expect(next.result.real.checkpoints[0]!.version).toBe(newest);
  const { keys } = next.result;
  expect(keys.length).toBe(COMMITS + 1 + COMMITS / 10 + 1 + 1);
  expect(keys.slice(0, 2)).toEqual([
    `_delta_log/${versionPrefix(FIRST)}.checkpoint.parquet`,
    `_delta_log/${versionPrefix(FIRST)}.json`,
  ]);
  expect(keys.slice(-3)).toEqual([
    `_delta_log/${versionPrefix(newest)}.checkpoint.parquet`,
    `_delta_log/${versionPrefix(newest)}.json`,
    '_delta_log/_last_checkpoint',
  ]);
  expect(keys.every((k, i) => i === 0 || keys[i - 1]! < k)).toBe(true);
  measured(next.longestBlockMs, 'next version: longest loop block, ms').toBeLessThan(next.cpuMs / 5);
});
