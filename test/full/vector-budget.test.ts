/**
 * The filtered log copies every deletion vector inline, read from its file. The copies were kept
 * per table by count (1,024 of them), whatever their size: a vector of a big file with scattered
 * deletes is megabytes, so a few tables' worth could pin hundreds of MB outside
 * `snapshotCacheBytes`. Now they are kept within that budget (a share of what it leaves), counted
 * in what the view accounts for, and read again once dropped.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fileGrantOf } from '../../lambda/access/file-grant';
import { loadSnapshot } from '../../lambda/delta/load-snapshot';
import { crc32 } from '../../lambda/log-view/dv-inliner';
import { FilteredLogView, type LogViewRequest } from '../../lambda/log-view/filtered-log-view';
import { MemoryDeltaStorage } from '../helpers/delta-memory-storage';
import { heapUsed } from '../helpers/heap';
import { add, DV_ENABLED, dvProtocol, metaData } from '../helpers/log-text';
import { measured, retryMeasured } from '../helpers/measured';

const URI = 's3://bucket/t';
const VECTORS = 16;
/** Each vector's bytes (magic + bitmap): 16 of them are 8 MB, 10 MB as inline text. */
const VECTOR_BYTES = 512 * 1024;
const COMMIT = '_delta_log/00000000000000000001.json';
const MAGIC = 1681511377;

/** A deletion-vector file holding one vector at offset 1: version byte, size, data, CRC. */
function vectorFile(): Uint8Array {
  const data = randomBytes(VECTOR_BYTES);
  data.writeUInt32LE(MAGIC, 0);
  const file = Buffer.alloc(1 + 4 + VECTOR_BYTES + 4);
  file[0] = 1;
  file.writeUInt32BE(VECTOR_BYTES, 1);
  file.set(data, 5);
  file.writeUInt32BE(crc32(data), 5 + VECTOR_BYTES);
  return file;
}

/** Commit 1 adds VECTORS files in EU, each with its own deletion vector. */
function table(): MemoryDeltaStorage {
  const s = new MemoryDeltaStorage();
  s.commit(0, [dvProtocol, metaData(['region'], { configuration: DV_ENABLED })]);
  const adds = [];
  for (let i = 0; i < VECTORS; i++) {
    s.put(`dv-${i}.bin`, vectorFile());
    adds.push(
      add(
        `region=EU/part-${i}.parquet`,
        { region: 'EU' },
        {
          storageType: 'p',
          pathOrInlineDv: `${URI}/dv-${i}.bin`,
          offset: 1,
          sizeInBytes: VECTOR_BYTES,
          cardinality: 1,
        },
      ),
    );
  }
  s.commit(1, [{ commitInfo: { timestamp: 1 } }, ...adds]);
  return s;
}

/** How many inline vectors a caller's commit 1 shows (its text not kept past the call). */
async function inlinedIn(view: FilteredLogView, req: LogViewRequest): Promise<number> {
  const body = Buffer.from((await view.object(req, COMMIT))!.body as Uint8Array).toString();
  return body.split('\n').filter((l) => l.includes('"storageType":"i"')).length;
}

/** Commit 1 as two callers see it (EU, and the whole table), and what the view holds after. */
async function generate(budget: number) {
  const s = table();
  const snapshot = await loadSnapshot(s, { tableUri: URI });
  const before = await heapUsed();
  const view = new FilteredLogView({ budgetBytes: () => budget });
  /** Reads of vector files per generation. */
  const vectorReads: number[] = [];
  let inlined = 0;
  for (const maps of [[{ region: 'EU' }], [{}]]) {
    s.reads.length = 0;
    const req = { tableUri: URI, storage: s, snapshot, grant: fileGrantOf(snapshot.partitionColumns, maps) };
    await view.folder(req);
    inlined = await inlinedIn(view, req);
    vectorReads.push(s.reads.filter((p) => p.startsWith('dv-')).length);
  }
  const retained = (await heapUsed()) - before;
  return { inlined, vectorReads, retained, stats: view.stats(), view };
}

describe('inline copies of deletion vectors, within snapshotCacheBytes', retryMeasured, () => {
  it('copies larger than the budget allows are not kept: read again, and nothing of them stays', async () => {
    const budget = 1024 * 1024;
    const r = await generate(budget);
    expect(r.inlined).toBe(VECTORS);
    expect(r.vectorReads).toEqual([VECTORS, VECTORS]);
    expect(r.stats.bytes).toBeLessThanOrEqual(budget);
    // The copies are 10 MB: none of them may stay.
    measured(r.retained, 'heap kept, bytes').toBeLessThan(budget + 2 * 1024 * 1024);
    expect(r.view).toBeDefined();
  });

  it('copies that fit are kept, read once, and counted in what the view accounts for', async () => {
    const r = await generate(256 * 1024 * 1024);
    expect(r.inlined).toBe(VECTORS);
    expect(r.vectorReads).toEqual([VECTORS, 0]);
    // Z85 text: 5 characters per 4 bytes.
    expect(r.stats.deletionVectorBytes).toBeGreaterThanOrEqual((VECTORS * VECTOR_BYTES * 5) / 4);
    measured(r.retained, 'heap kept, bytes').toBeLessThan(r.stats.bytes + 2 * 1024 * 1024);
    expect(r.view).toBeDefined();
  });
});
