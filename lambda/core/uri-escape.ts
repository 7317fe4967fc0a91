/**
 * RFC 3986 encoding of a query name or value, or of one path segment, as SigV4 and S3 want it:
 * encodeURIComponent, then the `!'()*` it leaves alone. Used where requests are signed and
 * verified, so both sides encode alike.
 */
const UNRESERVED = /^[A-Za-z0-9\-._~]*$/;

export function uriEscape(text: string): string {
  if (UNRESERVED.test(text)) return text;
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}
