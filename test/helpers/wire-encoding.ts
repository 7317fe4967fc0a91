/**
 * The bytes a client may put on the wire for one signed request, for the property tests that send
 * requests byte for byte (test/auth/sigv4-property, test/integration/fronts-agree-property): per
 * character the SDK's percent-escape, lower-case hex, or a legal alternative, and the query a
 * client sends beside the decoded parameters it signs.
 */
import fc from 'fast-check';
import { escapeUri } from '../auth/helpers/sign';

export type Encoding = 'sdk' | 'lower' | 'alt';

/** Per character: the SDK's escape, lower-case hex, or a legal alternative (%XX for unreserved, raw sub-delims). */
export function encodeChars(value: string, choices: readonly Encoding[], rawOk: RegExp): string {
  let out = '';
  let i = 0;
  for (const c of value) {
    const how = choices.length === 0 ? 'sdk' : choices[i++ % choices.length]!;
    const sdk = escapeUri(c);
    if (how === 'sdk') out += sdk;
    else if (how === 'lower') out += sdk.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase());
    else if (sdk === c) out += `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`;
    else if (rawOk.test(c)) out += c;
    else out += sdk;
  }
  return out;
}

/** Sub-delims and ":@" are legal raw in a path segment (RFC 3986 pchar). */
export const PATH_RAW = /^[!$&'()*+,;=:@]$/;
/** In a query value also "/" and "?"; not "&", "=", "+" (they would change its meaning). */
export const QUERY_RAW = /^[!$'()*,;:@/?]$/;

/** A run of per-character encoding choices, the SDK's twice as likely. */
export const encodingsArb = (maxLength: number) =>
  fc.array(fc.constantFrom<Encoding>('sdk', 'sdk', 'lower', 'alt'), { maxLength });

/** One query parameter: name, value, how its characters go on the wire, and `name` alone when empty. */
export type QueryParam = readonly [name: string, value: string, enc: readonly Encoding[], bare: boolean];

/** The decoded parameters (list-type=2 first for a v2 listing) and their raw forms, as one client sends them. */
export function queryParams(
  query: readonly QueryParam[],
  listV2: boolean,
): { decoded: [string, string][]; raw: string[] } {
  const decoded: [string, string][] = [];
  const raw: string[] = [];
  if (listV2) {
    decoded.push(['list-type', '2']);
    raw.push('list-type=2');
  }
  for (const [name, value, enc, bare] of query) {
    decoded.push([name, value]);
    const n = encodeChars(name, enc, /^$/);
    raw.push(value === '' && bare ? n : `${n}=${encodeChars(value, enc, QUERY_RAW)}`);
  }
  return { decoded, raw };
}

/** Decoded parameters as the signers take them: a repeated name's values in a list. */
export function queryRecord(decoded: readonly [string, string][]): Record<string, string | string[]> {
  const out: Record<string, string[]> = {};
  for (const [n, v] of decoded) {
    out[n] ??= [];
    out[n].push(v);
  }
  return Object.fromEntries(Object.entries(out).map(([n, vs]) => [n, vs.length === 1 ? vs[0]! : vs]));
}

/**
 * The query parameters a presigner added to the client's (X-Amz-*, hoisted x-amz-* headers), as it
 * encoded them: what a client sends after its own.
 */
export function presignerAdded(rawQuery: string, decoded: readonly [string, string][]): string[] {
  const added = rawQuery.split('&').filter((p) => p !== '');
  for (const [n, v] of decoded) added.splice(added.indexOf(`${escapeUri(n)}=${escapeUri(v)}`), 1);
  return added;
}
