/** Grants and log values of the same Delta type compare equal whatever the serialization. */
import { describe, expect, it } from 'vitest';
import { canonicalPartitionValue as c } from '../../lambda/delta/partition-value';

describe('canonicalPartitionValue', () => {
  it('treats empty and missing values as null', () => {
    expect(c('string', '')).toBeNull();
    expect(c('long', null)).toBeNull();
    expect(c('string', 'null')).toBe('null');
  });

  it('spells timestamps in both forms the same (ISO-8601 with Z, and space-separated)', () => {
    expect(c('timestamp', '2024-01-01T10:00:00.000000Z')).toBe('2024-01-01T10:00:00.000000Z');
    expect(c('timestamp', '2024-01-01 10:00:00')).toBe('2024-01-01T10:00:00.000000Z');
    expect(c('timestamp', '2024-01-01 12:00:00+02:00')).toBe('2024-01-01T10:00:00.000000Z');
    expect(c('timestamp', '2021-09-08 11:11:11')).toBe(c('timestamp', '2021-09-08T11:11:11.000Z'));
    expect(c('timestamp_ntz', '2013-07-05 17:01:00.123456')).toBe('2013-07-05 17:01:00.123456');
    expect(c('timestamp_ntz', '2013-07-05T17:01:00.123456')).toBe('2013-07-05 17:01:00.123456');
    expect(c('timestamp_ntz', '2013-07-05 17:01:00Z')).toBe('2013-07-05 17:01:00Z');
  });

  it('normalizes numbers, booleans and decimals, and leaves strings with special characters alone', () => {
    expect(c('integer', '+007')).toBe('7');
    expect(c('long', '-0')).toBe('0');
    expect(c('double', '1.0')).toBe('1');
    expect(c('float', '0.0')).toBe('0');
    expect(c('boolean', 'TRUE')).toBe('true');
    expect(c('decimal(5,2)', '1.5')).toBe('1.50');
    expect(c('decimal(1,0)', '0')).toBe('0');
    expect(c('string', '+ =%0')).toBe('+ =%0');
    expect(c('date', '2021-09-08')).toBe('2021-09-08');
    expect(c('integer', '1.5')).toBe('1.5'); // not an integer: exact match only
  });
});
