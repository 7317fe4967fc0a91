/**
 * The test's own reading of the grant rule (DESIGN §3), written without lambda/access: a map
 * matches a tuple when every key is a partition column's logical name and the grant value
 * denotes the same value of the column's Delta type as the file's serialized value ("" and null
 * are the null partition). Also the "other serialized form" of a value, for generated grants.
 */
import type { ColumnFact, Tuple } from './authz-table-facts';

export type GrantMap = Readonly<Record<string, string | null>>;

const INT_TYPES = new Set(['byte', 'short', 'integer', 'int', 'long', 'tinyint', 'smallint', 'bigint']);

/** A comparable key for a value of the type; null = null partition; undefined = not a value of it. */
export function typedKey(type: string, v: string | null): string | null | undefined {
  if (v === null || v === '') return null;
  if (INT_TYPES.has(type)) return /^[+-]?\d+$/.test(v) ? BigInt(v).toString() : undefined;
  if (type === 'float' || type === 'double') {
    if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^NaN$|^[+-]?Infinity$/.test(v)) return undefined;
    const n = type === 'float' ? Math.fround(Number(v)) : Number(v);
    return n === 0 ? '0' : String(n);
  }
  if (type.startsWith('decimal')) {
    const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(v);
    if (!m || (m[2] === '' && !m[3])) return undefined;
    const digits = `${m[2]}${m[3] ?? ''}`.replace(/^0+/, '');
    let scale = (m[3] ?? '').length;
    let d = digits;
    while (scale > 0 && d.endsWith('0')) {
      d = d.slice(0, -1);
      scale--;
    }
    return d === '' ? '0' : `${m[1] === '-' ? '-' : ''}${d}/${scale}`;
  }
  if (type === 'boolean') return /^(true|false)$/i.test(v) ? v.toLowerCase() : undefined;
  if (type === 'date') {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
    if (!m) return undefined;
    const d = new Date(0);
    d.setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
    return d.getUTCMonth() === Number(m[2]) - 1 ? String(d.getTime()) : undefined;
  }
  if (type === 'timestamp' || type === 'timestamp_ntz') {
    const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}:\d{2})?$/.exec(
      v,
    );
    if (!m || (m[8] && type === 'timestamp_ntz')) return undefined;
    const d = new Date(0);
    d.setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
    d.setUTCHours(Number(m[4]), Number(m[5]), Number(m[6]));
    let offsetMin = 0;
    if (m[8] && m[8] !== 'Z')
      offsetMin = (m[8][0] === '-' ? -1 : 1) * (Number(m[8].slice(1, 3)) * 60 + Number(m[8].slice(4)));
    const micros = BigInt(d.getTime() - offsetMin * 60_000) * 1000n + BigInt((m[7] ?? '').padEnd(6, '0'));
    // A zone-less timestamp is wall time in the writer's zone (L), a zoned one an instant (Z).
    return type === 'timestamp' ? `${m[8] ? 'Z' : 'L'}${micros}` : micros.toString();
  }
  return v; // string, binary: the text is the value
}

/** As README says: the column of that name, else the only one equal to it ignoring letter case. */
function columnIndex(columns: readonly ColumnFact[], name: string): number {
  const exact = columns.findIndex((c) => c.logical === name);
  if (exact >= 0) return exact;
  const folded = columns.flatMap((c, i) => (c.logical.toLowerCase() === name.toLowerCase() ? [i] : []));
  return folded.length === 1 ? folded[0]! : -1;
}

export function mapMatches(columns: readonly ColumnFact[], map: GrantMap, tuple: Tuple): boolean {
  for (const [k, v] of Object.entries(map)) {
    const i = columnIndex(columns, k);
    if (i < 0) return false;
    const g = typedKey(columns[i]!.type, v);
    if (g === undefined) return false;
    const f = typedKey(columns[i]!.type, tuple[i] ?? null);
    // A zone-less timestamp grant is in UTC: it also matches the zoned value of that instant.
    const alsoUtc = g?.startsWith('L') && columns[i]!.type === 'timestamp' ? `Z${g.slice(1)}` : g;
    if (f === undefined || (f !== g && f !== alsoUtc)) return false;
  }
  return true;
}

export function anyMapMatches(
  columns: readonly ColumnFact[],
  maps: readonly GrantMap[],
  tuple: Tuple,
): boolean {
  return maps.some((m) => mapMatches(columns, m, tuple));
}

/** Another text for the same value of the type (the form a different writer or a human would use). */
export function otherForm(type: string, v: string | null): string | null | undefined {
  if (v === null) return '';
  if (v === '') return null;
  if (INT_TYPES.has(type)) return /^-?\d+$/.test(v) ? v.replace(/^(-?)/, '$10') : undefined;
  if (type === 'float' || type === 'double' || type.startsWith('decimal')) {
    if (!/^-?\d+(\.\d+)?$/.test(v)) return undefined;
    return v.includes('.') ? `${v}0` : `${v}.0`;
  }
  if (type === 'boolean') return v.toUpperCase();
  if (type === 'timestamp') {
    let m = /^(\S+) (\d{2}:\d{2}:\d{2})(?:\.(\d+))?$/.exec(v);
    // A zone-less value is matched only by a zone-less grant (its zone is the writer's).
    if (m) return `${m[1]} ${m[2]}.${(m[3] ?? '').padEnd(6, '0')}`;
    m = /^(\S+)T(\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z$/.exec(v);
    if (m) return `${m[1]} ${m[2]}${m[3] && /[1-9]/.test(m[3]) ? `.${m[3]}` : ''}`;
    return undefined;
  }
  if (type === 'timestamp_ntz') return v.includes(' ') ? v.replace(' ', 'T') : v.replace('T', ' ');
  return undefined;
}
