/**
 * Writes one row group of the filtered checkpoint through hyparquet-writer's column encoder, with
 * the Dremel levels of the `add` struct computed here directly: its shape is fixed and it holds
 * nearly every row, so this skips the generic per-row, per-leaf walk (and its map normalisation)
 * that dominated writing a million-file checkpoint. The other structs (a few rows each) take the
 * library's generic encoder. The levels follow the Parquet spec for this schema (all fields
 * optional, maps as repeated key_value with a required key) exactly as the generic encoder would.
 */
import type { SchemaTree } from 'hyparquet';
import { parquetSchema } from 'hyparquet';
import type { ParquetWriter } from 'hyparquet-writer';
import { writeColumn } from 'hyparquet-writer/src/column.js';
import { encodeNestedValues } from 'hyparquet-writer/src/dremel.js';

type Obj = Record<string, unknown>;
type SchemaElement = ParquetWriter['schema'][number];
interface PageData {
  values: unknown[];
  definitionLevels: number[];
  repetitionLevels: number[];
  maxDefinitionLevel: number;
}

interface Leaf {
  path: SchemaTree[];
  name: string;
  /** Top-level column the leaf belongs to. */
  column: string;
}

export function leavesOf(schema: SchemaElement[]): Leaf[] {
  const root = parquetSchema({ schema } as never);
  const out: Leaf[] = [];
  const walk = (path: SchemaTree[]) => {
    const node = path[path.length - 1]!;
    if (!node.children.length) {
      out.push({
        path,
        name: path
          .slice(1)
          .map((n) => n.element.name)
          .join('.'),
        column: path[1]!.element.name,
      });
      return;
    }
    for (const c of node.children) walk([...path, c]);
  };
  walk([root]);
  return out;
}

const DV_KEYS: Record<string, string> = {
  'add.deletionVector.storageType': 'storageType',
  'add.deletionVector.pathOrInlineDv': 'pathOrInlineDv',
  'add.deletionVector.offset': 'offset',
  'add.deletionVector.sizeInBytes': 'sizeInBytes',
  'add.deletionVector.cardinality': 'cardinality',
  'add.deletionVector.maxRowIndex': 'maxRowIndex',
};

/** Levels of an `add` leaf over the rows (each an add row object or null). */
function addLeaf(name: string, rows: readonly (Obj | null)[]): PageData {
  const values: unknown[] = [];
  const def: number[] = [];
  const rep: number[] = [];
  if (name === 'add.partitionValues.key_value.key' || name === 'add.partitionValues.key_value.value') {
    const isKey = name.endsWith('.key');
    for (const r of rows) {
      const pv = r?.partitionValues as { key: string; value: unknown }[] | null | undefined;
      if (!r || !pv || pv.length === 0) {
        def.push(!r ? 0 : !pv ? 1 : 2);
        rep.push(0);
        values.push(undefined);
        continue;
      }
      for (let j = 0; j < pv.length; j++) {
        const v = isKey ? pv[j]!.key : pv[j]!.value;
        // key_value is level 3 (add, partitionValues, the repeated group); a present value is 4.
        def.push(isKey || v === null || v === undefined ? 3 : 4);
        rep.push(j === 0 ? 0 : 1);
        values.push(v ?? undefined);
      }
    }
    return { values, definitionLevels: def, repetitionLevels: rep, maxDefinitionLevel: isKey ? 3 : 4 };
  }
  const dvKey = DV_KEYS[name];
  if (dvKey !== undefined) {
    for (const r of rows) {
      const dv = r?.deletionVector as Obj | null | undefined;
      const v = dv?.[dvKey];
      def.push(!r ? 0 : !dv ? 1 : v === null || v === undefined ? 2 : 3);
      rep.push(0);
      values.push(v ?? undefined);
    }
    return { values, definitionLevels: def, repetitionLevels: rep, maxDefinitionLevel: 3 };
  }
  const field = name.slice('add.'.length);
  for (const r of rows) {
    const v = r?.[field];
    def.push(!r ? 0 : v === null || v === undefined ? 1 : 2);
    rep.push(0);
    values.push(v ?? undefined);
  }
  return { values, definitionLevels: def, repetitionLevels: rep, maxDefinitionLevel: 2 };
}

/** Fast levels for a struct column that is null in every row. */
function nullLeaf(leaf: Leaf, n: number): PageData {
  return {
    values: new Array(n).fill(undefined),
    definitionLevels: new Array(n).fill(0),
    repetitionLevels: new Array(n).fill(0),
    maxDefinitionLevel: leaf.path.slice(1).filter((t) => t.element.repetition_type !== 'REQUIRED').length,
  };
}

export interface ColumnChoice {
  /** Column statistics (min/max/null count) for this top-level column. */
  statistics: boolean;
}

/**
 * Appends one row group: `columns` maps each top-level column to its row values (null = absent).
 * A generator that pauses after each column chunk it encoded (runInSlices): a chunk is one
 * synchronous call of the encoder, a whole group of 16,384 adds was 130-150 ms of them.
 */
export function* writeRowGroup(
  pw: ParquetWriter,
  leaves: readonly Leaf[],
  columns: Record<string, readonly (Obj | null)[]>,
  choices: Record<string, ColumnChoice>,
): Generator<void, void> {
  const writer = pw.writer;
  const start = writer.offset;
  const n = Object.values(columns)[0]?.length ?? 0;
  const chunks = [];
  for (const leaf of leaves) {
    const rows = columns[leaf.column]!;
    const allNull = rows.every((r) => r === null);
    const pageData = allNull
      ? nullLeaf(leaf, n)
      : leaf.column === 'add'
        ? addLeaf(leaf.name, rows)
        : (encodeNestedValues(leaf.path, rows as unknown[]) as PageData);
    const schemaPath = leaf.path.map((t) => t.element);
    const result = writeColumn({
      writer,
      column: {
        columnName: leaf.name,
        element: schemaPath[schemaPath.length - 1]!,
        schemaPath,
        codec: pw.codec,
        compressors: pw.compressors,
        stats: choices[leaf.column]?.statistics ?? true,
        statisticsTruncateLength: pw.statisticsTruncateLength,
        pageSize: 1 << 20,
        columnIndex: false,
        offsetIndex: false,
      },
      pageData: pageData as never,
    });
    chunks.push(result.chunk);
    // An all-null leaf costs next to nothing: pause only after a chunk that held values.
    if (!allNull) yield;
  }
  let total = 0n;
  for (const c of chunks) total += c.meta_data?.total_uncompressed_size ?? 0n;
  pw.num_rows += BigInt(n);
  pw.row_groups.push({
    columns: chunks,
    total_byte_size: total,
    num_rows: BigInt(n),
    total_compressed_size: BigInt(writer.offset - start),
  });
}
