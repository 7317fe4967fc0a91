/**
 * Snapshots against what the Delta protocol (and Spark / kernel) make of a log: a reader feature
 * dropped after the newest checkpoint; random logs (checkpoints, compactions, deletion vectors,
 * re-adds) whose fresh load at every version and refresh from every earlier one match a model; and
 * every corpus table refreshed from each version equal to a fresh load.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSnapshot, refreshSnapshot } from '../../lambda/delta/load-snapshot';
import { writeCheckpoint } from '../../lambda/local/delta-writer';
import { corpusDir, corpusMissing, corpusPresent, corpusTables } from '../helpers/delta-corpus';
import { fsDeltaStorage } from '../helpers/delta-fs-storage';
import { add, MemoryDeltaStorage, metaData, protocolV1 } from '../helpers/delta-memory-storage';
import { withReason } from '../helpers/skips';

const tableUri = 's3://bucket/warehouse/t';
const load = (s: MemoryDeltaStorage, version?: number) =>
  loadSnapshot(s, { tableUri, ...(version !== undefined ? { version } : {}) });

const typeWidening = {
  protocol: {
    minReaderVersion: 3,
    minWriterVersion: 7,
    readerFeatures: ['typeWidening'],
    writerFeatures: ['typeWidening'],
  },
};

describe('replay across protocol changes', () => {
  it('reads a table whose unsupported reader feature was dropped after its newest checkpoint', async () => {
    // v0 create + add a; v1 enables typeWidening; checkpoint at v1; v2 adds b; v3 drops the
    // feature (protocol back to 1/2). Spark and kernel read the checkpoint's adds whatever its
    // protocol and check only the protocol of the version read: a and b are both active at v3.
    const s = new MemoryDeltaStorage()
      .commit(0, [protocolV1, metaData(['region']), add('region=EU/a.parquet', { region: 'EU' })])
      .commit(1, [typeWidening])
      .commit(2, [add('region=US/b.parquet', { region: 'US' })])
      .commit(3, [protocolV1]);
    await writeCheckpoint(
      { put: async (rel, bytes) => void s.put(rel, bytes) },
      1,
      typeWidening.protocol,
      metaData(['region']).metaData,
      [
        {
          path: 'region=EU/a.parquet',
          partitionValues: { region: 'EU' },
          size: 1,
          modificationTime: 0,
          dataChange: false,
        },
      ],
    );
    // A JSON (v2, UUID-named) checkpoint at v2 as well, for the other checkpoint reader.
    const json = new MemoryDeltaStorage();
    for (const [k, b] of s.files) if (!k.includes('checkpoint')) json.put(k, b);
    json.put(
      '_delta_log/00000000000000000002.checkpoint.3a0d65cd-4056-49b8-937b-95f9e3ee90e5.json',
      `${[
        typeWidening,
        metaData(['region']),
        add('region=EU/a.parquet', { region: 'EU' }),
        add('region=US/b.parquet', { region: 'US' }),
      ]
        .map((a) => JSON.stringify(a))
        .join('\n')}\n`,
    );
    for (const storage of [s, json]) {
      const snap = await load(storage);
      expect(snap.version).toBe(3);
      expect(snap.loadInfo.checkpointVersion).toBeDefined();
      expect(snap.unsupportedReaderFeatures).toEqual([]);
      expect(snap.tupleValues(snap.tupleOf('region=EU/a.parquet'))).toEqual(['EU']);
      expect(snap.tupleValues(snap.tupleOf('region=US/b.parquet'))).toEqual(['US']);
      // A snapshot of v0 refreshed to v3 (replaying the commits) holds the same files.
      const { snapshot, outcome } = await refreshSnapshot(await load(storage, 0), storage, { tableUri });
      expect(outcome).toBe('combined');
      expect(snapshot.fileCount).toBe(snap.fileCount);
    }
  });
});

/** A small seeded PRNG (mulberry32): the same logs on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface ModelFile {
  path: string;
  pv: Record<string, string | null>;
  dv?: {
    storageType: string;
    pathOrInlineDv: string;
    offset: number;
    sizeInBytes: number;
    cardinality: number;
  };
}

/** The remove of a model file, at version `v` (its deletion vector with it). */
function removeOf(f: ModelFile, v: number) {
  return {
    remove: {
      path: f.path,
      deletionTimestamp: v,
      dataChange: true,
      partitionValues: f.pv,
      ...(f.dv ? { deletionVector: f.dv } : {}),
    },
  };
}

const dvOf = (n: number) => ({
  storageType: 'i',
  pathOrInlineDv: `wi5b=000010000siXQKl0rr91000f55c8Xg0@@D72lkbi5=-{L${String(n).padStart(4, '0')}`,
  offset: 1,
  sizeInBytes: 40,
  cardinality: n,
});

const dvKey = (dv: ModelFile['dv']) => (dv ? `${dv.storageType}${dv.pathOrInlineDv}@${dv.offset}` : '');

/**
 * A random valid log: each commit adds new files, removes active ones, gives one a new deletion
 * vector (remove old + add new) or restores a removed one; checkpoints (JSON v2 with inline
 * adds, or classic Parquet) and reconciled compaction files now and then. Returns the model's
 * active files at every version.
 */
async function randomLog(seed: number): Promise<{ s: MemoryDeltaStorage; at: Map<string, ModelFile>[] }> {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const s = new MemoryDeltaStorage();
  const meta = metaData(['region']);
  const proto = {
    protocol: {
      minReaderVersion: 3,
      minWriterVersion: 7,
      readerFeatures: ['deletionVectors', 'v2Checkpoint'],
      writerFeatures: ['deletionVectors', 'v2Checkpoint'],
    },
  };
  const active = new Map<string, ModelFile>();
  const removed = new Map<string, ModelFile>();
  const at: Map<string, ModelFile>[] = [];
  const commits: object[][] = [];
  let n = 0;
  let dvs = 0;
  const versions = 6 + Math.floor(rnd() * 10);
  for (let v = 0; v < versions; v++) {
    const actions: object[] = v === 0 ? [proto, meta] : [];
    const touched = new Set<string>();
    const ops = 1 + Math.floor(rnd() * 4);
    for (let o = 0; o < ops; o++) {
      const r = rnd();
      const live = [...active.values()].filter((f) => !touched.has(f.path));
      const dead = [...removed.values()].filter((f) => !touched.has(f.path));
      if (r < 0.35 || live.length === 0) {
        const region = pick(['EU', 'US', null, 'a b', 'x/y']);
        const folder = region === null ? '__HIVE_DEFAULT_PARTITION__' : encodeURIComponent(region);
        const f: ModelFile = { path: `region=${folder}/f${n++}.parquet`, pv: { region } };
        touched.add(f.path);
        active.set(f.path, f);
        actions.push(add(f.path, f.pv));
      } else if (r < 0.6) {
        const f = pick(live);
        touched.add(f.path);
        active.delete(f.path);
        removed.set(f.path, f);
        actions.push(removeOf(f, v));
      } else if (r < 0.85) {
        const f = pick(live);
        touched.add(f.path);
        const g: ModelFile = { ...f, dv: dvOf(++dvs) };
        active.set(f.path, g);
        actions.push(removeOf(f, v));
        actions.push(add(g.path, g.pv, g.dv));
      } else if (dead.length) {
        const f = pick(dead);
        touched.add(f.path);
        removed.delete(f.path);
        active.set(f.path, f);
        actions.push(add(f.path, f.pv, f.dv));
      }
    }
    // Shuffle the actions of the commit (after protocol/metaData): order inside a commit is free.
    const head = v === 0 ? actions.splice(0, 2) : [];
    for (let i = actions.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [actions[i], actions[j]] = [actions[j]!, actions[i]!];
    }
    const all = [...head, ...actions];
    commits.push(all);
    s.commit(v, all);
    at.push(new Map(active));
    if (v > 0 && rnd() < 0.25) {
      const files = [...active.values()];
      if (files.some((f) => f.dv) || rnd() < 0.5) {
        const lines = [
          { checkpointMetadata: { version: v } },
          proto,
          meta,
          ...files.map((f) => ({
            add: {
              path: f.path,
              partitionValues: f.pv,
              size: 1,
              modificationTime: 0,
              dataChange: false,
              ...(f.dv ? { deletionVector: f.dv } : {}),
            },
          })),
        ];
        s.put(
          `_delta_log/${String(v).padStart(20, '0')}.checkpoint.3a0d65cd-4056-49b8-937b-95f9e3ee90e5.json`,
          `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`,
        );
      } else {
        await writeCheckpoint(
          { put: async (rel, bytes) => void s.put(rel, bytes) },
          v,
          { minReaderVersion: 1, minWriterVersion: 2 },
          meta.metaData,
          files.map((f) => ({
            path: f.path,
            partitionValues: f.pv,
            size: 1,
            modificationTime: 0,
            dataChange: false,
          })),
        );
      }
    }
  }
  // Reconciled compaction files (PROTOCOL.md "Log Compaction Files"): the last action of each
  // (path, DV id) over the range, protocol and metaData when the range holds them.
  const compactions = Math.floor(rnd() * 3);
  for (let c = 0; c < compactions; c++) {
    const x = Math.floor(rnd() * versions);
    const y = x + 1 + Math.floor(rnd() * (versions - x));
    if (y >= versions) continue;
    const last = new Map<string, object>();
    let p: object | undefined;
    let m: object | undefined;
    for (let v = x; v <= y; v++) {
      for (const a of commits[v]! as Record<string, { path: string; deletionVector?: ModelFile['dv'] }>[]) {
        if (a.protocol) p = a;
        else if (a.metaData) m = a;
        else {
          const f = a.add ?? a.remove;
          if (f) last.set(`${dvKey(f.deletionVector)}\u0000${f.path}`, a);
        }
      }
    }
    const lines = [...(p ? [p] : []), ...(m ? [m] : []), ...last.values()];
    s.put(
      `_delta_log/${String(x).padStart(20, '0')}.${String(y).padStart(20, '0')}.compacted.json`,
      `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`,
    );
  }
  return { s, at };
}

/** The snapshot's active data files: path -> [partition values, DV id]. */
function filesOf(snap: Awaited<ReturnType<typeof load>>): Record<string, string> {
  const out: Record<string, string> = {};
  snap.state.data.forEach((t, p) => {
    out[p] = `${JSON.stringify(snap.tupleValues(t))} ${snap.deletionVectorOf(p)?.id ?? ''}`;
  });
  return out;
}

function modelFiles(m: Map<string, ModelFile>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of m.values())
    out[decodeURIComponent(f.path)] = `${JSON.stringify([f.pv.region])} ${dvKey(f.dv)}`;
  return out;
}

describe('random logs: fresh load and refresh agree with the model', () => {
  it('at every version, and refreshed from every earlier version', async () => {
    for (let seed = 1; seed <= 60; seed++) {
      const { s, at } = await randomLog(seed);
      const last = at.length - 1;
      for (let v = 0; v <= last; v++) {
        const fresh = await load(s, v);
        expect(filesOf(fresh), `seed ${seed} fresh v${v}`).toEqual(modelFiles(at[v]!));
      }
      for (let p = 0; p < last; p++) {
        const prev = await load(s, p);
        const r = await refreshSnapshot(prev, s, { tableUri });
        expect(r.snapshot.version).toBe(last);
        expect(filesOf(r.snapshot), `seed ${seed} refresh ${p}->${last} (${r.outcome})`).toEqual(
          modelFiles(at[last]!),
        );
        const mid = p + 1 + Math.floor((last - p) / 2);
        const r2 = await refreshSnapshot(prev, s, { tableUri, version: mid });
        expect(filesOf(r2.snapshot), `seed ${seed} refresh ${p}->${mid} (${r2.outcome})`).toEqual(
          modelFiles(at[mid]!),
        );
      }
      // Without compaction files too.
      const noCompaction = await loadSnapshot(s, { tableUri, useCompaction: false });
      expect(filesOf(noCompaction), `seed ${seed} no compaction`).toEqual(modelFiles(at[last]!));
    }
  });
});

describe.skipIf(!corpusPresent)(withReason('corpus: refresh equals a fresh load', corpusMissing), () => {
  it('every corpus table loaded at each version and refreshed to the latest equals a fresh load', async () => {
    for (const table of corpusTables()) {
      const storage = fsDeltaStorage(path.join(corpusDir, table));
      const uri = `s3://corpus-bucket/tables/${table}`;
      const fresh = await loadSnapshot(storage, { tableUri: uri });
      const want = filesOf(fresh);
      for (let v = 0; v < fresh.version; v++) {
        let prev: Awaited<ReturnType<typeof load>>;
        try {
          prev = await loadSnapshot(storage, { tableUri: uri, version: v });
        } catch {
          continue; // early log cleaned up
        }
        const r = await refreshSnapshot(prev, storage, { tableUri: uri });
        expect(r.snapshot.version, `${table} ${v}`).toBe(fresh.version);
        expect(filesOf(r.snapshot), `${table} from v${v} (${r.outcome})`).toEqual(want);
        const cdc = (x: Awaited<ReturnType<typeof load>>) =>
          [...x.files()]
            .map(([p]) => p)
            .filter((p) => x.kindOf(p) !== 'changeData')
            .sort();
        expect(cdc(r.snapshot), `${table} from v${v} (${r.outcome}) data+dv files`).toEqual(cdc(fresh));
      }
    }
  });
});
