/**
 * A page of a long filtered `_delta_log/` listing: each of its 1,000 keys is a generated file
 * whose size the listing shows (described one by one, the next few generated ahead). Once those
 * files are made (the first listing makes them), a page of them is a lookup per key, still 1,000 of
 * them: the page may not hold the event loop while it describes them (the median of three warm
 * listings' longest blocks). The table's log: 1,200 commits of one file each, over an in-memory
 * bucket; the caller is granted one of its two regions.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { NodeServer } from '../../lambda/adapters/node-server';
import { keyFor } from '../helpers/authz-harness';
import { add, MemoryDeltaStorage, metaData, protocolV1 } from '../helpers/delta-memory-storage';
import { gc } from '../helpers/heap';
import { loopBlocks, shareOf } from '../helpers/loop-watch';
import { measured, retryMeasured } from '../helpers/measured';
import { startMemoryProxy } from '../helpers/memory-proxy';
import { encodeQuery, signedFetch } from '../helpers/signed-fetch';

const COMMITS = 1_200;
const region = (v: number) => (v % 2 ? 'EU' : 'US');

let server: NodeServer;

beforeAll(async () => {
  const s = new MemoryDeltaStorage().commit(0, [protocolV1, metaData(['region'])]);
  for (let v = 1; v < COMMITS; v++)
    s.commit(v, [add(`region=${region(v)}/part-${v}.parquet`, { region: region(v) })]);
  server = await startMemoryProxy(s);
}, 120_000);

afterAll(async () => {
  await server?.close();
});

const listLog = () =>
  signedFetch(
    server.url,
    'GET',
    '/datalake',
    encodeQuery({ 'list-type': '2', prefix: 't/_delta_log/' }),
    {},
    keyFor('eu'),
  );

it('a page of 1,000 generated log files is described without holding the event loop', {
  ...retryMeasured,
  timeout: 120_000,
}, async () => {
  // The first listing makes the page's files (not measured).
  const first = await listLog();
  expect(first.status).toBe(200);
  const worst: number[] = [];
  const pages = new Set<string>();
  for (let i = 0; i < 3; i++) {
    gc();
    const { result, blocks, samples } = await loopBlocks(listLog);
    expect(result.status).toBe(200);
    pages.add(result.text);
    worst.push(shareOf(blocks, samples));
  }
  worst.sort((a, b) => a - b);
  console.log('log page: longest block, share of the run:', worst.map((w) => w.toFixed(3)).join(' '));
  // The same page each time: the first 1,000 commits (each with its filtered size), truncated.
  expect([...pages]).toEqual([first.text]);
  const keys = [...first.text.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]);
  expect(keys).toEqual(
    Array.from({ length: 1000 }, (_, v) => `t/_delta_log/${String(v).padStart(20, '0')}.json`),
  );
  expect(first.text).toContain('<IsTruncated>true</IsTruncated>');
  // Before: 0.87-0.96 of the run (90-200 ms at a load average of 13), the page's keys described in
  // one synchronous run of resolved awaits; now 0.12-0.17 (load average 8).
  measured(worst[1]!, 'median longest loop block, share of the run').toBeLessThan(0.4);
});
