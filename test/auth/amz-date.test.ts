import { describe, expect, it } from 'vitest';
import { parseAmzDate } from '../../lambda/auth/amz-date';

describe('parseAmzDate', () => {
  it('reads real instants, leap days included', () => {
    expect(parseAmzDate('20130524T000000Z')).toBe(Date.UTC(2013, 4, 24));
    expect(parseAmzDate('20240229T235959Z')).toBe(Date.UTC(2024, 1, 29, 23, 59, 59));
    expect(parseAmzDate('20000229T120000Z')).toBe(Date.UTC(2000, 1, 29, 12));
  });

  it.each([
    ['20230229T000000Z', 'no 29 February in 2023'],
    ['21000229T000000Z', 'nor in 2100'],
    ['20240431T000000Z', 'April has 30 days'],
    ['20241301T000000Z', 'month 13'],
    ['20240001T000000Z', 'month 0'],
    ['20240100T000000Z', 'day 0'],
    ['20240101T240000Z', 'hour 24'],
    ['20240101T236000Z', 'minute 60'],
    ['20240101T235960Z', 'second 60'],
    ['00500101T000000Z', 'a two-digit year Date.UTC would read as 1950'],
    ['2024-01-01T00:00:00Z', 'the extended ISO form'],
    ['20240101T000000z', 'a lower-case z'],
    ['20240101T000000Z ', 'a trailing space'],
  ])('refuses %s (%s)', (text) => {
    expect(parseAmzDate(text)).toBeUndefined();
  });
});
