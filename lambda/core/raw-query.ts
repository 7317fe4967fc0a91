/** One query parameter as sent, percent-decoded; a bare `name` (no "=") has the value "". */
export interface QueryParam {
  name: string;
  value: string;
}

/**
 * Splits a raw query string exactly as received into decoded parameters, keeping order and
 * repeats. `+` stays a literal plus (RFC 3986, as AWS signers encode it: a space is always
 * sent as %20), and an undecodable escape is kept as typed, so it can only fail to verify.
 */
export function parseRawQuery(rawQuery: string): QueryParam[] {
  const params: QueryParam[] = [];
  if (rawQuery === '') return params;
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    params.push({ name: decode(name), value: decode(value) });
  }
  return params;
}

function decode(text: string): string {
  if (!text.includes('%')) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Values of every parameter named exactly `name`. */
export function paramValues(params: readonly QueryParam[], name: string): string[] {
  const values: string[] = [];
  for (const p of params) if (p.name === name) values.push(p.value);
  return values;
}
