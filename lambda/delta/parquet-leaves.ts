/**
 * Reads chosen leaf columns of a Parquet file, row group by row group, over ranged reads, with
 * hyparquet's page decoders. Only the column chunks asked for are fetched (adjacent ones in one
 * request) and decoded, so a checkpoint's `add.stats` is never read. A leaf comes back as its
 * Dremel levels plus the present values; the cursors below walk them row by row without
 * building row objects.
 */
import type { CompressionCodec, Compressors, FileMetaData, ParquetType, SchemaTree } from 'hyparquet';
import { parquetMetadataAsync, parquetSchema } from 'hyparquet';
import { decompressPage, readDataPage, readDataPageV2 } from 'hyparquet/src/datapage.js';
import { readRleBitPackedHybrid } from 'hyparquet/src/encoding.js';
import { readPlain } from 'hyparquet/src/plain.js';
import { runInSlices, WorkSlices } from '../core/event-loop';
import { ByteArrayPages, readLevels, streamable } from './byte-array-pages';
import { DeltaLogError } from './delta-log-error';
import type { DeltaStorage, FilePin } from './delta-storage';
import { checkFooter, readPageHeader } from './parquet-checks';
import { codecsWithin, inflationBudget } from './parquet-codecs';

export interface IoStats {
  requests: number;
  bytes: number;
}

export interface ParquetFile {
  path: string;
  size: number;
  metadata: FileMetaData;
  tree: SchemaTree;
  /** Every range is read from the version whose footer this is. */
  pin: FilePin;
  /** Page decompressors sharing this read's budget (see codecsWithin). */
  codecs: Compressors;
  /** Rows and level slots this read may still decode (see spendSlots). */
  slots: { left: number };
}

const utf8 = new TextDecoder();

export async function openParquet(
  storage: DeltaStorage,
  path: string,
  size: number,
  io: IoStats,
  /** `size` is what the log says (a sidecar's sizeInBytes), not what a listing said. */
  sizeFromLog = false,
): Promise<ParquetFile> {
  const pin: FilePin = { size, sizeFromLog };
  const file = {
    byteLength: size,
    slice: async (start: number, end?: number) => {
      const b = await readRange(storage, path, pin, start, end ?? size, io);
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    },
  };
  try {
    // A small first fetch: the footer of a big checkpoint is tens of KB, not 512.
    const metadata = await parquetMetadataAsync(file, { initialFetchSize: Math.min(size, 64 * 1024) });
    checkFooter(metadata, size);
    const codecs = codecsWithin(inflationBudget(size));
    const slots = { left: inflationBudget(size) };
    return { path, size, metadata, tree: parquetSchema(metadata), pin, codecs, slots };
  } catch (e) {
    if (e instanceof DeltaLogError) throw e;
    if ((e as { name?: string }).name === 'StorageError') throw e;
    throw new DeltaLogError('Unreadable', `${path} is not a readable Parquet file: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

async function readRange(
  storage: DeltaStorage,
  path: string,
  pin: FilePin,
  start: number,
  end: number,
  io: IoStats,
) {
  io.requests++;
  const b = await storage.read(path, { start, end }, pin);
  io.bytes += b.byteLength;
  return b;
}

/**
 * Charges `n` slots to the read's budget: the rows of a row group its readers walk, and the level
 * slots each data page decodes. Neither is bounded by the page bytes (a footer claims a row group
 * of 64M rows; one run-length run of a few bytes declares a page of 16M levels, and a repeated
 * column's pages go on to its chunk's end), so a read is held to as many slots as it may
 * decompress bytes: its file's inflation budget (each slot costs at least one byte of levels).
 */
function spendSlots(file: ParquetFile, n: number, what: string): void {
  file.slots.left -= n;
  if (file.slots.left < 0)
    throw new DeltaLogError(
      'Unreadable',
      `${file.path}: ${what} takes the file past ${inflationBudget(file.size)} decoded rows and levels`,
    );
}

/**
 * A value of a string column, or null. Anything else means the footer's types are damaged (a
 * BYTE_ARRAY column that says BOOLEAN decodes as booleans): a malformed file, never a value.
 */
export function stringOrNull(value: unknown, file: { path: string }, column: string): string | null {
  if (value === null || typeof value === 'string') return value;
  throw new DeltaLogError('Malformed', `${file.path}: ${column} holds a ${typeof value}, not a string`);
}

/** Leaf paths (e.g. ["add","partitionValues","key_value","key"]) under a node, in schema order. */
export function leavesUnder(tree: SchemaTree, path: readonly string[]): string[][] {
  let node: SchemaTree | undefined = tree;
  for (const p of path) {
    node = node.children.find((c) => c.element.name === p);
    if (!node) return [];
  }
  const out: string[][] = [];
  const walk = (n: SchemaTree) => {
    if (n.children.length === 0) out.push(n.path);
    else for (const c of n.children) walk(c);
  };
  walk(node);
  return out;
}

function treePath(tree: SchemaTree, path: readonly string[]): SchemaTree[] {
  const out = [tree];
  let node = tree;
  for (const p of path) {
    const next = node.children.find((c) => c.element.name === p);
    if (!next) throw new DeltaLogError('Unreadable', `parquet column ${path.join('.')} not in schema`);
    out.push(next);
    node = next;
  }
  return out;
}

/** One decoded leaf column chunk: levels for every slot, values only where def === maxDef. */
export interface Leaf {
  readonly n: number;
  readonly maxDef: number;
  readonly maxRep: number;
  /** undefined: every slot is at maxDef. */
  readonly def: Uint8Array | undefined;
  /** undefined: not repeated. */
  readonly rep: Uint8Array | undefined;
  readonly values: unknown[];
  /** Streamed leaves only: the values, read page by page (then `values` is empty). */
  readonly pages?: ByteArrayPages;
}

/** Definition levels of null leaves: one zero-filled buffer, shared (cursors only read it). */
let zeros = new Uint8Array(0);

/** An all-null leaf (column chunk skipped thanks to its statistics, or absent from the schema). */
export function nullLeaf(n: number): Leaf {
  if (zeros.length < n) zeros = new Uint8Array(n);
  return { n, maxDef: 1, maxRep: 0, def: zeros.subarray(0, n), rep: undefined, values: [] };
}

/**
 * Fetches and decodes `paths` of row group `rg`. Leaves missing from the schema come back as
 * null leaves; chunks whose statistics say every value is null are not fetched at all.
 */
export async function readLeaves(
  storage: DeltaStorage,
  file: ParquetFile,
  rg: number,
  paths: readonly (readonly string[])[],
  io: IoStats,
  /**
   * Indexes of non-repeated BYTE_ARRAY leaves to stream (Leaf.pages) rather than decode into
   * strings, where their encodings allow it.
   */
  streamPaths: ReadonlySet<number> = new Set(),
  /**
   * Indexes of leaves to fetch even when statistics say every value is null: for a map's key
   * leaf, "null" also counts empty maps, and only the levels tell an empty map from a null one.
   */
  levelPaths: ReadonlySet<number> = new Set(),
): Promise<Leaf[]> {
  const group = file.metadata.row_groups[rg]!;
  const rows = Number(group.num_rows);
  spendSlots(file, rows, `row group ${rg}`);
  type Want = {
    i: number;
    start: number;
    end: number;
    chunk: NonNullable<(typeof group.columns)[0]['meta_data']>;
  };
  const wants: Want[] = [];
  const out: Leaf[] = paths.map(() => nullLeaf(rows));
  paths.forEach((p, i) => {
    const key = p.join('\u0000');
    const col = group.columns.find((c) => c.meta_data?.path_in_schema.join('\u0000') === key)?.meta_data;
    if (!col) return;
    const nulls = col.statistics?.null_count;
    if (nulls !== undefined && nulls === col.num_values && !levelPaths.has(i)) return;
    const start = Number(col.dictionary_page_offset ?? col.data_page_offset);
    const dataStart = Number(col.data_page_offset);
    const s = Math.min(start > 0 ? start : dataStart, dataStart);
    wants.push({ i, start: s, end: s + Number(col.total_compressed_size), chunk: col });
  });
  wants.sort((a, b) => a.start - b.start);
  // Coalesce chunks closer than 64 KiB into one request.
  const spans: { start: number; end: number; members: Want[] }[] = [];
  for (const w of wants) {
    const last = spans[spans.length - 1];
    if (last && w.start - last.end <= 64 * 1024) {
      last.end = Math.max(last.end, w.end);
      last.members.push(w);
    } else spans.push({ start: w.start, end: w.end, members: [w] });
  }
  const buffers = await Promise.all(
    spans.map((s) => readRange(storage, file.path, file.pin, s.start, s.end, io)),
  );
  // One budget for the whole group: a chunk of any size is decoded a slice at a time.
  const slices = new WorkSlices(DECODE_SLICE, DECODE_SLICE / 8);
  for (let si = 0; si < spans.length; si++) {
    const s = spans[si]!;
    const buf = buffers[si]!;
    for (const w of s.members) {
      const bytes = buf.subarray(w.start - s.start, w.end - s.start);
      const schemaPath = treePath(file.tree, paths[w.i]!);
      const { maxDef, maxRep } = maxLevels(schemaPath);
      if (
        streamPaths.has(w.i) &&
        w.chunk.type === 'BYTE_ARRAY' &&
        maxRep === 0 &&
        streamable(w.chunk.encodings)
      ) {
        const where = `${file.path}: column ${paths[w.i]!.join('.')}`;
        const pages = new ByteArrayPages(bytes, w.chunk.codec, file.codecs, maxDef, where);
        out[w.i] = { n: rows, maxDef, maxRep, def: undefined, rep: undefined, values: [], pages };
      } else
        out[w.i] = await runInSlices(
          decodeChunk(bytes, w.chunk, file.codecs, schemaPath, rows, file.path, slices, (n) =>
            spendSlots(file, n, `column ${paths[w.i]!.join('.')}`),
          ),
        );
    }
  }
  return out;
}

/** Values decoded between two yields (a few ms warm); values are pushed in batches of VALUE_BATCH. */
const DECODE_SLICE = 32_768;
const VALUE_BATCH = 2_048;

/** Pushes `at(i)` for i in [0, count) onto `to`, yielding when a slice of the work is done. */
function* pushValues(
  to: unknown[],
  count: number,
  at: (i: number) => unknown,
  slices: WorkSlices,
): Generator<void, void> {
  for (let i = 0; i < count; ) {
    const end = Math.min(count, i + VALUE_BATCH);
    for (; i < end; i++) to.push(at(i));
    if (slices.spend(VALUE_BATCH)) yield;
  }
}

function maxLevels(schemaPath: SchemaTree[]): { maxDef: number; maxRep: number } {
  let maxDef = 0;
  let maxRep = 0;
  for (const { element } of schemaPath.slice(1)) {
    if (element.repetition_type !== 'REQUIRED') maxDef++;
    if (element.repetition_type === 'REPEATED') maxRep++;
  }
  return { maxDef, maxRep };
}

function* decodeChunk(
  bytes: Uint8Array,
  { type, codec }: { type: ParquetType; codec: CompressionCodec },
  compressors: Compressors,
  schemaPath: SchemaTree[],
  rows: number,
  where: string,
  slices: WorkSlices,
  /** Charges a data page's slots (spendSlots). */
  spend: (slots: number) => void,
): Generator<void, Leaf> {
  const element = schemaPath[schemaPath.length - 1]!.element;
  const decoder = {
    pathInSchema: schemaPath.slice(1).map((s) => s.element.name),
    type,
    element,
    schemaPath,
    codec,
    compressors,
  } as unknown as Parameters<typeof readDataPage>[2];
  const { maxDef, maxRep } = maxLevels(schemaPath);
  const defParts: (ArrayLike<number> | undefined)[] = [];
  const repParts: ArrayLike<number>[] = [];
  const counts: number[] = [];
  const values: unknown[] = [];
  let dictionary: unknown[] | undefined;
  let n = 0;
  let rowsSeen = 0;
  const reader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 };
  try {
    while (reader.offset < bytes.byteLength - 1 && (maxRep > 0 || rowsSeen < rows)) {
      const header = readPageHeader(reader, bytes.byteLength);
      const pageBytes = bytes.subarray(reader.offset, reader.offset + header.compressed_page_size);
      reader.offset += header.compressed_page_size;
      if (header.type === 'DICTIONARY_PAGE') {
        const dh = header.dictionary_page_header!;
        const page = decompressPage(pageBytes, Number(header.uncompressed_page_size), codec, compressors);
        const r = { view: new DataView(page.buffer, page.byteOffset, page.byteLength), offset: 0 };
        const plain = readPlain(r, type, dh.num_values, element.type_length);
        const of = converterOf(type);
        dictionary = [];
        yield* pushValues(dictionary, plain.length, (i) => of(plain[i]), slices);
        continue;
      }
      if (header.type !== 'DATA_PAGE' && header.type !== 'DATA_PAGE_V2') continue;
      const v1 = header.type === 'DATA_PAGE';
      const count = v1 ? header.data_page_header!.num_values : header.data_page_header_v2!.num_values;
      spend(count);
      const encoding = v1 ? header.data_page_header!.encoding : header.data_page_header_v2!.encoding;
      const isDict = encoding === 'PLAIN_DICTIONARY' || encoding === 'RLE_DICTIONARY';
      let def: ArrayLike<number> | undefined;
      let rep: ArrayLike<number> = [];
      if (type === 'BYTE_ARRAY' && (encoding === 'PLAIN' || isDict)) {
        // Fast path: levels into typed arrays, strings straight from the page.
        let page: Uint8Array;
        let vr: { view: DataView; offset: number };
        if (v1) {
          page = decompressPage(pageBytes, Number(header.uncompressed_page_size), codec, compressors);
          vr = { view: new DataView(page.buffer, page.byteOffset, page.byteLength), offset: 0 };
          if (maxRep) rep = readLevels(vr, maxRep, count, undefined);
          if (maxDef) def = readLevels(vr, maxDef, count, undefined);
        } else {
          const h2 = header.data_page_header_v2!;
          const lv = {
            view: new DataView(pageBytes.buffer, pageBytes.byteOffset, pageBytes.byteLength),
            offset: 0,
          };
          if (maxRep) rep = readLevels(lv, maxRep, count, h2.repetition_levels_byte_length);
          lv.offset = h2.repetition_levels_byte_length;
          if (maxDef) def = readLevels(lv, maxDef, count, h2.definition_levels_byte_length);
          const levelBytes = h2.repetition_levels_byte_length + h2.definition_levels_byte_length;
          const body = pageBytes.subarray(levelBytes);
          const size = Number(header.uncompressed_page_size) - levelBytes;
          page = h2.is_compressed !== false && size ? decompressPage(body, size, codec, compressors) : body;
          vr = { view: new DataView(page.buffer, page.byteOffset, page.byteLength), offset: 0 };
        }
        let present = count;
        if (def) {
          present = 0;
          for (let i = 0; i < count; i++) if (def[i] === maxDef) present++;
        }
        if (isDict) {
          if (!dictionary) throw new Error('dictionary-encoded page without a dictionary');
          const width = page[vr.offset++]!;
          const idx = new Int32Array(present);
          if (width) readRleBitPackedHybrid(vr, width, idx, page.byteLength - vr.offset);
          const d = dictionary;
          yield* pushValues(values, present, (i) => d[idx[i]!], slices);
        } else {
          let o = vr.offset;
          const view = vr.view;
          yield* pushValues(
            values,
            present,
            () => {
              const len = view.getUint32(o, true);
              o += 4;
              const v = utf8.decode(page.subarray(o, o + len));
              o += len;
              return v;
            },
            slices,
          );
        }
      } else {
        const page = v1
          ? readDataPage(
              decompressPage(pageBytes, Number(header.uncompressed_page_size), codec, compressors),
              header.data_page_header!,
              decoder,
            )
          : readDataPageV2(pageBytes, header, decoder);
        if (isDict || (encoding === 'RLE' && type !== 'BOOLEAN')) {
          if (!dictionary) throw new Error('dictionary-encoded page without a dictionary');
          const d = dictionary;
          const idx = page.dataPage;
          yield* pushValues(values, idx.length, (i) => d[idx[i] as number], slices);
        } else {
          const data = page.dataPage;
          const of = converterOf(type);
          yield* pushValues(values, data.length, (i) => of(data[i]), slices);
        }
        def = page.definitionLevels?.length ? page.definitionLevels : undefined;
        rep = page.repetitionLevels;
      }
      defParts.push(def);
      if (maxRep) repParts.push(rep);
      counts.push(count);
      n += count;
      if (!maxRep) rowsSeen += count;
      else for (let i = 0; i < rep.length; i++) if (rep[i] === 0) rowsSeen++;
    }
  } catch (e) {
    throw new DeltaLogError(
      'Unreadable',
      `${where}: cannot decode column ${schemaPath
        .slice(1)
        .map((x) => x.element.name)
        .join('.')}: ${String((e as Error)?.message).slice(0, 200)}`,
      {
        cause: e,
      },
    );
  }
  let def: Uint8Array | undefined;
  if (maxDef && defParts.some((d) => d !== undefined)) {
    def = new Uint8Array(n);
    let o = 0;
    defParts.forEach((d, i) => {
      if (d) def!.set(d, o);
      else def!.fill(maxDef, o, o + counts[i]!);
      o += counts[i]!;
    });
  }
  let rep: Uint8Array | undefined;
  if (maxRep) {
    rep = new Uint8Array(n);
    let o = 0;
    for (const r of repParts) {
      rep.set(r, o);
      o += r.length;
    }
  }
  return { n, maxDef, maxRep, def, rep, values };
}

const asString = (x: unknown) => utf8.decode(x as Uint8Array);
const asNumber = (x: unknown) => Number(x);
const asIs = (x: unknown) => x;

/** A decoded value as the cursors hand it on: strings, and INT64 as numbers. */
function converterOf(type: ParquetType): (x: unknown) => unknown {
  return type === 'BYTE_ARRAY' ? asString : type === 'INT64' ? asNumber : asIs;
}

/** Walks a non-repeated leaf: one slot per row. */
export class ScalarCursor {
  private slot = 0;
  private vi = 0;
  constructor(private readonly leaf: Leaf) {}
  /** The row's value, or null when it (or an enclosing struct) is null. */
  next(): unknown {
    const { def, maxDef } = this.leaf;
    const d = def ? def[this.slot] : maxDef;
    this.slot++;
    return d === maxDef ? this.leaf.values[this.vi++] : null;
  }
}

/**
 * Walks one or two leaves under the same repeated group (a list's element, or a map's key and
 * value): calls `visit` once per present element / key of the row (value null when null).
 */
export class RepeatedCursor {
  private slot = 0;
  private vi = 0;
  private wi = 0;
  constructor(
    private readonly leaf: Leaf,
    private readonly second?: Leaf,
  ) {}

  /**
   * The definition level of the next row's first slot: for a map's key leaf, at least
   * maxDef - 1 when the map itself is present (empty or not), lower when it or its struct is null.
   */
  peekDef(): number {
    const { def, maxDef } = this.leaf;
    return def ? def[this.slot]! : maxDef;
  }

  next(visit: (a: unknown, b: unknown) => void): void {
    const { def, rep, maxDef, n, values } = this.leaf;
    const s = this.second;
    let i = this.slot;
    do {
      // A null list element / an absent entry is skipped: callers need only present ones.
      const present = (def ? def[i]! : maxDef) === maxDef;
      const a = present ? values[this.vi++] : null;
      let b: unknown = null;
      if (s && (s.def ? s.def[i]! : s.maxDef) === s.maxDef) b = s.values[this.wi++];
      if (present) visit(a, b);
      i++;
    } while (i < n && rep && rep[i] !== 0);
    this.slot = i;
  }
}
