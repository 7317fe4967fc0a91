import { describe, expect, it } from 'vitest';
import { partitionsFromArgs } from '../../lambda/admin/partition-args';

describe('partition maps from the admin CLI', () => {
  it('keeps a column named like an Object.prototype member as that column', () => {
    // `key in map` took "constructor" for a repeated column.
    for (const column of ['constructor', 'toString', 'hasOwnProperty']) {
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
  });

  it('refuses a column named "__proto__", as the config does (assignment would drop it: {} grants the whole table)', () => {
    expect(() => partitionsFromArgs({ partition: ['__proto__=x'] })).toThrowError(
      /"__proto__" cannot be granted/,
    );
    expect(() => partitionsFromArgs({ partitionNull: ['__proto__'] })).toThrowError(
      /"__proto__" cannot be granted/,
    );
  });

  it('still refuses a column given twice', () => {
    expect(() => partitionsFromArgs({ partition: ['a=1,a=2'] })).toThrowError(/column a given twice/);
    expect(() => partitionsFromArgs({ partition: ['a=1'], partitionNull: ['a'] })).toThrowError(
      /both a value and --partition-null/,
    );
  });

  it('quotes a refused --partition as it was typed, not JSON-escaped (a backslash stays one)', () => {
    // JSON showed `region=C:\\data` in the message saying `\d` is no escape: as if the user had
    // typed the escape the message asks for.
    expect(() => partitionsFromArgs({ partition: ['region=C:\\data'] })).toThrowError(
      "--partition 'region=C:\\data': \\d is no escape",
    );
    // Shell quoting: a quote in the spec closes, escapes and reopens; control characters show as \u.
    expect(() => partitionsFromArgs({ partition: ["o'brien\tx"] })).toThrowError(
      "--partition 'o'\\''brien\\u0009x': expected key=value pairs",
    );
  });
});
