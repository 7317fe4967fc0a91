/**
 * Every partition value that real writers put in the corpus logs (../shared/delta-tables) parses
 * for its column's type, and a grant written in the other serialized form still matches it.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { normalizePartitionValue, partitionValueMatches } from '../../lambda/access/partition-value';
import { corpusDir as corpus, corpusMissing } from '../helpers/delta-corpus';
import { withReason } from '../helpers/skips';

const present = corpusMissing === undefined;

interface Column {
  logical: string;
  physical: string;
  type: string;
}

/** Partition columns and every partitionValues object of a table's JSON commits. */
function readTable(dir: string): { columns: Column[]; values: Record<string, string | null>[] } {
  const log = path.join(dir, '_delta_log');
  let columns: Column[] = [];
  const values: Record<string, string | null>[] = [];
  for (const f of readdirSync(log)
    .filter((n) => /^\d{20}\.json$/.test(n))
    .sort()) {
    for (const line of readFileSync(path.join(log, f), 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const action = JSON.parse(line);
      if (action.metaData) {
        const schema = JSON.parse(action.metaData.schemaString);
        columns = (action.metaData.partitionColumns as string[]).map((name) => {
          const field = schema.fields.find((x: { name: string }) => x.name === name);
          const physical = field?.metadata?.['delta.columnMapping.physicalName'] ?? name;
          return { logical: name, physical, type: typeof field?.type === 'string' ? field.type : 'string' };
        });
      }
      if (action.add?.partitionValues) values.push(action.add.partitionValues);
    }
  }
  return { columns, values };
}

/**
 * Another form a grant may use: ISO-8601 with Z → the zone-less form (a grant in UTC); a zone-less
 * log value (in the writer's zone) is matched only by a zone-less grant: with microseconds.
 */
function otherForm(type: string, v: string): string {
  if (type === 'timestamp') {
    return v.includes('T') ? v.replace('T', ' ').replace(/Z$/, '') : v.includes('.') ? v : `${v}.000000`;
  }
  if (type === 'timestamp_ntz') return v.includes('T') ? v.replace('T', ' ') : v.replace(' ', 'T');
  if (/^(int|long|short|byte)$/.test(type)) return `0${v}`;
  if (type.startsWith('decimal')) return v.includes('.') ? `${v}0` : `${v}.0`;
  return v;
}

describe.skipIf(!present)(withReason('partition values of the real corpus', corpusMissing), () => {
  const tables = present
    ? readdirSync(corpus).filter((d) => existsSync(path.join(corpus, d, '_delta_log')))
    : [];

  it.each(tables)('%s: every value parses for its type and matches its other form', (name) => {
    const { columns, values } = readTable(path.join(corpus, name));
    for (const pv of values) {
      for (const col of columns) {
        const v = pv[col.physical] ?? null;
        if (v === null) {
          expect(normalizePartitionValue(col.type, v)).toBeNull();
          continue;
        }
        expect(normalizePartitionValue(col.type, v), `${name} ${col.logical}=${v}`).toBeDefined();
        expect(
          partitionValueMatches(col.type, otherForm(col.type, v), v),
          `${name} ${col.logical}=${v}`,
        ).toBe(true);
      }
    }
  });

  it('reads the documented pitfalls: ISO-8601 timestamps, "2021.0" strings, the literal "null"', () => {
    const iso = readTable(path.join(corpus, 'delta-kernel-timestamp-partition-col-ISO8601'));
    expect(
      iso.values.some((v) => partitionValueMatches('timestamp', '2024-01-01 10:00:00', v.ts ?? null)),
    ).toBe(true);
    const prim = readTable(path.join(corpus, 'delta-rs-partition-type-primitives'));
    const years = new Set(prim.values.map((v) => v.year));
    expect(years).toEqual(new Set(['2020', '2021.0']));
    expect(prim.values.filter((v) => partitionValueMatches('string', '2021', v.year ?? null))).toHaveLength(
      0,
    );
    const pv = readTable(path.join(corpus, 'delta-data-reader-partition-values'));
    expect(
      pv.values.filter((v) => partitionValueMatches('string', 'null', v.as_string_lit_null ?? null)),
    ).toHaveLength(2);
    expect(
      pv.values.filter((v) => partitionValueMatches('string', null, v.as_string_lit_null ?? null)),
    ).toHaveLength(1);
  });
});
