/**
 * Typed comparison of partition values. The log serializes every partition value as a string
 * (or null); a grant writes one too. Two texts mean the same partition when they denote the same
 * value of the column's Delta type: `1` and `01` for an int, `1` and `1.0` for a decimal,
 * `2024-01-01T10:00:00Z` and `2024-01-01T12:00:00+02:00` for a timestamp. `normalizePartitionValue`
 * maps a log text to a canonical key so that equality of keys is equality of values; a grant's text
 * maps to the keys it covers (`grantKeysFor`: one, except a `timestamp` grant without zone).
 *
 * Results: a canonical string; `null` for the null partition (JSON null or "", which is how Delta
 * serializes null); `undefined` when the text is not a value of the type (such a grant value
 * matches nothing, such a file value is matched by no constraint on that column). Never throws.
 */
import type { PartitionValue } from './grant';

/** The canonical key of a value, null for the null partition, undefined when it does not parse. */
export type CanonicalValue = string | null | undefined;

export type PartitionValueNormalizer = (text: string) => string | undefined;

/**
 * The folder name Hive and Spark give the null partition. The log writes null for it, never this
 * text, so a grant that spells it matches only the literal text.
 */
export const HIVE_NULL_PARTITION = '__HIVE_DEFAULT_PARTITION__';

const INTEGER_RANGES: Record<string, readonly [bigint, bigint]> = {
  byte: [-(2n ** 7n), 2n ** 7n - 1n],
  tinyint: [-(2n ** 7n), 2n ** 7n - 1n],
  short: [-(2n ** 15n), 2n ** 15n - 1n],
  smallint: [-(2n ** 15n), 2n ** 15n - 1n],
  int: [-(2n ** 31n), 2n ** 31n - 1n],
  integer: [-(2n ** 31n), 2n ** 31n - 1n],
  long: [-(2n ** 63n), 2n ** 63n - 1n],
  bigint: [-(2n ** 63n), 2n ** 63n - 1n],
};

function normalizeInteger(range: readonly [bigint, bigint]): PartitionValueNormalizer {
  return (text) => {
    if (!/^[+-]?\d{1,40}$/.test(text)) return undefined;
    const n = BigInt(text);
    return n < range[0] || n > range[1] ? undefined : n.toString();
  };
}

const FLOAT_TEXT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function normalizeFloat(single: boolean): PartitionValueNormalizer {
  return (text) => {
    let n: number;
    if (text === 'NaN') return 'NaN';
    if (text === 'Infinity' || text === '+Infinity') n = Number.POSITIVE_INFINITY;
    else if (text === '-Infinity') n = Number.NEGATIVE_INFINITY;
    else if (FLOAT_TEXT.test(text)) n = Number(text);
    else return undefined;
    if (single) {
      if (roundsTwice(n)) return undefined;
      n = Math.fround(n);
    }
    // SQL equality: -0.0 = 0.0.
    return Object.is(n, -0) ? '0' : String(n);
  };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** 2^128 - 2^103: from here on a float rounds to Infinity (halfway past the largest float). */
const FLOAT_OVERFLOW = 2 ** 128 - 2 ** 103;

/**
 * Is `d` (a text parsed to a double) a tie between two floats? Then the text's float is unknown:
 * readers round the text once (Java's Float.parseFloat, Rust's f32 parse), and a text just above
 * or below the tie rounds the other way than its double does. Writers write a float's own
 * shortest text, which is never near a tie.
 */
function roundsTwice(d: number): boolean {
  const f = Math.fround(d);
  if (f === d || !Number.isFinite(d)) return false;
  if (!Number.isFinite(f)) return Math.abs(d) === FLOAT_OVERFLOW;
  f32[0] = f;
  // The float on d's other side: one step away from zero when |d| > |f|, else toward it.
  u32[0] = u32[0]! + (Math.abs(d) > Math.abs(f) ? 1 : -1);
  return (f + f32[0]!) / 2 === d;
}

/** decimal(p,s) → [p, s]; undefined for a bare `decimal`. */
function precisionScale(type: string): readonly [number, number] | undefined {
  const m = /^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$/.exec(type);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/**
 * A decimal(p,s) column holds values with at most s fractional and p - s integer digits. Another
 * text is no value of it: Spark rounds "1.005" to 1.01 in decimal(5,2) and makes "1234" null.
 */
function normalizeDecimalOf(p: number, s: number): PartitionValueNormalizer {
  return (text) => {
    const c = normalizeDecimal(text);
    if (c === undefined || c === '0') return c;
    const [digits, exp] = c.replace(/^-/, '').split('e') as [string, string];
    const exponent = Number(exp);
    if (-exponent > s || digits.length + exponent > p - s) return undefined;
    return c;
  };
}

/** Decimal text → "<digits>e<exponent>" with no leading or trailing zeros in digits ("0" for zero). */
function normalizeDecimal(text: string): string | undefined {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,9}))?$/.exec(text);
  if (!m) return undefined;
  const [, sign, int = '', frac = '', exp = '0'] = m;
  if (int === '' && frac === '') return undefined;
  let digits = (int + frac).replace(/^0+/, '');
  if (digits === '') return '0';
  let exponent = Number(exp) - frac.length;
  const trimmed = digits.replace(/0+$/, '');
  exponent += digits.length - trimmed.length;
  digits = trimmed;
  return `${sign === '-' ? '-' : ''}${digits}e${exponent}`;
}

function normalizeBoolean(text: string): string | undefined {
  const lower = text.toLowerCase();
  return lower === 'true' || lower === 'false' ? lower : undefined;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's days_from_civil); undefined if invalid. */
function daysFromCivil(y: number, m: number, d: number): number | undefined {
  if (m < 1 || m > 12 || d < 1) return undefined;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]!;
  if (d > monthDays) return undefined;
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

function normalizeDate(text: string): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return undefined;
  const days = daysFromCivil(Number(m[1]), Number(m[2]), Number(m[3]));
  return days === undefined ? undefined : String(days);
}

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/;

/** A timestamp text: microseconds since the epoch of its wall time (zoned: of its instant in UTC). */
function parseTimestamp(text: string): { micros: string; zoned: boolean } | undefined {
  const m = TIMESTAMP.exec(text);
  if (!m) return undefined;
  const zone = m[8];
  const days = daysFromCivil(Number(m[1]), Number(m[2]), Number(m[3]));
  const [h, min, s] = [Number(m[4]), Number(m[5]), Number(m[6])];
  if (days === undefined || h > 23 || min > 59 || s > 59) return undefined;
  const fraction = (m[7] ?? '').padEnd(9, '0');
  // Delta keeps microseconds; a finer value cannot be a partition of this column.
  if (fraction.slice(6) !== '000') return undefined;
  let offsetMinutes = 0;
  if (zone && zone !== 'Z') {
    const digits = zone.replace(':', '');
    const oh = Number(digits.slice(1, 3));
    const om = Number(digits.slice(3, 5));
    if (oh > 18 || om > 59) return undefined;
    offsetMinutes = (digits[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const seconds = BigInt(days) * 86_400n + BigInt(h * 3600 + min * 60 + s - offsetMinutes * 60);
  return {
    micros: (seconds * 1_000_000n + BigInt(fraction.slice(0, 6))).toString(),
    zoned: zone !== undefined,
  };
}

/**
 * `timestamp` log values. One with a zone (`Z`, an offset: Delta 3+ writes ISO-8601 in UTC) is an
 * instant: `Z<micros>`. One without (`YYYY-MM-DD HH:MM:SS[.ffffff]`) is in "the time zone of the
 * system which wrote to the table" (PROTOCOL.md; Spark before Delta 3 wrote the session's local
 * time), which the proxy cannot know: `L<micros>` of its wall time, equal only to the same wall time.
 */
const normalizeTimestamp: PartitionValueNormalizer = (text) => {
  const t = parseTimestamp(text);
  return t && `${t.zoned ? 'Z' : 'L'}${t.micros}`;
};

/** `timestamp_ntz` has no zone, so a text with a zone is not one of its values. */
const normalizeTimestampNtz: PartitionValueNormalizer = (text) => {
  const t = parseTimestamp(text);
  return t && !t.zoned ? t.micros : undefined;
};

/**
 * Keys a `timestamp` grant matches. A grant without a zone is in UTC (README): it matches zoned log
 * values of that instant and zone-less ones of that wall time (written in UTC, or compared as the
 * log's own text). A zoned grant is an instant: it never matches a zone-less value, whose instant
 * depends on the writer's zone.
 */
function timestampGrantKeys(text: string): readonly string[] | undefined {
  const t = parseTimestamp(text);
  if (!t) return undefined;
  return t.zoned ? [`Z${t.micros}`] : [`L${t.micros}`, `Z${t.micros}`];
}

const exact: PartitionValueNormalizer = (text) => text;

/** The normalizer for a Delta primitive type name; unknown types compare exactly. */
export function normalizerFor(type: string): PartitionValueNormalizer {
  const t = type.trim().toLowerCase();
  const intRange = INTEGER_RANGES[t];
  if (intRange) return normalizeInteger(intRange);
  if (t === 'float' || t === 'real') return normalizeFloat(true);
  if (t === 'double') return normalizeFloat(false);
  if (t === 'decimal') return normalizeDecimal;
  if (t.startsWith('decimal(')) {
    const ps = precisionScale(t);
    return ps ? normalizeDecimalOf(ps[0], ps[1]) : () => undefined;
  }
  if (t === 'boolean') return normalizeBoolean;
  if (t === 'date') return normalizeDate;
  if (t === 'timestamp') return normalizeTimestamp;
  if (t === 'timestamp_ntz') return normalizeTimestampNtz;
  // string, binary and anything else: the serialized text is the value.
  return exact;
}

/** Canonical key of a partition value of the given Delta type. "" and null are the null partition. */
export function normalizePartitionValue(type: string, value: PartitionValue): CanonicalValue {
  return canonicalize(normalizerFor(type), value);
}

export function canonicalize(normalize: PartitionValueNormalizer, value: PartitionValue): CanonicalValue {
  if (value === null || value === '') return null;
  if (typeof value !== 'string') return undefined;
  try {
    return normalize(value);
  } catch {
    return undefined;
  }
}

/** The canonical keys of log values a grant's text matches; undefined when none. */
export type GrantKeys = (text: string) => readonly string[] | undefined;

/** How a grant value of the type is read: as a log value, except a `timestamp` without zone. */
export function grantKeysFor(type: string): GrantKeys {
  if (type.trim().toLowerCase() === 'timestamp') return timestampGrantKeys;
  const normalize = normalizerFor(type);
  return (text) => {
    const c = normalize(text);
    return c === undefined ? undefined : [c];
  };
}

/** Canonical values a grant value matches ([null] for the null partition); undefined for none. */
export function grantCanonicals(
  keys: GrantKeys,
  value: PartitionValue,
): readonly (string | null)[] | undefined {
  if (value === null || value === '') return [null];
  if (typeof value !== 'string') return undefined;
  try {
    return keys(value);
  } catch {
    return undefined;
  }
}

/** True when a grant value covers a file's serialized value (partition of the column's type). */
export function partitionValueMatches(
  type: string,
  grantValue: PartitionValue,
  fileValue: PartitionValue,
): boolean {
  const g = grantCanonicals(grantKeysFor(type), grantValue);
  if (g === undefined) return false;
  const f = canonicalize(normalizerFor(type), fileValue);
  return f !== undefined && g.includes(f);
}

const UNZONED_WRITER_FORM = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d*[1-9])?$/;
const ZONED_WRITER_FORM = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/**
 * Is `text` the one form writers give its value of the type (Spark's: int "1", boolean "true",
 * decimal(5,2) "1.00", timestamp "2024-01-01 10:00:00" or, Delta 3, "…T10:00:00.000000Z")? At
 * most one text per value is: two texts of one value were two partitions under another type, so
 * the other text is a sign the file may be of an older partitioning. False also where no single
 * form is known (float, double, bare decimal): only a reason to look further, never to refuse.
 */
export function isWriterForm(type: string, text: string): boolean {
  const t = type.trim().toLowerCase();
  const normalize = normalizerFor(t);
  if (normalize === exact) return true;
  const key = canonicalize(normalize, text);
  if (key === undefined) return true; // no value of the type: no grant on the column matches it
  if (key === null) return true;
  if (INTEGER_RANGES[t]) return text === key;
  if (t === 'boolean') return text === key;
  if (t === 'date') return true; // one form only
  if (t === 'timestamp') return UNZONED_WRITER_FORM.test(text) || ZONED_WRITER_FORM.test(text);
  if (t === 'timestamp_ntz') return UNZONED_WRITER_FORM.test(text);
  const ps = precisionScale(t);
  if (!ps) return false;
  const m = /^(-?)(0|[1-9]\d*)(?:\.(\d+))?$/.exec(text);
  return m !== null && (m[3]?.length ?? 0) === ps[1] && !(m[1] && key === '0');
}
