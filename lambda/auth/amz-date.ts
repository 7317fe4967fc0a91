const AMZ_DATE = /^\d{8}T\d{6}Z$/;

/** The decimal number in text[start, start + length) (digits already checked). */
function digits(text: string, start: number, length: number): number {
  let n = 0;
  for (let i = start; i < start + length; i++) n = n * 10 + text.charCodeAt(i) - 48;
  return n;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * Parses SigV4's "yyyymmddThhmmssZ" into epoch milliseconds; undefined unless it is a real instant
 * (no 20130231, no 24:00:00, no year before 100, which Date.UTC would read as 19xx). This runs on
 * every signed request, so it reads the digits instead of matching groups and building a Date.
 */
export function parseAmzDate(text: string): number | undefined {
  if (text.length !== 16 || !AMZ_DATE.test(text)) return undefined;
  const y = digits(text, 0, 4);
  const mo = digits(text, 4, 2);
  const d = digits(text, 6, 2);
  const h = digits(text, 9, 2);
  const mi = digits(text, 11, 2);
  const s = digits(text, 13, 2);
  if (y < 100 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) return undefined;
  if (h > 23 || mi > 59 || s > 59) return undefined;
  return Date.UTC(y, mo - 1, d, h, mi, s);
}

/** Epoch milliseconds to "yyyymmddThhmmssZ". */
export function formatAmzDate(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/** ISO 8601 without milliseconds, as S3 prints ServerTime and Expires in its errors. */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** An HTTP `Date` header (RFC 1123/850/asctime) to epoch milliseconds. */
export function parseHttpDate(text: string): number | undefined {
  if (!/^[A-Za-z]{3},? /.test(text.trim())) return undefined;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) * 1000 : undefined;
}
