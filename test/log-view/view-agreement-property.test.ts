/**
 * The three views of a table agree on generated logs (fast-check). A generated table is
 * partitioned by `region` (string) and optionally a typed second column (`n` int or `day` date),
 * possibly column-mapped (physical names in partitionValues, logical names in grants, random path
 * prefixes instead of Hive folders). Its log holds adds (values written whole), removes and change
 * data whose partitionValues are complete, blank, missing, empty, without their nulls or with a
 * stray key, removes with and without deletionTimestamp, files added again after a remove,
 * deletion vectors (a DELETE's remove + add of the same path with a new vector in one commit,
 * inline or in a per-commit `u` file shared by every partition the commit touched), checkpoints
 * (classic, multi-part, or v2 with JSON top level and Parquet sidecars) with their tombstones,
 * `_last_checkpoint` (fresh or stale), log compaction files and log cleanups.
 *
 * For each grant (on one or both columns, null, another spelling of a typed value, the whole
 * table): every file the filtered log names at any version a reader can replay is served by the
 * authorizer (snapshot, then history), every file of the real log the authorizer serves is named
 * (test/helpers/view-agreement.ts), no data file is served outside its add's partition, and
 * replaying the view at every retained version gives exactly the readable files of that version,
 * each once, with its deletion vector's bytes. The seed is fixed; FUZZ_SEED and FUZZ_RUNS explore, FUZZ_PATH replays a report's path.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PartitionMap } from '../../lambda/access/grant';
import { uuidString, z85Decode, z85Encode } from '../../lambda/delta/z85';
import { logPathOf, partitionFolder } from '../../lambda/local/delta-writer';
import type { CheckpointRow } from '../../lambda/log-view/checkpoint-rows';
import { CheckpointWriter } from '../../lambda/log-view/checkpoint-writer';
import { MemoryDeltaStorage } from '../helpers/delta-memory-storage';
import { crc32, vectorBytes } from '../helpers/dv-bytes';
import { checkpointKey, logVersion } from '../helpers/log-text';
import { checkAgreement } from '../helpers/view-agreement';

const SEED = Number(process.env.FUZZ_SEED ?? 20261204);
const RUNS = Number(process.env.FUZZ_RUNS ?? 40);
/** A counterexample's path from fast-check's report, to replay it alone. */
const PATH = process.env.FUZZ_PATH;

type PV = Record<string, string | null>;
type Obj = Record<string, unknown>;
type Second = 'none' | 'int' | 'date' | 'ts';

/** How an action writes a file's partition values. */
type Shape = 'full' | 'blank' | 'none' | 'empty' | 'stray' | 'nonull';

/** Six files over the partitions: region × the second column's values (null included). */
const FILES = 6;
// 'a b/ü%' needs Hive escaping in its folder and percent-encoding in the log's path.
const REGIONS = ['EU', 'US', null, 'EU', 'a b/ü%', null] as const;
const SECOND_INDEX = [0, 2, 1, 1, 0, 2] as const;
const SECOND_VALUES: Record<Exclude<Second, 'none'>, readonly (string | null)[]> = {
  int: ['1', '2', null],
  date: ['2024-01-05', '2024-02-29', null],
  // Delta 3+ writes timestamps as ISO-8601 in UTC; older Spark wrote the zone-less wall time.
  ts: ['2024-01-01T10:00:00.000000Z', '2024-03-01 08:30:00', null],
};
const SECOND_NAME = { int: 'n', date: 'day', ts: 'at' } as const;
const SECOND_TYPE = { int: 'integer', date: 'date', ts: 'timestamp' } as const;

/** Grants per table shape, in logical names; typed values in another spelling where one exists. */
const GRANTS: Record<Second, PartitionMap[][]> = {
  none: [[{ region: 'EU' }], [{ region: null }], [{}]],
  int: [
    [{ region: 'EU', n: '01' }],
    [{ region: null, n: null }],
    [{ region: 'US' }, { n: '+2' }],
    [{ region: 'a b/ü%' }, { n: null }],
  ],
  date: [[{ region: 'EU', day: '2024-01-05' }], [{ day: null }], [{ region: null }, { day: '2024-02-29' }]],
  // A zone-less grant is UTC and matches both; a zoned one only a zoned value of its instant.
  ts: [[{ at: '2024-01-01 10:00:00' }], [{ region: 'EU' }, { at: '2024-03-01T08:30:00Z' }], [{ at: null }]],
};

const ZONED = /(Z|[+-]\d\d:?\d\d)$/;
/** Whether a grant's value matches a file's, as README "Access control" says (the model). */
function valueMatches(col: string, grant: string | null, value: string | null | undefined): boolean {
  if (grant === null || value === null || value === undefined) return grant === (value ?? null);
  if (col === 'n') return Number(grant) === Number(value);
  if (col === 'at') {
    const instant = (t: string) => Date.parse(ZONED.test(t) ? t : `${t.replace(' ', 'T')}Z`);
    return ZONED.test(grant)
      ? ZONED.test(value) && instant(grant) === instant(value)
      : instant(grant) === instant(value);
  }
  return grant === value;
}

interface Layout {
  second: Second;
  mapping: boolean;
  absolute: boolean;
}

const logicalColumns = (l: Layout) => (l.second === 'none' ? ['region'] : ['region', SECOND_NAME[l.second]]);
const physicalOf = (l: Layout, col: string) =>
  l.mapping ? `col-${createHash('md5').update(col).digest('hex').slice(0, 8)}-${col}` : col;

/** A file's values by logical column. */
function logicalValues(l: Layout, file: number): PV {
  const out: PV = { region: REGIONS[file]! };
  if (l.second !== 'none') out[SECOND_NAME[l.second]] = SECOND_VALUES[l.second][SECOND_INDEX[file]!]!;
  return out;
}

/** A file's key under the table root. */
function pathOf(l: Layout, file: number): string {
  // Column-mapped tables write random two-character prefixes, not Hive folders (Spark, delta-rs).
  if (l.mapping) return `${String.fromCharCode(65 + file)}x/f${file}.parquet`;
  return `${partitionFolder(logicalColumns(l), logicalValues(l, file))}f${file}.parquet`;
}

/** A file's path as the log writes it: percent-encoded, relative, or absolute for some tables. */
function loggedPathOf(l: Layout, file: number): string {
  const rel = logPathOf(pathOf(l, file));
  // Absolute paths inside the table (Spark's CONVERT TO DELTA and shallow clones write them).
  return l.absolute && file % 2 === 0 ? `s3://bucket/t/${rel}` : rel;
}

/** Partition values as a writer (or a broken one) writes them; undefined: no field at all. */
function valuesOf(l: Layout, file: number, shape: Shape): PV | undefined {
  const full: PV = {};
  for (const [k, v] of Object.entries(logicalValues(l, file))) full[physicalOf(l, k)] = v;
  switch (shape) {
    case 'full':
      return full;
    case 'blank':
      return Object.fromEntries(Object.entries(full).map(([k, v]) => [k, v ?? '']));
    case 'none':
      return undefined;
    case 'empty':
      return {};
    case 'stray':
      return { ...full, old: 'x' };
    case 'nonull':
      return Object.fromEntries(Object.entries(full).filter(([, v]) => v !== null));
  }
}

function matches(maps: PartitionMap[], values: PV): boolean {
  return maps.some((g) => Object.entries(g).every(([k, v]) => valueMatches(k, v, values[k])));
}

/** A grant in the table's newest logical names (`region` renamed to `zone` by a column-mapped rename). */
const renamedGrant = (maps: PartitionMap[], renamed: boolean): PartitionMap[] =>
  renamed
    ? maps.map((g) => Object.fromEntries(Object.entries(g).map(([k, v]) => [k === 'region' ? 'zone' : k, v])))
    : maps;

// ---------- deletion vectors ----------

/** The rows deleted from `file` after its `gen`th DELETE: distinct per file and generation. */
const deletedRows = (file: number, gen: number) => Array.from({ length: gen }, (_, k) => file + 8 * k);

interface Dv {
  descriptor: Obj;
  /** magic + bitmap, what an inline copy must hold. */
  data: Uint8Array;
}

/** One commit's deletion-vector file: version byte, then (size, data, CRC) per vector (PROTOCOL.md). */
class DvFile {
  private readonly chunks: Uint8Array[] = [Uint8Array.of(1)];
  private length = 1;
  readonly id: string;
  readonly rel: string;

  constructor(version: number, prefix: string) {
    const uuid = createHash('sha256').update(`dv${version}`).digest().subarray(0, 16);
    this.id = `${prefix}${z85Encode(uuid)}`;
    const name = `deletion_vector_${uuidString(uuid)}.bin`;
    this.rel = prefix ? `${prefix}/${name}` : name;
  }

  add(data: Uint8Array, cardinality: number): Obj {
    const offset = this.length;
    const frame = Buffer.alloc(8 + data.byteLength);
    frame.writeUInt32BE(data.byteLength, 0);
    frame.set(data, 4);
    frame.writeUInt32BE(crc32(data), 4 + data.byteLength);
    this.chunks.push(frame);
    this.length += frame.byteLength;
    return { storageType: 'u', pathOrInlineDv: this.id, offset, sizeInBytes: data.byteLength, cardinality };
  }

  bytes(): Uint8Array {
    return Buffer.concat(this.chunks);
  }
}

function inlineDv(data: Uint8Array, cardinality: number): Obj {
  const padded = new Uint8Array(Math.ceil(data.byteLength / 4) * 4);
  padded.set(data);
  return { storageType: 'i', pathOrInlineDv: z85Encode(padded), sizeInBytes: data.byteLength, cardinality };
}

const dvKey = (d: Obj | undefined) => (d ? `${d.storageType}${d.pathOrInlineDv}@${d.offset ?? ''}` : '');

// ---------- the generator ----------

type Op =
  | { op: 'add'; file: number }
  | { op: 'remove'; file: number; shape: Shape; stamped: boolean }
  | { op: 'delete'; file: number; shape: Shape; inline: boolean }
  | { op: 'cdc'; file: number; shape: Shape };

const shape = fc.constantFrom<Shape>('full', 'full', 'blank', 'none', 'empty', 'stray', 'nonull');
const file = fc.integer({ min: 0, max: FILES - 1 });
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('add' as const), file }) },
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant('remove' as const), file, shape, stamped: fc.boolean() }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant('delete' as const), file, shape, inline: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('cdc' as const), file, shape }) },
);
const commit = fc.record({
  ops: fc.array(op, { minLength: 1, maxLength: 4 }),
  info: fc.boolean(),
  checkpoint: fc.boolean(),
});
const table = fc.record({
  second: fc.constantFrom<Second>('none', 'int', 'date', 'ts'),
  mapping: fc.boolean(),
  // Column-mapped tables only: the commit that renames `region` to `zone` (same physical name).
  rename: fc.option(fc.integer({ min: 1, max: 6 })),
  absolute: fc.constantFrom(false, false, false, true),
  // Deletion vectors on: DELETEs write them; off: a DELETE rewrites nothing (skipped).
  dvs: fc.boolean(),
  checkpoints: fc.constantFrom('classic', 'multi', 'v2'),
  hint: fc.constantFrom('none', 'fresh', 'stale'),
  // How each file's adds write its values (a null as null or ""), the same every time it is added:
  // writers write them whole. Removes and change data come in every shape (Spark 3.3 leaves
  // nulls out of removes, old writers no values at all, Delta 2.1 nulls out of cdc).
  addShapes: fc.array(fc.constantFrom<Shape>('full', 'blank'), { minLength: FILES, maxLength: FILES }),
  commits: fc.array(commit, { minLength: 1, maxLength: 7 }),
  // A minor compaction [from, from + span] (Spark's x.y.compacted.json), when the log is long enough.
  compaction: fc.option(fc.record({ from: fc.nat(5), span: fc.integer({ min: 1, max: 3 }) })),
  // A log cleanup up to the newest checkpoint: of the commits only, or (as Spark's cleanup does)
  // also of the older checkpoints, sidecars and compaction files.
  cleanup: fc.constantFrom('none', 'commits', 'all'),
});

type Table = typeof table extends fc.Arbitrary<infer T> ? T : never;

interface Active {
  file: number;
  values: PV;
  dv?: Dv;
}

interface Tombstone {
  /** As logged. */
  path: string;
  partitionValues?: PV;
  deletionTimestamp: number;
  deletionVector?: Obj;
}

const v10 = (v: number) => String(v).padStart(10, '0');

function protocolOf(t: Table): Obj {
  const features = [
    ...(t.mapping ? ['columnMapping'] : []),
    ...(t.dvs ? ['deletionVectors'] : []),
    ...(t.checkpoints === 'v2' ? ['v2Checkpoint'] : []),
  ];
  if (!features.length) return { minReaderVersion: 1, minWriterVersion: 2 };
  return { minReaderVersion: 3, minWriterVersion: 7, readerFeatures: features, writerFeatures: features };
}

function metaDataOf(t: Table, renamed = false): Obj {
  const logical = (c: string) => (renamed && c === 'region' ? 'zone' : c);
  const cols = logicalColumns(t).map(logical);
  const types: Record<string, string> = { v: 'long', region: 'string' };
  if (t.second !== 'none') types[SECOND_NAME[t.second]] = SECOND_TYPE[t.second];
  const fields = Object.entries(types).map(([name, type], i) => ({
    name: logical(name),
    type,
    nullable: true,
    metadata: t.mapping
      ? { 'delta.columnMapping.id': i + 1, 'delta.columnMapping.physicalName': physicalOf(t, name) }
      : {},
  }));
  const configuration: Record<string, string> = {};
  if (t.mapping) {
    configuration['delta.columnMapping.mode'] = 'name';
    configuration['delta.columnMapping.maxColumnId'] = String(fields.length);
  }
  if (t.dvs) configuration['delta.enableDeletionVectors'] = 'true';
  if (t.checkpoints === 'v2') configuration['delta.checkpointPolicy'] = 'v2';
  return {
    id: 'test-table',
    format: { provider: 'parquet', options: {} },
    schemaString: JSON.stringify({ type: 'struct', fields }),
    partitionColumns: cols,
    configuration,
    createdTime: 0,
  };
}

async function parquetOf(rows: CheckpointRow[]): Promise<Uint8Array> {
  const w = new CheckpointWriter();
  await w.push(rows);
  return (await w.finish()).bytes;
}

/** A checkpoint of the state a replay reaches at `version`, in the table's checkpoint kind. */
async function checkpoint(
  s: MemoryDeltaStorage,
  t: Table,
  version: number,
  active: Map<string, Active>,
  tombstones: Map<string, Tombstone>,
  parts: number,
  renamed: boolean,
): Promise<{ size: number; parts?: number }> {
  const header: CheckpointRow[] = [{ protocol: protocolOf(t) }, { metaData: metaDataOf(t, renamed) }];
  const files: CheckpointRow[] = [
    ...[...active].map(([, a]) => ({
      add: {
        path: loggedPathOf(t, a.file),
        partitionValues: a.values,
        size: 1,
        modificationTime: 0,
        dataChange: false,
        ...(a.dv ? { deletionVector: a.dv.descriptor } : {}),
      },
    })),
    ...[...tombstones.values()].map((r) => ({
      remove: {
        path: r.path,
        deletionTimestamp: r.deletionTimestamp,
        dataChange: false,
        extendedFileMetadata: r.partitionValues !== undefined,
        ...(r.partitionValues ? { partitionValues: r.partitionValues } : {}),
        ...(r.deletionVector ? { deletionVector: r.deletionVector } : {}),
      },
    })),
  ];
  const size = header.length + files.length;
  const split = (n: number) =>
    Array.from({ length: n }, (_, k) => files.filter((_, i) => i % n === k)) as CheckpointRow[][];
  if (t.checkpoints === 'classic') {
    s.put(checkpointKey(version), await parquetOf([...header, ...files]));
    return { size };
  }
  if (t.checkpoints === 'multi') {
    // Spark's deprecated multi-part checkpoints: files spread over the parts, protocol and
    // metaData in one of them.
    for (const [k, rows] of split(parts).entries()) {
      const name = `${logVersion(version)}.checkpoint.${v10(k + 1)}.${v10(parts)}.parquet`;
      s.put(`_delta_log/${name}`, await parquetOf(k === 0 ? [...header, ...rows] : rows));
    }
    return { size, parts };
  }
  // v2: a JSON top level naming Parquet sidecars that hold the file actions.
  const lines: Obj[] = [{ checkpointMetadata: { version } }, ...header];
  for (const [k, rows] of split(parts - 1 || 1).entries()) {
    const name = `${uuidString(createHash('sha256').update(`sidecar${version}.${k}`).digest())}.parquet`;
    const bytes = await parquetOf(rows);
    s.put(`_delta_log/_sidecars/${name}`, bytes);
    lines.push({ sidecar: { path: name, sizeInBytes: bytes.byteLength, modificationTime: 0 } });
  }
  const top = uuidString(createHash('sha256').update(`checkpoint${version}`).digest());
  s.put(
    `_delta_log/${logVersion(version)}.checkpoint.${top}.json`,
    `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`,
  );
  return { size: lines.length + files.length };
}

interface Written {
  s: MemoryDeltaStorage;
  renamed: boolean;
  /** The active files after each version, as the real log says. */
  states: Map<string, Active>[];
  oldest: number;
}

/** Writes the generated log: commits, checkpoints of the state a replay reaches, the rest. */
async function write(t: Table): Promise<Written> {
  const s = new MemoryDeltaStorage();
  const active = new Map<string, Active>();
  const tombstones = new Map<string, Tombstone>();
  /** A file's newest vector, kept across a remove (a RESTORE re-adds it with it). */
  const lastDv = new Map<number, Dv>();
  const gens = new Map<number, number>();
  const states: Map<string, Active>[] = [];
  const commits: Obj[][] = [];
  const checkpoints: { version: number; size: number; parts?: number }[] = [];
  let cdcs = 0;
  let renamed = false;
  const tombstone = (path: string, version: number, pv: PV | undefined, dv: Dv | undefined) =>
    tombstones.set(`${path}|${dvKey(dv?.descriptor)}`, {
      path,
      deletionTimestamp: version + 1,
      ...(pv ? { partitionValues: pv } : {}),
      ...(dv ? { deletionVector: dv.descriptor } : {}),
    });
  const addAction = (path: string, a: Active): Obj => {
    tombstones.delete(`${loggedPathOf(t, a.file)}|${dvKey(a.dv?.descriptor)}`);
    active.set(path, a);
    return {
      add: {
        path: loggedPathOf(t, a.file),
        partitionValues: a.values,
        size: 1,
        modificationTime: 0,
        dataChange: true,
        ...(a.dv ? { deletionVector: a.dv.descriptor } : {}),
      },
    };
  };
  for (const [version, c] of t.commits.entries()) {
    const actions: Obj[] = [];
    if (c.info) actions.push({ commitInfo: { timestamp: version + 1 } });
    if (version === 0) actions.push({ protocol: protocolOf(t) }, { metaData: metaDataOf(t) });
    if (t.mapping && version === t.rename) {
      renamed = true;
      actions.push({ metaData: metaDataOf(t, true) });
    }
    const touched = new Set<string>();
    const dvFile = new DvFile(version, t.mapping ? 'ab' : '');
    let dvFileUsed = false;
    for (const o of c.ops) {
      if (o.op === 'cdc') {
        const pv = valuesOf(t, o.file, o.shape);
        actions.push({
          cdc: {
            path: `_change_data/c${cdcs++}.parquet`,
            size: 1,
            dataChange: false,
            ...(pv ? { partitionValues: pv } : {}),
          },
        });
        continue;
      }
      const path = pathOf(t, o.file);
      // One action per path and commit (a DELETE's remove + add is the one exception).
      if (touched.has(path)) continue;
      const addValues = valuesOf(t, o.file, t.addShapes[o.file]!)!;
      const current = active.get(path);
      if (o.op === 'add') {
        // Adding a file that is active with a vector, without removing it, would leave two
        // (path, vector) entries: no writer does that.
        if (current?.dv) continue;
        touched.add(path);
        const dv = current ? undefined : lastDv.get(o.file);
        actions.push(addAction(path, { file: o.file, values: addValues, ...(dv ? { dv } : {}) }));
        continue;
      }
      if (!current) continue;
      if (o.op === 'delete' && !t.dvs) continue;
      touched.add(path);
      const pv = valuesOf(t, o.file, o.shape);
      const stamped = o.op === 'delete' || o.stamped;
      actions.push({
        remove: {
          path: loggedPathOf(t, o.file),
          dataChange: true,
          ...(stamped ? { deletionTimestamp: version + 1 } : {}),
          ...(pv ? { partitionValues: pv, extendedFileMetadata: true } : {}),
          ...(current.dv ? { deletionVector: current.dv.descriptor } : {}),
        },
      });
      active.delete(path);
      tombstone(loggedPathOf(t, o.file), version, pv, current.dv);
      if (o.op === 'delete') {
        const gen = (gens.get(o.file) ?? 0) + 1;
        gens.set(o.file, gen);
        const rows = deletedRows(o.file, gen);
        const data = vectorBytes(rows);
        const descriptor = o.inline ? inlineDv(data, rows.length) : dvFile.add(data, rows.length);
        dvFileUsed ||= !o.inline;
        const dv = { descriptor, data };
        lastDv.set(o.file, dv);
        actions.push(addAction(path, { file: o.file, values: addValues, dv }));
      }
    }
    if (dvFileUsed) s.put(dvFile.rel, dvFile.bytes());
    s.commit(version, actions);
    commits.push(actions);
    states.push(new Map(active));
    if (c.checkpoint) {
      const parts = 2 + (version % 2);
      checkpoints.push({ version, ...(await checkpoint(s, t, version, active, tombstones, parts, renamed)) });
      if (t.hint !== 'none') {
        // A stale hint: the writer stopped between its newest checkpoint and the hint.
        const hinted = t.hint === 'fresh' ? checkpoints.at(-1)! : checkpoints[0]!;
        s.put('_delta_log/_last_checkpoint', JSON.stringify(hinted));
      }
    }
  }
  if (t.compaction) {
    // Spark's minor compaction: the reconciled file actions of commits from..to, newest per file.
    const from = t.compaction.from;
    const to = from + t.compaction.span;
    if (to < commits.length) {
      const last = new Map<string, Obj>();
      for (let v = from; v <= to; v++) {
        for (const a of commits[v]!) {
          const f = (a.add ?? a.remove) as Obj | undefined;
          if (f) last.set(`${f.path}|${dvKey(f.deletionVector as Obj | undefined)}`, a);
          else if (a.protocol || a.metaData) last.set(Object.keys(a)[0]!, a);
        }
      }
      s.put(
        `_delta_log/${logVersion(from)}.${logVersion(to)}.compacted.json`,
        `${[...last.values()].map((a) => JSON.stringify(a)).join('\n')}\n`,
      );
    }
  }
  // A log cleanup: the commits before the newest checkpoint are gone.
  const lastCheckpoint = checkpoints.at(-1)?.version ?? -1;
  const oldest = t.cleanup !== 'none' && lastCheckpoint > 0 ? lastCheckpoint : 0;
  for (const name of [...s.files.keys()]) {
    const m = /^_delta_log\/(\d{20})\.(json|checkpoint|\d{20}\.compacted)/.exec(name);
    const older = m && Number(m[1]) < oldest;
    if (older && (m[2] === 'json' || t.cleanup === 'all')) s.files.delete(name);
  }
  if (t.cleanup === 'all') {
    // The sidecars only older checkpoints named.
    const kept = [...s.files.values()].map((b) => Buffer.from(b).toString('latin1')).join('\n');
    for (const name of [...s.files.keys()]) {
      if (
        name.startsWith('_delta_log/_sidecars/') &&
        !kept.includes(name.slice('_delta_log/_sidecars/'.length))
      )
        s.files.delete(name);
    }
  }
  return { s, states, oldest, renamed };
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('the filtered log and the authorizer agree on generated logs', () => {
  it('every named file is served and every served file is named, for each grant', {
    timeout: 600_000,
  }, async () => {
    await fc.assert(
      fc.asyncProperty(table, async (t) => {
        const { s, states, oldest, renamed } = await write(t);
        const fileOf = new Map(Array.from({ length: FILES }, (_, f) => [pathOf(t, f), f]));
        for (const maps of GRANTS[t.second]) {
          // Every remove is within its retention at this instant.
          const r = await checkAgreement(s, renamedGrant(maps, renamed), 100);
          const readable = (f: number) => matches(maps, logicalValues(t, f));
          // A data file is served only in its own partition, the one its add gave it.
          const outside = r.served.filter((p) => fileOf.has(p) && !readable(fileOf.get(p)!));
          // Every retained version replays to its readable files, each once, with its vector.
          const versions = [...r.files.keys()].sort((a, b) => a - b);
          const wrong: string[] = [];
          for (const [v, state] of states.entries()) {
            if (v < oldest) continue;
            const want = [...state]
              .filter(([, a]) => readable(a.file))
              .map(([p, a]) => `${p} ${a.dv ? hex(a.dv.data) : '-'}`)
              .sort();
            const got = (r.files.get(v) ?? [])
              .map((f) => {
                const dv = f.deletionVector;
                if (!dv) return `${f.path} -`;
                if (dv.storageType !== 'i') return `${f.path} not inline`;
                const bytes = z85Decode(dv.pathOrInlineDv)!.subarray(0, dv.sizeInBytes);
                return `${f.path} ${hex(bytes)}`;
              })
              .sort();
            if (JSON.stringify(got) !== JSON.stringify(want)) wrong.push(`v${v}: ${got} != ${want}`);
          }
          expect({
            maps,
            named: r.namedButRefused,
            hidden: r.servedButHidden,
            outside,
            twice: r.twice,
            versions,
            wrong,
          }).toEqual({
            maps,
            named: [],
            hidden: [],
            outside: [],
            twice: [],
            versions: Array.from({ length: states.length - oldest }, (_, i) => oldest + i),
            wrong: [],
          });
        }
      }),
      { numRuns: RUNS, seed: SEED, ...(PATH ? { path: PATH } : {}) },
    );
  });
});
