/**
 * Function URL payload v2 → ProxyRequest. The raw path and raw query are passed through
 * untouched (Function URLs hand them over as the client sent them), so SigV4 canonical
 * requests built from them still match the client's signature.
 */
import type { LambdaFunctionURLEvent } from 'aws-lambda';
import type { Headers, ProxyRequest } from '../core/types';

export function toProxyRequest(event: LambdaFunctionURLEvent, signal?: AbortSignal): ProxyRequest {
  const headers: Headers = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (value !== undefined) headers[name.toLowerCase()] = value;
  }
  // Function URLs move the Cookie header into `cookies`; put it back as the client sent it.
  if (event.cookies?.length) headers.cookie = event.cookies.join('; ');

  const request: ProxyRequest = {
    method: event.requestContext.http.method.toUpperCase(),
    rawPath: event.rawPath || '/',
    rawQuery: event.rawQueryString ?? '',
    headers,
    sourceIp: event.requestContext.http.sourceIp,
  };
  if (signal) request.signal = signal;
  if (event.body !== undefined && event.body !== null && event.body !== '') {
    const bytes = Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
    request.body = oneChunk(bytes);
  }
  return request;
}

async function* oneChunk(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}
