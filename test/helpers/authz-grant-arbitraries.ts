/**
 * fast-check arbitraries for grants over one real table: maps built from the table's own
 * partition tuples over random subsets of its columns (logical names), with values as written,
 * in their other serialized form, as null / "" for null partitions; plus `{}`, keys that are not
 * partition columns (including physical names of column-mapped tables), a column named in another
 * letter case (which names that column, README) and values no file has.
 */
import fc from 'fast-check';
import { type GrantMap, otherForm } from './authz-partition-match';
import type { TableFacts } from './authz-table-facts';

export function grantMapArb(facts: TableFacts): fc.Arbitrary<GrantMap> {
  const cols = facts.columns;
  const tuples = facts.knownTuples;
  const fromTuple = fc
    .record({
      t: fc.integer({ min: 0, max: tuples.length - 1 }),
      cols: fc.subarray(
        cols.map((_, i) => i),
        { minLength: 1, maxLength: Math.min(cols.length, 3) },
      ),
      forms: fc.array(fc.boolean(), { minLength: cols.length, maxLength: cols.length }),
    })
    .map(({ t, cols: chosen, forms }) => {
      const map: Record<string, string | null> = {};
      for (const i of chosen) {
        const v = tuples[t]![i] ?? null;
        const alt = otherForm(cols[i]!.type, v);
        map[cols[i]!.logical] = forms[i] && alt !== undefined ? alt : v;
      }
      return map as GrantMap;
    });
  const foreignKeys = [
    'no_such_column',
    ...cols.filter((c) => c.physical !== c.logical).map((c) => c.physical),
    ...cols.map((c) => c.logical.toUpperCase()).filter((n) => !cols.some((c) => c.logical === n)),
  ];
  const withForeignKey = fc
    .tuple(fromTuple, fc.constantFrom(...foreignKeys), fc.constantFrom('x', '1', null))
    .map(([m, k, v]) => ({ ...m, [k]: v }) as GrantMap);
  const unknownValue = fc
    .tuple(fc.constantFrom(...cols.map((c) => c.logical)), fc.string({ maxLength: 6 }))
    .map(([k, v]) => ({ [k]: v }) as GrantMap);
  return fc.oneof(
    { arbitrary: fromTuple, weight: 8 },
    { arbitrary: fc.constant({} as GrantMap), weight: 1 },
    { arbitrary: withForeignKey, weight: 2 },
    { arbitrary: unknownValue, weight: 1 },
  );
}

/** A grant's partition list: usually 1-3 maps, sometimes none (table visible, nothing readable). */
export function grantListArb(facts: TableFacts): fc.Arbitrary<GrantMap[]> {
  return fc.array(grantMapArb(facts), { minLength: 0, maxLength: 3 });
}

/** A stable seed per table name, so a failure names a reproducible case. */
export function seedOf(name: string): number {
  let h = 2166136261;
  for (const ch of name) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  return h | 0;
}
