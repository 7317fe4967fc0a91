/**
 * Which GETs may be answered with a 307 to a presigned S3 URL. Most SDK clients do not follow a
 * 307 to another host (botocore, the AWS SDK for JS v3, AWS SDK for C++/pyarrow), so only
 * clients measured to follow it without re-sending Authorization are redirected; everyone else
 * is proxied and still gets its data. The list is configuration (`redirectClients`); its default
 * is what test/integration/redirect-compatibility.test.ts measures (README: compatibility table).
 */
import type { Headers } from '../core/types';

/**
 * User-Agent patterns of clients that follow a cross-host 307 without Authorization:
 * polars (measured here), Rust object_store (delta-rs) and Go net/http (rclone) (DESIGN §6; both
 * drop credentials on a cross-host redirect), and this project's client helper (measured here).
 */
export const DEFAULT_REDIRECT_CLIENTS: readonly string[] = [
  '^object_store/',
  '^polars/',
  '^Go-http-client/',
  '^delta-proxy-client/',
];

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

/** True when the client is known to follow a cross-host 307 without re-sending Authorization. */
export function followsRedirects(headers: Headers, redirectClients: readonly RegExp[]): boolean {
  const agent = (headers['user-agent'] ?? '').slice(0, MAX_AGENT_CHARS);
  return redirectClients.some((re) => re.test(agent));
}

/** Presigned mode's choice for a GetObject: redirect, or stream through the proxy. */
export function shouldRedirect(headers: Headers, settings: RedirectSettings): boolean {
  if (settings.getMode !== 'presignedUrl') return false;
  if (headers.range !== undefined && settings.proxyPartial) return false;
  return followsRedirects(headers, settings.redirectClients);
}
