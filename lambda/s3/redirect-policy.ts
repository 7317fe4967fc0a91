/**
 * Which GETs may be answered with a 307 to a presigned S3 URL. Only clients measured to follow a
 * 307 to another host with nothing but the presigned URL's own credentials are redirected;
 * everyone else is proxied and still gets its data. The list is configuration
 * (`redirectClients`); its default is what test/integration/redirect-compatibility.test.ts
 * measures (README: compatibility table).
 */
import type { Headers } from '../core/types';
import { parseRange } from './range';

/**
 * User-Agent patterns of clients that follow a cross-host 307 in a way S3 accepts: only this
 * project's client helper (measured). botocore, the aws cli and the AWS SDK for JS do not follow
 * at all; pyarrow (AWS SDK for C++) and polars (Rust object_store) follow and drop
 * Authorization, but keep the x-amz-date header of their own signature, and S3 then refuses the
 * presigned URL (SignatureDoesNotMatch). Rust object_store (delta-rs) and Go net/http (rclone)
 * copy headers on a redirect the same way. Operators add patterns for clients they have checked.
 */
export const DEFAULT_REDIRECT_CLIENTS: readonly string[] = ['^delta-proxy-client/'];

/** A User-Agent longer than this is matched on its first bytes only: bounded work per request. */
const MAX_AGENT_CHARS = 512;

export interface RedirectSettings {
  getMode: 'proxy' | 'presignedUrl';
  proxyPartial: boolean;
  /** Compiled `redirectClients` patterns. */
  redirectClients: readonly RegExp[];
}

/** Compiles `redirectClients`; the config has already checked that every pattern compiles. */
export function compileRedirectClients(patterns: readonly string[]): RegExp[] {
  return patterns.map((p) => new RegExp(p));
}

/**
 * Indexes of patterns that match every User-Agent, even an empty one (`"^polars/|"`, `"x*"`):
 * most likely a stray "|" or "*", since most S3 clients cannot follow a redirect. Worth a
 * warning, not a refusal: redirecting every client is a choice (`"."`, as the measurement does).
 */
export function patternsMatchingEveryAgent(patterns: readonly RegExp[]): number[] {
  return patterns.flatMap((re, i) => (re.test('') ? [i] : []));
}

/** True when the client is known to follow a cross-host 307 without re-sending Authorization. */
export function followsRedirects(headers: Headers, redirectClients: readonly RegExp[]): boolean {
  const agent = (headers['user-agent'] ?? '').slice(0, MAX_AGENT_CHARS);
  return redirectClients.some((re) => re.test(agent));
}

/**
 * Presigned mode's choice for a GetObject: redirect, or stream through the proxy. `partNumber`:
 * the part asked for, a partial read as much as a Range is (proxyPartial keeps it proxied).
 */
export function shouldRedirect(headers: Headers, settings: RedirectSettings, partNumber?: number): boolean {
  if (settings.getMode !== 'presignedUrl') return false;
  if (settings.proxyPartial && (partNumber !== undefined || isPartial(headers.range))) return false;
  return followsRedirects(headers, settings.redirectClients);
}

/**
 * A Range the proxy answers as a part of the object (206, or 416 for `bytes=-0`): one it cannot
 * read (several ranges, another unit) is a whole-object read, as on S3, and redirected like one.
 */
function isPartial(range: string | undefined): boolean {
  if (range === undefined) return false;
  try {
    return parseRange(range) !== undefined;
  } catch {
    return true;
  }
}
