/**
 * One spelling per partition value, so a grant written by a person ("2024-01-01 10:00:00",
 * "1", "TRUE") can be compared with what a writer put in the log ("2024-01-01T10:00:00.000000Z",
 * "1", "true"). The snapshot keeps the serialized text; callers that compare values canonicalize
 * both sides with the column's Delta type. Text that does not parse as its type is returned as
 * is, so the comparison degrades to exact match, never to a looser one.
 *
 * Timestamps without an offset are read as UTC (Spark writes them in the session time zone,
 * which for these tables is UTC); `timestamp_ntz` has no zone at all.
 */
const TS = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?$/;

export function canonicalPartitionValue(type: string, value: string | null | undefined): string | null {
  if (value === null || value === undefined || value === '') return null;
  const t = type.toLowerCase();
  switch (t) {
    case 'date':
      return value; // Delta writes dates one way only: YYYY-MM-DD
    case 'timestamp':
    case 'timestamp_ntz':
      return canonicalTimestamp(value, t === 'timestamp') ?? value;
    case 'byte':
    case 'short':
    case 'integer':
    case 'int':
    case 'long':
      return /^[+-]?\d+$/.test(value) ? BigInt(value).toString() : value;
    case 'float':
    case 'double': {
      if (!/^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+|NaN|Infinity)$/.test(value)) return value;
      const n = Number(value);
      return Object.is(n, -0) ? '0' : String(n);
    }
    case 'boolean':
      return /^(true|false)$/i.test(value) ? value.toLowerCase() : value;
    default: {
      const dec = /^decimal\((\d+),\s*(\d+)\)$/.exec(t);
      return dec ? canonicalDecimal(value, Number(dec[2])) : value;
    }
  }
}

function canonicalTimestamp(v: string, zoned: boolean): string | undefined {
  const m = TS.exec(v);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s = '00', frac = '', zone] = m;
  if (!zoned && zone) return undefined;
  const micros = (frac + '000000').slice(0, 6);
  if (frac.length > 6 && /[1-9]/.test(frac.slice(6))) return undefined; // finer than Delta keeps
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(ms)) return undefined;
  if (zone && zone !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    ms -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  const iso = new Date(ms).toISOString().slice(0, 19); // YYYY-MM-DDTHH:MM:SS
  return zoned ? `${iso}.${micros}Z` : `${iso.replace('T', ' ')}.${micros}`;
}

function canonicalDecimal(v: string, scale: number): string {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(v);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return v;
  const frac = m[3] ?? '';
  if (frac.length > scale && /[1-9]/.test(frac.slice(scale))) return v;
  const int = BigInt(m[2] || '0').toString();
  const f = (frac + '0'.repeat(scale)).slice(0, scale);
  const zero = /^0*$/.test(int + f);
  return `${m[1] === '-' && !zero ? '-' : ''}${int}${scale ? `.${f}` : ''}`;
}
