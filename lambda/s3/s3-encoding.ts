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

/** Parses an HTTP-date header; undefined when absent or not a date (S3 then ignores it). */
export function parseHttpDate(value: string | undefined): Date | undefined {
  if (!value) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : new Date(t);
}
