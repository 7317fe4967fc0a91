/**
 * Generated damage to a table's log (fast-check): commits with actions of the wrong shape, bytes
 * flipped in a commit or in a checkpoint. A load either gives a snapshot or fails with a
 * DeltaLogError (the proxy's fail-closed answer); never another exception, which would mean a
 * reader that trusted the log's form. A snapshot it does give never places a file outside its
 * partition: every file it knows carries a value for each partition column.
 * The seed is fixed so a run is reproducible; FUZZ_SEED and FUZZ_RUNS explore further.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fileGrantOf } from '../../lambda/access/file-grant';
import type { PartitionMap } from '../../lambda/access/grant';
import { readCheckpointFileActions } from '../../lambda/delta/checkpoint-file-actions';
import { DeltaLogError } from '../../lambda/delta/delta-log-error';
import { isNotFound } from '../../lambda/delta/delta-storage';
import { loadHistory } from '../../lambda/delta/load-history';
import { loadSnapshot } from '../../lambda/delta/load-snapshot';
import { listLogSegment } from '../../lambda/delta/log-segment';
import { NO_TUPLE, type PartitionColumn } from '../../lambda/delta/snapshot-view';
import { TableRoot } from '../../lambda/delta/table-root';
import { ActionFilter } from '../../lambda/log-view/action-filter';
import { readCheckpointRows } from '../../lambda/log-view/checkpoint-rows';
import { DvInliner } from '../../lambda/log-view/dv-inliner';
import { TupleClassifier } from '../../lambda/log-view/file-grant';
import { filterCommit } from '../../lambda/log-view/filtered-commit';
import { corpusDir, corpusMissing, corpusTables } from '../helpers/delta-corpus';
import { add, MemoryDeltaStorage, metaData, protocolV1, remove } from '../helpers/delta-memory-storage';
import { withReason } from '../helpers/skips';

const SEED = Number(process.env.FUZZ_SEED ?? 20261204);
const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
const tableUri = 's3://bucket/t';

/** A load's outcome: the snapshot, or the DeltaLogError; any other exception fails the test. */
async function load(s: MemoryDeltaStorage, uri = tableUri) {
  try {
    return await loadSnapshot(s, { tableUri: uri });
  } catch (e) {
    if (e instanceof DeltaLogError) return e;
    throw e;
  }
}

/** JSON values of any shape, for the fields of an action. */
const anyJson = fc.oneof(
  fc.constantFrom(null, true, 0, -1, 1e308, '', 'region=EU/x.parquet', '../x', [], {}),
  fc.jsonValue({ maxDepth: 2 }),
);

/** An action of a known kind whose fields are right, missing or of the wrong type. */
const action = fc.oneof(
  fc
    .record(
      {
        path: fc.oneof(fc.constantFrom('region=EU/a.parquet', 'region=US/b.parquet', 'c.parquet'), anyJson),
        partitionValues: fc.oneof(
          fc.constantFrom({ region: 'EU' }, { region: 'US' }, { region: null }, {}),
          anyJson,
        ),
        size: fc.oneof(fc.nat(), anyJson),
        modificationTime: fc.oneof(fc.nat(), anyJson),
        dataChange: fc.oneof(fc.boolean(), anyJson),
        deletionVector: anyJson,
        stats: anyJson,
      },
      { requiredKeys: [] },
    )
    .map((a) => ({ add: a })),
  fc
    .record(
      {
        path: fc.oneof(fc.constantFrom('region=EU/a.parquet', 'region=US/b.parquet'), anyJson),
        deletionTimestamp: fc.oneof(fc.nat(), anyJson),
        partitionValues: anyJson,
        dataChange: anyJson,
      },
      { requiredKeys: [] },
    )
    .map((r) => ({ remove: r })),
  fc
    .record({ path: anyJson, partitionValues: anyJson, size: anyJson }, { requiredKeys: [] })
    .map((c) => ({ cdc: c })),
  fc
    .record({ schemaString: anyJson, partitionColumns: anyJson, id: anyJson }, { requiredKeys: [] })
    .map((m) => ({
      metaData: m,
    })),
  fc
    .record(
      { minReaderVersion: anyJson, minWriterVersion: anyJson, readerFeatures: anyJson },
      { requiredKeys: [] },
    )
    .map((p) => ({ protocol: p })),
  fc.record({ txn: anyJson, commitInfo: anyJson, domainMetadata: anyJson }, { requiredKeys: [] }),
  anyJson,
);

function table(): MemoryDeltaStorage {
  return new MemoryDeltaStorage().commit(0, [
    protocolV1,
    metaData(['region']),
    add('region=EU/eu.parquet', { region: 'EU' }),
    add('region=US/us.parquet', { region: 'US' }),
  ]);
}

/** Every file the snapshot knows has a value (a string or null) for each partition column. */
function expectPlaced(result: Awaited<ReturnType<typeof load>>, what: string): void {
  if (result instanceof DeltaLogError) return;
  result.forEachFile((p, t) => {
    // A vector file of an add refused for its values is kept with no tuple: no grant covers it.
    if (t === NO_TUPLE && result.kindOf(p) === 'deletionVector') return;
    expect(t, `${what}: ${p}`).not.toBe(NO_TUPLE);
    const values = result.tupleValues(t);
    expect(values.length, `${what}: ${p}`).toBe(result.partitionColumns.length);
    for (const v of values) expect(v === null || typeof v === 'string', `${what}: ${p}`).toBe(true);
  });
}

const flip = (bytes: Uint8Array, at: number, xor: number) => {
  const out = Uint8Array.from(bytes);
  out[at % out.length]! ^= xor;
  return out;
};

describe('a damaged log', () => {
  it('a commit of ill-formed actions loads or fails closed', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 6 }), async (actions) => {
        const s = table().commit(1, actions as object[]);
        expectPlaced(await load(s), JSON.stringify(actions));
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it('the history of a commit of ill-formed actions loads or fails closed', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 6 }), async (actions) => {
        const s = table().commit(1, actions as object[]);
        const snapshot = await load(s);
        if (snapshot instanceof DeltaLogError) return;
        try {
          await loadHistory(s, snapshot);
        } catch (e) {
          if (!(e instanceof DeltaLogError)) throw e;
        }
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it('a commit of ill-formed actions, filtered for the EU partition, shows only EU files or fails closed', async () => {
    const region = [{ logical: 'region', physical: 'region', type: 'string' as const }];
    const filter = filterFor(new MemoryDeltaStorage(), 's3://bucket/t', region, { region: 'EU' });
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 6 }), async (actions) => {
        const text = actions.map((a) => JSON.stringify(a)).join('\n');
        let out: string;
        try {
          out = new TextDecoder().decode(await filterCommit(text, '00000000000000000001.json', 1, filter));
        } catch (e) {
          if (e instanceof DeltaLogError) return;
          throw e;
        }
        for (const line of out.trimEnd().split('\n')) {
          const a = JSON.parse(line) as Record<string, { partitionValues?: Record<string, unknown> }>;
          for (const kind of ['add', 'remove', 'cdc'])
            if (a[kind]) expect(a[kind].partitionValues, `${line} from ${text}`).toEqual({ region: 'EU' });
        }
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it('a commit with a flipped byte loads or fails closed', async () => {
    const s0 = table().commit(1, [
      remove('region=EU/eu.parquet'),
      add('region=EU/eu2.parquet', { region: 'EU' }),
    ]);
    const original = s0.files.get('_delta_log/00000000000000000001.json')!;
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.integer({ min: 1, max: 255 }), async (at, xor) => {
        const s = table().put('_delta_log/00000000000000000001.json', flip(original, at, xor));
        expectPlaced(await load(s), `byte ${at % original.length} ^ ${xor}`);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it('a checkpoint with flipped bytes loads or fails closed', async () => {
    const { checkpoint } = await checkpointTable();
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
        async (flips) => {
          let bytes = checkpoint;
          for (const [at, xor] of flips) bytes = flip(bytes, at, xor);
          const s = new MemoryDeltaStorage().put('_delta_log/00000000000000000000.checkpoint.parquet', bytes);
          expectPlaced(await load(s), JSON.stringify(flips));
        },
      ),
      { numRuns: RUNS, seed: SEED },
    );
  });

  // The writers' own checkpoints (Spark, Databricks, delta-rs: dictionary and RLE pages, v1 and
  // v2 data pages, their codecs), damaged: flipped bits, bytes and 32-bit words set to edge values.
  it.skipIf(corpusMissing)(
    withReason('a corpus checkpoint with damaged bytes loads or fails closed', corpusMissing),
    async () => {
      const checkpoints = corpusCheckpoints();
      expect(checkpoints.length).toBeGreaterThan(5);
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...checkpoints),
          fc.array(byteDamage, { minLength: 1, maxLength: 4 }),
          async ([name, checkpoint], damages) => {
            const bytes = damaged(checkpoint, damages);
            const s = new MemoryDeltaStorage().put(CHECKPOINT, bytes);
            const loaded = await load(s);
            expectPlaced(loaded, `${name} ${JSON.stringify(damages)}`);
            // The same bytes through the history's and the filtered view's readers.
            const part = [{ path: CHECKPOINT, size: bytes.length, format: 'parquet' as const }];
            const io = { requests: 0, bytes: 0 };
            await failsClosed(readCheckpointFileActions(s, part, 'remove', io, () => undefined));
            const columns = loaded instanceof DeltaLogError ? [] : loaded.partitionColumns;
            const everything = new TupleClassifier(fileGrantOf(columns, [{}]));
            await failsClosed(readCheckpointRows(s, part, everything, async () => undefined, io));
          },
        ),
        { numRuns: RUNS, seed: SEED },
      );
    },
  );

  // Any Parquet file of a corpus log (a classic, multi-part or v2 checkpoint, a sidecar) damaged
  // in place: the whole table through the snapshot's and the history's readers, and its newest
  // checkpoint through the filtered view's.
  it.skipIf(corpusMissing)(
    withReason('a corpus table with a damaged Parquet log file loads or fails closed', corpusMissing),
    async () => {
      const tables = corpusTables()
        .map((t) => ({ table: t, files: logFiles(t) }))
        .filter((t) => t.files.some(([p]) => p.endsWith('.parquet')));
      expect(tables.length).toBeGreaterThan(10);
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...tables),
          fc.nat(),
          fc.array(byteDamage, { minLength: 1, maxLength: 4 }),
          async ({ table, files }, which, damages) => {
            const parquet = files.filter(([p]) => p.endsWith('.parquet'));
            const [path, bytes] = parquet[which % parquet.length]!;
            const s = new MemoryDeltaStorage();
            for (const [p, b] of files) s.put(p, b);
            s.put(path, damaged(bytes, damages));
            const tableUri = `s3://bucket/${table}`;
            const loaded = await load(s, tableUri);
            expectPlaced(loaded, `${table}/${path} ${JSON.stringify(damages)}`);
            if (!(loaded instanceof DeltaLogError)) await failsClosed(loadHistory(s, loaded));
            const newest = (await listLogSegment(s, {})).checkpoints[0];
            if (!newest) return;
            const columns = loaded instanceof DeltaLogError ? [] : loaded.partitionColumns;
            const everything = new TupleClassifier(fileGrantOf(columns, [{}]));
            const io = { requests: 0, bytes: 0 };
            await failsClosed(readCheckpointRows(s, newest.parts, everything, async () => undefined, io));
          },
        ),
        { numRuns: RUNS, seed: SEED },
      );
    },
  );

  // The writers' own JSON log files (commits, compacted commits, v2 checkpoints, _last_checkpoint),
  // damaged: a flipped bit, a value swapped for an edge value, a few characters cut, a line
  // dropped; then the table (all its log files) through the snapshot's, the history's and (for a
  // commit) the filtered view's readers.
  it.skipIf(corpusMissing)(
    withReason(
      'a damaged corpus JSON log file loads, builds its history and is filtered, or fails closed',
      corpusMissing,
    ),
    async () => {
      const tables = corpusTables()
        .map((t) => ({ table: t, files: logFiles(t) }))
        .filter((t) => t.files.some(([p]) => JSON_LOG.test(p)));
      expect(tables.length).toBeGreaterThan(10);
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...tables),
          fc.nat(),
          fc.constantFrom('bit', 'value', 'cut', 'line'),
          fc.nat(),
          fc.nat(),
          async ({ table, files }, which, kind, at, v) => {
            const jsons = files.filter(([p]) => JSON_LOG.test(p));
            const [path, bytes] = jsons[which % jsons.length]!;
            const text = damageCommit(bytes, kind, at, v);
            const what = `${table}/${path} ${kind} ${at} ${v}`;
            const s = new MemoryDeltaStorage();
            for (const [p, b] of files) s.put(p, b);
            s.put(path, text);
            const tableUri = `s3://bucket/${table}`;
            const loaded = await load(s, tableUri);
            expectPlaced(loaded, what);
            if (loaded instanceof DeltaLogError) return;
            await failsClosed(loadHistory(s, loaded));
            if (!COMMIT.test(path)) return;
            const filter = filterFor(s, tableUri, loaded.partitionColumns, {});
            const version = Number(path.slice(LOG_PREFIX.length, LOG_PREFIX.length + 20));
            await failsClosed(filterCommit(text, path.slice(LOG_PREFIX.length), version, filter));
          },
        ),
        { numRuns: RUNS, seed: SEED },
      );
    },
  );

  // Found by a first version of the property above: a deletion vector whose "pathOrInlineDv" key is
  // damaged. Reading the descriptor's path was a TypeError that failed the filtered commit; now
  // the descriptor is malformed and the filtered view writes its placeholder, as for a vacuumed DV.
  it.skipIf(corpusMissing)(
    withReason(
      'a corpus commit whose deletion vector lost its path is filtered with a placeholder',
      corpusMissing,
    ),
    async () => {
      const files = logFiles('delta-dv-with-columnmapping');
      const [path, bytes] = files.find(([p]) => p.endsWith('00000000000000000001.json'))!;
      const text = Buffer.from(bytes).toString('utf8').replace('"pathOrInlineDv"', '"pathOrInlineDw"');
      expect(text).toContain('"pathOrInlineDw"');
      const s = new MemoryDeltaStorage();
      for (const [p, b] of files) s.put(p, b);
      const tableUri = 's3://bucket/delta-dv-with-columnmapping';
      const loaded = await loadSnapshot(s, { tableUri });
      const filter = filterFor(s, tableUri, loaded.partitionColumns, {});
      const out = new TextDecoder().decode(
        await filterCommit(text, path.slice(LOG_PREFIX.length), 1, filter),
      );
      const dvs = out
        .trimEnd()
        .split('\n')
        .map(
          (l) =>
            (JSON.parse(l) as { add?: { deletionVector?: { storageType?: string } } }).add?.deletionVector,
        )
        .filter((d) => d !== undefined);
      expect(dvs.length).toBeGreaterThan(0);
      for (const d of dvs) expect(d!.storageType).toBe('i');
    },
  );

  // Found by the property above (seed 1, case 8,431): byte 7360 is add.path's physical type in
  // the footer, BYTE_ARRAY (6, zigzag 12); set to 0 it says BOOLEAN, and the snapshot's reader
  // took a decoded `true` for a streamed path (a TypeError instead of a malformed log).
  it.skipIf(corpusMissing)(
    withReason('a corpus checkpoint whose add.path says BOOLEAN fails closed', corpusMissing),
    async () => {
      const log = join(corpusDir, 'delta-basic-dv-with-checkpoint', '_delta_log');
      const bytes = readFileSync(join(log, '00000000000000000030.checkpoint.parquet'));
      expect(bytes[7360]).toBe(12);
      bytes[7360] = 0;
      const s = new MemoryDeltaStorage().put(CHECKPOINT, bytes);
      const failure = await load(s);
      expect(failure).toBeInstanceOf(DeltaLogError);
      expect((failure as DeltaLogError).message).toContain('add.path holds a boolean, not a string');
      // The filtered view wrote a row with the path "true" before.
      const part = [{ path: CHECKPOINT, size: bytes.length, format: 'parquet' as const }];
      const everything = new TupleClassifier(fileGrantOf([], [{}]));
      const rows = readCheckpointRows(s, part, everything, async () => undefined, { requests: 0, bytes: 0 });
      await expect(rows).rejects.toThrow(/add\.path holds a boolean, not a string/);
    },
  );

  // Found by the property above, each pinned: the flipped byte and what it did before the fix.
  it.each([
    // Byte 19 is in add.path's first page header: xor 4 turns its v1 data page header field
    // into a v2 one without repetition/definition level lengths.
    [
      19,
      4,
      'a data page turned v2 without level lengths (the reader looped forever)',
      'malformed page header: level lengths',
    ],
    [3621, 128, 'a column chunk without metadata', 'malformed footer: a column chunk without metadata'],
    [2023, 59, 'a schema element with a negative child count (hyparquet looped)', 'has -22 children'],
  ])('a checkpoint with byte %i ^ %i fails closed: %s', async (at, xor, _what, message) => {
    const { checkpoint } = await checkpointTable();
    const s = new MemoryDeltaStorage().put(
      '_delta_log/00000000000000000000.checkpoint.parquet',
      flip(checkpoint, at, xor),
    );
    const failure = await load(s);
    expect(failure).toBeInstanceOf(DeltaLogError);
    expect((failure as DeltaLogError).message).toContain(message);
  });
});

const CHECKPOINT = '_delta_log/00000000000000000000.checkpoint.parquet';

/**
 * A reader of a damaged log may fail, but only as its callers take a broken log: a DeltaLogError,
 * or NotFound for a file the damaged log names (a sidecar), which they treat alike.
 */
async function failsClosed(read: Promise<unknown>): Promise<void> {
  try {
    await read;
  } catch (e) {
    if (!(e instanceof DeltaLogError) && !isNotFound(e)) throw e;
  }
}

/** The filtered view's action filter for a grant of one partition map (`{}`: everything). */
function filterFor(
  s: MemoryDeltaStorage,
  tableUri: string,
  columns: readonly PartitionColumn[],
  partitions: PartitionMap,
): ActionFilter {
  const root = new TableRoot(tableUri);
  return new ActionFilter({
    root,
    classifier: new TupleClassifier(fileGrantOf(columns, [partitions])),
    dv: new DvInliner(s, root),
    lookup: { partitionValuesAt: async () => undefined },
  });
}

/** Damage to a binary file: a byte xor-ed, a byte or a 32-bit word set to an edge value. */
const byteDamage = fc.oneof(
  fc.tuple(fc.constant('xor' as const), fc.nat(), fc.integer({ min: 1, max: 255 })),
  fc.tuple(fc.constant('byte' as const), fc.nat(), fc.constantFrom(0, 1, 0x7f, 0x80, 0xff)),
  fc.tuple(fc.constant('int32' as const), fc.nat(), fc.constantFrom(0, -1, 0x7fffffff, -0x80000000, 65536)),
);

function damaged(
  original: Uint8Array,
  damages: readonly (readonly ['xor' | 'byte' | 'int32', number, number])[],
) {
  const bytes = Buffer.from(original);
  for (const [kind, at, value] of damages) {
    const i = at % bytes.length;
    if (kind === 'xor') bytes[i]! ^= value;
    else if (kind === 'byte') bytes[i] = value;
    else if (i + 4 <= bytes.length) bytes.writeInt32LE(value, i);
  }
  return bytes;
}

const LOG_PREFIX = '_delta_log/';
const COMMIT = /^_delta_log\/\d{20}\.json$/;
/** The log's JSON files: commits, compacted commits, v2 checkpoints, `_last_checkpoint`. */
const JSON_LOG =
  /^_delta_log\/(\d{20}\.(json|\d{20}\.compacted\.json|checkpoint\.[0-9a-f-]{36}\.json)|_last_checkpoint)$/;

/** Every file under a corpus table's _delta_log/ (sidecars included), by path from the table root. */
function logFiles(table: string, dir = '_delta_log/'): [string, Uint8Array][] {
  const out: [string, Uint8Array][] = [];
  for (const e of readdirSync(join(corpusDir, table, dir), { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...logFiles(table, `${dir}${e.name}/`));
    else out.push([`${dir}${e.name}`, readFileSync(join(corpusDir, table, dir, e.name))]);
  }
  return out;
}

/** A commit's text with one kind of damage at `at` (`v` picks the bit, value or length). */
function damageCommit(
  bytes: Uint8Array,
  kind: 'bit' | 'value' | 'cut' | 'line',
  at: number,
  v: number,
): string {
  const text = Buffer.from(bytes).toString('utf8');
  const i = at % Math.max(1, text.length);
  switch (kind) {
    case 'bit': {
      const b = Buffer.from(bytes);
      b[at % b.length]! ^= 1 << (v % 8);
      return b.toString('latin1');
    }
    case 'value': {
      const values = [...text.matchAll(/:("[^"]*"|-?\d+(\.\d+)?|true|false|null|\{\}|\[\])/g)];
      if (!values.length) return text;
      const m = values[v % values.length]!;
      const edge = ['null', '0', '-1', '""', '[]', '{}', 'true', '1e400', '"a/../b"', '"%"'][at % 10]!;
      return text.slice(0, m.index! + 1) + edge + text.slice(m.index! + m[0].length);
    }
    case 'cut':
      return text.slice(0, i) + text.slice(i + 1 + (v % 5));
    case 'line': {
      const lines = text.split('\n');
      lines.splice(v % lines.length, 1);
      return lines.join('\n');
    }
  }
}

/** Every single-file checkpoint of the shared corpus, by table. */
function corpusCheckpoints(): [string, Uint8Array][] {
  return corpusTables().flatMap((table) =>
    logFiles(table)
      .filter(([p]) => /^_delta_log\/\d{20}\.checkpoint\.parquet$/.test(p))
      .map(([p, bytes]): [string, Uint8Array] => [`${table}/${p}`, bytes]),
  );
}

/** A 40-file table whose only log file is a checkpoint (as after log cleanup). */
async function checkpointTable() {
  const s0 = await new MemoryDeltaStorage().checkpoint(
    0,
    Array.from({ length: 40 }, (_, i) => ({
      path: `region=${i % 2 ? 'US' : 'EU'}/part-${i}.parquet`,
      partitionValues: { region: i % 2 ? 'US' : 'EU' },
    })),
  );
  const checkpoint = s0.files.get('_delta_log/00000000000000000000.checkpoint.parquet')!;
  const intact = await load(s0);
  expect(intact).not.toBeInstanceOf(DeltaLogError);
  expect((intact as Exclude<typeof intact, DeltaLogError>).fileCount).toBe(40);
  return { checkpoint };
}
