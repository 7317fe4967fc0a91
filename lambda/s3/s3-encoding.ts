/** Encodings S3 uses on the wire. */

/**
 * `encoding-type=url` as S3 applies it to keys and prefixes: everything but unreserved
 * characters and "/" is percent-encoded as UTF-8 (space becomes %20, "+" becomes %2B), so both
 * unquote and unquote_plus decoders get the key back.
 */
export function s3UrlEncode(value: string): string {
  return encodeURIComponent(value)
    .replace(/%2F/g, '/')
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** HTTP-date (RFC 7231) as S3 sends Last-Modified. */
export function httpDate(d: Date): string {
  return d.toUTCString();
}

/** ISO-8601 with milliseconds, as S3 listings show LastModified. */
export function isoDate(d: Date): string {
  return d.toISOString();
}

const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const DAY_NAME = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)';
const MONTH = '(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** RFC 9110 §5.6.7: `Sun, 06 Nov 1994 08:49:37 GMT`, `Sunday, 06-Nov-94 08:49:37 GMT`, `Sun Nov  6 08:49:37 1994`. */
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
const RFC850_DATE = new RegExp(`^${DAY_NAME}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
const ASCTIME_DATE = new RegExp(`^${DAY} ${MONTH} ( \\d|\\d{2}) ${TIME} (\\d{4})$`);

function utcDate(
  year: number,
  month: string,
  day: number,
  h: number,
  m: number,
  s: number,
): Date | undefined {
  const monthIndex = MONTHS.indexOf(month);
  if (h > 23 || m > 59 || s > 60) return undefined;
  const date = new Date(0);
  date.setUTCFullYear(year, monthIndex, day);
  date.setUTCHours(h, m, Math.min(s, 59));
  // 30 Feb and friends roll over into the next month: not a date.
  if (date.getUTCMonth() !== monthIndex || date.getUTCDate() !== day) return undefined;
  // Before 1970 every stored object compares the same way as against the epoch, and the SDK
  // would write years under 1000 without their leading zeros.
  return date.getTime() < 0 ? new Date(0) : date;
}

/**
 * Parses an HTTP-date (RFC 9110 §5.6.7, all three forms); undefined when absent or not one, and
 * the conditional header is then ignored, as RFC 9110 §13.1.3 asks and S3 does. Anything looser
 * (`Date.parse` takes "2999-01-01" or a five-digit year) would be evaluated or forwarded to the
 * backend, which may answer it with a 5xx.
 */
export function parseHttpDate(value: string | undefined): Date | undefined {
  if (!value) return undefined;
  let m = IMF_FIXDATE.exec(value);
  if (m) return utcDate(Number(m[3]), m[2]!, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  m = RFC850_DATE.exec(value);
  if (m) {
    // A two-digit year more than 50 years ahead is in the previous century (RFC 9110 §5.6.7).
    const thisYear = new Date().getUTCFullYear();
    let year = Math.floor(thisYear / 100) * 100 + Number(m[3]);
    if (year > thisYear + 50) year -= 100;
    return utcDate(year, m[2]!, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  }
  m = ASCTIME_DATE.exec(value);
  if (m) return utcDate(Number(m[6]), m[1]!, Number(m[2]!.trim()), Number(m[3]), Number(m[4]), Number(m[5]));
  return undefined;
}
