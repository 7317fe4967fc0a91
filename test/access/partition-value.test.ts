import { describe, expect, it } from 'vitest';
import {
  isWriterForm,
  normalizePartitionValue,
  partitionValueMatches,
} from '../../lambda/access/partition-value';

const same = (type: string, a: string | null, b: string | null) => partitionValueMatches(type, a, b);

describe('partition values compare as their Delta type', () => {
  it('matches a grant in UTC against ISO-8601 log values by instant, and zone-less log values as written', () => {
    expect(same('timestamp', '2024-01-01 10:00:00', '2024-01-01T10:00:00.000000Z')).toBe(true);
    expect(same('timestamp', '2024-01-01 10:00:00.000000', '2024-01-01 10:00:00')).toBe(true);
    expect(same('timestamp', '2024-01-01 10:00:00.123456', '2024-01-01T10:00:00.123456Z')).toBe(true);
    expect(same('timestamp', '2024-01-01T12:00:00+02:00', '2024-01-01T10:00:00.000000Z')).toBe(true);
    expect(same('timestamp', '2024-01-01 10:00:00.123456', '2024-01-01 10:00:00')).toBe(false);
    expect(same('timestamp', '2024-01-01 10:00:00', '2024-01-01T11:00:00.000000Z')).toBe(false);
  });

  it("never matches a zoned grant against a zone-less log value: its zone is the writer's, unknown", () => {
    // PROTOCOL.md: a timestamp partition value without a zone "should be interpreted using the
    // time zone of the system which wrote to the table" (Spark before Delta 3 wrote the session's
    // local time). "2024-01-01 05:00:00" written in New York is 10:00 UTC: a grant of the instant
    // 05:00 UTC must not read it, nor can the proxy tell that a grant of 10:00 UTC may.
    expect(same('timestamp', '2024-01-01T05:00:00Z', '2024-01-01 05:00:00')).toBe(false);
    expect(same('timestamp', '2024-01-01T05:00:00.000000Z', '2024-01-01 05:00:00.000000')).toBe(false);
    expect(same('timestamp', '2024-01-01T10:00:00+05:00', '2024-01-01 05:00:00')).toBe(false);
    expect(same('timestamp', '2024-01-01T05:00:00Z', '2024-01-01T05:00:00.000000Z')).toBe(true);
  });

  it('treats timestamp_ntz as zone-less wall time (a zone in the grant matches nothing)', () => {
    expect(same('timestamp_ntz', '2013-07-05 17:01:00.123456', '2013-07-05T17:01:00.123456')).toBe(true);
    expect(same('timestamp_ntz', '2013-07-05T17:01:00.123456Z', '2013-07-05 17:01:00.123456')).toBe(false);
  });

  it('compares dates as calendar days and refuses impossible dates', () => {
    expect(same('date', '2024-02-29', '2024-02-29')).toBe(true);
    expect(same('date', '2023-02-29', '2023-02-29')).toBe(false);
    expect(same('date', '2024-1-1', '2024-01-01')).toBe(false);
    expect(normalizePartitionValue('date', '1970-01-02')).toBe('1');
  });

  it('compares integers numerically and decimals by value, not text', () => {
    expect(same('int', '01', '1')).toBe(true);
    expect(same('long', '-0', '0')).toBe(true);
    expect(same('int', '1.0', '1')).toBe(false);
    expect(same('byte', '128', '128')).toBe(false); // out of range for a byte: not a value of the column
    expect(same('long', '9223372036854775807', '9223372036854775807')).toBe(true);
    expect(same('long', '9223372036854775807', '9223372036854775806')).toBe(false);
    expect(same('decimal(5,2)', '1', '1.00')).toBe(true);
    expect(same('decimal(5,2)', '1.5', '1.50')).toBe(true);
    expect(same('decimal(5,2)', '1.5', '1.05')).toBe(false);
    expect(same('decimal(38,0)', '1E+1', '10')).toBe(true);
  });

  it('takes a float text that rounds differently through a double for no value (readers round once)', () => {
    // Just above the midpoint of 1 and the next float (1 + 2^-23): Java's Float.parseFloat and
    // Rust's f32 parse round it up; Math.fround(Number(text)) rounds to the midpoint, then to 1.
    const above = '1.00000005960464477539062500001';
    expect(same('float', '1', above)).toBe(false);
    expect(same('float', '1.0000001', above)).toBe(false);
    expect(normalizePartitionValue('float', above)).toBeUndefined();
    // The same just below the overflow threshold: readers give the largest float, not Infinity.
    const belowOverflow = '340282356779733661637539395458142568447.99';
    expect(same('float', 'Infinity', belowOverflow)).toBe(false);
    // A float's own shortest text, as writers write it, still parses.
    expect(same('float', '1.0000001', '1.0000001')).toBe(true);
    expect(same('float', '3.4028235E38', '3.4028235e+38')).toBe(true);
    expect(same('double', '1', above)).toBe(false);
  });

  it('takes a decimal text outside the precision or scale of its column for no value', () => {
    // Spark casts "1.005" to 1.01 in decimal(5,2), and "1234" to null (overflow).
    expect(same('decimal(5,2)', '1.005', '1.005')).toBe(false);
    expect(same('decimal(5,2)', '1.01', '1.005')).toBe(false);
    expect(same('decimal(5,2)', '1234', '1234')).toBe(false);
    expect(same('decimal(5,2)', '999.99', '999.990')).toBe(true);
    expect(same('decimal(5,2)', '-999.99', '-9.9999E2')).toBe(true);
    expect(same('decimal(5,2)', '0.10', '1E-1')).toBe(true);
    expect(same('decimal(38,0)', '1E+37', '10000000000000000000000000000000000000')).toBe(true);
    expect(same('decimal(38,0)', '1E+38', '1E+38')).toBe(false);
  });

  it('compares floats as IEEE values of their width', () => {
    expect(same('double', '1.0', '1')).toBe(true);
    expect(same('double', '-0.0', '0.0')).toBe(true);
    expect(same('float', '1.1', '1.100000023841858')).toBe(true);
    expect(same('double', '1.1', '1.100000023841858')).toBe(false);
    expect(same('double', 'NaN', 'NaN')).toBe(true);
    expect(same('double', 'Infinity', 'Infinity')).toBe(true);
    expect(same('double', 'abc', 'abc')).toBe(false);
  });

  it('compares booleans case-insensitively and nothing else', () => {
    expect(same('boolean', 'TRUE', 'true')).toBe(true);
    expect(same('boolean', 'true', 'false')).toBe(false);
    expect(same('boolean', '1', 'true')).toBe(false);
  });

  it('compares strings and binaries exactly: 2021.0 is not 2021 and "null" is not null', () => {
    expect(same('string', '2021.0', '2021')).toBe(false);
    expect(same('string', 'null', null)).toBe(false);
    expect(same('string', 'null', 'null')).toBe(true);
    expect(same('string', 'A/A', 'A/A')).toBe(true);
    expect(same('string', 'a', 'A')).toBe(false);
    expect(same('binary', '😈', '😈')).toBe(true);
  });

  it('treats JSON null and "" as the null partition for every type', () => {
    for (const type of ['string', 'int', 'date', 'timestamp', 'decimal(1,0)', 'boolean']) {
      expect(same(type, null, null)).toBe(true);
      expect(same(type, '', null)).toBe(true);
      expect(same(type, null, '')).toBe(true);
    }
    expect(same('int', null, '0')).toBe(false);
  });

  it('lets a grant value that does not parse for the type match nothing, without throwing', () => {
    for (const [type, bad] of [
      ['int', 'one'],
      ['date', 'yesterday'],
      ['timestamp', '2024-13-01 00:00:00'],
      ['timestamp', '2024-01-01 10:00:00.1234567'],
      ['decimal(5,2)', '1.2.3'],
      ['boolean', 'yes'],
    ] as const) {
      expect(normalizePartitionValue(type, bad)).toBeUndefined();
      expect(same(type, bad, bad)).toBe(false);
    }
  });

  it('knows at most one writer form per value (another text may be of an older partitioning)', () => {
    for (const [type, text, form] of [
      ['integer', '1', true],
      ['integer', '01', false],
      ['integer', '+1', false],
      ['long', '-7', true],
      ['boolean', 'true', true],
      ['boolean', 'TRUE', false],
      ['decimal(5,2)', '1.00', true],
      ['decimal(5,2)', '1.0', false],
      ['decimal(5,2)', '-0.00', false],
      ['decimal(5,0)', '12', true],
      ['timestamp', '2024-01-01 10:00:00.5', true],
      ['timestamp', '2024-01-01 10:00:00.500', false],
      ['timestamp', '2024-01-01T10:00:00.000000Z', true],
      ['timestamp', '2024-01-01T12:00:00+02:00', false],
      ['timestamp_ntz', '2024-01-01T10:00:00', false],
      ['double', '1.0', false],
      ['date', '2024-01-01', true],
      ['string', '01', true],
      ['integer', 'one', true], // no value of the type: no grant on the column reads it anyway
    ] as const) {
      expect([type, text, isWriterForm(type, text)]).toEqual([type, text, form]);
    }
  });
});
