/**
 * A long `_delta_log/` as the filtered view holds it (held-log-listing.ts, real-log.ts): a table
 * committing every 20 s keeps 30 days of ~130,000 commits, each with its .crc, a checkpoint every
 * ten. Its whole listing on a cold instance, and the log made of the held listing at every new
 * version (and the keys a listing of the filtered log shows), run over every file: none of it may
 * hold the event loop (each block is held against the CPU the work cost, as in the other `*-loop`
 * tests: what is left are the young generation's collections of what the listing holds, 10-40 ms
 * here; --trace-gc showed scavenges of up to 38 ms on a quiet host, and under CI's load one run
 * read 184 ms, hence `measured()`), and nothing spreads the log into one call's arguments (past
 * ~120,000, a RangeError). The log is listed through the proxy's own DeltaStorage over S3
 * (deltaStorageFromBackend: its paging, `until` and sort) from the bench's model of S3 LIST.
 */
import { expect, it } from 'vitest';
import { deltaStorageFromBackend } from '../../lambda/delta/delta-storage';
import { versionPrefix } from '../../lambda/delta/log-path';
import { HeldLogListing } from '../../lambda/log-view/held-log-listing';
import { realLogOf, virtualKeys } from '../../lambda/log-view/real-log';
import { longestLoopBlock } from '../helpers/loop-watch';
import { measured, retryMeasured } from '../helpers/measured';
import { sortedListingBackend } from '../helpers/sorted-listing';

const FIRST = 1_000_000;
const COMMITS = 150_000;

/** Keys as S3 lists them (sorted); the log's folder at the bucket's root. */
function commit(keys: string[], v: number): void {
  const name = `_delta_log/${versionPrefix(v)}`;
  if (v % 10 === 0) keys.push(`${name}.checkpoint.parquet`);
  keys.push(`${name}.crc`, `${name}.json`);
}

it(`lists a log of ${COMMITS.toLocaleString('en')} commits, and makes its log per version, in slices`, {
  ...retryMeasured,
  timeout: 120_000,
}, async () => {
  const keys: string[] = [];
  for (let v = FIRST; v < FIRST + COMMITS; v++) commit(keys, v);
  keys.push('_delta_log/_last_checkpoint');
  let newest = FIRST + COMMITS - 1;
  let now = 0;
  const storage = deltaStorageFromBackend(sortedListingBackend(keys).backend, 'lake', '');
  const listing = new HeldLogListing(storage, () => now);

  const cold = await longestLoopBlock(async () => realLogOf(await listing.list(undefined, newest), newest));
  expect(cold.result.oldest).toBe(FIRST);
  expect(cold.result.commits.size).toBe(COMMITS);
  expect(cold.result.checkpoints[0]!.version).toBe(newest - 9);
  // A fifth: quiet runs measure 0.06-0.07 (a scavenge), ci120 at a load average of 9-14 read 0.13
  // twice; the listing in one piece would be most of the run.
  measured(cold.longestBlockMs, 'cold: longest loop block, ms').toBeLessThan(cold.cpuMs / 5);

  // A new version: two short listings, then the log again over every held file.
  keys.pop();
  commit(keys, ++newest);
  keys.push('_delta_log/_last_checkpoint');
  now += 1000;
  // And the keys a listing of the filtered log shows, in S3's order.
  const next = await longestLoopBlock(async () => {
    const real = await realLogOf(await listing.list(undefined, newest), newest);
    return { real, keys: await virtualKeys(real) };
  });
  expect(next.result.real.commits.size).toBe(COMMITS + 1);
  expect(next.result.real.checkpoints[0]!.version).toBe(newest);
  const shown = next.result.keys;
  expect(shown.length).toBe(COMMITS + 1 + COMMITS / 10 + 1 + 1);
  expect(shown.slice(0, 2)).toEqual([
    `_delta_log/${versionPrefix(FIRST)}.checkpoint.parquet`,
    `_delta_log/${versionPrefix(FIRST)}.json`,
  ]);
  expect(shown.slice(-3)).toEqual([
    `_delta_log/${versionPrefix(newest)}.checkpoint.parquet`,
    `_delta_log/${versionPrefix(newest)}.json`,
    '_delta_log/_last_checkpoint',
  ]);
  expect(shown.every((k, i) => i === 0 || shown[i - 1]! < k)).toBe(true);
  measured(next.longestBlockMs, 'next version: longest loop block, ms').toBeLessThan(next.cpuMs / 5);
});
