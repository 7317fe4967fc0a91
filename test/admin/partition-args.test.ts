import { describe, expect, it } from 'vitest';
import { partitionsFromArgs } from '../../lambda/admin/partition-args';

describe('partition maps from the admin CLI', () => {
  it('keeps a column named like an Object.prototype member as that column', () => {
    // `map[key] = value` with key "__proto__" drops the key (or replaces the prototype), so the
    // map became {} — a grant of the whole table; "constructor" was taken for a repeated column.
    for (const column of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      expect(partitionsFromArgs({ partition: [`${column}=x`] }).map((m) => Object.entries(m))).toEqual([
        [[column, 'x']],
      ]);
      expect(partitionsFromArgs({ partitionNull: [column] }).map((m) => Object.entries(m))).toEqual([
        [[column, null]],
      ]);
      expect(
        partitionsFromArgs({ partition: ['region=EU'], partitionNull: [column] }).map((m) =>
          Object.entries(m),
        ),
      ).toEqual([
        [
          ['region', 'EU'],
          [column, null],
        ],
      ]);
    }
    // Stored as JSON, read back by the proxy with the key intact.
    expect(JSON.stringify(partitionsFromArgs({ partition: ['__proto__=x'] }))).toBe('[{"__proto__":"x"}]');
  });

  it('still refuses a column given twice', () => {
    expect(() => partitionsFromArgs({ partition: ['a=1,a=2'] })).toThrowError(/column a given twice/);
    expect(() => partitionsFromArgs({ partition: ['a=1'], partitionNull: ['a'] })).toThrowError(
      /both a value and --partition-null/,
    );
  });
});
