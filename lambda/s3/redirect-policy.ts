/**
 * Which GETs may be answered with a 307 to a presigned S3 URL. Most SDK clients do not follow a
 * 307 to another host (botocore, the AWS SDK for JS v3, Hadoop S3A on SDK v2), so only clients
 * known to follow it without re-sending Authorization are redirected; everyone else is proxied
 * and still gets its data. (DESIGN §6; a per-client policy in config is planned.)
 */
import type { Headers } from '../core/types';

const FOLLOWS_REDIRECTS = [/^object_store\//, /^polars\//, /^Go-http-client\//];

export interface RedirectSettings {
  getMode: 'proxy' | 'presignedUrl';
  proxyPartial: boolean;
}

export function shouldRedirect(headers: Headers, settings: RedirectSettings): boolean {
  if (settings.getMode !== 'presignedUrl') return false;
  if (headers.range !== undefined && settings.proxyPartial) return false;
  const agent = headers['user-agent'] ?? '';
  return FOLLOWS_REDIRECTS.some((re) => re.test(agent));
}
