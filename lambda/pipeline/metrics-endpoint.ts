/**
 * `GET /metrics` with `Authorization: Bearer <metricsToken>` answers the Prometheus text of this
 * process (in Lambda: of the one execution environment the request reached). Any other request,
 * to that path too, is an ordinary S3 request: without the token `/metrics` is the bucket
 * "metrics", which does not exist. The token is compared in constant time and never logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { newRequestId } from '../core/request-id';
import { S3Error } from '../core/s3-error';
import type { ProxyHandler, ProxyRequest } from '../core/types';
import { errorResponse } from './error-response';

export interface MetricsText {
  contentType: string;
  body: string;
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

export function withMetricsEndpoint(
  handler: ProxyHandler,
  token: string,
  render: () => Promise<MetricsText>,
): ProxyHandler {
  // Digests have the same length whatever was sent, as timingSafeEqual requires.
  const expected = digest(`Bearer ${token}`);
  const isScrape = (req: ProxyRequest) => {
    if (req.rawPath !== '/metrics' || req.method !== 'GET') return false;
    const presented = req.headers.authorization;
    return presented !== undefined && timingSafeEqual(digest(presented), expected);
  };
  return async (req) => {
    if (!isScrape(req)) return handler(req);
    const requestId = newRequestId();
    const headers = { 'x-amz-request-id': requestId, 'cache-control': 'no-store' };
    try {
      const { contentType, body } = await render();
      return { status: 200, headers: { ...headers, 'content-type': contentType }, body };
    } catch {
      return errorResponse(new S3Error('InternalError'), requestId, headers);
    }
  };
}
