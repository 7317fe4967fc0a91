/**
 * The first GET of a caller's filtered commit whose 1,000 adds each carry ~20 KB of statistics
 * (200 columns' minValues, maxValues and nullCount): a 22 MB commit, 11 MB of it shown to a caller
 * granted one of its two regions. The GET loads the snapshot, then generates the file: every
 * action parsed, filtered and written out again. None of it may hold the event loop for long: each
 * run's longest block is held against the CPU the run cost (loop-watch.ts). Each run is a new
 * proxy, so the file is generated each time; the first run, with the code still cold, is not
 * counted. The table's log is in an in-memory bucket.
 */
import { afterEach, expect, it } from 'vitest';
import type { NodeServer } from '../../lambda/adapters/node-server';
import { keyFor } from '../helpers/authz-harness';
import { MemoryDeltaStorage } from '../helpers/delta-memory-storage';
import { gc } from '../helpers/heap';
import { addAction, field, metaData, protocolV1 } from '../helpers/log-text';
import { loopBlocks, shareOf } from '../helpers/loop-watch';
import { measured, retryMeasured } from '../helpers/measured';
import { startMemoryProxy } from '../helpers/memory-proxy';
import { rawRequest } from '../helpers/raw-http';
import { signHeaders } from '../helpers/signed-fetch';

const ADDS = 1_000;
const COLUMNS = Array.from({ length: 200 }, (_, c) => `column_with_a_long_name_${c}`);
const region = (i: number) => (i % 2 ? 'EU' : 'US');
const stats = (i: number) =>
  JSON.stringify({
    numRecords: i,
    minValues: Object.fromEntries(COLUMNS.map((c, k) => [c, k * i])),
    maxValues: Object.fromEntries(COLUMNS.map((c, k) => [c, k * i + 1000])),
    nullCount: Object.fromEntries(COLUMNS.map((c) => [c, 0])),
  });
const PATH = '/datalake/t/_delta_log/00000000000000000000.json';

let server: NodeServer | undefined;

afterEach(async () => {
  await server?.close();
});

it("a caller's first GET of a commit of adds with wide statistics does not hold the event loop", {
  ...retryMeasured,
  timeout: 180_000,
}, async () => {
  const adds = Array.from({ length: ADDS }, (_, i) => {
    const { add } = addAction(`region=${region(i)}/part-${i}.parquet`, { region: region(i) });
    return { add: { ...add, stats: stats(i) } };
  });
  expect(adds[1]!.add.stats.length).toBeGreaterThan(15_000);
  const s = new MemoryDeltaStorage().commit(0, [
    protocolV1,
    metaData(['region'], { schema: [...COLUMNS.map((c) => field(c, 'long')), field('region', 'string')] }),
    ...adds,
  ]);
  const shares: number[] = [];
  for (let run = 0; run < 4; run++) {
    await server?.close();
    server = await startMemoryProxy(s);
    const url = server.url;
    const { host: _, ...headers } = await signHeaders(url, 'GET', PATH, '', {}, keyFor('eu'));
    gc();
    // Read as it streams (a client that buffers 11 MB and decodes it at once would be measured too).
    const { result, blocks, samples } = await loopBlocks(() => rawRequest(url, 'GET', PATH, headers));
    expect(result.status).toBe(200);
    const lines = result.body.trimEnd().split('\n');
    // commitInfo, protocol, metaData, then the EU adds in their order, statistics as written.
    expect(lines).toHaveLength(3 + ADDS / 2);
    const shown = lines.slice(3).map((l) => JSON.parse(l).add);
    expect(shown.map((a) => a.path)).toEqual(
      adds.filter((_, i) => region(i) === 'EU').map((a) => a.add.path),
    );
    expect(shown.map((a) => a.stats)).toEqual(
      adds.filter((_, i) => region(i) === 'EU').map((a) => a.add.stats),
    );
    const share = shareOf(blocks, samples);
    const longest = blocks.reduce((m, b) => Math.max(m, b.cpuMs), 0);
    const cpu = samples.at(-1)!.cpu - samples[0]!.cpu;
    console.log(
      `wide commit, run ${run}: longest block ${longest.toFixed(1)} ms of ${cpu.toFixed(0)}, share ${share.toFixed(3)}`,
    );
    if (run > 0) shares.push(share);
  }
  shares.sort((a, b) => a - b);
  // Filtered 1,024 actions between two yields whatever their length: 0.13-0.17 of the run (48-62
  // ms, 500 adds' ~20 KB lines written out in one block, load average 6); paced by the characters
  // written out, 0.03-0.05 (12-18 ms, load average 7).
  measured(shares[1]!, 'median longest loop block of a first GET, share of the run').toBeLessThan(0.09);
});
