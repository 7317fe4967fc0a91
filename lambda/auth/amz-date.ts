/** Parses SigV4's "yyyymmddThhmmssZ" into epoch milliseconds; undefined unless it is a real instant. */
export function parseAmzDate(text: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(ms);
  // Date.UTC rolls 20130231 over into March: refuse instead of guessing.
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d)
    return undefined;
  if (h > 23 || mi > 59 || s > 59) return undefined;
  return ms;
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
